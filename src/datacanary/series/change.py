"""``change``: bounds on the relative rate of change from the previous run (like Deequ)."""

from __future__ import annotations

import statistics
from datetime import datetime

from datacanary.series.base import Band, WindowSeriesDetector, _check_number

__all__ = ["ChangeDetector"]


class ChangeDetector(WindowSeriesDetector):
    """Bound the relative change ``(x − prev) / |prev|`` from one run to the next.

    Like Deequ's ``RelativeRateOfChangeStrategy``: with the defaults a value may rise by at
    most 50 % and fall by at most 50 % from the previous run. The band is expressed in value
    units, ``[prev − sensitivity·max_decrease·|prev|, prev + sensitivity·max_increase·|prev|]``,
    so the verdict reads like any other. ``prev`` is the last value in the baseline (with
    ``exclude_anomalies``, the last value that was not an anomaly), or the median of the last
    ``window`` values when ``window > 1``. A previous value of 0 gives a zero-width band.

    Parameters
    ----------
    max_increase, max_decrease
        Allowed relative rise and fall (0.5 = 50 %), each >= 0.
    sensitivity
        Multiplies both bounds (default 1.0).
    min_history, window
        Defaults 1 and 1: the previous run is the reference.

    Other parameters are those of :class:`~datacanary.series.SeriesDetector`.

    Examples
    --------
    >>> from datacanary.series import ChangeDetector
    >>> detector = ChangeDetector(max_increase=0.2, max_decrease=0.1)
    >>> detector.fit([1000, 1100, 1050])
    ChangeDetector(direction='both', sensitivity=1.0, ...)
    >>> detector.expected()
    (945.0, 1260.0)
    >>> detector.update(700, metric="row_count").message
    'row_count 700 is below the expected 945–1,260 from the last 1 run'
    """

    name = "change"

    def __init__(
        self,
        *,
        direction: str = "both",
        sensitivity: float = 1.0,
        min_history: int = 1,
        window: int | None = 1,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        exclude_anomalies: bool = True,
        max_increase: float = 0.5,
        max_decrease: float = 0.5,
    ) -> None:
        super().__init__(
            direction=direction,
            sensitivity=sensitivity,
            min_history=min_history,
            window=window,
            abs_floor=abs_floor,
            rel_floor=rel_floor,
            exclude_anomalies=exclude_anomalies,
        )
        self.max_increase = max_increase
        self.max_decrease = max_decrease

    def _validate(self) -> None:
        super()._validate()
        _check_number("max_increase", self.max_increase, low=0.0)
        _check_number("max_decrease", self.max_decrease, low=0.0)

    def _band(self, at: datetime | None) -> Band | None:
        if len(self._values) < self.min_history:
            return None
        prev = self._values[-1] if len(self._values) == 1 else statistics.median(self._values)
        k = self.sensitivity * abs(prev)
        return prev, prev - k * self.max_decrease, prev + k * self.max_increase
