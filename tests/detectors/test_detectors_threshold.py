"""The default row threshold: p-values from honest training scores, a clean table stays quiet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datacanary.detectors import (
    ECODDetector,
    KNNDetector,
    LOFDetector,
    TableDetector,
    make_detector,
    score_table,
)
from datacanary.detectors._threshold import AUTO_ALPHA, Calibration


def _clean_mixed(n: int, seed: int) -> pd.DataFrame:
    """Clean mixed-type rows, 5 % of the cells missing."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n),
            "quantity": rng.integers(1, 6, n).astype(float),
            "weight": rng.normal(2.0, 0.4, n),
            "country": rng.choice(["DE", "FR", "NL", "BE"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "is_gift": rng.random(n) < 0.1,
        }
    )
    for column in frame.columns:
        frame[column] = frame[column].mask(rng.random(n) < 0.05)
    return frame


@pytest.mark.parametrize("method", ["auto", "knn", "lof", "ecod", "mad", "zscore"])
def test_a_clean_table_stays_quiet(method: str) -> None:
    train, fresh = _clean_mixed(6000, seed=1), _clean_mixed(6000, seed=2)
    detector = TableDetector(method, n_explain=0).fit(train)
    result = detector.score(fresh)
    assert np.mean(result.is_anomaly) <= 0.01  # the old median + 3 MAD rule: 2-5 %
    assert np.mean(detector.fit_score(train).is_anomaly) <= 0.01


@pytest.mark.parametrize("method", ["auto", "knn", "lof", "ecod"])
def test_p_values_of_exchangeable_clean_rows_are_valid(method: str) -> None:
    rng = np.random.default_rng(3)
    X, fresh = rng.normal(size=(4000, 4)), rng.normal(size=(4000, 4))
    p = make_detector(method).fit(X).p_values(fresh)
    for t in (0.01, 0.05, 0.1, 0.2, 0.5):
        slack = 0.01 + 3 * np.sqrt(t * (1 - t) / p.size)
        assert np.mean(p <= t) <= t + slack, t
    assert np.mean(p <= 0.5) > 0.4  # and not uselessly conservative in the bulk


def test_an_obvious_outlier_gets_a_tiny_p_value_and_is_flagged() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000),
                          "c": rng.choice(["x", "y"], 2000)})  # fmt: skip
    frame.loc[1234, ["a", "b"]] = [9.0, -9.0]
    detector = TableDetector()
    result = detector.fit_score(frame)  # the outlier is among the training rows
    assert result.p_values[1234] < 1e-6 and result.is_anomaly[1234]
    assert np.argmax(result.scores) == 1234
    new = detector.score(pd.DataFrame({"a": [0.1, 12.0], "b": [0.0, 12.0], "c": ["x", "y"]}))
    assert new.is_anomaly == [False, True] and new.p_values[1] < 1e-6 < new.p_values[0]


@pytest.mark.parametrize("method", ["auto", "knn", "lof", "iforest", "ocsvm", "ecod", "mad"])
def test_flagged_exactly_when_the_p_value_is_below_the_cut(method: str) -> None:
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(size=(1500, 3)), rng.normal(6, 1, size=(10, 3))])
    detector = make_detector(method).fit(X)
    fresh = np.vstack([rng.normal(size=(500, 3)), rng.normal(5, 1, size=(20, 3))])
    for scores, p in ((detector.anomaly_score(fresh), detector.p_values(fresh)),
                      (detector.anomaly_scores_, detector.p_values_)):  # fmt: skip
        np.testing.assert_array_equal(scores > detector.threshold_, p < AUTO_ALPHA)
        assert np.all(np.diff(p[np.argsort(scores)]) <= 1e-12)  # higher score, smaller p


