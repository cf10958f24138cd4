"""Classification metrics of row scores against known labels, computed by scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from datacanary.errors import InputError
from datacanary.results import RowScores

__all__ = ["evaluate_scores", "labels_from_column"]


def evaluate_scores(
    y_true: Any,
    scores: Sequence[float] | RowScores | Any,
    is_anomaly: Any = None,
    *,
    k: int | None = None,
) -> dict[str, float]:
    """Precision, recall and F1 at the threshold, ROC-AUC, PR-AUC and precision@k.

    Parameters
    ----------
    y_true
        Known labels, 1 (or True) = anomaly, 0 = normal; one per row.
    scores
        Anomaly scores, higher = more anomalous, or a :class:`~datacanary.results.RowScores`
        (its scores, and its ``is_anomaly`` when ``is_anomaly`` is not given).
    is_anomaly
        The detector's labels (True = flagged). When omitted, and ``scores`` is not a
        RowScores, the ``n_true`` highest scores are flagged, so precision = recall = F1 =
        "R-precision".
    k
        Rows counted by precision@k, the top-k scores; default ``n_true``.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (of the flags), ``roc_auc``, ``pr_auc`` (average
        precision), ``precision_at_k``, ``n_true``, ``n_flagged``. ROC-AUC and PR-AUC are NaN
        when the labels hold one class only.

    Raises
    ------
    InputError
        Lengths differ, or scores are not finite numbers.

    Examples
    --------
    >>> result = evaluate_scores([0, 0, 1, 0, 1], [0.1, 0.3, 0.9, 0.2, 0.4],
    ...                          [False, False, True, False, False], k=2)
    >>> {key: round(value, 3) for key, value in result.items()}
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.667, 'roc_auc': 1.0, 'pr_auc': 1.0, 'precision_at_k': 1.0, 'n_true': 2, 'n_flagged': 1}
    """  # noqa: E501
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_fscore_support,
        precision_score,
        roc_auc_score,
    )

    if isinstance(scores, RowScores):
        if is_anomaly is None:
            is_anomaly = scores.is_anomaly
        scores = scores.scores
    truth = np.asarray(y_true).astype(bool).ravel()
    values = np.asarray(scores, dtype=np.float64).ravel()
    if len(truth) != len(values):
        raise InputError(
            f"y_true has {len(truth)} labels but scores has {len(values)} values; pass one per row"
        )
    bad = int(np.sum(~np.isfinite(values)))
    if bad:
        raise InputError(f"scores must be finite numbers; {bad} of {len(values)} are NaN or inf")
    n_true = int(truth.sum())
    order = np.argsort(-values, kind="stable")
    if is_anomaly is None:
        flags = np.zeros(len(values), dtype=bool)
        flags[order[:n_true]] = True
    else:
        flags = np.asarray(is_anomaly).astype(bool).ravel()
        if len(flags) != len(values):
            raise InputError(
                f"is_anomaly has {len(flags)} values but scores has {len(values)}; pass one per row"
            )
    top_k = n_true if k is None else int(k)
    if top_k < 0:
        raise InputError(f"k must be >= 0; got {k}")
    in_top = np.zeros(len(values), dtype=bool)
    in_top[order[:top_k]] = True
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, flags, average="binary", pos_label=True, zero_division=0.0
    )
    one_class = n_true in (0, len(truth))
    at_k = precision_score(truth, in_top, zero_division=0.0) if top_k else float("nan")
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float("nan") if one_class else float(roc_auc_score(truth, values)),
        "pr_auc": float("nan") if one_class else float(average_precision_score(truth, values)),
        "precision_at_k": float(at_k),
        "n_true": n_true,
        "n_flagged": int(flags.sum()),
    }


def labels_from_column(values: Any, column: str) -> np.ndarray:
    """A label column as 0/1: numbers (non-zero = anomaly), booleans, or words like 'outlier'.

    Raises :class:`~datacanary.errors.InputError` for missing values and for words that are
    not labels.

    >>> import pandas as pd
    >>> labels_from_column(pd.Series(["outlier", "normal", "Yes"]), "truth").tolist()
    [1, 0, 1]
    """
    import pandas as pd

    values = pd.Series(values)
    if values.isna().any():
        raise InputError(
            f"label column {column!r} has {int(values.isna().sum()):,} missing values; "
            "fill or drop them"
        )
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return np.asarray(values.astype(float) != 0, dtype=int)
    words = values.astype(str).str.strip().str.lower()
    positive = {"1", "true", "yes", "y", "outlier", "anomaly", "anomalous"}
    negative = {"0", "false", "no", "n", "inlier", "normal"}
    unknown = sorted(set(words) - positive - negative)
    if unknown:
        raise InputError(
            f"label column {column!r} has values that are not labels: {', '.join(unknown[:5])}; "
            "use 1/0, true/false or outlier/normal"
        )
    return np.asarray(words.isin(positive), dtype=int)
