"""The threshold, in one place: from training anomaly scores to the line above which rows flag.

``contamination`` is either a fraction of rows in ``(0, 0.5]`` (flag that share of the
training rows, as scikit-learn does) or ``"auto"``: a robust rule on the distribution of the
training scores, so nobody has to guess the outlier share in advance.

The ``"auto"`` rule is the median plus three robust standard deviations of the scores::

    threshold = median(scores) + 3 * 1.4826 * MAD(scores)

where MAD is the median absolute deviation (1.4826 * MAD estimates the standard deviation of
normally distributed scores, so this is a "3 sigma" line that the outliers themselves cannot
drag). When more than half of the scores are tied (MAD = 0), the mean absolute deviation from
the median (times 1.2533, the same normal-consistency constant) replaces it; when every score is
the same, nothing is flagged. The threshold is never below the median, so at most half of the
training rows can be flagged.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from datacanary.errors import ConfigError

__all__ = ["AUTO_RULE_SIGMAS", "check_contamination", "threshold_from_scores"]

AUTO_RULE_SIGMAS = 3.0
"""How many robust standard deviations above the median the ``"auto"`` threshold sits."""


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


def threshold_from_scores(scores: ArrayLike, contamination: float | str = "auto") -> float:
    """The anomaly-score threshold for training ``scores`` (higher = more anomalous).

    A row is flagged when its score is strictly above the threshold.

    Parameters
    ----------
    scores
        Anomaly scores of the training rows, higher = more anomalous; finite.
    contamination
        ``"auto"`` for the robust rule in the module docstring, or the fraction of training
        rows to flag (the threshold is the ``1 - contamination`` quantile, as in scikit-learn).

    Examples
    --------
    >>> scores = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 9.0]
    >>> threshold_from_scores(scores)
    1.22...
    >>> threshold_from_scores(scores, 0.2)
    1.09
    >>> threshold_from_scores([2.0, 2.0, 2.0])  # all tied: nothing is flagged
    2.0
    """
    contamination = check_contamination(contamination)
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size == 0:
        return math.inf
    if contamination != "auto":
        return float(np.percentile(values, 100.0 * (1.0 - float(contamination))))
    median = float(np.median(values))
    deviations = np.abs(values - median)
    spread = 1.4826 * float(np.median(deviations))
    if spread <= 0.0:
        spread = 1.2533 * float(np.mean(deviations))
    return median + AUTO_RULE_SIGMAS * spread
