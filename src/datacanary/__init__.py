"""datacanary: find anomalies in data pipelines before they reach the people who rely on the data.

Two kinds of anomaly, one vocabulary (higher = more anomalous everywhere a user reads):

* **rows** — a table of records scored row by row (:func:`score_table`);
* **series** — one metric's history, each new value judged against its own past
  (:mod:`datacanary.series`, :func:`profile`, monitors in :mod:`datacanary.checks`).

Heavy dependencies load on first use, so ``import datacanary`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first access
_LAZY: dict[str, str] = {
    "CheckResult": "datacanary.results",
    "ColumnNotFoundError": "datacanary.errors",
    "ConfigError": "datacanary.errors",
    "DatacanaryError": "datacanary.errors",
    "DeliveryError": "datacanary.errors",
    "InputError": "datacanary.errors",
    "MissingDependencyError": "datacanary.errors",
    "NotEnoughDataError": "datacanary.errors",
    "RowScores": "datacanary.results",
    "SourceNotFoundError": "datacanary.errors",
    "Status": "datacanary.results",
    "StoreError": "datacanary.errors",
    "StoreLockedError": "datacanary.errors",
    "TableDetector": "datacanary.detectors",
    "Verdict": "datacanary.results",
    "make_series_detector": "datacanary.series",
    "profile": "datacanary.metrics",
    "score_table": "datacanary.detectors",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'datacanary' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
