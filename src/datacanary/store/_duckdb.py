"""The embedded store: one DuckDB file, one writer process at a time."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from datacanary.errors import StoreError, StoreLockedError
from datacanary.store._base import Store

__all__ = ["DuckDBStore"]

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


class DuckDBStore(Store):
    """History in a DuckDB file (default ``.datacanary/history.duckdb``).

    DuckDB lets one process write a file at a time: the store takes the file's lock when it
    opens and keeps it until :meth:`close`. A second process gets :class:`StoreLockedError`
    (after waiting up to ``lock_timeout`` seconds), never a damaged file. Timestamps are kept
    as UTC.
    """

    migrations: Sequence[tuple[int, Sequence[str]]] = ((1, _V1),)
    _con: Any = None

    def __init__(
        self, path: str | Path, *, read_only: bool = False, lock_timeout: float = 0.0
    ) -> None:
        import duckdb

        self._duckdb = duckdb
        self.path = Path(path)
        self.url = str(path)
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise StoreError(f"no history store at {self.url}; record a run first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(0.0, float(lock_timeout))
        while True:
            try:
                self._con = duckdb.connect(str(self.path), read_only=read_only)
                self._con.execute("SET enable_progress_bar = false")
                break
            except duckdb.Error as exc:
                if "Could not set lock" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise self._error(exc, "open") from None
        try:
            if read_only:
                self._check_version()
            else:
                self._migrate()
        except BaseException:
            self.close()
            raise

    def _check_version(self) -> None:
        latest = max(v for v, _ in self.migrations)
        try:
            current = self._execute("SELECT max(version) FROM datacanary_schema_version")[0][0]
        except self._duckdb.Error:
            current = 0
        if current != latest:
            raise StoreError(
                f"history store {self.url} has schema version {current}, not {latest}; open it "
                "once without read_only to migrate it"
            )
        self.schema_version = latest

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._con.execute(sql.replace("%s", "?"), list(params))
        try:
            return cursor.fetchall()
        except self._duckdb.InvalidInputException:  # a statement without a result
            return []

    @contextmanager
    def _transaction(self) -> Iterator[None]:
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

    def _error(self, exc: Exception, doing: str) -> StoreError:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Could not set lock" in message:
            pid = re.search(r"PID (\d+)", message)
            holder = f" (PID {pid.group(1)})" if pid else ""
            return StoreLockedError(
                f"history store {self.url} is locked by another process{holder}, probably a "
                "check still running; wait for it to finish, or use a PostgreSQL store "
                "(postgresql://...) for concurrent runs"
            )
        return StoreError(f"cannot {doing} history store {self.url}: {message}")

    def close(self) -> None:
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()
