"""``ecod``: empirical-CDF tail probabilities per column (ECOD, Li et al. 2022), in numpy.

For each column, the share of training values at or below a value (left tail) and at or above
it (right tail) is read from the sorted training column; the row's score sums, over the columns,
``-log`` of the smaller tail. A value in a thin tail of any column raises the score, so ECOD
catches extreme values one column at a time, needs no parameter and no distance, and costs a
sort per column to fit and a binary search per value to score.

The tails are smoothed, ``(count + 1) / (n + 1)``, so a new value beyond the training range
scores a little higher than the training extreme instead of infinitely high. A training row's
own score (``anomaly_scores_``) leaves the row out of its column's counts, so the most extreme
training value scores as a new value just beyond the others would, not as a value already seen.
On the training rows this ranks as PyOD's ``ECOD`` does (its per-column maximum of the left,
right and skewness-chosen tails is the smaller tail), at a fraction of its cost.

References
----------
Li, Zhao, Hu, Botta, Ionescu, Chen. "ECOD: Unsupervised Outlier Detection Using Empirical
Cumulative Distribution Functions", IEEE TKDE 2022.
"""

from __future__ import annotations

import numpy as np

from datacanary.detectors._base import BaseDetector

__all__ = ["ECODDetector"]


class ECODDetector(BaseDetector):
    """Sum over columns of ``-log`` (smaller empirical tail probability); parameter-free.

    Parameters
    ----------
    contamination : float or "auto", default="auto"
        Fraction of training rows to flag, or ``"auto"``: p-value below 0.001.

    Attributes
    ----------
    sorted_ : ndarray of shape (n_samples, n_features)
        Each training column, sorted.
    anomaly_scores_ : ndarray of shape (n_samples,)
        Training rows' leave-self-out anomaly scores (higher = more anomalous).
    threshold_ : float
        Rows scoring above it are outliers; ``offset_ = -threshold_``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(200, 3)), [[4.0, -4.0, 4.0]]])
    >>> scores = ECODDetector().fit(X).anomaly_scores_
    >>> int(np.argmax(scores))
    200
    """

    def __init__(self, *, contamination: float | str = "auto") -> None:
        self.contamination = contamination

    def _fit(self, X: np.ndarray) -> None:
        self.sorted_ = np.sort(X, axis=0)

    def _fit_scores(self, X: np.ndarray) -> np.ndarray:
        return self._score(X, leave_self_out=True)

    def _score(self, X: np.ndarray, *, leave_self_out: bool = False) -> np.ndarray:
        # leave_self_out: X is the training matrix; each value is one of the sorted column's,
        # so one count on each side is the row itself, and it is not one of the others
        own = 1 if leave_self_out else 0
        size = self.sorted_.shape[0]
        n = size - own  # the rows a value is compared with
        total = np.zeros(X.shape[0])
        for j in range(X.shape[1]):
            column = self.sorted_[:, j]
            order = np.argsort(X[:, j])  # sorted queries search the sorted column faster
            values = X[order, j]
            at_or_below = np.searchsorted(column, values, side="right") - own
            at_or_above = size - np.searchsorted(column, values, side="left") - own
            tail = (np.minimum(at_or_below, at_or_above) + 1.0) / (n + 1.0)
            total[order] -= np.log(tail)
        return total
