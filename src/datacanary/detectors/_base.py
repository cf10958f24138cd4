"""What every row detector shares: validation, honest training scores, p-values, the sign flip.

A detector subclasses :class:`BaseDetector` and implements two hooks on validated float
matrices: ``_fit(X)`` (learn state, names ending in ``_``) and ``_score(X)`` (anomaly scores of
new rows, **higher = more anomalous**), and may override ``_fit_scores(X)``, the *honest*
scores of the training rows (see below). The base class turns them into the scikit-learn
outlier API:

* ``anomaly_score(X)``: the product's score, higher = more anomalous;
* ``score_samples(X) = -anomaly_score(X)``: scikit-learn's meaning, lower = more abnormal.
  This is the one place the sign flips;
* ``decision_function(X) = score_samples(X) - offset_``: negative = outlier;
* ``predict(X)``: -1 for outliers, +1 for inliers;
* ``p_values(X)``: each row's p-value against the training rows (small = unlike them).

**Honest training scores.** ``fit`` keeps ``anomaly_scores_``, each training row scored by a
model that did not learn from that row: ``knn``, ``lof`` and ``auto`` leave the row out of its
own neighbours, ``ecod`` leaves it out of its column's ranks, ``iforest`` and ``ocsvm`` are
cross-fitted (:meth:`BaseDetector._crossfit_scores`: five folds, each scored by a model fitted on
the other four). ``zscore`` and ``mad`` score their training rows in sample: a row moves a
column's median or MAD by O(1/n) only. Those scores are the calibration set of
:class:`~datacanary.detectors._threshold.Calibration`: they are distributed as the scores of new
rows like the training ones, which is what makes the p-values valid and the threshold mean what
it says.

**fit_predict and predict.** ``fit_predict(X)`` labels the training rows by their honest scores
(``anomaly_scores_ > threshold_``); ``predict(X)`` scores ``X`` as new rows. On the training
rows they can differ: as a new row, a training row is its own nearest neighbour (distance 0)
and is inside the data a forest or SVM was fitted on, so it looks more ordinary than it is.
scikit-learn's ``LocalOutlierFactor`` has the same two meanings (``fit_predict`` without
novelty, ``predict`` with novelty) and offers only one of them per estimator for this reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from datacanary.detectors._threshold import AUTO_ALPHA, Calibration, check_contamination

__all__ = ["CROSSFIT_FOLDS", "BaseDetector"]

CROSSFIT_FOLDS = 5
"""Folds of :meth:`BaseDetector._crossfit_scores`."""


class BaseDetector(OutlierMixin, BaseEstimator):
    """Base class of datacanary's row detectors (see the module docstring)."""

    contamination: float | str

    # -- hooks ---------------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_scores(self, X: np.ndarray) -> np.ndarray:
        """Honest anomaly scores of the training rows, right after ``_fit`` (in sample here)."""
        return self._score(X)

    def _crossfit_scores(self, X: np.ndarray, folds: int = CROSSFIT_FOLDS) -> np.ndarray:
        """Each row scored by a copy of this detector fitted on the other folds' rows.

        Tables too small for ``folds`` folds of two rows are scored in sample.
        """
        n = X.shape[0]
        if n < 2 * folds:
            return self._score(X)
        seed = getattr(self, "random_state", None)
        order = np.random.default_rng(0 if seed is None else seed).permutation(n)
        scores = np.empty(n)
        for part in np.array_split(order, folds):
            held_out = np.zeros(n, dtype=bool)
            held_out[part] = True
            copy = clone(self)
            copy._fit(X[~held_out])
            scores[held_out] = copy._score(X[held_out])
        return scores

    # -- scikit-learn API ----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Learn from the rows of ``X``, score them honestly and set the threshold.

        Parameters
        ----------
        X
            Array-like of shape (n_samples, n_features), finite numbers.
        y
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        BaseDetector
            The fitted detector, with ``anomaly_scores_`` (honest training scores),
            ``p_values_``, ``calibration_``, ``threshold_`` and ``offset_ = -threshold_``.
        """
        contamination = check_contamination(self.contamination)
        X = validate_data(self, X, dtype=np.float64)
        self._fit(X)
        scores = np.asarray(self._fit_scores(X), dtype=np.float64)
        self.anomaly_scores_ = scores
        self.calibration_ = Calibration(scores)
        if contamination == "auto":
            self.threshold_ = float(self.calibration_.score_at(AUTO_ALPHA))
        else:
            self.threshold_ = float(np.percentile(scores, 100.0 * (1.0 - float(contamination))))
        self.offset_ = -self.threshold_
        self.p_values_ = self.calibration_.p_values(scores)
        return self

    def anomaly_score(self, X: Any) -> np.ndarray:
        """Anomaly score of each row of ``X`` as a new row: **higher = more anomalous**.

        Parameters
        ----------
        X
            Array-like of shape (n_samples, n_features) with the training's features.

        Returns
        -------
        numpy.ndarray
            Float array of shape (n_samples,); rows above ``threshold_`` are outliers.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(self._score(X), dtype=np.float64)

    def p_values(self, X: Any) -> np.ndarray:
        """Each row's p-value against the honest training scores (small = unlike them)."""
        return self.calibration_.p_values(self.anomaly_score(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's score: the opposite of :meth:`anomaly_score` (lower = more abnormal)."""
        return -self.anomaly_score(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """-1 for outliers (anomaly score above ``threshold_``), +1 for inliers; X as new rows."""
        return self._labels(self.anomaly_score(X))

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit on ``X`` and label its rows by their honest scores (-1 outlier, +1 inlier)."""
        return self._labels(self.fit(X).anomaly_scores_)

    def _labels(self, scores: np.ndarray) -> np.ndarray:
        return np.where(scores > self.threshold_, -1, 1)
