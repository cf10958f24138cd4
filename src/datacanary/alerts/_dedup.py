"""De-duplication: what each sink was last told about each key, and what to tell it next.

A failing key pages once per cooldown, not every run; when it passes again the sinks that
were paged get one recovery message. The state is kept per (sink, key), so a sink that was
down is paged on the next run, and it lives in a small SQLite file (stdlib ``sqlite3``) so
it survives between ``datacanary check`` processes. :class:`AlertState` is the protocol a
caller may back with something else (the history store).

The rules, for an alert on ``key`` at time ``now`` (``cooldown`` per sink):

* **firing** (anomaly or error): sent when the sink was never paged about the key, or was
  paged at least ``cooldown`` ago, or the severity rose; otherwise suppressed. A key that
  fails again within the cooldown after recovering (flapping) waits for the cooldown too.
* **passing**: a recovery is sent if the sink was paged about the current failure; a
  failure that was never announced clears silently. Otherwise nothing happens.
* **insufficient history**: nothing changes.

Rows are events (``resolvable=False``): their key only rate-limits paging.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from datacanary.alerts._models import Alert, Severity
from datacanary.errors import StoreError
from datacanary.results import Status

__all__ = [
    "AlertState",
    "Decision",
    "KeyState",
    "MemoryAlertState",
    "SqliteAlertState",
    "decide",
]


@dataclass(frozen=True)
class KeyState:
    """What one sink was last told about one key.

    Parameters
    ----------
    firing
        The key's latest observation fired.
    notified
        The sink was paged about the current failure (so a pass sends a recovery).
    severity
        The severity last sent; a recovery carries it.
    last_sent_at
        When the sink was last paged about the key (aware UTC), None if never.
    resolvable
        False for event keys (rows), which never recover.
    """

    firing: bool
    notified: bool
    severity: Severity
    last_sent_at: datetime | None
    resolvable: bool = True


@dataclass(frozen=True)
class Decision:
    """What to do with one alert for one sink, and the state to keep afterwards.

    ``state`` is stored once the alert is delivered (``send``) or at once (``suppress``,
    ``skip``); None means "leave the stored state as it is".
    """

    action: Literal["send", "suppress", "skip"]
    alert: Alert
    state: KeyState | None
    reason: str = ""


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds} s"


def decide(
    previous: KeyState | None, alert: Alert, *, now: datetime, cooldown: timedelta
) -> Decision:
    """Apply the de-duplication rules (module docstring) to one alert for one sink.

    Examples
    --------
    >>> from datetime import timezone
    >>> from datacanary.results import Verdict
    >>> v = Verdict.judge("row_count", 12, 9800, 10400, score=9.0, detector="mad",
    ...                   history_size=14, dataset="orders")
    >>> now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> first = decide(None, Alert.from_verdict(v), now=now, cooldown=timedelta(hours=6))
    >>> first.action
    'send'
    >>> again = decide(first.state, Alert.from_verdict(v), now=now + timedelta(hours=1),
    ...                cooldown=timedelta(hours=6))
    >>> again.action, again.reason
    ('suppress', 'paged 1 h ago; cooldown 6 h')
    """
    if alert.status is Status.INSUFFICIENT_HISTORY:
        return Decision("skip", alert, None, "insufficient history")
    if not alert.firing:
        if previous is None or not previous.firing:
            return Decision("skip", alert, None, "passing")
        cleared = KeyState(False, False, previous.severity, previous.last_sent_at)
        if previous.notified and previous.resolvable:
            return Decision("send", alert.as_recovery_of(previous.severity), cleared)
        return Decision("skip", alert, cleared, "the failure was never announced")
    sent = KeyState(True, True, alert.severity, now, alert.resolvable)
    if previous is None or previous.last_sent_at is None:
        return Decision("send", alert, sent)
    since = now - previous.last_sent_at
    escalated = previous.firing and alert.severity.rank > previous.severity.rank
    if since >= cooldown or escalated:
        return Decision("send", alert, sent)
    notified = previous.notified and previous.firing
    kept = KeyState(True, notified, previous.severity, previous.last_sent_at, alert.resolvable)
    reason = f"paged {_ago(since)} ago; cooldown {_ago(cooldown)}"
    return Decision("suppress", alert, kept, reason)


def prunable(state: KeyState, before: datetime) -> bool:
    """True when forgetting ``state`` changes nothing: quiet since ``before`` and not
    waiting for a recovery."""
    quiet = state.last_sent_at is None or state.last_sent_at < before
    return quiet and (not state.firing or not state.resolvable)


@runtime_checkable
class AlertState(Protocol):
    """Where de-duplication state lives: one :class:`KeyState` per (sink, key)."""

    def get(self, sink: str, key: str) -> KeyState | None:
        """The state of ``key`` for ``sink``; None if never seen."""
        ...

    def put_many(self, items: Iterable[tuple[str, str, KeyState]]) -> None:
        """Store (sink, key, state) triples, all or none; a later triple for the same
        (sink, key) wins."""
        ...

    def prune(self, sink: str, before: datetime) -> int:
        """Forget the keys of ``sink`` for which :func:`prunable` holds; return how many."""
        ...


class MemoryAlertState:
    """De-duplication state in a dict: for one long-running process (a stream) or tests."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], KeyState] = {}

    def get(self, sink: str, key: str) -> KeyState | None:
        """The state of ``key`` for ``sink``; None if never seen."""
        return self._states.get((sink, key))

    def put(self, sink: str, key: str, state: KeyState) -> None:
        """Store the state of ``key`` for ``sink``."""
        self._states[(sink, key)] = state

    def put_many(self, items: Iterable[tuple[str, str, KeyState]]) -> None:
        """Store (sink, key, state) triples."""
        for sink, key, state in items:
            self._states[(sink, key)] = state

    def prune(self, sink: str, before: datetime) -> int:
        """Forget the keys of ``sink`` that no longer matter."""
        gone = [k for k, s in self._states.items() if k[0] == sink and prunable(s, before)]
        for k in gone:
            del self._states[k]
        return len(gone)

    def items(self) -> Iterator[tuple[str, str, KeyState]]:
        """Every stored (sink, key, state)."""
        for (sink, key), state in list(self._states.items()):
            yield sink, key, state


