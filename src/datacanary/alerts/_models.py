"""The alert model: one thing worth telling a person, built from a verdict or an anomalous row.

Every sink renders the same :class:`Alert`; :meth:`Alert.to_dict` is the stable JSON schema
that the webhook and Kafka sinks send (``"schema": "datacanary.alert/1"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from datacanary.errors import ConfigError
from datacanary.results import Status, Verdict, as_utc, band_text, format_number

__all__ = ["SCHEMA", "Alert", "Severity"]

SCHEMA = "datacanary.alert/1"
"""Version tag of the JSON an alert is sent as; a breaking change bumps the number."""

_MAX_SHOWN_FIELDS = 8  # fields of a row record shown in a sentence


class Severity(str, Enum):
    """How urgent an alert is, lowest first: ``info`` < ``warning`` < ``critical``.

    Compare with :attr:`rank` (the string values do not sort by urgency).

    >>> Severity("critical").rank > Severity.WARNING.rank
    True
    >>> Severity.parse("Warn")
    <Severity.WARNING: 'warning'>
    """

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for critical."""
        return _RANKS[self]

    @classmethod
    def parse(cls, value: Severity | str) -> Severity:
        """A severity from its name, case-insensitive; ``warn`` and ``error`` are accepted too.

        Raises
        ------
        ConfigError
            If ``value`` names no severity.
        """
        if isinstance(value, Severity):
            return value
        text = str(value).strip().lower()
        text = {"warn": "warning", "error": "critical", "crit": "critical"}.get(text, text)
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ConfigError(f"severity must be one of {allowed}; got {value!r}") from None


_RANKS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def _utc(moment: datetime | None) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are taken to be UTC); now if None."""
    return datetime.now(timezone.utc) if moment is None else as_utc(moment)


def _finite(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(value: Any) -> Any:
    """``value`` made JSON-ready: datetimes as ISO strings, NaN/inf as None, numpy scalars
    as Python numbers, anything else unknown as its ``str``.

    >>> jsonable({"at": datetime(2024, 5, 1), "x": float("nan"), "ids": (1, 2)})
    {'at': '2024-05-01T00:00:00', 'x': None, 'ids': [1, 2]}
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime) or hasattr(value, "isoformat"):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        try:
            return jsonable(tolist())
        except (TypeError, ValueError):
            pass
    item = getattr(value, "item", None)  # other scalar wrappers
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    return str(value)


_LABEL_NAME = re.compile(
    r"(^|[_\W])(id|ids|key|pk|number|no|nr|code|year|zip)$|[a-z0-9](Id|ID|Key)$", re.IGNORECASE
)  # columns whose whole numbers are labels (2183, 2024), not quantities (2,183)