def test_knn_training_scores_leave_the_row_itself_out() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X = np.vstack([X, X[:1]])  # row 300 duplicates row 0
    knn = KNNDetector(n_neighbors=1, max_samples=None).fit(X)
    assert knn.anomaly_scores_[0] == knn.anomaly_scores_[300] == 0.0  # each other's neighbour
    assert np.all(knn.anomaly_scores_[1:300] > 0)  # never its own neighbour at distance 0
    # a training row's score is the score of a copy of it, fitted without it
    for k in (1, 5):
        honest = KNNDetector(n_neighbors=k, max_samples=None).fit(X[:300]).anomaly_scores_
        for i in (3, 77, 250):
            without = KNNDetector(n_neighbors=k, max_samples=None).fit(np.delete(X[:300], i, 0))
            assert honest[i] == pytest.approx(without.anomaly_score(X[i : i + 1])[0])


def test_knn_subsampled_reference_rows_leave_themselves_out() -> None:
    X = np.random.default_rng(1).normal(size=(2000, 2))
    knn = KNNDetector(n_neighbors=3, max_samples=200, random_state=0).fit(X)
    reference = knn.references_[0]
    outside = np.setdiff1d(np.arange(2000), reference)
    as_new = knn.anomaly_score(X)
    np.testing.assert_allclose(knn.anomaly_scores_[outside], as_new[outside])  # new rows
    assert np.all(knn.anomaly_scores_[reference] > as_new[reference])  # not their own neighbour


def test_lof_training_scores_are_not_novelty_scores_of_its_own_rows() -> None:
    from sklearn.neighbors import LocalOutlierFactor

    X = np.random.default_rng(2).normal(size=(500, 3))
    lof = LOFDetector(n_neighbors=10).fit(X)
    expected = -LocalOutlierFactor(n_neighbors=10).fit(X).negative_outlier_factor_
    np.testing.assert_allclose(lof.anomaly_scores_, expected)


def test_ecod_training_scores_equal_a_fit_without_the_row() -> None:
    X = np.random.default_rng(4).normal(size=(200, 3))
    honest = ECODDetector().fit(X).anomaly_scores_
    for i in (0, 50, int(np.argmax(X[:, 0]))):
        without = ECODDetector().fit(np.delete(X, i, 0)).anomaly_score(X[i : i + 1])[0]
        assert honest[i] == pytest.approx(without)


def test_contamination_flags_that_share_and_still_reports_p_values() -> None:
    frame = _clean_mixed(2000, seed=0)
    result = score_table(frame, contamination=0.05)
    assert result.n_anomalies == 100
    assert len(result.p_values) == 2000 and all(0 < p <= 1 for p in result.p_values)
    assert result.rule.startswith("flagged: 100 of 2,000 rows, the 5 % highest-scoring")


def test_the_rule_is_said_in_words() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": np.r_[rng.normal(50, 5, 3000), [500.0, 650.0]]})
    result = score_table(frame)
    assert result.n_anomalies >= 2
    assert result.rule.startswith(
        f"flagged: {result.n_anomalies} of 3,002 rows with p < 0.001 (anomaly_score > "
    )
    assert "about 3 false flags expected here" in result.rule
    tiny = score_table(pd.DataFrame({"x": [1.0, 2.0, 3.0, 50.0]}))
    assert tiny.n_anomalies == 0 and "no p-value can fall below 0.001" in tiny.rule


def test_calibration_tail_is_conservative_and_sound() -> None:
    rng = np.random.default_rng(0)
    calibration = Calibration(np.abs(rng.normal(size=20_000)))  # a tail lighter than exponential
    fresh = calibration.p_values(np.abs(rng.normal(size=200_000)))
    for t in (0.01, 0.001, 0.0001):
        assert np.mean(fresh < t) <= t * 1.2
    assert Calibration([]).score_at(0.001) == np.inf
    assert Calibration([1.0, 2.0, 3.0]).p_values([10.0])[0] == pytest.approx(0.25)  # 1/(m+1)
    with pytest.raises(Exception, match="tail must be"):
        Calibration([1.0], tail="pareto")
