"""De-duplication: what each sink was last told about each key, and what to tell it next.

A failing key pages once per cooldown, not every run; when it passes again the sinks that
were paged get one recovery message. The state is kept per (sink, key), so a sink that was
down is paged on the next run, and it lives in a small SQLite file (stdlib ``sqlite3``) so
it survives between ``datacanary check`` processes, or in PostgreSQL
(:class:`PostgresAlertState`, the history store's database) so runners on several machines
share it. :class:`AlertState` is the protocol a caller may back with something else.

**Claim, deliver, mark.** Simultaneous runners that see the same failure must page once. A
runner that is about to send first *claims* the (sink, key) in one transaction: it re-reads
the state under a write lock, applies the rules below to it, and writes its claim when the
answer is still "send". Only the claimant delivers; it then stores the delivered state and
releases the claim (or only releases it when delivery failed, so the next run retries). A
runner that finds a live claim stands down ("being delivered by another runner"). A claim
older than its timeout (a runner that crashed mid-delivery) can be taken over.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from datacanary.alerts._models import Alert, Severity
from datacanary.errors import MissingDependencyError, StoreError
from datacanary.results import Status

__all__ = [
    "AlertState",
    "ClaimingAlertState",
    "Decision",
    "KeyState",
    "MemoryAlertState",
    "PostgresAlertState",
    "SqliteAlertState",
    "decide",
]

Redecide = Callable[["KeyState | None"], "Decision"]
"""Applies the rules to the freshest stored state (inside a claim's transaction)."""


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


@runtime_checkable
class ClaimingAlertState(AlertState, Protocol):
    """An :class:`AlertState` that lets one of many simultaneous runners deliver an alert."""

    def claim(
        self, sink: str, key: str, redecide: Redecide, *, now: datetime, token: str, ttl: timedelta
    ) -> Decision | None:
        """Atomically: re-read the state, ``redecide`` on it and, if that says "send", claim
        the (sink, key) for ``token``. None when another runner holds a claim younger than
        ``ttl``; else the decision (only a "send" holds the claim)."""
        ...

    def release(self, sink: str, key: str, token: str) -> None:
        """Drop ``token``'s claim of (sink, key), if it still holds it."""
        ...


def claim_token() -> str:
    """A claimant's name: ``host:pid:random``, so a claim of a dead process can be retaken."""
    import os
    import socket
    import uuid

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


def _dead_here(claimed_by: str) -> bool:
    """Whether the claim is by a process of this host that no longer runs (SIGKILLed)."""
    import os
    import socket

    parts = claimed_by.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive but not ours to signal
        return False
    return False


def _live(claimed_by: str | None, claimed_at: datetime | None, token: str, now: datetime,
          ttl: timedelta) -> bool:  # fmt: skip
    """Another runner's claim that has not timed out, by a process that still runs."""
    if not claimed_by or claimed_by == token or claimed_at is None:
        return False
    return now - claimed_at < ttl and not _dead_here(claimed_by)


class MemoryAlertState:
    """De-duplication state in a dict: for one long-running process (a stream) or tests."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], KeyState] = {}
        self._claims: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._mutex = threading.Lock()

    def claim(
        self, sink: str, key: str, redecide: Redecide, *, now: datetime, token: str, ttl: timedelta
    ) -> Decision | None:
        """Claim (sink, key) for ``token`` if the rules still say "send" (see the protocol)."""
        with self._mutex:
            held = self._claims.get((sink, key))
            if held is not None and _live(held[0], held[1], token, now, ttl):
                return None
            decision = redecide(self._states.get((sink, key)))
            if decision.action == "send":
                self._claims[(sink, key)] = (token, now)
            return decision

    def release(self, sink: str, key: str, token: str) -> None:
        """Drop ``token``'s claim of (sink, key)."""
        with self._mutex:
            held = self._claims.get((sink, key))
            if held is not None and held[0] == token:
                del self._claims[(sink, key)]

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
    claimed_by TEXT,
    claimed_at TEXT,
    PRIMARY KEY (sink, key)
)
"""
_STATE_COLUMNS = "sink, key, firing, notified, severity, last_sent_at, resolvable"
_UPSERT = (
    f"INSERT INTO alert_state ({_STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (sink, key) DO UPDATE SET firing = excluded.firing, "
    "notified = excluded.notified, severity = excluded.severity, "
    "last_sent_at = excluded.last_sent_at, resolvable = excluded.resolvable"
)  # a claim survives a state write; only release() drops it


def _state_row(sink: str, key: str, state: KeyState) -> tuple[Any, ...]:
    return (
        sink,
        key,
        int(state.firing),
        int(state.notified),
        state.severity.value,
        _iso(state.last_sent_at) if state.last_sent_at else None,
        int(state.resolvable),
    )


def _key_state(row: Sequence[Any]) -> KeyState:
    firing, notified, severity, last_sent_at, resolvable = row
    if isinstance(last_sent_at, str):
        last_sent_at = datetime.fromisoformat(last_sent_at)
    elif last_sent_at is not None:
        last_sent_at = last_sent_at.astimezone(timezone.utc)
    return KeyState(
        bool(firing), bool(notified), Severity(severity), last_sent_at, bool(resolvable)
    )


class SqliteAlertState:
    """De-duplication state in a SQLite file, shared safely by processes on one machine.

    The file and its folder are created on first use (a file from an older datacanary gains
    the claim columns). Times are stored as ISO-8601 UTC. Claims take SQLite's write lock
    (``BEGIN IMMEDIATE``), so simultaneous runners on one machine page once.

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
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(alert_state)")}
            for name in ("claimed_by", "claimed_at"):
                if name not in columns:  # a state file written before claims existed
                    self._db.execute(f"ALTER TABLE alert_state ADD COLUMN {name} TEXT")
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
        return None if row is None else _key_state(row)

    def claim(
        self, sink: str, key: str, redecide: Redecide, *, now: datetime, token: str, ttl: timedelta
    ) -> Decision | None:
        """Claim (sink, key) for ``token`` if the rules still say "send" (see the protocol)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock: one claimant at a time
            try:
                row = self._db.execute(
                    "SELECT firing, notified, severity, last_sent_at, resolvable, claimed_by, "
                    "claimed_at FROM alert_state WHERE sink = ? AND key = ?",
                    (sink, key),
                ).fetchone()
                held_at = datetime.fromisoformat(row[6]) if row and row[6] else None
                if row is not None and _live(row[5], held_at, token, now, ttl):
                    self._db.execute("ROLLBACK")
                    return None
                decision = redecide(None if row is None else _key_state(row[:5]))
                if decision.action == "send":
                    if row is None:  # a placeholder that reads as "never paged"
                        self._db.execute(
                            _UPSERT,
                            _state_row(sink, key, KeyState(False, False, Severity.INFO, None)),
                        )
                    self._db.execute(
                        "UPDATE alert_state SET claimed_by = ?, claimed_at = ? "
                        "WHERE sink = ? AND key = ?",
                        (token, _iso(now), sink, key),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return decision

    def release(self, sink: str, key: str, token: str) -> None:
        """Drop ``token``'s claim of (sink, key)."""
        with self._lock:
            self._db.execute(
                "UPDATE alert_state SET claimed_by = NULL, claimed_at = NULL "
                "WHERE sink = ? AND key = ? AND claimed_by = ?",
                (sink, key, token),
            )

    def put(self, sink: str, key: str, state: KeyState) -> None:
        """Store the state of ``key`` for ``sink``."""
        self.put_many([(sink, key, state)])

    def put_many(self, items: Iterable[tuple[str, str, KeyState]]) -> None:
        """Store (sink, key, state) triples in one transaction."""
        rows = [_state_row(sink, key, state) for sink, key, state in items]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_UPSERT, rows)
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
                "AND (firing = 0 OR resolvable = 0) AND claimed_by IS NULL",
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


