"""Per-column deviation detectors: ``zscore`` (mean and standard deviation) and ``mad`` (robust).

Each column's deviation is ``z = (x - center) / scale``; a row's anomaly score combines its
columns' ``|z|``: ``combine="rms"`` (default) takes the root mean square, ``"max"`` the largest.
Everything is vectorised numpy: fitting is one pass for the centres and scales.

``mad`` uses the median and 1.4826 x the median absolute deviation (MAD), so the outliers
cannot inflate the scale that judges them. When a column's MAD is zero (more than half its
values tied), 1.2533 x the mean absolute deviation replaces it, then the standard deviation,
then 1.

**Zero-inflated columns.** A column that is exactly 0 on at least half of the training rows -- a
discount that is 0 on 70 % of orders, a null indicator, a one-hot category -- is a mixture of a
point mass at 0 and the rest, and both detectors judge it as one. A row *on* the mass deviates
by 0. A row off it is judged on the other values only (their median and MAD for ``mad``, their
mean and standard deviation for ``zscore``), and its ``|z|`` is the normal z with the same
two-sided tail probability as the mixture gives it: ``P(off the mass) x P(|z_rest| >= its
value)``. So a non-zero discount, 30 % of the rows, counts ``|z| = 1.0`` at a typical value and
about as many standard deviations as it lies from the other discounts when it is extreme,
instead of ``1 / (1.2533 x 0.3 x mean discount)`` for every non-zero value; a null in a column
that is null on 5 % of the rows counts 1.96, on 0.1 % 3.3.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from datacanary.detectors._base import BaseDetector
from datacanary.errors import ConfigError

__all__ = [
    "MASS_SHARE",
    "MADDetector",
    "ZScoreDetector",
    "mass_z",
    "point_mass",
    "robust_center_scale",
]

_COMBINE = ("rms", "max")
MASS_SHARE = 0.5
"""A column exactly 0 on at least this share of its rows is zero-inflated."""


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


def point_mass(values: np.ndarray) -> tuple[float, float] | None:
    """``(0.0, share of non-zero rows)`` when at least half of ``values`` are exactly 0.

    ``values`` is one column without NaN. None when fewer are 0, or when every value is 0 (a
    constant column). Only 0 counts: it is the value that means "nothing happened" (no
    discount, no null, not this category). A mass at another value -- the floor of a
    standardised column, a dominant level -- is judged by the MAD fallbacks, as departures
    from it are then the signal (ODDS ``breastw``, ``cardio``, ``mammography``).

    >>> point_mass(np.array([0.0, 0.0, 0.0, 0.1, 0.2]))
    (0.0, 0.4)
    >>> point_mass(np.array([1.0, 1.0, 1.0, 2.0])) is None
    True
    """
    n = len(values)
    if n == 0:
        return None
    zeros = int(np.count_nonzero(values == 0))
    if zeros == n or zeros < MASS_SHARE * n:
        return None
    return 0.0, (n - zeros) / n


def mass_z(z_rest: np.ndarray, off_share: float) -> np.ndarray:
    """The normal ``|z|`` with the tail probability ``off_share x P(|Z| >= |z_rest|)``.

    ``z_rest`` is a value's deviation among the values off a point mass (see the module
    docstring); ``off_share`` the share of rows off the mass.

    >>> mass_z(np.array([0.0, 3.0, 30.0]), 0.3).round(2)
    array([ 1.04,  3.35, 30.04])
    """
    from scipy.special import log_ndtr, ndtri_exp

    z = np.abs(np.asarray(z_rest, dtype=np.float64))
    # one-sided tail of the answer: off_share x P(Z >= |z|), in logs so huge z stay finite
    log_tail = math.log(max(off_share, 1e-300)) + log_ndtr(-z)
    return np.asarray(-ndtri_exp(np.minimum(log_tail, math.log(0.5))))


class _DeviationDetector(BaseDetector):
    combine: str

    def _center_scale(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    def _fit(self, X: np.ndarray) -> None:
        if self.combine not in _COMBINE:
            raise ConfigError(f"combine must be one of {', '.join(_COMBINE)}; got {self.combine!r}")
        center, scale = self._center_scale(X)
        self.mass_ = np.full(X.shape[1], np.nan)
        self.off_share_ = np.zeros(X.shape[1])
        for j in range(X.shape[1]):
            found = point_mass(X[:, j])
            if found is None:
                continue
            self.mass_[j], self.off_share_[j] = found
            rest = X[X[:, j] != found[0], j][:, None]
            rest_center, rest_scale = self._center_scale(rest)
            center[j], scale[j] = rest_center[0], rest_scale[0]
        self.center_, self.scale_ = center, scale

    def _score(self, X: np.ndarray) -> np.ndarray:
        z = np.abs((X - self.center_) / self.scale_)
        for j in np.flatnonzero(~np.isnan(self.mass_)):
            on = X[:, j] == self.mass_[j]
            z[:, j] = np.where(on, 0.0, mass_z(z[:, j], float(self.off_share_[j])))
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
        Column means and standard deviations (1 where a column is constant); for a column with
        a point mass, those of its other values.
    mass_, off_share_ : ndarray of shape (n_features,)
        Each column's point mass (NaN where none) and the share of rows off it.
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
        Column medians and robust scales (see the module docstring for the fallbacks); for a
        column with a point mass, those of its other values.
    mass_, off_share_ : ndarray of shape (n_features,)
        Each column's point mass (NaN where none) and the share of rows off it.
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

    A discount that is 0 on 70 % of the rows: the non-zero ones are judged among themselves.

    >>> discount = np.array([[0.0]] * 14 + [[0.1], [0.15], [0.1], [0.2], [0.15], [1.5]])
    >>> MADDetector().fit(discount).anomaly_scores_[-7:].round(1)
    array([ 0. ,  1.4,  1. ,  1.4,  1.4,  1. , 18.3])
    """

    def __init__(self, *, combine: str = "rms", contamination: float | str = "auto") -> None:
        self.combine = combine
        self.contamination = contamination

    def _center_scale(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return robust_center_scale(X)
