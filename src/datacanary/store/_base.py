"""The store protocol and the SQL both backends share: validation, runs, history, migrations.

A run is identified by (dataset, observed_at, partition): recording a run at an instant that
already has one replaces it, observations and tags, in one transaction (what a scheduler's
retry or a re-run needs), so a retry never doubles the history.
"""

from __future__ import annotations

import json
import math
import numbers
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, NamedTuple

from datacanary.errors import ConfigError, InputError, StoreError
from datacanary.results import Observation, as_utc

__all__ = ["HistoryPoint", "Observation", "RunRecord", "Store"]

SCHEMA_VERSION = 2
"""The store schema this datacanary writes; older stores are migrated when opened.

1: runs and observations. 2: a run is unique per (dataset, observed_at, partition); runs
recorded twice at one instant by older versions are reduced to the newest.
"""

_CHUNK = 500  # observations per INSERT statement


class HistoryPoint(NamedTuple):
    """One past value of a series: when (UTC), what, and which run recorded it."""

    observed_at: datetime
    value: float
    run_id: str


class RunRecord(NamedTuple):
    """One recorded run of a dataset: its id, when it was observed (UTC), its tags and its
    partition (None when the run has none)."""

    run_id: str
    observed_at: datetime
    tags: dict[str, Any]
    partition: str | None = None


def _utc(value: datetime | None, what: str) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if not isinstance(value, datetime):
        raise ConfigError(f"{what} must be a datetime; got {type(value).__name__}")
    return as_utc(value)  # naive means UTC, as everywhere in datacanary


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{what} must be a non-empty string; got {value!r}")
    return value


def _unpack(item: Any) -> tuple[Any, Any, Any]:
    if all(hasattr(item, a) for a in ("metric", "column", "value")):
        return item.metric, item.column, item.value
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 3:
        return item[0], item[1], item[2]
    raise InputError(
        f"an observation must be (metric, column, value) or have those attributes; got {item!r}"
    )


def _observations(items: Any) -> Iterator[tuple[str, str, float]]:
    """Validate observations one by one: (metric, column ('' for the table), value)."""
    if callable(getattr(items, "observations", None)):  # a TableProfile
        items = items.observations()
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InputError(f"observations must be an iterable of observations; got {items!r}")
    seen: set[tuple[str, str]] = set()
    for item in items:
        metric, column, value = _unpack(item)
        metric = _text(metric, "an observation's metric")
        if column is not None:
            column = _text(column, f"the column of {metric}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InputError(
                f"the value of {metric}{' of ' + column if column else ''} must be a number; "
                f"got {value!r}"
            )
        key = (metric, column or "")
        if key in seen:
            where = f" of column {column!r}" if column else ""
            raise InputError(f"metric {metric!r}{where} appears twice in one run; record it once")
        seen.add(key)
        yield metric, column or "", float(value)


def _tags_json(tags: Mapping[str, Any] | None) -> str:
    if tags is None:
        return "{}"
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) for k in tags):
        raise InputError(f"tags must be a mapping with string keys; got {tags!r}")
    try:
        return json.dumps(dict(tags), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"tags must be JSON values (text, numbers, lists): {exc}") from None


def new_run_id(observed_at: datetime) -> str:
    """A unique, time-sortable run id: ``20240501T120000Z-1a2b3c4d5e6f``."""
    return f"{observed_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


