"""The detectors as estimators: sign convention, threshold, registry, neighbour search, wrappers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from datacanary.detectors import (
    AutoDetector,
    ECODDetector,
    KNNDetector,
    LOFDetector,
    PyODDetector,
    available_methods,
    make_detector,
    threshold_from_scores,
)
from datacanary.detectors._neighbors import TREE_MAX_FEATURES
from datacanary.detectors._threshold import Calibration, check_contamination
from datacanary.errors import ConfigError, NotEnoughDataError

BUILTIN = ["auto", "ecod", "iforest", "knn", "lof", "mad", "ocsvm", "zscore"]


def _blobs(
    n: int = 400, n_out: int = 8, d: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(n, d)), rng.normal(0, 1, size=(n_out, d)) + 7.0])
    return X, np.r_[np.zeros(n), np.ones(n_out)]


@pytest.mark.parametrize("method", BUILTIN)
def test_sign_convention_is_one_flip(method: str) -> None:
    X, y = _blobs()
    detector = make_detector(method).fit(X)
    anomaly = detector.anomaly_score(X)
    np.testing.assert_allclose(detector.score_samples(X), -anomaly)
    np.testing.assert_allclose(detector.decision_function(X), -anomaly - detector.offset_)
    assert detector.threshold_ == -detector.offset_
    np.testing.assert_array_equal(
        detector.predict(X), np.where(anomaly > detector.threshold_, -1, 1)
    )
    # fit_predict judges the training rows by their honest scores, predict scores rows as new
    np.testing.assert_array_equal(
        detector.fit_predict(X), np.where(detector.anomaly_scores_ > detector.threshold_, -1, 1)
    )
    assert roc_auc_score(y, anomaly) > 0.99  # higher = more anomalous
    assert roc_auc_score(y, detector.anomaly_scores_) > 0.99
    with pytest.raises(ValueError):
        detector.predict(X[:, :2])  # malformed input, as scikit-learn's check_outliers_train


@pytest.mark.parametrize("method", BUILTIN)
def test_contamination_fraction_flags_that_share(method: str) -> None:
    X, _ = _blobs(n=392)  # 400 rows: 5% is 20 rows exactly
    labels = make_detector(method, contamination=0.05).fit_predict(X)
    assert np.sum(labels == -1) == 20


def test_auto_threshold_is_the_score_at_p_one_in_a_thousand() -> None:
    scores = np.random.default_rng(0).exponential(size=5000)
    threshold = threshold_from_scores(scores)
    p = Calibration(scores).p_values([threshold - 1e-9, threshold + 1e-9])
    assert p[0] >= 0.001 > p[1]  # anomaly_score > threshold  <=>  p < 0.001
    assert threshold_from_scores(np.full(500, 3.0)) == np.inf  # all tied: nothing is flagged
    assert threshold_from_scores(scores, 0.05) == pytest.approx(np.percentile(scores, 95))


@pytest.mark.parametrize("bad", [0, 0.0, 0.6, -0.1, 1, "0.1", "AUTO", True, float("nan"), None])
def test_contamination_out_of_range_is_a_config_error(bad: object) -> None:
    with pytest.raises(
        ConfigError, match=r"contamination must be 'auto' or a fraction in \(0, 0.5\]"
    ):
        check_contamination(bad)
    with pytest.raises(ConfigError, match="contamination"):
        make_detector("iforest", contamination=bad)  # type: ignore[arg-type]


def test_unknown_method_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as error:
        make_detector("iforrest")
    message = str(error.value)
    assert "unknown method 'iforrest'; did you mean 'iforest'?" in message
    for method in BUILTIN:
        assert method in message
    assert "pyod:<name>" in message


def test_unknown_parameter_lists_the_detectors_parameters() -> None:
    with pytest.raises(ConfigError, match="knn has no parameter 'k'; its parameters are: "):
        make_detector("knn", k=3)


def test_available_methods_and_random_state() -> None:
    assert available_methods() == [*BUILTIN, "pyod:<name>"]
    assert make_detector("iforest", random_state=7).get_params()["random_state"] == 7
    assert "random_state" not in make_detector("ecod").get_params()


def test_iforest_scores_equal_scikit_learns() -> None:
    X, _ = _blobs()
    ours = make_detector("iforest", random_state=3).fit(X).anomaly_scores_
    theirs = -IsolationForest(random_state=3).fit(X).score_samples(X)
    np.testing.assert_allclose(ours, theirs)


def test_ecod_ranks_training_rows_as_pyods_ecod() -> None:
    from pyod.models.ecod import ECOD

    X, _ = _blobs(n=300, d=5)
    ours = ECODDetector().fit(X).anomaly_scores_
    theirs = ECOD().fit(X).decision_scores_
    assert np.corrcoef(np.argsort(np.argsort(ours)), np.argsort(np.argsort(theirs)))[0, 1] > 0.99


def test_pyod_bridge_keeps_pyods_sign_and_checks_parameters() -> None:
    X, y = _blobs()
    detector = make_detector("pyod:hbos", n_bins=20).fit(X)
    assert isinstance(detector, PyODDetector)
    assert roc_auc_score(y, detector.anomaly_scores_) > 0.99
    with pytest.raises(ConfigError, match="pyod:hbos has no parameter 'bins'"):
        make_detector("pyod:hbos", bins=3)
    with pytest.raises(ConfigError, match="unknown PyOD detector 'nosuch'; use one of abod"):
        make_detector("pyod:nosuch")
    with pytest.raises(ConfigError, match="names its detector"):
        make_detector("pyod:")


@pytest.mark.parametrize(
    ("n_features", "expected"), [(3, "kd_tree"), (TREE_MAX_FEATURES + 1, "brute")]
)
def test_neighbour_search_follows_the_measured_rule(n_features: int, expected: str) -> None:
    X = np.random.default_rng(0).normal(size=(50, n_features))
    assert KNNDetector(n_neighbors=3).fit(X).neighbors_[0]._fit_method == expected
    assert LOFDetector(n_neighbors=3).fit(X).estimator_._fit_method == expected


def test_large_tables_fit_neighbours_on_a_subsample() -> None:
    X = np.random.default_rng(0).normal(size=(3000, 4))
    knn = KNNDetector(n_neighbors=5, max_samples=500, n_estimators=3, random_state=0).fit(X)
    assert [index.n_samples_fit_ for index in knn.neighbors_] == [500, 500, 500]
    assert knn.anomaly_scores_.shape == (3000,)
    lof = LOFDetector(max_samples=400, random_state=0).fit(X)
    assert lof.estimator_.n_samples_fit_ == 400
    small = KNNDetector(n_neighbors=5, max_samples=500, n_estimators=3).fit(X[:200])
    assert len(small.neighbors_) == 1  # the table fits in one draw: no repeats


def test_too_few_rows_for_the_neighbours_names_the_numbers() -> None:
    X = np.random.default_rng(0).normal(size=(12, 3))
    with pytest.raises(
        NotEnoughDataError, match=r"lof needs more rows than n_neighbors=20; got 12"
    ):
        make_detector("lof").fit(X)
    with pytest.raises(NotEnoughDataError, match=r"knn needs at least n_neighbors=15 rows; got 12"):
        make_detector("knn", n_neighbors=15).fit(X)
    with pytest.raises(ConfigError, match="n_neighbors must be a positive integer; got 0"):
        make_detector("knn", n_neighbors=0).fit(X)


def test_auto_works_on_tiny_tables() -> None:
    for n in (1, 2, 5):
        X = np.arange(n * 3, dtype=float).reshape(n, 3)
        scores = AutoDetector().fit(X).anomaly_scores_
        assert scores.shape == (n,) and np.all(np.isfinite(scores))


def test_auto_is_deterministic_for_a_seed_and_scores_new_rows() -> None:
    X, _ = _blobs(n=2000)
    first = AutoDetector(random_state=1).fit(X)
    second = AutoDetector(random_state=1).fit(X)
    np.testing.assert_array_equal(first.anomaly_scores_, second.anomaly_scores_)
    new = np.array([[0.0, 0.0, 0.0, 0.0], [9.0, -9.0, 0.0, 0.0]])
    assert first.predict(new).tolist() == [1, -1]
