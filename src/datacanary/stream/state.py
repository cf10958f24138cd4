"""The stream's state on disk: what a restart or a new owner of a partition picks up.

One small SQLite file (stdlib ``sqlite3``, WAL journal) holds, per consumer group:

* per partition: the offset the state covers, the open windows' accumulators, which
  windows are already judged (``partitions`` and ``windows`` tables);
* the window metrics' histories, per *scope* (the set of partitions judged together), as
  the values the series detectors learned; a restart replays them (``series``);
* the row model (its training rows as Parquet, as in a model file) (``model``);
* alerts waiting for delivery, written with the batch that raised them (``outbox``);
* poison messages that could not go anywhere, with their offsets (``skipped``);
* the alert de-duplication state, in the same file
  (:class:`~datacanary.alerts.SqliteAlertState`'s ``alert_state`` table).

A batch's changes are written in one transaction after the broker acknowledged its outputs
and before its offsets are committed, so the state is never behind the committed offsets:
a partition's row records the offset before its last batch and after it, and a restart
accepts it only when the committed offset is one of the two (see :meth:`StreamState.resume`).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> state = StreamState(folder / "stream.sqlite", group="canary")
>>> state.write(StateWrite(partitions={("orders", 0): PartitionState(None, 120)}))
>>> state.resume([("orders", 0)], {("orders", 0): None})[("orders", 0)].after
120
>>> state.resume([("orders", 0)], {("orders", 0): 57})  # committed elsewhere: state is stale
{}
>>> state.close()
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datacanary.errors import StoreError

if TYPE_CHECKING:
    from datacanary.alerts import Alert

__all__ = [
    "DEFAULT_STATE",
    "HISTORY_KEPT",
    "PartitionState",
    "Skipped",
    "StateWrite",
    "StreamState",
    "alert_from_json",
    "alert_to_json",
]

log = logging.getLogger("datacanary.stream")

DEFAULT_STATE = Path(".datacanary") / "stream-state.sqlite"
"""Where ``datacanary stream`` keeps its state unless told otherwise."""
HISTORY_KEPT = 2000
"""Values kept per window-metric history (a day and a half of one-minute windows)."""

Partition = tuple[str, int]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partitions (
    grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
    before INTEGER, after INTEGER NOT NULL,
    closed_before INTEGER, first INTEGER, newest INTEGER, windows TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (grp, topic, part)
);
CREATE TABLE IF NOT EXISTS series (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    grp TEXT NOT NULL, scope TEXT NOT NULL, metric TEXT NOT NULL, col TEXT NOT NULL,
    at_ms INTEGER NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS series_key ON series (grp, scope, metric, col, seq);
CREATE TABLE IF NOT EXISTS model (
    grp TEXT PRIMARY KEY, params TEXT NOT NULL, data BLOB NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    grp TEXT NOT NULL, id TEXT NOT NULL, alert TEXT NOT NULL, PRIMARY KEY (grp, id)
);
CREATE TABLE IF NOT EXISTS skipped (
    grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (grp, topic, part, "offset")
);
"""


