"""evaluate_scores: scikit-learn's metrics on row scores, with the edge cases a user meets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from datacanary.errors import InputError
from datacanary.evaluate import evaluate_scores
from datacanary.results import RowScores


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    scores = rng.normal(size=300) + 2.0 * y
    flags = scores > 1.5
    result = evaluate_scores(y, scores, flags, k=20)
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert result["pr_auc"] == pytest.approx(average_precision_score(y, scores))
    assert result["f1"] == pytest.approx(f1_score(y, flags))
    top20 = np.argsort(-scores)[:20]
    assert result["precision_at_k"] == pytest.approx(y[top20].mean())
    assert result["n_true"] == int(y.sum()) and result["n_flagged"] == int(flags.sum())


def test_without_flags_the_top_n_true_rows_are_flagged() -> None:
    result = evaluate_scores([0, 1, 0, 1, 0], [0.1, 0.9, 0.8, 0.2, 0.0])
    assert result["n_flagged"] == 2
    assert result["precision"] == result["recall"] == result["f1"] == 0.5
    assert result["precision_at_k"] == 0.5


def test_row_scores_bring_their_own_flags() -> None:
    scored = RowScores(scores=[0.1, 5.0, 0.2], is_anomaly=[False, True, True], threshold=0.15,
                       explanations=["", "x", "y"], method="auto")  # fmt: skip
    result = evaluate_scores([0, 1, 0], scored)
    assert result["precision"] == 0.5 and result["recall"] == 1.0 and result["n_flagged"] == 2


def test_one_class_labels_give_nan_aucs_not_an_error() -> None:
    result = evaluate_scores([0, 0, 0], [0.1, 0.2, 0.3], [False, False, True])
    assert math.isnan(result["roc_auc"]) and math.isnan(result["pr_auc"])
    assert result["precision"] == 0.0 and result["n_true"] == 0


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="y_true has 2 labels but scores has 3 values"):
        evaluate_scores([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="1 of 3 are NaN or inf"):
        evaluate_scores([0, 1, 0], [0.1, float("nan"), 0.3])
    with pytest.raises(InputError, match="is_anomaly has 1 values but scores has 2"):
        evaluate_scores([0, 1], [0.1, 0.2], [True])
