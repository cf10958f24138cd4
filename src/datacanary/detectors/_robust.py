"""Per-column deviation detectors: ``zscore`` (mean and standard deviation) and ``mad`` (robust).

Each column's deviation is ``z = (x - center) / scale``; a row's anomaly score combines its
columns' ``|z|``: ``combine="rms"`` (default) takes the root mean square, ``"max"`` the largest.
Everything is vectorised numpy: fitting is one pass for the centres and scales.

``mad`` uses the median and 1.4826 x the median absolute deviation (MAD), so the outliers
cannot inflate the scale that judges them. When a column's MAD is zero (more than half its
values tied), 1.2533 x the mean absolute deviation replaces it, then the standard deviation,
then 1.
"""

from __future__ import annotations

import warnings

import numpy as np

from datacanary.detectors._base import BaseDetector
from datacanary.errors import ConfigError

__all__ = ["MADDetector", "ZScoreDetector", "robust_center_scale"]

_COMBINE = ("rms", "max")


def robust_center_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust scale of each column of ``X`` (NaN ignored), with the fallbacks above.

    >>> center, scale = robust_center_scale(np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0],
    ...                                               [100.0, 5.0]]))
    >>> center.tolist(), scale.round(3).tolist()
    ([2.5, 5.0], [1.483, 1.0])
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] == 0:
        return np.zeros(X.shape[1]), np.ones(X.shape[1])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        median = np.nanmedian if np.isnan(X).any() else np.median  # median is much faster
        center = median(X, axis=0)
        deviation = np.abs(X - center)
        scale = 1.4826 * median(deviation, axis=0)
        weak = ~((scale > 0) & np.isfinite(scale))
        if weak.any():  # fallbacks, computed only where needed
            for fallback in (
                1.2533 * np.nanmean(deviation[:, weak], axis=0),
                np.nanstd(X[:, weak], axis=0),
                np.ones(int(weak.sum())),
            ):
                still = ~((scale[weak] > 0) & np.isfinite(scale[weak]))
                scale[np.flatnonzero(weak)[still]] = fallback[still]
    center = np.where(np.isfinite(center), center, 0.0)
    return center, scale


class _DeviationDetector(BaseDetector):
    combine: str

    def _center_scale(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    def _fit(self, X: np.ndarray) -> None:
        if self.combine not in _COMBINE:
            raise ConfigError(f"combine must be one of {', '.join(_COMBINE)}; got {self.combine!r}")
        self.center_, self.scale_ = self._center_scale(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        z = np.abs((X - self.center_) / self.scale_)
        if self.combine == "max":
            return np.asarray(z.max(axis=1))
        return np.asarray(np.sqrt(np.mean(z * z, axis=1)))


class ZScoreDetector(_DeviationDetector):
    """Distance from the column means in standard deviations, combined over the columns.

    Parameters
    ----------
    combine : {"rms", "max"}, default="rms"
        How a row's per-column ``|z|`` become one score: root mean square, or the largest.
    contamination : float or "auto", default="auto"
        Fraction of training rows to flag, or ``"auto"`` for the robust rule of
        :mod:`datacanary.detectors._threshold`.

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_features,)
        Column means and standard deviations (1 where a column is constant).
    anomaly_scores_ : ndarray of shape (n_samples,)
        Training rows' anomaly scores (higher = more anomalous).
    threshold_ : float
        Rows scoring above it are outliers; ``offset_ = -threshold_``.

    See Also
    --------
    MADDetector : the same with the median and MAD, robust to the outliers themselves.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 10.0], [1.1, 10.2], [0.9, 9.8], [1.0, 10.1], [5.0, 10.0]])
    >>> ZScoreDetector(combine="max").fit(X).anomaly_score(X).round(2)
    array([0.5 , 1.36, 1.66, 0.6 , 2.  ])
    """

    def __init__(self, *, combine: str = "rms", contamination: float | str = "auto") -> None:
        self.combine = combine
        self.contamination = contamination

    def _center_scale(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        center = X.mean(axis=0)
        scale = X.std(axis=0)
        return center, np.where(scale > 0, scale, 1.0)


class MADDetector(_DeviationDetector):
    """Robust z-scores (median and MAD) of each column, combined over the columns.

    Parameters
    ----------
    combine : {"rms", "max"}, default="rms"
        How a row's per-column ``|z|`` become one score: root mean square, or the largest.
    contamination : float or "auto", default="auto"
        Fraction of training rows to flag, or ``"auto"`` for the robust rule.

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_features,)
        Column medians and robust scales (see the module docstring for the fallbacks).
    anomaly_scores_ : ndarray of shape (n_samples,)
        Training rows' anomaly scores (higher = more anomalous).
    threshold_ : float
        Rows scoring above it are outliers; ``offset_ = -threshold_``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 10.0], [1.1, 10.2], [0.9, 9.8], [1.0, 10.1], [5.0, 10.0]])
    >>> detector = MADDetector(combine="max").fit(X)
    >>> detector.anomaly_score(X).round(1)
    array([ 0. ,  1.3,  1.3,  0.7, 27. ])
    >>> detector.predict(X)
    array([ 1,  1,  1,  1, -1])
    """

    def __init__(self, *, combine: str = "rms", contamination: float | str = "auto") -> None:
        self.combine = combine
        self.contamination = contamination

    def _center_scale(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return robust_center_scale(X)