def _iso(moment: datetime) -> str:
    """Fixed-width UTC ISO text, so stored times compare correctly as strings."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    firing INTEGER NOT NULL,
    notified INTEGER NOT NULL,
    severity TEXT NOT NULL,
    last_sent_at TEXT,
    resolvable INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sink, key)
)
"""


class SqliteAlertState:
    """De-duplication state in a SQLite file, shared safely by processes on one machine.

    The file and its folder are created on first use. Times are stored as ISO-8601 UTC.

    Parameters
    ----------
    path
        The state file, e.g. ``.datacanary/alert-state.sqlite``.

    Raises
    ------
    StoreError
        If the file cannot be created or is not a SQLite database.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import timezone
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     state = SqliteAlertState(Path(tmp) / "alerts.sqlite")
    ...     at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    ...     state.put("slack", "orders:row_count", KeyState(True, True, Severity.WARNING, at))
    ...     print(state.get("slack", "orders:row_count").last_sent_at)
    ...     state.close()
    2024-05-01 00:00:00+00:00
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"cannot use {str(self.path)!r} as the alert state file ({error}); "
                "choose another path or delete the file to start afresh"
            ) from None

    def get(self, sink: str, key: str) -> KeyState | None:
        """The state of ``key`` for ``sink``; None if never seen."""
        with self._lock:
            row = self._db.execute(
                "SELECT firing, notified, severity, last_sent_at, resolvable FROM alert_state "
                "WHERE sink = ? AND key = ?",
                (sink, key),
            ).fetchone()
        if row is None:
            return None
        firing, notified, severity, last_sent_at, resolvable = row
        return KeyState(
            bool(firing),
            bool(notified),
            Severity(severity),
            datetime.fromisoformat(last_sent_at) if last_sent_at else None,
            bool(resolvable),
        )

    def put(self, sink: str, key: str, state: KeyState) -> None:
        """Store the state of ``key`` for ``sink``."""
        self.put_many([(sink, key, state)])

    def put_many(self, items: Iterable[tuple[str, str, KeyState]]) -> None:
        """Store (sink, key, state) triples in one transaction."""
        rows = [
            (
                sink,
                key,
                int(state.firing),
                int(state.notified),
                state.severity.value,
                _iso(state.last_sent_at) if state.last_sent_at else None,
                int(state.resolvable),
            )
            for sink, key, state in items
        ]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO alert_state VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def prune(self, sink: str, before: datetime) -> int:
        """Forget the keys of ``sink`` that no longer matter."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM alert_state WHERE sink = ? "
                "AND (last_sent_at IS NULL OR last_sent_at < ?) "
                "AND (firing = 0 OR resolvable = 0)",
                (sink, _iso(before)),
            )
        return cursor.rowcount

    def items(self) -> Iterator[tuple[str, str, KeyState]]:
        """Every stored (sink, key, state)."""
        with self._lock:
            keys = self._db.execute("SELECT sink, key FROM alert_state ORDER BY 1, 2").fetchall()
        for sink, key in keys:
            state = self.get(sink, key)
            if state is not None:
                yield sink, key, state

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