def _show(value: Any, column: str = "") -> str:
    """A field's value: labels such as ids and years as written (``id=2183``), amounts with
    thousands separators (``amount=9,999,999``).

    >>> _show(2183, "order_id"), _show(2183.0, "customerId"), _show(2183, "amount")
    ('2183', '2183', '2,183')
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        whole = math.isfinite(value) and value == int(value)
        if whole and _LABEL_NAME.search(column):
            return str(int(value))
        return format_number(value)
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _fields_text(record: Mapping[str, Any], first: Sequence[str], keep: Sequence[str] = ()) -> str:
    """``{id=42, amount=9,999,999, …}``: the ``first`` columns (the entity's key) in their
    order, then the record's other columns in the record's order, so every alert of a table
    lists its fields in the same order; the ``keep`` columns (the explained ones) are shown
    even when the record is cut to its first fields.

    >>> _fields_text({"amount": 5, "id": 7, "country": "DE", "note": "x"}, ["id"], ["note"])
    '{id=7, amount=5, country=DE, note=x}'
    """
    rest = [c for c in record if c not in first]
    must = {c for c in rest if c in keep}
    room = max(_MAX_SHOWN_FIELDS - len(first) - len(must), 0)
    others = [c for c in rest if c not in must][:room]
    chosen = must | set(others)
    names = [*first, *(c for c in rest if c in chosen)]
    shown = [f"{c}={_show(record[c], str(c))}" for c in names]
    more = ", …" if len(names) < len(record) else ""
    return "{" + ", ".join(shown) + more + "}"


@dataclass(frozen=True)
class Alert:
    """One thing worth telling a person: what, where, the value, the expected band, when.

    Build alerts with :meth:`from_verdict` or :meth:`from_row`; the dispatcher turns a
    passing verdict for a key that was firing into a recovery message.

    Parameters
    ----------
    key
        The de-duplication key: one failing key pages once per cooldown.
    status
        ``anomaly`` and ``error`` fire; ``passed`` clears a firing key (and is sent as a
        recovery); ``insufficient_history`` does neither.
    severity
        How urgent; a sink skips alerts below its ``min_severity``.
    sentence
        What a person reads first, e.g. "row_count 1,204 is below the expected 9,800–10,400
        from the last 14 runs".
    observed_at
        When the value was observed (aware UTC).
    resolvable
        True when a later passing observation clears the alert (metrics); False for
        one-off events such as anomalous rows, whose key only rate-limits paging.

    Examples
    --------
    >>> v = Verdict.judge("row_count", 1204, 9800, 10400, score=31.2, detector="mad",
    ...                   history_size=14, dataset="orders")
    >>> alert = Alert.from_verdict(v, severity="critical")
    >>> alert.key, alert.kind, alert.severity.value
    ('orders:row_count', 'anomaly', 'critical')
    >>> alert.title
    'CRITICAL · orders · row_count'
    >>> alert.expected_text
    '9,800–10,400'
    """

    key: str
    status: Status
    severity: Severity
    sentence: str
    observed_at: datetime
    dataset: str | None = None
    metric: str | None = None
    column: str | None = None
    row: Mapping[str, Any] | None = None
    value: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    score: float | None = None
    threshold: float | None = None
    detector: str = ""
    explanation: str = ""
    resolvable: bool = True
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_verdict(
        cls,
        verdict: Verdict,
        *,
        severity: Severity | str = Severity.WARNING,
        dataset: str | None = None,
    ) -> Alert:
        """The alert for one judged metric value.

        The key is ``dataset:metric`` or ``dataset:metric:column``; ``dataset`` overrides
        the verdict's own (``"-"`` when neither names one). A passing verdict gives a
        non-firing alert, which the dispatcher sends only as a recovery.
        """
        ds = dataset if dataset is not None else verdict.dataset
        parts = [ds or "-", verdict.metric] + ([verdict.column] if verdict.column else [])
        return cls(
            key=":".join(parts),
            status=verdict.status,
            severity=Severity.parse(severity),
            sentence=verdict.message,
            observed_at=_utc(verdict.observed_at),
            dataset=ds,
            metric=verdict.metric,
            column=verdict.column,
            value=_finite(verdict.value),
            expected_low=_finite(verdict.expected_low),
            expected_high=_finite(verdict.expected_high),
            score=_finite(verdict.score),
            detector=verdict.detector,
            details={"history_size": verdict.history_size, "params": dict(verdict.params)},
        )

    @classmethod
    def from_row(
        cls,
        dataset: str,
        record: Mapping[str, Any],
        score: float,
        explanation: str = "",
        reason: str | None = None,
        *,
        threshold: float | None = None,
        key_columns: Sequence[str] = (),
        severity: Severity | str = Severity.WARNING,
        detector: str = "",
        observed_at: datetime | None = None,
    ) -> Alert:
        """The alert for one anomalous row (a record, its score and the columns behind it).

        The key is ``dataset:row:`` followed by the values of ``key_columns``
        (``customer_id=42``) when given — one page per entity per cooldown — else by the
        explained columns (``amount,country``), so a burst of rows that stand out for the
        same reason pages once, not once per row. Rows are events: a row alert never
        recovers; its key only rate-limits paging.

        Parameters
        ----------
        dataset
            The table or topic the row came from.
        record
            The row, column name to value.
        score
            Its anomaly score (higher = more anomalous).
        explanation
            The columns that made the row stand out, as the row detectors write it
            (``"amount (+1,562σ), country (rare: 0.1%)"``) or bare (``"amount, country"``);
            the key uses the column names only.
        reason
            The sentence to show; built from the other arguments when None.
        threshold
            The score above which a row counts as anomalous, shown beside the score.
        key_columns
            Columns that identify the entity the row is about.

        Raises
        ------
        ConfigError
            If a name in ``key_columns`` is not in ``record``.

        Examples
        --------
        >>> a = Alert.from_row("orders", {"id": 7, "amount": 1e7}, 0.91, "amount",
        ...                    threshold=0.6, key_columns=["id"])
        >>> a.key
        'orders:row:id=7'
        >>> a.sentence
        'orders row {id=7, amount=10,000,000} scored 0.91 (threshold 0.6); stands out on amount'
        >>> Alert.from_row("orders", {"amount": 1e7}, 0.91, "amount (+1,562σ)").key
        'orders:row:amount'
        """
        missing = [c for c in key_columns if c not in record]
        if missing:
            raise ConfigError(
                f"key_columns {missing} are not in the row; use some of {list(record)[:20]}"
            )
        explained = explained_columns(explanation)
        if key_columns:
            suffix = ",".join(f"{c}={jsonable(record[c])}" for c in key_columns)
        else:
            suffix = ",".join(sorted(explained)) or "*"
        if reason is None:
            shown = _fields_text(record, list(key_columns), explained)
            reason = f"{dataset} row {shown} scored "
            reason += format_number(score)
            if threshold is not None:
                reason += f" (threshold {format_number(threshold)})"
            if explanation:
                reason += f"; stands out on {explanation}"
        return cls(
            key=f"{dataset}:row:{suffix}",
            status=Status.ANOMALY,
            severity=Severity.parse(severity),
            sentence=reason,
            observed_at=_utc(observed_at),
            dataset=dataset,
            row=dict(record),
            score=_finite(score),
            threshold=_finite(threshold),
            detector=detector,
            explanation=explanation,
            resolvable=False,
        )

    @property
    def firing(self) -> bool:
        """True for an anomaly or an error, the statuses that page."""
        return self.status in (Status.ANOMALY, Status.ERROR)

    @property
    def kind(self) -> str:
        """``anomaly``, ``error``, ``recovery`` (a passing value) or ``insufficient_history``."""
        return "recovery" if self.status is Status.PASSED else self.status.value

    @property
    def subject(self) -> str:
        """What the alert is about: ``row_count``, ``null_fraction of email`` or ``row``."""
        if self.metric:
            return Verdict.subject(self.metric, self.column)
        return "row" if self.row is not None else self.key

    @property
    def title(self) -> str:
        """A one-line heading: ``CRITICAL · orders · row_count`` or ``RESOLVED · …``."""
        head = "RESOLVED" if self.kind == "recovery" else self.severity.value.upper()
        return " · ".join(p for p in (head, self.dataset, self.subject) if p)

    @property
    def expected_text(self) -> str:
        """The expected band as people read it: ``9,800–10,400``, ``at most 0.05``."""
        return band_text(self.expected_low, self.expected_high)

    def as_recovery_of(self, severity: Severity) -> Alert:
        """This passing alert, carrying the severity of the alert it resolves."""
        return replace(self, severity=severity)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON schema the webhook and Kafka sinks send (see docs/alerts.md).

        >>> v = Verdict.judge("row_count", 1204, 9800, 10400, score=31.2, detector="mad",
        ...                   history_size=14, dataset="orders")
        >>> d = Alert.from_verdict(v).to_dict()
        >>> d["schema"], d["kind"], d["value"], d["expected_low"], d["expected_high"]
        ('datacanary.alert/1', 'anomaly', 1204.0, 9800.0, 10400.0)
        """
        return {
            "schema": SCHEMA,
            "key": self.key,
            "kind": self.kind,
            "status": self.status.value,
            "severity": self.severity.value,
            "title": self.title,
            "sentence": self.sentence,
            "dataset": self.dataset,
            "metric": self.metric,
            "column": self.column,
            "row": jsonable(self.row) if self.row is not None else None,
            "value": _finite(self.value),
            "expected_low": _finite(self.expected_low),
            "expected_high": _finite(self.expected_high),
            "score": _finite(self.score),
            "threshold": _finite(self.threshold),
            "detector": self.detector,
            "explanation": self.explanation,
            "observed_at": self.observed_at.isoformat(),
            "details": jsonable(self.details),
        }


def explained_columns(explanation: str) -> list[str]:
    """The column names of a row explanation, without the magnitudes in brackets.

    >>> explained_columns("amount (+1,562σ), country (rare: 0.1%); quantity")
    ['amount', 'country', 'quantity']
    """
    bare = re.sub(r"\s*\([^)]*\)", "", explanation)
    return [c.strip() for c in bare.replace(";", ",").split(",") if c.strip()]
