"""The threshold, in one place: from honest training scores to p-values and the flagging line.

Every fitted detector keeps the *honest* anomaly scores of its training rows (each row scored by
a model that did not learn from it: leave-self-out for the neighbour detectors, cross-fitting
for the forest and the SVM) as a **calibration** set. A row's **p-value** is the share of
calibration rows scoring at least as high, with the conformal correction::

    p(s) = (1 + #{calibration scores >= s}) / (m + 1)

(Bates, Candès, Lei, Romano, Sesia, "Testing for outliers with conformal p-values", Annals of
Statistics 2023). ``m`` calibration rows cannot give a p-value below ``1 / (m + 1)``, and the
training rows hold the outliers themselves, so the top of the calibration set is where they
sit. The tail is therefore modelled: above the 80th percentile ``u`` of the calibration scores
the p-value is ``tail_share x exp(-(s - u) / scale)``, an exponential tail (a generalized Pareto
with shape 0) fitted by maximum likelihood to the scores between the 80th and 95th percentiles,
the top 5 % *censored* (counted as "above the 95th percentile", their values unused), so up to
5 % of outliers among the training rows cannot stretch the tail that judges them. When more of
the rows are beyond doubt (a robust first pass, the tail fitted to the 50th-75th percentiles,
finds more than 5 % of them at p < 0.001: a batch with 15 % broken rows), that share is
censored instead and the tail starts 15 points below it. Where the true tail is lighter than
exponential (the usual case for distances and forest depths) the p-values are conservative.

``contamination="auto"`` flags a row when its p-value is below :data:`AUTO_ALPHA` (0.001): a
row like the training rows is flagged with probability about 0.1 %, whatever the table. A
fraction in ``(0, 0.5]`` flags that share of the training rows (the ``1 - contamination``
quantile of their honest scores, scikit-learn's meaning); p-values are reported either way.
How the rule was chosen among the alternatives is in ``docs/detectors.md``.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from datacanary.errors import ConfigError

__all__ = [
    "AUTO_ALPHA",
    "ROBUST_SHARE",
    "ROBUST_TRIM",
    "TAIL_SHARE",
    "TAIL_TRIM",
    "Calibration",
    "check_contamination",
    "rule_text",
    "threshold_from_scores",
]

AUTO_ALPHA = 0.001
"""The p-value below which ``contamination="auto"`` flags a row."""

TAIL_SHARE = 0.20
"""Share of the calibration scores, the highest, whose p-values come from the fitted tail."""

TAIL_TRIM = 0.05
"""Share of the calibration scores, the highest, censored in the tail fit (at least)."""

ROBUST_SHARE, ROBUST_TRIM = 0.50, 0.25
"""Tail and censored shares of the robust first pass, which finds heavy contamination."""

_MIN_TAIL = 8  # uncensored exceedances needed to fit a tail; fewer: empirical p-values only
_TINY = 1e-300


def check_contamination(contamination: object) -> float | str:
    """Return ``contamination`` if it is ``"auto"`` or a fraction in ``(0, 0.5]``.

    >>> check_contamination("auto"), check_contamination(0.05)
    ('auto', 0.05)
    >>> check_contamination(0.7)
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: contamination must be 'auto' or a fraction in (0, 0.5]; got 0.7
    """
    if isinstance(contamination, str) and contamination == "auto":
        return "auto"
    if (
        isinstance(contamination, Real)
        and not isinstance(contamination, bool)
        and math.isfinite(float(contamination))
        and 0.0 < float(contamination) <= 0.5
    ):
        return float(contamination)
    raise ConfigError(
        f"contamination must be 'auto' or a fraction in (0, 0.5]; got {contamination!r}"
    )


class Calibration:
    """p-values from honest calibration scores (higher = more anomalous), tail modelled.

    Parameters
    ----------
    scores
        Honest anomaly scores of the training rows; non-finite values are dropped.
    tail : {"exponential", "gpd", "none"}, default="exponential"
        How p-values below the top :data:`TAIL_SHARE` are extrapolated: an exponential tail,
        a generalized Pareto with a fitted shape (``scipy.stats.genpareto``), or none (the
        plain conformal p-value, never below ``1 / (m + 1)``).

    Attributes
    ----------
    n : int
        Calibration rows ``m``.
    tail_start, tail_share, tail_scale, tail_shape : float
        ``u``, the share of calibration scores above it (conformally corrected), and the
        fitted tail's scale and shape (scale 0: no tail model).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> calibration = Calibration(rng.exponential(size=10_000))
    >>> calibration.p_values([0.0, 2.3, 6.9, 20.0]).round(4).tolist()
    [1.0, 0.1004, 0.0011, 0.0]
    >>> round(calibration.score_at(0.001), 2)
    7.01
    """

    def __init__(self, scores: ArrayLike, *, tail: str = "exponential") -> None:
        if tail not in ("exponential", "gpd", "none"):
            raise ConfigError(f"tail must be 'exponential', 'gpd' or 'none'; got {tail!r}")
        values = np.asarray(scores, dtype=np.float64).ravel()
        self.sorted_ = np.sort(values[np.isfinite(values)])
        self.n = int(self.sorted_.size)
        self.tail = tail
        self.tail_start = math.inf
        self.tail_share = 0.0
        self.tail_scale = 0.0
        self.tail_shape = 0.0
        if tail != "none":
            self._fit_tail()

    def _fit_tail(self) -> None:
        # a robust first pass (tail from the median, the top quarter censored) counts the rows
        # that are beyond doubt; they are censored in the final fit too, if more than TAIL_TRIM
        trim = TAIL_TRIM
        if self._fit_tail_at(ROBUST_SHARE, ROBUST_TRIM, "exponential"):
            beyond = int(np.sum(self.p_values(self.sorted_) < AUTO_ALPHA))
            trim = max(TAIL_TRIM, beyond / max(self.n, 1))
            self.tail_start, self.tail_share, self.tail_scale = math.inf, 0.0, 0.0
        self._fit_tail_at(max(TAIL_SHARE, trim + TAIL_SHARE - TAIL_TRIM), trim, self.tail)

    def _fit_tail_at(self, share: float, trim: float, tail: str) -> bool:
        n = self.n
        n_tail = round(share * n)
        n_trim = max(1, math.ceil(trim * n))
        if n_tail - n_trim < _MIN_TAIL:
            return False
        start = float(self.sorted_[n - n_tail - 1])
        above = n - int(np.searchsorted(self.sorted_, start, side="right"))
        if above < n_tail:  # ties at the start: move it down to the next distinct value
            lower = self.sorted_[self.sorted_ < start]
            if lower.size == 0 or n - lower.size > n // 2:
                return False
            start = float(lower[-1])
        exceed = self.sorted_[self.sorted_ > start] - start
        if exceed.size - n_trim < _MIN_TAIL:
            return False
        censor = float(self.sorted_[n - n_trim - 1]) - start
        kept = exceed[exceed <= censor][: exceed.size - n_trim]
        n_censored = exceed.size - kept.size
        scale = (float(kept.sum()) + n_censored * censor) / kept.size
        shape = 0.0
        if tail == "gpd" and censor > 0:
            shape, scale = _gpd_fit(kept, n_censored, censor, scale)
        if not (scale > 0 and math.isfinite(scale)):
            return False
        self.tail_start = start
        self.tail_share = (exceed.size + 1.0) / (n + 1.0)
        self.tail_scale = scale
        self.tail_shape = shape
        return True

    def _tail_survival(self, excess: np.ndarray) -> np.ndarray:
        if self.tail_shape == 0.0:
            return np.asarray(np.exp(-excess / self.tail_scale))
        z = 1.0 + self.tail_shape * excess / self.tail_scale
        with np.errstate(all="ignore"):
            out = np.where(z > 0, np.power(np.maximum(z, 0.0), -1.0 / self.tail_shape), 0.0)
        return np.asarray(out)

    def p_values(self, scores: ArrayLike) -> np.ndarray:
        """The p-value of each score: small = unlike the calibration rows (NaN stays NaN)."""
        s = np.asarray(scores, dtype=np.float64).ravel()
        at_least = self.n - np.searchsorted(self.sorted_, s, side="left")
        p = (1.0 + at_least) / (self.n + 1.0)
        in_tail = s > self.tail_start
        if in_tail.any():
            tail = self.tail_share * self._tail_survival(s[in_tail] - self.tail_start)
            p[in_tail] = np.maximum(tail, _TINY)
        p[np.isnan(s)] = np.nan
        return np.asarray(np.minimum(p, 1.0))

    def score_at(self, p_value: float) -> float:
        """The score line ``t`` with ``score > t`` exactly when the p-value is below ``p_value``.

        ``inf`` when no score can reach that p-value (too few calibration rows, no tail).
        """
        if self.n == 0:
            return math.inf
        if self.tail_scale > 0 and p_value < self.tail_share:
            ratio = p_value / self.tail_share
            if self.tail_shape == 0.0:
                excess = -self.tail_scale * math.log(ratio)
            else:
                excess = self.tail_scale * (ratio ** (-self.tail_shape) - 1.0) / self.tail_shape
            return self.tail_start + excess
        # empirical part: p(s) < p_value  <=>  #{calibration >= s} < p_value (n + 1) - 1
        allowed = math.ceil(p_value * (self.n + 1.0) - 1.0) - 1  # largest count still flagged
        if allowed < 0:
            return math.inf
        if allowed >= self.n:
            return -math.inf
        line = float(self.sorted_[self.n - 1 - allowed])
        return min(line, self.tail_start)


def _gpd_fit(
    kept: np.ndarray, n_censored: int, censor: float, scale0: float
) -> tuple[float, float]:
    """Censored maximum-likelihood generalized Pareto (shape, scale) of the exceedances."""
    from scipy import optimize

    def negative_log_likelihood(theta: np.ndarray) -> float:
        shape, log_scale = float(theta[0]), float(theta[1])
        scale = math.exp(log_scale)
        z_kept = 1.0 + shape * kept / scale
        z_cens = 1.0 + shape * censor / scale
        if np.any(z_kept <= 0) or z_cens <= 0:
            return 1e300
        if abs(shape) < 1e-9:
            log_f = -log_scale - kept / scale
            log_s = -censor / scale
        else:
            log_f = -log_scale - (1.0 / shape + 1.0) * np.log(z_kept)
            log_s = -(1.0 / shape) * math.log(z_cens)
        return -(float(np.sum(log_f)) + n_censored * log_s)

    found = optimize.minimize(
        negative_log_likelihood,
        np.array([0.0, math.log(scale0)]),
        method="Nelder-Mead",
        options={"xatol": 1e-4, "fatol": 1e-6},
    )
    shape, log_scale = float(found.x[0]), float(found.x[1])
    shape = min(max(shape, -0.5), 1.0)
    return shape, math.exp(log_scale)


def threshold_from_scores(scores: ArrayLike, contamination: float | str = "auto") -> float:
    """The anomaly-score threshold for honest training ``scores`` (higher = more anomalous).

    A row is flagged when its score is strictly above the threshold.

    Parameters
    ----------
    scores
        Honest anomaly scores of the training rows, higher = more anomalous; finite.
    contamination
        ``"auto"``: the score whose p-value (:class:`Calibration`) is :data:`AUTO_ALPHA`; a
        fraction: the ``1 - contamination`` quantile of the scores, as in scikit-learn.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scores = rng.exponential(size=5000)
    >>> round(threshold_from_scores(scores), 2), round(threshold_from_scores(scores, 0.01), 2)
    (7.16, 4.71)
    >>> threshold_from_scores([2.0] * 500)  # all tied: nothing can be flagged
    inf
    """
    contamination = check_contamination(contamination)
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size == 0:
        return math.inf
    if contamination != "auto":
        return float(np.percentile(values, 100.0 * (1.0 - float(contamination))))
    return Calibration(values).score_at(AUTO_ALPHA)


def rule_text(
    n_flagged: int,
    n_rows: int,
    contamination: float | str,
    threshold: float,
    *,
    n_calibration: int,
) -> str:
    """The flagging rule in one sentence, with what it implies about false flags.

    >>> rule_text(12, 5000, "auto", 4.2, n_calibration=5000)
    'flagged: 12 of 5,000 rows with p < 0.001 (anomaly_score > 4.2); a row like the 5,000 training rows is flagged with probability 0.1 %, about 5 false flags expected here'
    >>> rule_text(50, 5000, 0.01, 3.1, n_calibration=5000)
    'flagged: 50 of 5,000 rows, the 1 % highest-scoring training rows (contamination=0.01, anomaly_score > 3.1)'
    """  # noqa: E501
    head = f"flagged: {n_flagged:,} of {n_rows:,} rows"
    if contamination != "auto":
        share = float(contamination)
        return (
            f"{head}, the {share * 100:.3g} % highest-scoring training rows "
            f"(contamination={share:g}, anomaly_score > {threshold:.3g})"
        )
    if not math.isfinite(threshold):
        return (
            f"{head}: with {n_calibration:,} training rows no p-value can fall below "
            f"{AUTO_ALPHA:g}, so nothing is flagged (pass contamination=... to flag a share)"
        )
    expected = AUTO_ALPHA * n_rows
    return (
        f"{head} with p < {AUTO_ALPHA:g} (anomaly_score > {threshold:.3g}); a row like the "
        f"{n_calibration:,} training rows is flagged with probability {AUTO_ALPHA * 100:g} %, "
        f"about {_count(expected)} false flags expected here"
    )


def _count(x: float) -> str:
    return f"{x:.0f}" if x >= 1 else f"{x:.2g}"
