"""``auto``: the default detector, an ensemble chosen by measurement on the ODDS benchmark.

Two complementary, fast members, each standardised on its own training scores and averaged:

* **subsampled kNN** (weight 1): the distance to the 20th nearest row among 256 rows drawn at
  random, averaged over 5 draws (:class:`~datacanary.detectors.KNNDetector` with
  ``max_samples=256, n_estimators=5``), each training row left out of its own neighbours.
  Small reference samples break up clusters of repeated
  anomalies that defeat a kNN over the whole table (ODDS ``http``, ``shuttle``) and keep the cost
  flat in the table size: scoring is ``rows x 5 x 256`` distances.
* **ECOD tails** (weight 0.25): per-column empirical tail probabilities
  (:class:`~datacanary.detectors.ECODDetector`), which catch one extreme or rare value in any
  single column, e.g. a rare category, even when the row is otherwise ordinary.

Each member's scores become robust z-scores ``(s - median) / IQR`` of its training scores, so
the ensemble's score reads "how many inter-quartile ranges above a typical row". How the members
and weights were chosen, with the numbers, is in ``docs/detectors.md``.
"""

from __future__ import annotations

import numpy as np

from datacanary.detectors._base import BaseDetector
from datacanary.detectors._ecod import ECODDetector
from datacanary.detectors._iforest import IForestDetector
from datacanary.detectors._neighbors import KNNDetector
from datacanary.errors import ConfigError

__all__ = ["AutoDetector"]


def _spread(scores: np.ndarray) -> float:
    q1, median, q3 = np.percentile(scores, [25, 50, 75])
    for spread in (q3 - q1, 1.2533 * np.mean(np.abs(scores - median)), np.std(scores)):
        if spread > 0 and np.isfinite(spread):
            return float(spread)
    return 1.0


class AutoDetector(BaseDetector):
    """The default ensemble: subsampled kNN plus ECOD tails (see the module docstring).

    Parameters
    ----------
    n_neighbors : int, default=20
        k of the kNN member (lowered to the row count on tiny tables).
    max_samples : int, default=256
        Reference rows per kNN draw.
    n_estimators : int, default=5
        kNN draws averaged.
    tail_weight : float, default=0.25
        Weight of the ECOD member relative to the kNN member; 0 leaves it out.
    forest_weight : float, default=0
        Weight of an Isolation Forest member (measured, not used by default: it lowered the
        mean PR-AUC on ODDS, see ``docs/detectors.md``).
    contamination : float or "auto", default="auto"
        Fraction of training rows to flag, or ``"auto"``: p-value below 0.001.
    random_state : int or None, default=None
        Seed of the kNN draws.
    n_jobs : int or None, default=None
        Parallel jobs for the neighbour search.

    Attributes
    ----------
    members_ : list of (BaseDetector, float, float, float)
        Each fitted member with its weight, and the median and spread of its training scores.
    anomaly_scores_ : ndarray of shape (n_samples,)
        Training rows' anomaly scores (higher = more anomalous).
    threshold_ : float
        Rows scoring above it are outliers; ``offset_ = -threshold_``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(1000, 4)), [[4.0, -4.0, 0.0, 0.0]]])
    >>> detector = AutoDetector(random_state=0).fit(X)
    >>> int(np.argmax(detector.anomaly_scores_)), detector.predict(X[-1:]).tolist()
    (1000, [-1])
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 20,
        max_samples: int = 256,
        n_estimators: int = 5,
        tail_weight: float = 0.25,
        forest_weight: float = 0.0,
        contamination: float | str = "auto",
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.max_samples = max_samples
        self.n_estimators = n_estimators
        self.tail_weight = tail_weight
        self.forest_weight = forest_weight
        self.contamination = contamination
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _members(self, n_rows: int) -> list[tuple[BaseDetector, float]]:
        knn = KNNDetector(
            n_neighbors=max(1, min(self.n_neighbors, n_rows)),
            max_samples=self.max_samples,
            n_estimators=self.n_estimators,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        members: list[tuple[BaseDetector, float]] = [(knn, 1.0)]
        if self.tail_weight:
            members.append((ECODDetector(), float(self.tail_weight)))
        if self.forest_weight:
            forest = IForestDetector(random_state=self.random_state, n_jobs=self.n_jobs)
            members.append((forest, float(self.forest_weight)))
        return members

    def _fit(self, X: np.ndarray) -> None:
        for name in ("tail_weight", "forest_weight"):
            weight = getattr(self, name)
            if not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
                raise ConfigError(f"{name} must be a number >= 0; got {weight!r}")
        self.members_: list[tuple[BaseDetector, float, float, float]] = []
        for member, weight in self._members(X.shape[0]):
            scores = member.fit(X).anomaly_scores_
            self.members_.append((member, weight, float(np.median(scores)), _spread(scores)))

    def _fit_scores(self, X: np.ndarray) -> np.ndarray:
        return self._combine([member.anomaly_scores_ for member, *_ in self.members_])

    def _combine(self, member_scores: list[np.ndarray]) -> np.ndarray:
        total = np.zeros(len(member_scores[0]))
        for scores, (_, weight, median, spread) in zip(member_scores, self.members_, strict=True):
            total += weight * (scores - median) / spread
        return total / sum(weight for _, weight, _, _ in self.members_)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._combine([member._score(X) for member, *_ in self.members_])
