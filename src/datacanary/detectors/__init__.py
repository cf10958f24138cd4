"""Row detectors: which rows of a table are anomalous, and why.

Start with :func:`score_table` (or :class:`TableDetector` to score new rows later)::

    result = score_table(orders)          # RowScores, higher score = more anomalous
    result.is_anomaly, result.explanations, result.dropped_columns

Underneath, every detector is a scikit-learn outlier estimator built by :func:`make_detector`
(``"auto"``, ``"iforest"``, ``"lof"``, ``"knn"``, ``"ocsvm"``, ``"ecod"``, ``"zscore"``,
``"mad"``, ``"pyod:<name>"``) on the float matrix of a :class:`TableEncoder`. Estimators keep
scikit-learn's meanings (``score_samples`` lower = more abnormal, ``predict`` +1/-1) and add
``anomaly_score`` (higher = more anomalous), ``anomaly_scores_`` and ``threshold_``.

Importing this package loads scikit-learn; ``import datacanary`` does not import it.
"""

from __future__ import annotations

from datacanary.detectors._base import BaseDetector
from datacanary.detectors._ecod import ECODDetector
from datacanary.detectors._encode import TableEncoder
from datacanary.detectors._ensemble import AutoDetector
from datacanary.detectors._iforest import IForestDetector
from datacanary.detectors._neighbors import KNNDetector, LOFDetector
from datacanary.detectors._ocsvm import OCSVMDetector
from datacanary.detectors._pyod import PyODDetector
from datacanary.detectors._registry import available_methods, make_detector
from datacanary.detectors._robust import MADDetector, ZScoreDetector
from datacanary.detectors._table import TableDetector, score_table
from datacanary.detectors._threshold import threshold_from_scores

__all__ = [
    "AutoDetector",
    "BaseDetector",
    "ECODDetector",
    "IForestDetector",
    "KNNDetector",
    "LOFDetector",
    "MADDetector",
    "OCSVMDetector",
    "PyODDetector",
    "TableDetector",
    "TableEncoder",
    "ZScoreDetector",
    "available_methods",
    "make_detector",
    "score_table",
    "threshold_from_scores",
]
