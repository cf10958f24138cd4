"""``zscore``: the classic mean ± k standard deviations of the last runs."""

from __future__ import annotations

import statistics
from datetime import datetime

from datacanary.series.base import Band, WindowSeriesDetector

__all__ = ["ZScoreDetector"]


class ZScoreDetector(WindowSeriesDetector):
    """Expect ``mean ± sensitivity · stdev`` of the last ``window`` values.

    The classic rule: a value passes when ``|x − mean| <= k·stdev`` over the last ``window``
    runs, once ``min_history`` runs are known. The value under test is never part of its own
    baseline (it is judged before it is learned). ``stdev`` is the sample standard deviation
    (0 for a single value); a constant history gives a zero-width band, so the same value
    passes and any other is anomalous (subject to the floors). Mean and stdev are computed
    exactly (``statistics``), so huge values do not overflow. Less robust than ``mad``: one
    unexcluded outlier in the window inflates the stdev and hides the next.

    Parameters are those of :class:`~datacanary.series.SeriesDetector` (defaults:
    ``sensitivity=3.0``, ``min_history=7``, ``window=30``).

    Examples
    --------
    >>> from datacanary.series import ZScoreDetector
    >>> detector = ZScoreDetector(min_history=3)
    >>> [detector.update(v).status.value for v in [100, 102, 98, 101, 99, 100, 160]]
    ['insufficient_history', 'insufficient_history', 'insufficient_history', 'passed', 'passed',
     'passed', 'anomaly']
    >>> detector.expected()
    (95.757..., 104.242...)
    >>> detector.score_one(160)
    14.142...
    """

    name = "zscore"

    def _band(self, at: datetime | None) -> Band | None:
        if len(self._values) < self.min_history:
            return None
        mean = statistics.mean(self._values)
        stdev = statistics.stdev(self._values) if len(self._values) > 1 else 0.0
        half = self.sensitivity * stdev
        return mean, mean - half, mean + half
