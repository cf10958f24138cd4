"""``ocsvm``: scikit-learn's One-Class SVM, fitted on a bounded subsample.

Training a kernel SVM costs between quadratic and cubic time in its rows, so the model is fitted
on at most ``max_samples`` rows (default 5,000) drawn at random; every row is scored, at a cost
linear in the rows scored times the support vectors. The boundary is drawn around the rows it
was fitted on, so the training rows' own scores (``anomaly_scores_``, the calibration set of the
threshold) are cross-fitted: five folds, each scored by an SVM fitted on the other four.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from datacanary.detectors._base import BaseDetector
from datacanary.detectors._neighbors import _positive_int, _reference_rows

__all__ = ["OCSVMDetector"]


class OCSVMDetector(BaseDetector):
    """One-Class SVM: distance outside a kernel boundary around the bulk of the rows.

    Parameters
    ----------
    kernel : str, default="rbf"
        Kernel of :class:`sklearn.svm.OneClassSVM`.
    gamma : float or {"scale", "auto"}, default="scale"
        Kernel coefficient (scikit-learn's meaning).
    nu : float, default=0.5
        Upper bound on the fraction of training rows outside the boundary (scikit-learn's
        default); the flagged share is set by ``contamination`` instead.
    max_samples : int or None, default=5000
        Rows drawn at random to fit when the table is larger; None fits on every row.
    contamination : float or "auto", default="auto"
        Fraction of training rows to flag, or ``"auto"``: p-value below 0.001.
    random_state : int or None, default=None
        Seed of the subsample.

    Attributes
    ----------
    estimator_ : sklearn.svm.OneClassSVM
        The fitted model.
    anomaly_scores_ : ndarray of shape (n_samples,)
        Training rows' cross-fitted anomaly scores.
    threshold_ : float
        Rows scoring above it are outliers; ``offset_ = -threshold_``.

    References
    ----------
    Schölkopf, Platt, Shawe-Taylor, Smola, Williamson. "Estimating the support of a
    high-dimensional distribution", Neural Computation 2001.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(300, 2)), [[4.0, 4.0]]])
    >>> int(np.argmax(OCSVMDetector().fit(X).anomaly_scores_))
    300
    """

    def __init__(
        self,
        *,
        kernel: str = "rbf",
        gamma: float | str = "scale",
        nu: float = 0.5,
        max_samples: int | None = 5_000,
        contamination: float | str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.kernel = kernel
        self.gamma = gamma
        self.nu = nu
        self.max_samples = max_samples
        self.contamination = contamination
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> None:
        from sklearn.svm import OneClassSVM

        _positive_int("max_samples", self.max_samples, allow_none=True)
        rows = _reference_rows(X.shape[0], self.max_samples, check_random_state(self.random_state))
        self.estimator_ = OneClassSVM(kernel=self.kernel, gamma=self.gamma, nu=self.nu).fit(X[rows])

    def _fit_scores(self, X: np.ndarray) -> np.ndarray:
        return self._crossfit_scores(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.estimator_.score_samples(X))
