"""TableDetector and score_table end to end: planted anomalies, explanations, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from datacanary.detectors import TableDetector, score_table
from datacanary.errors import ConfigError, InputError, NotEnoughDataError
from datacanary.results import RowScores

# method -> the lowest rank (0 = highest score) all four planted rows must reach
RANK_BOUND = {"auto": 4, "knn": 4, "lof": 4, "ocsvm": 4, "zscore": 4, "mad": 4, "pyod:knn": 4,
              "iforest": 8, "ecod": 40}  # fmt: skip
# iforest: its scores saturate, so a few ordinary rows with rare combinations come between.
# ecod: rank-based; one extreme column (a tail of 1/600) scores below two moderately rare ones.


def _orders(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Orders with four planted anomalies (PLANTED, when n = 600)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "order_id": [f"A{i:06d}" for i in range(n)],
            "amount": rng.lognormal(3.0, 0.25, n).round(2),
            "items": rng.integers(1, 4, n),
            "weight_kg": rng.normal(2.0, 0.3, n).round(3),
            "country": rng.choice(["DE", "FR", "NL"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    planted = [7, n // 4, n // 2, 3 * n // 4]
    frame.loc[[planted[0], planted[2]], "amount"] = [2500.0, 3100.0]  # huge amounts
    frame.loc[[planted[1], planted[3]], "weight_kg"] = [25.0, -8.0]  # impossible weights
    return frame


PLANTED = [7, 150, 300, 450]


@pytest.mark.parametrize("method", sorted(RANK_BOUND))
def test_planted_outliers_rank_highest(method: str) -> None:
    result = score_table(_orders(), method)
    assert isinstance(result, RowScores) and len(result) == 600
    rank = np.argsort(np.argsort(-np.asarray(result.scores)))
    assert max(rank[PLANTED]) < RANK_BOUND[method]
    assert result.dropped_columns == {"order_id": "identifier-like: 100% unique"}
    assert list(result.features) == ["amount", "items", "weight_kg", "country"]
    assert result.method == method


def test_flags_and_explanations_follow_the_threshold() -> None:
    result = score_table(_orders())
    scores = np.asarray(result.scores)
    assert list(result.is_anomaly) == (scores > result.threshold).tolist()
    assert all(result.is_anomaly[i] for i in PLANTED)
    assert result.explanations[7].startswith("amount (+") and "σ" in result.explanations[7]
    assert result.explanations[450].startswith("weight_kg (-")
    assert all(text == "" for text, flagged in zip(result.explanations, result.is_anomaly,
                                                      strict=True) if not flagged)  # fmt: skip


def test_explanations_name_rare_missing_and_unseen_values() -> None:
    frame = _orders()
    frame["channel"] = "web"
    frame.loc[:5, "channel"] = "app"  # 1% of rows
    frame.loc[20, "weight_kg"] = np.nan
    detector = TableDetector(n_explain=2).fit(frame)
    new = frame.iloc[[0, 20, 1]].copy()
    new.loc[new.index[2], "country"] = "XX"
    explanations = TableDetector(n_explain=5, contamination=0.5).fit(frame).score(new).explanations
    assert "channel (rare: 1.0%)" in explanations[0]
    assert "weight_kg (missing: 0.2% of rows)" in explanations[1]
    assert "country (unseen value)" in explanations[2]
    assert detector.score(new).threshold == detector.threshold_


def test_score_reuses_the_fitted_encoder_detector_and_threshold() -> None:
    frame = _orders()
    detector = TableDetector()
    fitted = detector.fit_score(frame)
    again = detector.score(frame)  # the training rows scored as new rows
    matrix = detector.encoder_.transform(frame)
    np.testing.assert_allclose(again.scores, detector.detector_.anomaly_score(matrix))
    np.testing.assert_allclose(fitted.scores, detector.detector_.anomaly_scores_)  # honest
    assert again.threshold == fitted.threshold == detector.threshold_
    np.testing.assert_allclose(again.p_values, detector.detector_.p_values(matrix))
    new = pd.DataFrame({"amount": [20.0, 9000.0], "items": [2, 2], "weight_kg": [2.0, 2.0],
                        "country": ["DE", "DE"]})  # fmt: skip
    assert detector.score(new).is_anomaly == [False, True]


def test_contamination_fraction_flags_that_share_of_rows() -> None:
    result = score_table(_orders(), contamination=0.05)
    assert result.n_anomalies == 30


def test_polars_pyarrow_and_numpy_tables_score_like_pandas() -> None:
    frame = _orders()
    expected = score_table(frame).scores
    np.testing.assert_allclose(score_table(pl.from_pandas(frame)).scores, expected)
    np.testing.assert_allclose(score_table(pa.Table.from_pandas(frame)).scores, expected)
    numbers = frame[["amount", "weight_kg"]]
    np.testing.assert_allclose(score_table(numbers.to_numpy()).scores, score_table(numbers).scores)


def test_awkward_but_valid_tables_still_score() -> None:
    frame = _orders(100)
    frame["amount"] = frame["amount"].astype(float)
    frame.loc[3, "amount"] = np.nan
    frame.loc[4, "amount"] = np.inf
    frame["nothing"] = None
    result = score_table(frame)
    assert np.all(np.isfinite(result.scores))
    assert result.dropped_columns["nothing"] == "all null"
    assert result.is_anomaly[4] and result.explanations[4].startswith("amount (")
    assert "inf" in result.explanations[4]
    single = score_table(pd.DataFrame({"currency": ["EUR"] * 10}))
    assert single.n_anomalies == 0 and len(set(single.scores)) == 1
    one_row = score_table(pd.DataFrame({"x": [1.0], "y": ["a"]}))
    assert len(one_row) == 1 and one_row.n_anomalies == 0


def test_bad_definitions_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="unknown method 'isolation'; available: auto, ecod"):
        TableDetector("isolation")
    with pytest.raises(
        ConfigError, match=r"contamination must be 'auto' or a fraction in \(0, 0.5\]; got 0.7"
    ):
        TableDetector(contamination=0.7)
    with pytest.raises(ConfigError, match="iforest has no parameter 'trees'"):
        TableDetector("iforest", trees=10)
    with pytest.raises(ConfigError, match="n_explain must be an integer >= 0"):
        TableDetector(n_explain=-1)
    TableDetector("knn", n_neighbors=3).validate()


def test_bad_data_fails_with_the_numbers() -> None:
    with pytest.raises(NotEnoughDataError, match="lof needs more rows than n_neighbors=20; got 10"):
        score_table(_orders(10), "lof")
    with pytest.raises(InputError, match=r"no usable feature column \(order_id: identifier-like"):
        score_table(_orders()[["order_id"]])
    with pytest.raises(NotEnoughDataError, match="0 rows"):
        score_table(_orders().iloc[:0])