class Store(ABC):
    """History of metric observations, one transaction per run.

    Open one with :func:`datacanary.store.open_store`. A store is a context manager; leaving
    the block closes it.

    Each observation is (dataset, metric, column, value, observed_at, run id); a run also
    keeps its tags. A run is never changed in place: recording the same (dataset,
    instant, partition) again replaces the whole run, and a run that fails while recording
    leaves nothing behind (nor removes the run it was to replace).
    """

    url: str
    """Where the store lives, for messages (password masked)."""

    migrations: Sequence[tuple[int, Sequence[str]]] = ()
    """(version, statements) in order; each version is applied in its own transaction."""

    # ---------------------------------------------------------------- backend primitives

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``%s`` placeholders) and return its rows (if any)."""

    @abstractmethod
    def _transaction(self) -> Any:
        """A context manager: commit on success, roll back on an exception."""

    @abstractmethod
    def _to_db_time(self, value: datetime) -> Any:
        """A UTC datetime as the backend stores it."""

    @abstractmethod
    def _from_db_time(self, value: Any) -> datetime:
        """A stored timestamp as an aware UTC datetime."""

    @abstractmethod
    def _error(self, exc: Exception, doing: str) -> StoreError:
        """The backend's exception as a one-line StoreError."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (and the embedded store's lock)."""

    def _lock_migrations(self) -> None:  # noqa: B027 - a hook; the embedded store needs none
        """Serialize migrations between processes (inside the migration transaction)."""

    def _lock_run(self, dataset: str, stamp: Any, partition: str) -> None:  # noqa: B027
        """Serialize writers of one (dataset, instant, partition) inside their transaction.

        A hook: the embedded store has one writer at a time anyway.
        """

    # ----------------------------------------------------------------------- schema

    def _migrate(self) -> None:
        latest = max((v for v, _ in self.migrations), default=0)
        with self._transaction():
            self._lock_migrations()
            self._execute(
                "CREATE TABLE IF NOT EXISTS datacanary_schema_version "
                "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            current = self._execute("SELECT max(version) FROM datacanary_schema_version")[0][0]
            current = int(current or 0)
            if current > latest:
                raise StoreError(
                    f"history store {self.url} has schema version {current}, newer than this "
                    f"datacanary understands ({latest}); upgrade datacanary"
                )
            for version, statements in self.migrations:
                if version <= current:
                    continue
                for statement in statements:
                    self._execute(statement)
                self._execute(
                    "INSERT INTO datacanary_schema_version VALUES (%s, %s)",
                    (version, datetime.now(timezone.utc).replace(tzinfo=None)),
                )
        self.schema_version = latest

    schema_version: int = 0
    """The schema version of the open store."""

    # ----------------------------------------------------------------------- writing

    def record_run(
        self,
        dataset: str,
        observations: Iterable[Any],
        *,
        run_id: str | None = None,
        observed_at: datetime | None = None,
        tags: Mapping[str, Any] | None = None,
        partition: str | None = None,
    ) -> str:
        """Record one run's observations in one transaction; return the run id.

        A run is (dataset, observed_at, partition): recording one at an instant (and
        partition) that already has a run replaces that run, observations and tags, in the
        same transaction. So a retried check (``--at`` the same instant, a Dagster retry, an
        Airflow re-run) leaves one run, never two. :attr:`last_replaced` names the run
        replaced by the latest call (None if it replaced none).

        Parameters
        ----------
        dataset : str
            The monitored dataset (e.g. the monitor's name or the source).
        observations : iterable
            :class:`Observation` s, ``(metric, column, value)`` tuples, objects with those
            attributes, or a :class:`datacanary.metrics.TableProfile`. ``column`` is None for
            table metrics. A metric may appear once per column per run.
        run_id : str, optional
            Default: a new time-sortable id.
        observed_at : datetime, optional
            When the values were measured (default now; naive means UTC).
        tags : mapping, optional
            JSON-able run metadata (pipeline run, git sha, the schema...).
        partition : str, optional
            The partition the run measured (e.g. ``2026-03-01`` of a daily-partitioned
            table); runs of different partitions at one instant are different runs.

        Returns
        -------
        str
            The run id.

        Raises
        ------
        InputError
            A malformed observation, a repeated metric, a run id already recorded for
            another run; nothing of the run is kept (and a replaced run stays as it was).
        StoreError
            The store could not be written; nothing of the run is kept.
        """
        dataset = _text(dataset, "dataset")
        when = _utc(observed_at, "observed_at")
        run = new_run_id(when) if run_id is None else _text(run_id, "run_id")
        part = "" if partition is None else _text(partition, "partition")
        tags_text = _tags_json(tags)
        stamp = self._to_db_time(when)
        self.last_replaced = None
        try:
            with self._transaction():
                self._lock_run(dataset, stamp, part)
                same = self._execute(
                    "SELECT run_id FROM datacanary_runs "
                    "WHERE dataset = %s AND observed_at = %s AND partition_key = %s",
                    (dataset, stamp, part),
                )
                replaced = [str(r[0]) for r in same]
                if run not in replaced and self._execute(
                    "SELECT 1 FROM datacanary_runs WHERE run_id = %s", (run,)
                ):
                    raise InputError(
                        f"run id {run!r} is already recorded; pass a new run_id or leave it out"
                    )
                for old in replaced:
                    self._execute("DELETE FROM datacanary_observations WHERE run_id = %s", (old,))
                    self._execute("DELETE FROM datacanary_runs WHERE run_id = %s", (old,))
                self._execute(
                    "INSERT INTO datacanary_runs "
                    "(run_id, dataset, observed_at, recorded_at, tags, partition_key) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        run,
                        dataset,
                        stamp,
                        self._to_db_time(datetime.now(timezone.utc)),
                        tags_text,
                        part,
                    ),
                )
                chunk: list[tuple[str, str, float]] = []
                for observation in _observations(observations):
                    chunk.append(observation)
                    if len(chunk) == _CHUNK:
                        self._insert(run, dataset, stamp, chunk)
                        chunk = []
                if chunk:
                    self._insert(run, dataset, stamp, chunk)
        except (InputError, StoreError):
            raise
        except Exception as exc:
            if self._is_backend_error(exc):
                raise self._error(exc, f"record a run of {dataset}") from None
            raise
        self.last_replaced = replaced[0] if replaced else None
        return run

    last_replaced: str | None = None
    """The run id the latest :meth:`record_run` replaced (same dataset, instant, partition)."""

    def _is_backend_error(self, exc: Exception) -> bool:
        return False

    def _insert(
        self, run: str, dataset: str, stamp: Any, rows: list[tuple[str, str, float]]
    ) -> None:
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
        params: list[Any] = []
        for metric, column, value in rows:
            params += [run, dataset, metric, column, value, stamp]
        self._execute(
            "INSERT INTO datacanary_observations "
            "(run_id, dataset, metric, column_name, value, observed_at) VALUES " + values,
            params,
        )

    # ----------------------------------------------------------------------- reading

    def history(
        self,
        dataset: str,
        metric: str,
        column: str | None = None,
        *,
        before: datetime | None = None,
        limit: int | None = None,
    ) -> list[HistoryPoint]:
        """Past values of one series, oldest first.

        Parameters
        ----------
        dataset, metric : str
        column : str, optional
            None for a table metric.
        before : datetime, optional
            Only values observed strictly before this moment (naive means UTC).
        limit : int, optional
            Only the newest ``limit`` values (still returned oldest first).
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ConfigError(f"limit must be a positive integer or None; got {limit!r}")
        if limit is not None and limit < 1:
            raise ConfigError(f"limit must be a positive integer or None; got {limit!r}")
        sql = (
            "SELECT observed_at, value, run_id FROM datacanary_observations "
            "WHERE dataset = %s AND metric = %s AND column_name = %s"
        )
        params: list[Any] = [dataset, metric, column or ""]
        if before is not None:
            sql += " AND observed_at < %s"
            params.append(self._to_db_time(_utc(before, "before")))
        sql += " ORDER BY observed_at DESC, run_id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, params, f"read the history of {metric}")
        points = [
            HistoryPoint(self._from_db_time(t), math.nan if v is None else float(v), str(r))
            for t, v, r in rows
        ]
        points.reverse()
        return points

    def datasets(self) -> list[str]:
        """Every dataset with a recorded run, sorted."""
        rows = self._read("SELECT DISTINCT dataset FROM datacanary_runs ORDER BY 1", (), "list")
        return [str(r[0]) for r in rows]

    def series(self, dataset: str) -> list[tuple[str, str | None]]:
        """Every (metric, column) recorded for ``dataset``, sorted; column None for the table."""
        rows = self._read(
            "SELECT DISTINCT metric, column_name FROM datacanary_observations "
            "WHERE dataset = %s ORDER BY 1, 2",
            (dataset,),
            "list series",
        )
        return [(str(m), str(c) or None) for m, c in rows]

    def runs(self, dataset: str, *, limit: int | None = None) -> list[RunRecord]:
        """The runs recorded for ``dataset`` (the newest ``limit``), oldest first."""
        partition = "partition_key" if self.schema_version >= 2 else "''"
        sql = (
            f"SELECT run_id, observed_at, tags, {partition} FROM datacanary_runs "
            "WHERE dataset = %s ORDER BY observed_at DESC, run_id DESC"
        )
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ConfigError(f"limit must be a positive integer or None; got {limit!r}")
            sql += f" LIMIT {int(limit)}"
        rows = self._read(sql, (dataset,), "list runs")
        out = [
            RunRecord(str(r), self._from_db_time(t), json.loads(g), str(p) or None)
            for r, t, g, p in rows
        ]
        out.reverse()
        return out

    def _read(self, sql: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        try:
            return self._execute(sql, params)
        except Exception as exc:
            if self._is_backend_error(exc):
                raise self._error(exc, doing) from None
            raise

    # ----------------------------------------------------------------------- lifecycle

    def holding(self) -> AbstractContextManager[None]:
        """Keep the connection for the statements inside (a few reads and a write).

        The embedded store otherwise opens its file per operation; inside this block it opens
        it once (another process waits meanwhile, so keep the block short: no profiling in it).
        Other stores keep their connection anyway.
        """
        return nullcontext()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
