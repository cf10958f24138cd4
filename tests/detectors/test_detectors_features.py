"""The encoder's derived features and null / zero handling, end to end through TableDetector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from datacanary.detectors import TableDetector, TableEncoder, make_detector


def _orders(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Clean orders: amount = quantity x unit_price, shipped after created, a 30 %-null coupon,
    a discount that is 0 on 70 % of rows, an e-mail that is never null."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.uniform(0, 20 * 86400, n), "s")
    quantity = rng.geometric(0.45, n)
    unit_price = np.exp(rng.normal(3.0, 0.5, n)).round(2)
    return pd.DataFrame(
        {
            "quantity": quantity,
            "unit_price": unit_price,
            "amount": (quantity * unit_price).round(2),
            "discount": np.where(rng.random(n) < 0.7, 0.0, rng.uniform(0.05, 0.25, n).round(2)),
            "coupon": np.where(rng.random(n) < 0.3, np.nan, rng.normal(10.0, 2.0, n)),
            "weight": rng.normal(2.0, 0.3, n),
            "country": rng.choice(["DE", "FR", "NL"], n, p=[0.5, 0.3, 0.2]),
            "created_at": created,
            "shipped_at": created + pd.to_timedelta(rng.gamma(4.0, 9.0, n), "h"),
        }
    )


def _rank(scores: list[float], row: int) -> int:
    """0 for the highest score."""
    return int(np.sum(np.asarray(scores) > scores[row]))


@pytest.mark.parametrize("method", ["auto", "mad", "zscore", "iforest"])
def test_nulls_in_a_null_heavy_column_are_not_guilty(method: str) -> None:
    frame = _orders()
    result = TableDetector(method, contamination=0.02).fit_score(frame)
    null = frame["coupon"].isna().to_numpy()
    flagged = np.asarray(result.is_anomaly)
    assert flagged[null].mean() <= flagged[~null].mean() + 0.01
    if method != "iforest":  # a forest isolates any 30 % group a little sooner
        scores = np.asarray(result.scores)
        assert np.median(scores[null]) <= np.quantile(scores[~null], 0.6)


@pytest.mark.parametrize("method", ["auto", "mad", "zscore"])
def test_a_null_in_a_never_null_column_is_found_and_said(method: str) -> None:
    frame = _orders()
    detector = TableDetector(method, contamination=0.05).fit(frame)
    new = frame.iloc[:200].copy()
    new.loc[new.index[5], "weight"] = np.nan
    result = detector.score(new)
    assert _rank(result.scores, 5) <= (4 if method == "mad" else 0)  # rms dilutes one column
    assert result.is_anomaly[5]
    assert "weight (missing: never in training)" in result.explanations[5]


@pytest.mark.parametrize("method", ["auto", "mad", "zscore"])
def test_a_zero_inflated_column_stays_quiet(method: str) -> None:
    frame = _orders()
    result = TableDetector(method).fit_score(frame)
    flagged = np.asarray(result.is_anomaly)
    off_mass = frame["discount"].to_numpy() > 0
    assert flagged[off_mass].mean() <= flagged[~off_mass].mean() + 0.01
    if method != "auto":  # kNN: the non-zero part is spread out, so its rows sit a little apart
        scores = np.asarray(result.scores)
        assert np.median(scores[off_mass]) <= np.quantile(scores[~off_mass], 0.75)


def test_an_impossible_discount_is_still_extreme() -> None:
    frame = _orders()
    frame.loc[7, "discount"] = 1.6
    result = TableDetector().fit_score(frame)
    assert _rank(result.scores, 7) == 0 and result.is_anomaly[7]
    assert result.explanations[7].startswith("discount (+19.6σ among values other than 0)")


# the table's amounts are lognormal, so a few legitimate big orders lie 10-20 robust units out:
# a single broken rule must rank with them (top 1 %) and be flagged by the default
@pytest.mark.parametrize("method", ["auto", "mad", "zscore"])
def test_shipped_before_ordered_is_found_and_explained_in_words(method: str) -> None:
    frame = _orders()
    created = frame.loc[11, "created_at"]
    frame.loc[11, "shipped_at"] = created - pd.Timedelta(hours=50)
    detector = TableDetector(method)
    result = detector.fit_score(frame)
    assert "shipped_at-created_at" in detector.encoder_.feature_names_
    assert _rank(result.scores, 11) < 20 and result.is_anomaly[11]
    assert result.explanations[11].startswith("shipped_at (2.1 days before created_at; <0.1%")
    fresh = _orders(300, seed=1)
    fresh.loc[3, "shipped_at"] = fresh.loc[3, "created_at"] - pd.Timedelta(days=2)
    scored = TableDetector(method, contamination=0.05).fit(_orders()).score(fresh)
    assert _rank(scored.scores, 3) <= 2 and scored.is_anomaly[3]
    assert "shipped_at (2.0 days before created_at; never in training)" in scored.explanations[3]


@pytest.mark.parametrize("method", ["auto", "zscore"])
def test_a_negative_quantity_is_found_and_explained(method: str) -> None:
    frame = _orders()
    frame.loc[[21, 22], "quantity"] = [-3, 0]
    result = TableDetector(method).fit_score(frame)
    assert _rank(result.scores, 21) < 10 and _rank(result.scores, 22) < 10
    assert result.is_anomaly[21] and result.is_anomaly[22]
    explanation = TableDetector(contamination=0.05).fit(_orders()).score(frame).explanations[21]
    assert "quantity (-3 is below the smallest value ever seen, 1)" in explanation


def test_a_value_below_a_bound_a_few_training_rows_broke_says_so() -> None:
    frame = _orders()
    frame.loc[[30, 31, 32], "quantity"] = [-1, -2, -4]
    result = TableDetector().fit_score(frame)
    assert all(result.is_anomaly[i] for i in (30, 31, 32))
    assert (
        "quantity (-2 is below 1, the smallest value on 99.9% of rows)" in result.explanations[31]
    )


@pytest.mark.parametrize("method", ["auto"])  # per-column detectors see one small residual
def test_an_amount_that_is_not_quantity_times_price_is_found(method: str) -> None:
    frame = _orders()
    row = 40
    frame.loc[row, "amount"] = round(float(frame.loc[row, "amount"]) * 1.6, 2)  # plausible size
    detector = TableDetector(method)
    result = detector.fit_score(frame)
    assert "amount:quantity*unit_price" in detector.encoder_.feature_names_
    assert _rank(result.scores, row) == 0 and result.is_anomaly[row]
    q, p, a = (frame.loc[row, c] for c in ("quantity", "unit_price", "amount"))
    text = TableDetector(contamination=0.05).fit(_orders()).score(frame).explanations[row]
    assert f"amount ({a:,.2f} is not quantity × unit_price: {q} × {p:,.2f} = {q * p:,.2f}" in text


def test_a_constant_ratio_is_learned_and_its_break_found() -> None:
    frame = _orders()
    frame["tax"] = (frame["amount"] * 0.19).round(2)
    frame.loc[50, "tax"] = round(float(frame.loc[50, "amount"]) * 0.07, 2)
    detector = TableDetector()
    result = detector.fit_score(frame)
    assert "tax:0.19*amount" in detector.encoder_.feature_names_
    assert _rank(result.scores, 50) == 0
    assert result.explanations[50].startswith("tax (")
    assert "is not 0.19 × amount" in result.explanations[50]


def test_relations_and_bounds_are_not_invented_on_independent_columns() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(3000, 6)), columns=[f"x{i}" for i in range(6)])
    frame["count"] = rng.poisson(4.0, 3000)
    encoder = TableEncoder().fit(frame)
    assert encoder.relations_ == []
    assert encoder.feature_names_ == [*frame.columns]
    plans = {p.column: p.values for p in encoder.plans_}
    assert plans["x0"].floor is None and plans["x0"].ceiling is None  # both signs seen
    assert plans["count"].floor == 0.0  # counts are never negative


def test_fresh_clean_rows_are_rarely_flagged_for_their_features() -> None:
    detector = TableDetector("mad", contamination=0.01).fit(_orders())
    fresh = detector.score(_orders(2000, seed=5))
    assert np.mean(fresh.is_anomaly) <= 0.03


def test_the_encoding_is_deterministic_and_the_same_from_every_format() -> None:
    frame = _orders(500)
    frame.loc[3, "quantity"] = -2
    expected = TableEncoder().fit_transform(frame)
    np.testing.assert_array_equal(TableEncoder().fit_transform(frame), expected)
    np.testing.assert_array_equal(TableEncoder().fit_transform(frame.copy()), expected)
    for data in (pl.from_pandas(frame), pa.Table.from_pandas(frame)):
        np.testing.assert_allclose(TableEncoder().fit_transform(data), expected)
    encoder = TableEncoder().fit(frame)
    assert encoder.feature_names_[-2:] == ["shipped_at-created_at", "amount:quantity*unit_price"]
    assert encoder.source_columns_["amount:quantity*unit_price"] == "amount"


def test_mad_judges_a_zero_inflated_matrix_column_on_its_non_zero_part() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    discount = np.where(rng.random(n) < 0.7, 0.0, rng.uniform(0.05, 0.25, n))
    X = np.column_stack([rng.normal(size=n), discount])
    X[0, 1] = 1.5  # an impossible discount
    detector = make_detector("mad", combine="max").fit(X)
    scores = detector.anomaly_scores_
    assert int(np.argmax(scores)) == 0
    typical = (X[:, 1] > 0.1) & (X[:, 1] < 0.2)
    assert np.max(scores[typical & (np.abs(X[:, 0]) < 1)]) < 2.0  # a normal discount: quiet
    assert detector.mass_[1] == 0.0 and np.isnan(detector.mass_[0])
