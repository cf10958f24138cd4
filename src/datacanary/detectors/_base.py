"""What every row detector shares: validation, the threshold, and the one sign flip.

A detector subclasses :class:`BaseDetector` and implements two hooks on validated float
matrices: ``_fit(X)`` (learn state, names ending in ``_``) and ``_score(X)`` (anomaly scores,
**higher = more anomalous**). The base class turns them into the scikit-learn outlier API:

* ``anomaly_score(X)``: the product's score, higher = more anomalous;
* ``score_samples(X) = -anomaly_score(X)``: scikit-learn's meaning, lower = more abnormal.
  This is the one place the sign flips;
* ``decision_function(X) = score_samples(X) - offset_``: negative = outlier;
* ``predict(X)``: -1 for outliers, +1 for inliers.

``fit`` scores the training rows once (``anomaly_scores_``) and sets ``threshold_`` from them
with :func:`~datacanary.detectors._threshold.threshold_from_scores`; ``offset_ = -threshold_``.
Training rows are scored exactly as new rows are, so ``fit_predict(X)`` equals
``fit(X).predict(X)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from datacanary.detectors._threshold import check_contamination, threshold_from_scores

__all__ = ["BaseDetector"]


class BaseDetector(OutlierMixin, BaseEstimator):
    """Base class of datacanary's row detectors (see the module docstring)."""

    contamination: float | str

    # -- hooks ---------------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_scores(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores of the training rows, right after ``_fit``; override to reuse work."""
        return self._score(X)

    # -- scikit-learn API ----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Learn from the rows of ``X`` and set the threshold; ``y`` is ignored.

        Parameters
        ----------
        X
            Array-like of shape (n_samples, n_features), finite numbers.
        y
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        BaseDetector
            The fitted detector.
        """
        check_contamination(self.contamination)
        X = validate_data(self, X, dtype=np.float64)
        self._fit(X)
        scores = np.asarray(self._fit_scores(X), dtype=np.float64)
        self.anomaly_scores_ = scores
        self.threshold_ = threshold_from_scores(scores, self.contamination)
        self.offset_ = -self.threshold_
        return self

    def anomaly_score(self, X: Any) -> np.ndarray:
        """Anomaly score of each row of ``X``: **higher = more anomalous**.

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

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's score: the opposite of :meth:`anomaly_score` (lower = more abnormal)."""
        return -self.anomaly_score(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """-1 for outliers (anomaly score above ``threshold_``), +1 for inliers."""
        return self._labels(self.anomaly_score(X))

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit on ``X`` and label its rows (-1 outlier, +1 inlier), scoring them only once."""
        return self._labels(self.fit(X).anomaly_scores_)

    def _labels(self, scores: np.ndarray) -> np.ndarray:
        return np.where(scores > self.threshold_, -1, 1)
