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
from datetime import datetime, timezone
from enum import Enum
from typing import Any, NamedTuple

__all__ = [
    "CheckResult",
    "Observation",
    "RowScores",
    "Status",
    "Verdict",
    "as_utc",
    "band_text",
    "format_duration",
    "format_number",
    "format_value",
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


def format_duration(seconds: float | None) -> str:
    """A number of seconds as a person reads it: the largest unit that keeps it short.

    >>> format_duration(42), format_duration(3 * 3600 + 12 * 60), format_duration(2.4 * 86400)
    ('42 s', '3 h 12 min', '2.4 days')
    >>> format_duration(1_417_723_981), format_duration(-90)
    ('44.9 years', '-1 min 30 s')
    """
    if seconds is None or not math.isfinite(float(seconds)):
        return format_number(seconds)
    s = float(seconds)
    if s < 0:
        return "-" + format_duration(-s)
    if s < 60:
        return f"{s:.3g} s"
    if s < 3600:
        minutes, rest = divmod(round(s), 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    if s < 86_400:
        hours, rest = divmod(round(s / 60), 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days = s / 86_400
    if days < 365.25:
        return f"{days:.3g} days" if days >= 1.05 else "1 day"
    return f"{days / 365.25:.3g} years"


def format_value(x: float | None, metric: str | None = None) -> str:
    """A metric value in the unit a person reads: a duration for ``*_seconds`` metrics
    (``freshness_seconds``), else :func:`format_number`.

    >>> format_value(11_520, "freshness_seconds"), format_value(11_520, "row_count")
    ('3 h 12 min', '11,520')
    """
    if metric is not None and metric.endswith("_seconds"):
        return format_duration(x)
    return format_number(x)


def band_text(low: float | None, high: float | None, metric: str | None = None) -> str:
    """The expected band in words (durations for ``*_seconds`` metrics).

    >>> band_text(9800, 10400), band_text(None, 5), band_text(0.5, None)
    ('9,800–10,400', 'at most 5', 'at least 0.5')
    >>> band_text(3600, 7200, "freshness_seconds")
    '1 h–2 h'
    """
    if low is not None and high is not None:
        return f"{format_value(low, metric)}–{format_value(high, metric)}"
    if high is not None:
        return f"at most {format_value(high, metric)}"
    if low is not None:
        return f"at least {format_value(low, metric)}"
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

    A value outside the band that a floor lets pass reads as a pass, with the floor that
    applied:

    >>> Verdict.judge("row_count", 1713, 1945, 2065, score=5.0, detector="mad",
    ...               history_size=14, anomalous=False, centre=2005, rel_floor=0.2).message
    'row_count 1,713 is 15 % below the usual 1,945–2,065, under the 20 % alerting floor'

    ``params`` are the detector's parameters; ``model`` is what the detector found in the
    history (a period, a count model, a new level; empty for detectors that find nothing).
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
    model: Mapping[str, Any] = field(default_factory=dict)

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
        centre: float | None = None,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        model: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """A verdict for ``value`` against the band ``[expected_low, expected_high]``.

        ``anomalous`` defaults to "outside the band"; a detector with floors or other rules
        passes its own decision and the sentence follows it. A value outside the band that
        passes reads as a pass and names the floor that let it pass: the change from
        ``centre`` (the usual value) against ``rel_floor`` (a share of the centre) or
        ``abs_floor``.
        """
        below = expected_low is not None and value < expected_low
        above = expected_high is not None and value > expected_high
        if anomalous is None:
            anomalous = below or above
        where = "below" if below else "above" if above else "within"
        if anomalous and where == "within":  # e.g. a rate-of-change rule on an in-band value
            where = "outside"
        subject = f"{cls.subject(metric, column)} {format_value(value, metric)}"
        band = band_text(expected_low, expected_high, metric)
        if not anomalous and where != "within":
            why = _floor_clause(value, where, band, centre, abs_floor, rel_floor)
            message = f"{subject} is {why}"
        else:
            history = f"from the last {history_size} {unit}"
            message = f"{subject} is {where} the expected {band} {history}"
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
            model=dict(model or {}),
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
                f"{cls.subject(metric, column)}: first run, nothing to compare yet"
                if value is None and history_size == 0
                else f"{cls.subject(metric, column)} {format_value(value, metric)}: insufficient "
                f"history ({history_size} of {min_history} {unit}) to judge"
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
            "model": dict(self.model),
        }


def _percent(share: float) -> str:
    """``0.146`` -> ``'15 %'``; small shares keep two significant digits."""
    pct = 100.0 * share
    return f"{pct:.0f} %" if pct >= 9.5 or pct == int(pct) else f"{pct:.2g} %"


def _floor_clause(
    value: float,
    where: str,
    band: str,
    centre: float | None,
    abs_floor: float,
    rel_floor: float,
) -> str:
    """Why a value outside its band passes: "15 % below the usual …, under the 20 % alerting
    floor" (the floor that applied: the relative one if it did, else the absolute one)."""
    if centre is None or not math.isfinite(centre):
        return f"{where} the usual {band}, under the alerting floor"
    distance = abs(value - centre)
    if rel_floor > 0.0 and distance <= rel_floor * abs(centre) and centre != 0.0:
        change = _percent(distance / abs(centre))
        return f"{change} {where} the usual {band}, under the {_percent(rel_floor)} alerting floor"
    return (
        f"{format_number(distance)} {where} the usual {band}, under the alerting floor of "
        f"{format_number(abs_floor)}"
    )


@dataclass(frozen=True)
class RowScores:
    """Rows of a table scored by a row detector, in the input order.

    ``scores`` are higher = more anomalous; ``is_anomaly[i]`` is ``scores[i] > threshold``;
    ``p_values[i]`` is row ``i``'s p-value against the training rows (small = unlike them;
    with the default rule ``is_anomaly[i]`` is ``p_values[i] < 0.001``); ``rule`` says the
    flagging rule in one sentence, for every surface to print; ``explanations[i]`` names the
    columns that made row ``i`` stand out ("" when not flagged). ``dropped_columns`` maps each
    column left out of the features to the reason.
    """

    scores: Sequence[float]
    is_anomaly: Sequence[bool]
    threshold: float
    explanations: Sequence[str]
    method: str
    features: Sequence[str] = ()
    dropped_columns: Mapping[str, str] = field(default_factory=dict)
    p_values: Sequence[float] = ()
    rule: str = ""

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


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one already means UTC, everywhere.

    >>> as_utc(datetime(2013, 8, 28, 6)).isoformat()
    '2013-08-28T06:00:00+00:00'
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
