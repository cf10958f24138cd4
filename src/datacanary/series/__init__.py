"""Series detectors: judge each new value of a metric against the metric's own history.

One object learns one value at a time, so the same detector serves a stored history
(:meth:`~SeriesDetector.fit`) and a live stream (:meth:`~SeriesDetector.update`)::

    detector = make_series_detector(direction="down")   # "auto", the default
    detector.fit(history_values, history_times)     # past anomalies stay out of the baseline
    verdict = detector.update(todays_value, today, metric="row_count", dataset="orders")
    verdict.passed, verdict.message
    # (False, 'row_count 1,204 is below the expected 9,800–10,400 from the last 84 runs
    #  (weekly pattern, Mondays)')

* ``learn_one(x, at)`` adds to the baseline; ``score_one(x, at)`` (higher = more anomalous,
  1 on the band's edge) and ``judge(x, at)`` look without learning; ``expected(at)`` is the
  band for the next value.
* Too little history is its own outcome (``insufficient_history``) with a sentence; a
  missing or non-finite value is an ``error`` verdict.
* Every band is clipped to what the metric can be, by its name (``metric=``): fractions
  in [0, 1], counts at or above 0 (:func:`~datacanary.series.base.metric_domain`).

Detectors (``available_series_detectors()``):

=============  ==========================================================================
``auto``       the default: finds the season (weekday, hour of day), count models for small
               counts, runs of low counts, stale values, and accepts a new level
``mad``        median ± k·1.4826·MAD of the last runs; robust
``zscore``     mean ± k·stdev of the last runs (the classic)
``seasonal``   median of the same weekday / hour of day / day of month ± a pooled scale
``change``     bounds on the relative change from the previous run (like Deequ)
``ets``        Holt-Winters forecast (statsmodels) ± k·residual scale: trend + seasonality
=============  ==========================================================================

``make_series_detector()`` defaults to ``auto``: on the pipeline-series benchmark
(``bench/pipeline_series.py``, ``docs/series.md``) it finds 92–95 % of incidents at 0.28–0.35
false alerts per 100 series-days on every seed, where ``mad`` raises 7–11 and ``seasonal``
1.5–1.9. It works with or without timestamps.

Every detector shares ``direction``, ``sensitivity``, ``min_history``, ``window``,
``abs_floor``, ``rel_floor`` and ``exclude_anomalies`` (see :class:`SeriesDetector`). New
detectors are registered by one line in :mod:`datacanary.series.registry`.
"""

from __future__ import annotations

from datacanary.series.auto import AutoSeriesDetector
from datacanary.series.base import SeriesDetector
from datacanary.series.change import ChangeDetector
from datacanary.series.ets import ETSDetector
from datacanary.series.mad import MADDetector
from datacanary.series.registry import available_series_detectors, make_series_detector
from datacanary.series.seasonal import SeasonalDetector
from datacanary.series.zscore import ZScoreDetector

__all__ = [
    "AutoSeriesDetector",
    "ChangeDetector",
    "ETSDetector",
    "MADDetector",
    "SeasonalDetector",
    "SeriesDetector",
    "ZScoreDetector",
    "available_series_detectors",
    "make_series_detector",
]
