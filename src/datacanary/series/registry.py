"""The series detectors by name, for configuration files and the CLI.

To add a detector, subclass :class:`~datacanary.series.SeriesDetector` in a module of this
package and add one line to ``DETECTORS``: ``"name": "datacanary.series.module:ClassName"``.
Modules are imported on first use, so a detector with heavy dependencies costs nothing until
it is asked for.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any

from datacanary.errors import ConfigError
from datacanary.series.base import SeriesDetector

__all__ = ["DETECTORS", "available_series_detectors", "make_series_detector"]

DETECTORS: dict[str, str] = {
    "auto": "datacanary.series.auto:AutoSeriesDetector",
    "change": "datacanary.series.change:ChangeDetector",
    "ets": "datacanary.series.ets:ETSDetector",
    "mad": "datacanary.series.mad:MADDetector",
    "seasonal": "datacanary.series.seasonal:SeasonalDetector",
    "novelty": "datacanary.series.novelty:NoveltyDetector",
    "zscore": "datacanary.series.zscore:ZScoreDetector",
}


def available_series_detectors() -> list[str]:
    """The names :func:`make_series_detector` accepts, sorted.

    >>> available_series_detectors()
    ['auto', 'change', 'ets', 'mad', 'novelty', 'seasonal', 'zscore'...]
    """
    return sorted(DETECTORS)


def detector_class(name: str) -> type[SeriesDetector]:
    """The class registered as ``name``; :class:`~datacanary.errors.ConfigError` if none."""
    if name not in DETECTORS:
        names = available_series_detectors()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"; did you mean {close[0]!r}? Choose" if close else "; choose"
        raise ConfigError(f"unknown series detector {name!r}{hint} one of: {', '.join(names)}")
    module, _, attr = DETECTORS[name].partition(":")
    cls: type[SeriesDetector] = getattr(importlib.import_module(module), attr)
    return cls


def make_series_detector(name: str = "auto", **params: Any) -> SeriesDetector:
    """A new series detector by name, its parameters checked now.

    The default, ``"auto"`` (:class:`~datacanary.series.AutoSeriesDetector`), finds the
    metric's season and kind itself; it was chosen on ``bench/pipeline_series.py``
    (``docs/series.md``).

    Raises :class:`~datacanary.errors.ConfigError` for an unknown name (listing the known
    ones), an unknown parameter (listing the detector's), or a value out of range.

    >>> make_series_detector()
    AutoSeriesDetector(direction='both', sensitivity=5.0, min_history=7, ...)
    >>> make_series_detector("mad", sensitivity=4)
    MADDetector(direction='both', sensitivity=4, min_history=7, ...)
    >>> make_series_detector("median")
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: unknown series detector 'median'; choose one of: auto, ...
    >>> make_series_detector("mad", direction="upward")
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: direction must be 'both', 'up' or 'down'; got 'upward'
    """
    cls = detector_class(name)
    allowed = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    ]
    unknown = [p for p in params if p not in allowed]
    if unknown:
        raise ConfigError(
            f"series detector {name!r} has no parameter {unknown[0]!r}; "
            f"its parameters are: {', '.join(allowed)}"
        )
    detector = cls(**params)
    detector._ensure_ready()  # validate now: a bad definition fails when it is built
    return detector
