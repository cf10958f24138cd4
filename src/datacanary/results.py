"""The shared vocabulary of results: what a detector, a check or a stream tells a person.

Sign convention, everywhere a user reads: **higher = more anomalous**.

* :class:`RowScores` — a table's rows scored: ``anomaly_score``, a threshold, a label and an
  explanation per row.
* :class:`Verdict` — one metric value judged against its own history: the expected band, a
  score, a status and a sentence a person can act on.
* :class:`CheckResult` — the verdicts of one monitored dataset for one run.

Stdlib only, so every layer can import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple

__all__ = [
    "CheckResult",
    "Observation",
    "RowScores",
    "Status",
    "Verdict",
    "band_text",
    "format_number",
]


class Observation(NamedTuple):
    """One number measured on a table in a run: ``(metric, column or None, value)``."""

    metric: str
    column: str | None
    value: float


class Status(str, Enum):
    """Outcome of judging one value."""

    PASSED = "passed"
    ANOMALY = "anomaly"
    INSUFFICIENT_HISTORY = "insufficient_history"
    """Too little history to judge: its own outcome, never a silent pass."""
    ERROR = "error"
    """The value could not be judged (missing, not a number); the message says why."""


def format_number(x: float | None) -> str:
    """Format a metric value for a sentence: thousands separators, few digits.

    >>> format_number(1204), format_number(9800.4), format_number(0.01234), format_number(2.5)
    ('1,204', '9,800', '0.0123', '2.5')
    >>> format_number(float("nan")), format_number(None)
    ('NaN', 'none')
    """
    if x is None:
        return "none"
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1e15 or abs(x) < 1e-4:
        return f"{x:.3g}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


def band_text(low: float | None, high: float | None) -> str:
    """The expected band in words.

    >>> band_text(9800, 10400), band_text(None, 5), band_text(0.5, None)
    ('9,800–10,400', 'at most 5', 'at least 0.5')
    """
    if low is not None and high is not None:
        return f"{format_number(low)}–{format_number(high)}"
    if high is not None:
        return f"at most {format_number(high)}"
    if low is not None:
        return f"at least {format_number(low)}"
    return "any value"


@dataclass(frozen=True)
class Verdict:
    """One value judged against its own history.

    Build verdicts with :meth:`judge` or :meth:`insufficient` so the sentence always matches
    the numbers.

    >>> v = Verdict.judge("row_count", 1204, 9800, 10400, score=31.2, detector="mad",
    ...                   history_size=14)
    >>> v.status.value, v.passed
    ('anomaly', False)
    >>> v.message
    'row_count 1,204 is below the expected 9,800–10,400 from the last 14 runs'
    >>> Verdict.insufficient("row_count", 1204, detector="mad", history_size=2,
    ...                      min_history=3).message
    'row_count 1,204: insufficient history (2 of 3 runs) to judge'
    """

    metric: str
    value: float | None
    expected_low: float | None
    expected_high: float | None
    score: float
    status: Status
    detector: str
    history_size: int
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    column: str | None = None
    dataset: str | None = None
    observed_at: datetime | None = None

    @property
    def passed(self) -> bool:
        """True unless the value is anomalous or could not be judged.

        Too little history passes (with its own status and sentence), so a new monitor does
        not fail a pipeline on its first runs.
        """
        return self.status in (Status.PASSED, Status.INSUFFICIENT_HISTORY)

    @staticmethod
    def subject(metric: str, column: str | None) -> str:
        """How a sentence names the metric: ``null_fraction of email``."""
        return f"{metric} of {column}" if column else metric

    @classmethod
    def judge(
        cls,
        metric: str,
        value: float,
        expected_low: float | None,
        expected_high: float | None,
        *,
        score: float,
        detector: str,
        history_size: int,
        anomalous: bool | None = None,
        params: Mapping[str, Any] | None = None,
        column: str | None = None,
        dataset: str | None = None,
        observed_at: datetime | None = None,
        unit: str = "runs",
    ) -> Verdict:
        """A verdict for ``value`` against the band ``[expected_low, expected_high]``.

        ``anomalous`` defaults to "outside the band"; a detector with floors or other rules
        passes its own decision and the sentence follows it.
        """
        below = expected_low is not None and value < expected_low
        above = expected_high is not None and value > expected_high
        if anomalous is None:
            anomalous = below or above
        where = "below" if below else "above" if above else "within"
        if anomalous and where == "within":  # e.g. a rate-of-change rule on an in-band value
            where = "outside"
        message = (
            f"{cls.subject(metric, column)} {format_number(value)} is {where} the expected "
            f"{band_text(expected_low, expected_high)} from the last {history_size} {unit}"
        )
        if not anomalous and where != "within":
            message += " (the change is under the alerting floor)"
        return cls(
            metric=metric,
            value=value,
            expected_low=expected_low,
            expected_high=expected_high,
            score=float(score),
            status=Status.ANOMALY if anomalous else Status.PASSED,
            detector=detector,
            history_size=history_size,
            message=message,
            params=dict(params or {}),
            column=column,
            dataset=dataset,
            observed_at=observed_at,
        )

    @classmethod
    def insufficient(
        cls,
        metric: str,
        value: float | None,
        *,
        detector: str,
        history_size: int,
        min_history: int,
        params: Mapping[str, Any] | None = None,
        column: str | None = None,
        dataset: str | None = None,
        observed_at: datetime | None = None,
        unit: str = "runs",
    ) -> Verdict:
        """Too little history to judge ``value``: a result with a sentence, not a pass."""
        return cls(
            metric=metric,
            value=value,
            expected_low=None,
            expected_high=None,
            score=0.0,
            status=Status.INSUFFICIENT_HISTORY,
            detector=detector,
            history_size=history_size,
            message=(
                f"{cls.subject(metric, column)} {format_number(value)}: insufficient history "
                f"({history_size} of {min_history} {unit}) to judge"
            ),
            params=dict(params or {}),
            column=column,
            dataset=dataset,
            observed_at=observed_at,
        )

    @classmethod
    def error(
        cls,
        metric: str,
        message: str,
        *,
        detector: str = "",
        column: str | None = None,
        dataset: str | None = None,
        observed_at: datetime | None = None,
    ) -> Verdict:
        """A value that could not be judged (missing, not a number); ``message`` says why."""
        return cls(
            metric=metric,
            value=None,
            expected_low=None,
            expected_high=None,
            score=0.0,
            status=Status.ERROR,
            detector=detector,
            history_size=0,
            message=message,
            column=column,
            dataset=dataset,
            observed_at=observed_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO strings, NaN as None)."""

        def clean(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "dataset": self.dataset,
            "metric": self.metric,
            "column": self.column,
            "value": clean(self.value),
            "expected_low": clean(self.expected_low),
            "expected_high": clean(self.expected_high),
            "score": clean(self.score),
            "passed": self.passed,
            "status": self.status.value,
            "message": self.message,
            "detector": self.detector,
            "params": dict(self.params),
            "history_size": self.history_size,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
        }


@dataclass(frozen=True)
class RowScores:
    """Rows of a table scored by a row detector, in the input order.

    ``scores`` are higher = more anomalous; ``is_anomaly[i]`` is ``scores[i] > threshold``;
    ``explanations[i]`` names the columns that made row ``i`` stand out ("" when not flagged).
    ``dropped_columns`` maps each column left out of the features to the reason.
    """

    scores: Sequence[float]
    is_anomaly: Sequence[bool]
    threshold: float
    explanations: Sequence[str]
    method: str
    features: Sequence[str] = ()
    dropped_columns: Mapping[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def n_anomalies(self) -> int:
        return int(sum(bool(x) for x in self.is_anomaly))


@dataclass(frozen=True)
class CheckResult:
    """The verdicts of one dataset for one monitored run."""

    dataset: str
    verdicts: Sequence[Verdict]
    run_id: str
    observed_at: datetime

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def anomalies(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status is Status.ANOMALY]