_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS datacanary_alert_state (
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    firing BOOLEAN NOT NULL,
    notified BOOLEAN NOT NULL,
    severity TEXT NOT NULL,
    last_sent_at TIMESTAMPTZ,
    resolvable BOOLEAN NOT NULL DEFAULT TRUE,
    claimed_by TEXT,
    claimed_at TIMESTAMPTZ,
    PRIMARY KEY (sink, key)
)
"""
_PG_LOCK = 0x64617461_616C7274  # one advisory lock id for creating the table
_PG_UPSERT = (
    "INSERT INTO datacanary_alert_state "
    "(sink, key, firing, notified, severity, last_sent_at, resolvable) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (sink, key) DO UPDATE SET "
    "firing = excluded.firing, notified = excluded.notified, severity = excluded.severity, "
    "last_sent_at = excluded.last_sent_at, resolvable = excluded.resolvable"
)


def _masked(url: str) -> str:
    """``url`` with its password (``user:pw@``) replaced by ``***``."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in userinfo else url


class PostgresAlertState:
    """De-duplication state in a PostgreSQL table (``datacanary_alert_state``).

    Use the history store's database, so every runner that records to it, on any machine,
    shares one memory of what was sent. Claims lock the key's row (``SELECT ... FOR UPDATE``)
    inside a transaction; times are the runners' clocks, so keep them in step (NTP).

    Parameters
    ----------
    url
        ``postgresql://user@host:5432/db``; the password from the URL or ``PGPASSWORD``.

    Raises
    ------
    StoreError
        If the database cannot be reached or the table cannot be created.
    """

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise MissingDependencyError.for_extra("postgres", "PostgreSQL alert state") from None
        self._psycopg = psycopg
        self.url = _masked(url)
        self._lock = threading.Lock()
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=10)
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
                self._db.execute(_PG_SCHEMA)
        except psycopg.Error as error:
            raise StoreError(
                f"cannot use the alert state table in {self.url}: {_first_line(error)}"
            ) from None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._db.execute(sql, list(params))
        return list(cursor.fetchall()) if cursor.description else []

    def get(self, sink: str, key: str) -> KeyState | None:
        """The state of ``key`` for ``sink``; None if never seen."""
        with self._lock:
            rows = self._rows(
                "SELECT firing, notified, severity, last_sent_at, resolvable "
                "FROM datacanary_alert_state WHERE sink = %s AND key = %s",
                (sink, key),
            )
        return _key_state(rows[0]) if rows else None

    def put_many(self, items: Iterable[tuple[str, str, KeyState]]) -> None:
        """Store (sink, key, state) triples in one transaction (claims are kept)."""
        rows = [
            (sink, key, s.firing, s.notified, s.severity.value, s.last_sent_at, s.resolvable)
            for sink, key, s in items
        ]
        if not rows:
            return
        with self._lock, self._db.transaction(), self._db.cursor() as cursor:
            cursor.executemany(_PG_UPSERT, rows)

    def claim(
        self, sink: str, key: str, redecide: Redecide, *, now: datetime, token: str, ttl: timedelta
    ) -> Decision | None:
        """Claim (sink, key) for ``token`` if the rules still say "send" (see the protocol)."""
        with self._lock, self._db.transaction():
            self._rows(
                "INSERT INTO datacanary_alert_state "
                "(sink, key, firing, notified, severity, last_sent_at, resolvable) "
                "VALUES (%s, %s, FALSE, FALSE, 'info', NULL, TRUE) "
                "ON CONFLICT (sink, key) DO NOTHING",
                (sink, key),
            )  # a placeholder row that reads as "never paged", so there is a row to lock
            ((firing, notified, severity, sent, resolvable, held_by, held_at),) = self._rows(
                "SELECT firing, notified, severity, last_sent_at, resolvable, claimed_by, "
                "claimed_at FROM datacanary_alert_state WHERE sink = %s AND key = %s "
                "FOR UPDATE",
                (sink, key),
            )
            if _live(held_by, held_at, token, now, ttl):
                return None
            decision = redecide(_key_state((firing, notified, severity, sent, resolvable)))
            if decision.action == "send":
                self._rows(
                    "UPDATE datacanary_alert_state SET claimed_by = %s, claimed_at = %s "
                    "WHERE sink = %s AND key = %s",
                    (token, now, sink, key),
                )
            return decision

    def release(self, sink: str, key: str, token: str) -> None:
        """Drop ``token``'s claim of (sink, key)."""
        with self._lock:
            self._rows(
                "UPDATE datacanary_alert_state SET claimed_by = NULL, claimed_at = NULL "
                "WHERE sink = %s AND key = %s AND claimed_by = %s",
                (sink, key, token),
            )

    def prune(self, sink: str, before: datetime) -> int:
        """Forget the keys of ``sink`` that no longer matter."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM datacanary_alert_state WHERE sink = %s "
                "AND (last_sent_at IS NULL OR last_sent_at < %s) "
                "AND (NOT firing OR NOT resolvable) AND claimed_by IS NULL",
                (sink, before),
            )
        return int(cursor.rowcount or 0)

    def items(self) -> Iterator[tuple[str, str, KeyState]]:
        """Every stored (sink, key, state)."""
        with self._lock:
            rows = self._rows(
                "SELECT sink, key, firing, notified, severity, last_sent_at, resolvable "
                "FROM datacanary_alert_state ORDER BY 1, 2"
            )
        for row in rows:
            yield str(row[0]), str(row[1]), _key_state(row[2:])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
