"""The embedded store: one DuckDB file, written by one process at a time, held briefly.

DuckDB lets one process write a database file at a time, and a process that writes keeps
readers out too (docs: "Concurrency", duckdb.org/docs/connect/concurrency: one read-write
process, or many read-only ones; across processes the application arbitrates). So the store
never keeps the file open: each read, and each run's write transaction, opens the file, does
its work and closes it (about 15 ms for a small run). A process that finds the file locked
retries with exponential backoff and jitter for up to ``lock_timeout`` seconds
(``DATACANARY_STORE_WAIT``, default :data:`DEFAULT_WAIT`) and then says so in one line.
Simultaneous checks on one machine thus queue for a few milliseconds each instead of failing;
many runners on many machines belong on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from datacanary.errors import ConfigError, StoreError, StoreLockedError
from datacanary.store._base import Store

__all__ = ["DEFAULT_WAIT", "WAIT_VARIABLE", "DuckDBStore", "store_wait"]

DEFAULT_WAIT = 60.0
"""Seconds a check waits for another process to release the DuckDB file, unless told."""
WAIT_VARIABLE = "DATACANARY_STORE_WAIT"
"""Environment variable with the wait in seconds (``--store-wait`` sets it for one command)."""

_V1 = (
    "CREATE TABLE datacanary_runs ("
    " run_id VARCHAR PRIMARY KEY,"
    " dataset VARCHAR NOT NULL,"
    " observed_at TIMESTAMP NOT NULL,"
    " recorded_at TIMESTAMP NOT NULL,"
    " tags VARCHAR NOT NULL)",
    "CREATE TABLE datacanary_observations ("
    " run_id VARCHAR NOT NULL,"
    " dataset VARCHAR NOT NULL,"
    " metric VARCHAR NOT NULL,"
    " column_name VARCHAR NOT NULL,"
    " value DOUBLE,"
    " observed_at TIMESTAMP NOT NULL,"
    " PRIMARY KEY (run_id, metric, column_name))",
)

# runs an older datacanary recorded twice at one instant: keep the newest of each
_DOUBLED = (
    "SELECT run_id FROM (SELECT run_id, row_number() OVER (PARTITION BY dataset, observed_at "
    "ORDER BY recorded_at DESC, run_id DESC) AS n FROM datacanary_runs) AS ranked WHERE n > 1"
)
# DuckDB builds a unique index over rows deleted earlier in the same transaction, so the
# runs table is rebuilt rather than altered
_V2 = (
    f"DELETE FROM datacanary_observations WHERE run_id IN ({_DOUBLED})",
    "CREATE TABLE datacanary_runs_v2 ("
    " run_id VARCHAR PRIMARY KEY,"
    " dataset VARCHAR NOT NULL,"
    " observed_at TIMESTAMP NOT NULL,"
    " recorded_at TIMESTAMP NOT NULL,"
    " tags VARCHAR NOT NULL,"
    " partition_key VARCHAR NOT NULL DEFAULT '',"
    " UNIQUE (dataset, observed_at, partition_key))",
    "INSERT INTO datacanary_runs_v2 SELECT run_id, dataset, observed_at, recorded_at, tags, ''"
    f" FROM datacanary_runs WHERE run_id NOT IN ({_DOUBLED})",
    "DROP TABLE datacanary_runs",
    "ALTER TABLE datacanary_runs_v2 RENAME TO datacanary_runs",
)

_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def store_wait(value: float | str | None = None) -> float:
    """The lock wait in seconds: ``value``, else ``$DATACANARY_STORE_WAIT``, else 60.

    >>> store_wait(2), store_wait("0.5")
    (2.0, 0.5)
    """
    source = "lock_timeout"
    if value is None:
        value = os.environ.get(WAIT_VARIABLE) or None
        source = WAIT_VARIABLE
    if value is None:
        return DEFAULT_WAIT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(
            f"{source} must be a number of seconds >= 0 (how long to wait for a locked store); "
            f"got {value!r}"
        )
    return seconds


def check_duckdb_file(path: Path) -> None:
    """Refuse a path that is not (and cannot become) a DuckDB database file.

    An existing file must be a DuckDB database (or empty); DuckDB would otherwise open a CSV
    or Parquet file as an empty in-memory database and every run would be forgotten.
    """
    if path.is_dir():
        raise ConfigError(
            f"history store {path} is a folder; give a file such as {path}/history.duckdb"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read history store {path}: {exc.strerror or exc}") from None
    if head and head[8:12] != _MAGIC:
        raise ConfigError(
            f"history store {path} is not a DuckDB database (it holds other data); the store "
            "is a DuckDB file such as .datacanary/history.duckdb or a postgresql:// URL"
        )


class DuckDBStore(Store):
    """History in a DuckDB file (default ``.datacanary/history.duckdb``).

    The file is opened only for the length of one read or one run's write transaction, so
    simultaneous checks queue instead of failing: a process that finds it locked waits up
    to ``lock_timeout`` seconds (None: ``$DATACANARY_STORE_WAIT``, else 60), retrying with
    backoff, then raises :class:`StoreLockedError`. Never a damaged file. Timestamps are
    kept as UTC.
    """

    migrations: Sequence[tuple[int, Sequence[str]]] = ((1, _V1), (2, _V2))
    _con: Any = None

    def __init__(
        self, path: str | Path, *, read_only: bool = False, lock_timeout: float | None = None
    ) -> None:
        import duckdb

        self._duckdb = duckdb
        self.path = Path(path)
        self.url = str(path)
        self.read_only = read_only
        self.lock_timeout = store_wait(lock_timeout)
        self._random = random.Random()
        check_duckdb_file(self.path)
        if read_only and not self.path.is_file():
            raise StoreError(f"no history store at {self.url}; record a run first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._session():
            if read_only:
                self._check_version()
            else:
                self._migrate()

    # -------------------------------------------------------------------- the file lock

    def _connect(self) -> Any:
        """Open the file, waiting (with backoff) while another process holds it."""
        started = time.monotonic()
        deadline = started + self.lock_timeout
        attempt = 0
        while True:
            try:
                con = self._duckdb.connect(str(self.path), read_only=self.read_only)
            except self._duckdb.Error as exc:
                now = time.monotonic()
                if "Could not set lock" not in str(exc) or now >= deadline:
                    raise self._error(exc, "open", waited=now - started) from None
                ceiling = min(0.5, 0.005 * 2**attempt)
                time.sleep(min(deadline - now, ceiling / 2 + self._random.uniform(0, ceiling)))
                attempt += 1
                continue
            try:
                con.execute("SET enable_progress_bar = false")
            except BaseException:
                con.close()
                raise
            return con

    @contextmanager
    def _session(self) -> Iterator[None]:
        """Hold the file for the statements inside (nested sessions share it)."""
        if self._con is not None:
            yield
            return
        self._con = self._connect()
        try:
            yield
        finally:
            con, self._con = self._con, None
            con.close()

    def holding(self) -> AbstractContextManager[None]:
        """Hold the file for the statements inside (a check's reads and its write)."""
        return self._session()

    # ---------------------------------------------------------------- backend primitives

    def _check_version(self) -> None:
        latest = max(v for v, _ in self.migrations)
        try:
            current = self._execute("SELECT max(version) FROM datacanary_schema_version")[0][0]
        except self._duckdb.Error:
            current = 0
        current = int(current or 0)
        if not 1 <= current <= latest:
            raise StoreError(
                f"history store {self.url} has schema version {current}, not 1 to {latest}; "
                "open it once without read_only to migrate it, or upgrade datacanary"
            )
        self.schema_version = current  # an older schema reads fine

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._con is None:
            with self._session():
                return self._execute(sql, params)
        cursor = self._con.execute(sql.replace("%s", "?"), list(params))
        try:
            return cursor.fetchall()
        except self._duckdb.InvalidInputException:  # a statement without a result
            return []

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._session():
            self._con.begin()
            try:
                yield
            except BaseException:
                self._con.rollback()
                raise
            self._con.commit()

    def _to_db_time(self, value: datetime) -> datetime:
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def _from_db_time(self, value: Any) -> datetime:
        return value.replace(tzinfo=timezone.utc)

    def _is_backend_error(self, exc: Exception) -> bool:
        return isinstance(exc, self._duckdb.Error)

    def _error(self, exc: Exception, doing: str, *, waited: float | None = None) -> StoreError:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Could not set lock" in message:
            pid = re.search(r"PID (\d+)", message)
            holder = f" (PID {pid.group(1)})" if pid else ""
            spent = f" for {self.lock_timeout:g} s" if waited is not None else ""
            return StoreLockedError(
                f"history store {self.url} stayed locked by another process{holder}{spent}, "
                f"probably a check still running; wait for it to finish, wait longer "
                f"(--store-wait or {WAIT_VARIABLE}, in seconds), or use a PostgreSQL store "
                "(postgresql://...) for many concurrent runs"
            )
        return StoreError(f"cannot {doing} history store {self.url}: {message}")

    def close(self) -> None:
        """Nothing stays open between operations; closes a session left open by a crash."""
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()
