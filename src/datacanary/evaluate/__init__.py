"""Evaluation: how well scores match known labels, and benchmark runners.

* :func:`evaluate_scores` -- precision, recall, F1 at the threshold, ROC-AUC, PR-AUC and
  precision@k of row scores (scikit-learn's metrics); :func:`labels_from_column` reads a
  label column (0/1, booleans, words such as 'outlier');
* :func:`run_odds` (:mod:`datacanary.evaluate.odds`) -- every row detector on the ODDS
  tabular outlier sets;
* :mod:`datacanary.evaluate.nab` -- the Numenta Anomaly Benchmark scorer for series detectors.

Light to import: the names load their modules (and scikit-learn) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datacanary.evaluate.metrics import evaluate_scores, labels_from_column
    from datacanary.evaluate.odds import run_odds

# public name -> module that defines it; resolved on first access.
# The names of evaluate/nab.py are added here by its owner.
_LAZY: dict[str, str] = {
    "evaluate_scores": "datacanary.evaluate.metrics",
    "labels_from_column": "datacanary.evaluate.metrics",
    "run_odds": "datacanary.evaluate.odds",
}

__all__ = ["evaluate_scores", "labels_from_column", "run_odds"]  # sorted; keep in step with _LAZY


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'datacanary.evaluate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