@dataclass(frozen=True)
class PartitionState:
    """One partition's share of the state, as of the end of its last batch.

    ``before`` is the committed offset when that batch began (None: nothing committed yet)
    and ``after`` the offset after it; ``windows`` maps an open window's id to its
    accumulators (``events``, ``rows``, ``present``, ``sums``, ``counts``);
    ``closed_before``: windows below this id are judged; ``first``: the partition's first
    window, which began before it was read (partial, never judged); ``newest``: the newest
    event time read from it (ms), its watermark.
    """

    before: int | None
    after: int
    closed_before: int | None = None
    first: int | None = None
    windows: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    newest: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A poison message that reached neither the dead-letter topic nor any other."""

    topic: str
    partition: int
    offset: int
    size: int
    sha256: str
    reason: str


@dataclass
class StateWrite:
    """What one batch changes; written in one transaction by :meth:`StreamState.write`.

    ``history`` holds (scope, metric, column, window end in ms, value) for every value the
    window detectors learned; ``outbox`` (id, alert) for alerts to deliver.
    """

    partitions: dict[Partition, PartitionState] = field(default_factory=dict)
    history: list[tuple[str, str, str | None, int, float]] = field(default_factory=list)
    outbox: list[tuple[str, Alert]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.partitions or self.history or self.outbox or self.skipped)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def alert_to_json(alert: Alert) -> str:
    """``alert`` as JSON that :func:`alert_from_json` reads back into an equal alert."""
    from datacanary.alerts._models import jsonable

    data: dict[str, Any] = {}
    for item in fields(alert):
        value = getattr(alert, item.name)
        if item.name in ("status", "severity"):
            value = value.value
        elif item.name == "observed_at":
            value = value.isoformat()
        elif item.name in ("row", "details"):
            value = None if value is None else jsonable(value)
        data[item.name] = value
    return json.dumps(data, allow_nan=False, default=str)


def alert_from_json(text: str) -> Alert:
    """The alert :func:`alert_to_json` wrote.

    >>> from datacanary.alerts import Alert
    >>> alert = Alert.from_row("orders", {"id": 7, "amount": 1e7}, 9.1, "amount")
    >>> alert_from_json(alert_to_json(alert)) == alert
    True
    """
    from datacanary.alerts import Alert, Severity
    from datacanary.results import Status

    data = json.loads(text)
    data["status"] = Status(data["status"])
    data["severity"] = Severity(data["severity"])
    data["observed_at"] = datetime.fromisoformat(data["observed_at"])
    return Alert(**data)


class StreamState:
    """The state file of one consumer group (other groups may share the file).

    Safe for several processes on one machine (SQLite locking, WAL journal): processors of
    one group on one host, or on hosts that share the file, hand partitions over with their
    windows. Reads and writes are short; nothing is held between them.

    Parameters
    ----------
    path
        The file; created, with its folder, on first use.
    group
        The consumer group whose state this is.

    Raises
    ------
    StoreError
        If the file cannot be created or is not a SQLite database.
    """

    def __init__(self, path: str | Path, *, group: str) -> None:
        self.path = Path(path)
        self.group = group
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"cannot use {str(self.path)!r} as the stream state file ({error}); choose "
                "another path with --state, or delete the file to start afresh"
            ) from None

    # -- partitions ----------------------------------------------------------------------

    def resume(
        self, partitions: Iterable[Partition], committed: Mapping[Partition, int | None]
    ) -> dict[Partition, PartitionState]:
        """The saved state of ``partitions`` that matches their ``committed`` offsets.

        A partition's state is accepted when the committed offset is the one after its last
        batch (the usual case) or the one before it (the process died between writing the
        state and committing; the caller then seeks to ``after``: that batch's outputs were
        acknowledged). Any other state belongs to other offsets (an older file, another
        cluster) and is ignored, with a warning.
        """
        wanted = list(partitions)
        if not wanted:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT topic, part, before, after, closed_before, first, windows, newest "
                "FROM partitions WHERE grp = ?",
                (self.group,),
            ).fetchall()
        saved = {(r[0], int(r[1])): r for r in rows}
        out: dict[Partition, PartitionState] = {}
        for key in wanted:
            row = saved.get(key)
            if row is None:
                continue
            _, _, before, after, closed_before, first, windows, newest = row
            at = committed.get(key)
            if at in (after, before):
                out[key] = PartitionState(
                    before,
                    after,
                    closed_before,
                    first,
                    {int(k): v for k, v in json.loads(windows).items()},
                    newest,
                )
            else:
                log.warning(
                    "stream state for %s[%d] in %s covers offsets %s-%s but the group %r "
                    "committed %s; starting that partition's windows afresh",
                    key[0], key[1], self.path, before, after, self.group, at,
                )  # fmt: skip
        return out

    # -- one batch -----------------------------------------------------------------------

    def write(self, change: StateWrite) -> None:
        """Write one batch's changes in one transaction (all or nothing)."""
        if not change:
            return
        group, now = self.group, _now()
        partitions = [
            (
                group,
                topic,
                part,
                s.before,
                s.after,
                s.closed_before,
                s.first,
                s.newest,
                json.dumps({str(k): v for k, v in s.windows.items()}, allow_nan=False),
                now,
            )
            for (topic, part), s in change.partitions.items()
        ]
        history = [
            (group, scope, metric, column or "", at, value)
            for scope, metric, column, at, value in change.history
        ]
        outbox = [(group, id_, alert_to_json(alert)) for id_, alert in change.outbox]
        skipped = [
            (group, s.topic, s.partition, s.offset, s.size, s.sha256, s.reason, now)
            for s in change.skipped
        ]
        series = {(scope, metric, column or "") for scope, metric, column, _, _ in change.history}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO partitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    partitions,
                )
                self._db.executemany(
                    "INSERT INTO series (grp, scope, metric, col, at_ms, value) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    history,
                )
                for scope, metric, column in series:
                    self._db.execute(
                        "DELETE FROM series WHERE grp = ? AND scope = ? AND metric = ? AND "
                        "col = ? AND seq <= (SELECT seq FROM series WHERE grp = ? AND "
                        "scope = ? AND metric = ? AND col = ? ORDER BY seq DESC LIMIT 1 "
                        "OFFSET ?)",
                        (group, scope, metric, column) * 2 + (HISTORY_KEPT,),
                    )
                self._db.executemany("INSERT OR REPLACE INTO outbox VALUES (?, ?, ?)", outbox)
                self._db.executemany(
                    "INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?, ?, ?, ?, ?)", skipped
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- histories -----------------------------------------------------------------------

    def history(self, scope: str) -> list[tuple[str, str | None, int, float]]:
        """The values the window detectors of ``scope`` learned, oldest first:
        (metric, column, window end in ms, value)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT metric, col, at_ms, value FROM series WHERE grp = ? AND scope = ? "
                "ORDER BY seq",
                (self.group, scope),
            ).fetchall()
        return [(m, c or None, int(a), float(v)) for m, c, a, v in rows]

    # -- alerts --------------------------------------------------------------------------

    def outbox(self) -> list[tuple[str, Alert]]:
        """Alerts written with a batch and not yet marked delivered, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, alert FROM outbox WHERE grp = ? ORDER BY rowid", (self.group,)
            ).fetchall()
        return [(id_, alert_from_json(text)) for id_, text in rows]

    def delivered(self, ids: Sequence[str]) -> None:
        """Forget the outbox alerts ``ids``: the dispatcher has handled them."""
        if not ids:
            return
        with self._lock:
            self._db.executemany(
                "DELETE FROM outbox WHERE grp = ? AND id = ?", [(self.group, i) for i in ids]
            )

    # -- the row model -------------------------------------------------------------------

    def model(self) -> tuple[dict[str, Any], bytes] | None:
        """The saved row model: (detector parameters, model file bytes); None if none."""
        with self._lock:
            row = self._db.execute(
                "SELECT params, data FROM model WHERE grp = ?", (self.group,)
            ).fetchone()
        return None if row is None else (json.loads(row[0]), bytes(row[1]))

    def save_model(self, params: Mapping[str, Any], data: bytes) -> None:
        """Keep the row model (the bytes of a model file) for the next start."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO model VALUES (?, ?, ?, ?)",
                (self.group, json.dumps(dict(params), default=str), data, _now()),
            )

    # -- poison messages -----------------------------------------------------------------

    def skipped(self) -> list[Skipped]:
        """Every message recorded as skipped, by topic, partition and offset."""
        with self._lock:
            rows = self._db.execute(
                'SELECT topic, part, "offset", size, sha256, reason FROM skipped '
                'WHERE grp = ? ORDER BY topic, part, "offset"',
                (self.group,),
            ).fetchall()
        return [Skipped(t, int(p), int(o), int(s), h, r) for t, p, o, s, h, r in rows]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
