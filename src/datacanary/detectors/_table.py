"""Score the rows of a real table: encoder + detector + threshold + explanations -> RowScores."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np

from datacanary.detectors._base import BaseDetector
from datacanary.detectors._encode import TableEncoder, to_frame
from datacanary.detectors._explain import explain
from datacanary.detectors._registry import make_detector
from datacanary.detectors._threshold import rule_text
from datacanary.errors import ConfigError
from datacanary.results import RowScores

__all__ = ["TableDetector", "score_table"]


class TableDetector:
    """Find the anomalous rows of a table (pandas, polars, pyarrow or 2-D numpy).

    The table is encoded (:class:`TableEncoder`: ids and empty columns left out, categories,
    dates and nulls made numeric), scored by a detector (:func:`make_detector`), thresholded
    (``contamination``) and each flagged row explained by its most unusual columns.

    Parameters
    ----------
    method : str, default="auto"
        Detector name, one of :func:`available_methods` (``"auto"``: the benchmarked ensemble).
    contamination : float or "auto", default="auto"
        ``"auto"`` flags a row whose p-value against the training rows is below 0.001 (a row
        like them is flagged with probability 0.1 %); a fraction in (0, 0.5] flags that share
        of the training rows. Every row gets its p-value either way.
    columns, exclude : list of str or None, default=None
        Input columns to use / to leave out (all usable columns by default).
    random_state : int or None, default=0
        Seed of the detector, so the same table gives the same scores.
    n_explain : int, default=3
        Columns named in each flagged row's explanation; 0 for none.
    **params
        The detector's own parameters, e.g. ``n_neighbors=5`` for ``"knn"``.

    Attributes
    ----------
    encoder_ : TableEncoder
        The fitted encoder (``feature_names_``, ``dropped_columns_``).
    detector_ : BaseDetector
        The fitted detector.
    threshold_ : float
        Anomaly scores above it are flagged (the score whose p-value is the rule's cut).

    Raises
    ------
    ConfigError
        At construction: an unknown method or parameter, contamination out of range.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> orders = pd.DataFrame({
    ...     "order_id": np.arange(1000),
    ...     "amount": rng.lognormal(3, 0.3, 1000).round(2),
    ...     "items": rng.integers(1, 5, 1000),
    ...     "country": rng.choice(["DE", "FR", "NL"], 1000),
    ... })
    >>> orders.loc[17, "amount"] = 4000.0
    >>> result = TableDetector().fit_score(orders)
    >>> int(np.argmax(result.scores)), result.explanations[17]
    (17, 'amount (+710σ)')
    >>> result.dropped_columns
    {'order_id': 'identifier-like: 100% unique'}
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        contamination: float | str = "auto",
        columns: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        random_state: int | None = 0,
        n_explain: int = 3,
        **params: Any,
    ) -> None:
        self.method = method
        self.contamination = contamination
        self.columns = columns
        self.exclude = exclude
        self.random_state = random_state
        self.n_explain = n_explain
        self.params = params
        self.validate()

    def validate(self) -> None:
        """Check the method, its parameters and ``contamination`` now; raise ConfigError."""
        self._make_detector()
        if not isinstance(self.n_explain, Integral) or self.n_explain < 0:
            raise ConfigError(f"n_explain must be an integer >= 0; got {self.n_explain!r}")
        for name, given in (("columns", self.columns), ("exclude", self.exclude)):
            if isinstance(given, str):
                raise ConfigError(
                    f"{name} takes a list of column names; got the string {given!r} "
                    f"(write [{given!r}])"
                )

    def _make_detector(self) -> BaseDetector:
        return make_detector(
            self.method,
            contamination=self.contamination,
            random_state=self.random_state,
            **self.params,
        )

    def fit(self, data: Any) -> TableDetector:
        """Learn the encoding, the detector and the threshold from the rows of ``data``."""
        self._fit(to_frame(data))
        return self

    def _fit(self, frame: Any) -> None:
        self.encoder_ = TableEncoder(columns=self.columns, exclude=self.exclude).fit(frame)
        self.detector_ = self._make_detector().fit(self.encoder_.transform(frame))
        self.threshold_ = float(self.detector_.threshold_)

    def score(self, data: Any) -> RowScores:
        """Score the rows of ``data`` (new rows) with the fitted encoder, detector and threshold."""
        if not hasattr(self, "detector_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this TableDetector is not fitted yet; call fit(data) first")
        frame = to_frame(data)
        scores = self.detector_.anomaly_score(self.encoder_.transform(frame))
        return self._result(frame, scores, self.detector_.calibration_.p_values(scores))

    def fit_score(self, data: Any) -> RowScores:
        """Fit on ``data`` and score its rows by their honest (out-of-sample) scores, once."""
        frame = to_frame(data)
        self._fit(frame)
        return self._result(frame, self.detector_.anomaly_scores_, self.detector_.p_values_)

    def _result(self, frame: Any, scores: np.ndarray, p_values: np.ndarray) -> RowScores:
        flagged = scores > self.threshold_
        explanations = [""] * len(scores)
        rows = np.flatnonzero(flagged)
        for row, text in zip(
            rows, explain(self.encoder_, frame, rows, self.n_explain), strict=True
        ):
            explanations[row] = text
        return RowScores(
            scores=scores.tolist(),
            is_anomaly=flagged.tolist(),
            threshold=self.threshold_,
            explanations=explanations,
            method=self.method,
            features=list(self.encoder_.columns_),
            dropped_columns=dict(self.encoder_.dropped_columns_),
            p_values=p_values.tolist(),
            rule=rule_text(
                int(flagged.sum()),
                len(scores),
                self.contamination,
                self.threshold_,
                n_calibration=self.detector_.calibration_.n,
            ),
        )

    def __repr__(self) -> str:
        args = [repr(self.method)]
        defaults = {"contamination": "auto", "columns": None, "exclude": None,
                    "random_state": 0, "n_explain": 3}  # fmt: skip
        for name, default in defaults.items():
            if getattr(self, name) != default:
                args.append(f"{name}={getattr(self, name)!r}")
        args += [f"{k}={v!r}" for k, v in self.params.items()]
        return f"TableDetector({', '.join(args)})"


def score_table(
    data: Any,
    method: str = "auto",
    *,
    contamination: float | str = "auto",
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    random_state: int | None = 0,
    n_explain: int = 3,
    **params: Any,
) -> RowScores:
    """Score every row of ``data``: ``TableDetector(method, ...).fit_score(data)``.

    Parameters are those of :class:`TableDetector`.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"amount": [10.0, 11.0, 9.5, 10.2, 10.8] * 20 + [55.0]})
    >>> result = score_table(table)
    >>> result.n_anomalies, result.is_anomaly[-1], result.explanations[-1]
    (1, True, 'amount (+50.4σ)')
    """
    return TableDetector(
        method,
        contamination=contamination,
        columns=columns,
        exclude=exclude,
        random_state=random_state,
        n_explain=n_explain,
        **params,
    ).fit_score(data)
