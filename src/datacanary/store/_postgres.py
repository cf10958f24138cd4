"""The shared store: PostgreSQL, where many check runs may record at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from datacanary.errors import MissingDependencyError, StoreError
from datacanary.store._base import Store

__all__ = ["PostgresStore"]

_MIGRATION_LOCK = 0x64617461_63616E  # "datacan": one advisory lock id for schema migrations

_V1 = (
    "CREATE TABLE datacanary_runs ("
    " run_id TEXT PRIMARY KEY,"
    " dataset TEXT NOT NULL,"
    " observed_at TIMESTAMPTZ NOT NULL,"
    " recorded_at TIMESTAMPTZ NOT NULL,"
    " tags TEXT NOT NULL)",
    "CREATE INDEX datacanary_runs_dataset ON datacanary_runs (dataset, observed_at)",
    "CREATE TABLE datacanary_observations ("
    " run_id TEXT NOT NULL REFERENCES datacanary_runs (run_id),"
    " dataset TEXT NOT NULL,"
    " metric TEXT NOT NULL,"
    " column_name TEXT NOT NULL,"
    " value DOUBLE PRECISION,"
    " observed_at TIMESTAMPTZ NOT NULL,"
    " PRIMARY KEY (run_id, metric, column_name))",
    "CREATE INDEX datacanary_observations_series"
    " ON datacanary_observations (dataset, metric, column_name, observed_at)",
)

# runs an older datacanary recorded twice at one instant: keep the newest of each
_DOUBLED = (
    "SELECT run_id FROM (SELECT run_id, row_number() OVER (PARTITION BY dataset, observed_at "
    "ORDER BY recorded_at DESC, run_id DESC) AS n FROM datacanary_runs) AS ranked WHERE n > 1"
)
_V2 = (
    f"DELETE FROM datacanary_observations WHERE run_id IN ({_DOUBLED})",
    f"DELETE FROM datacanary_runs WHERE run_id IN ({_DOUBLED})",
    "ALTER TABLE datacanary_runs ADD COLUMN partition_key TEXT NOT NULL DEFAULT ''",
    "CREATE UNIQUE INDEX datacanary_runs_instant"
    " ON datacanary_runs (dataset, observed_at, partition_key)",
)


def _mask(url: str) -> str:
    from datacanary.sources._base import mask_secrets  # the one masking function

    return mask_secrets(url)


class PostgresStore(Store):
    """History in PostgreSQL tables (``datacanary_runs``, ``datacanary_observations``).

    Concurrent runs each commit their own transaction, so all of them land; two runs of one
    (dataset, instant, partition) are serialized by a transaction-scoped advisory lock, so
    the second replaces the first. Migrations are serialized with an advisory lock. The
    password comes from the URL or ``PGPASSWORD``; messages never show it. Put the tables in
    another schema with ``?options=-csearch_path%3Dmonitoring`` in the URL.
    """

    migrations: Sequence[tuple[int, Sequence[str]]] = ((1, _V1), (2, _V2))
    _con: Any = None

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        try:
            import psycopg
        except ImportError:
            raise MissingDependencyError.for_extra("postgres", "PostgreSQL stores") from None
        self._psycopg = psycopg
        self.url = _mask(url)
        self.read_only = read_only
        try:
            self._con = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the PostgreSQL history store at {self.url}: "
                f"{_first_line(exc)}; check the URL, that the server is running, and PGPASSWORD"
            ) from None
        try:
            self._migrate()
        except psycopg.Error as exc:
            self.close()
            raise self._error(exc, "migrate") from None
        except BaseException:
            self.close()
            raise
        if read_only:
            self._con.read_only = True

    def _lock_migrations(self) -> None:
        self._execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def _lock_run(self, dataset: str, stamp: Any, partition: str) -> None:
        key = f"datacanary run|{dataset}|{stamp.isoformat()}|{partition}"
        self._execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._con.cursor() as cursor:
            cursor.execute(sql, list(params) if params else None)
            return list(cursor.fetchall()) if cursor.description else []

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._con.transaction():
            yield

    def _to_db_time(self, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    def _from_db_time(self, value: Any) -> datetime:
        return value.astimezone(timezone.utc)

    def _is_backend_error(self, exc: Exception) -> bool:
        return isinstance(exc, self._psycopg.Error)

    def _error(self, exc: Exception, doing: str) -> StoreError:
        return StoreError(f"cannot {doing} history store {self.url}: {_first_line(exc)}")

    def close(self) -> None:
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()


def _first_line(exc: BaseException) -> str:
    """The error's first line; psycopg may quote the URL, so its secrets are masked."""
    text = str(exc).strip().splitlines()
    return _mask(text[0].strip()) if text else type(exc).__name__
