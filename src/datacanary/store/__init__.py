"""Metric history: every observation of every run, append-only.

:func:`open_store` opens the embedded DuckDB file (``.datacanary/history.duckdb`` by default,
one writer at a time, held only while it reads or writes, so simultaneous checks queue) or
PostgreSQL (``postgresql://...``, many writers). A run's observations are written in one
transaction with :meth:`Store.record_run`, and read back per series with
:meth:`Store.history`, oldest first. A run is (dataset, observed_at, partition): recording
one again replaces it::

    with open_store() as store:
        store.record_run("orders", profile("orders.parquet"))
        past = store.history("orders", "row_count", limit=30)

The schema is versioned (:data:`SCHEMA_VERSION`) and migrated when a store is opened.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from datacanary.errors import ConfigError
from datacanary.store._base import (
    SCHEMA_VERSION,
    HistoryPoint,
    Observation,
    RunRecord,
    Store,
    new_run_id,
)
from datacanary.store._duckdb import DEFAULT_WAIT, WAIT_VARIABLE, DuckDBStore, store_wait
from datacanary.store._postgres import PostgresStore

__all__ = [
    "DEFAULT_STORE",
    "DEFAULT_WAIT",
    "SCHEMA_VERSION",
    "WAIT_VARIABLE",
    "DuckDBStore",
    "HistoryPoint",
    "Observation",
    "PostgresStore",
    "RunRecord",
    "Store",
    "new_run_id",
    "open_store",
    "store_wait",
]

DEFAULT_STORE = Path(".datacanary") / "history.duckdb"
"""Where the embedded store lives unless told otherwise (relative to the working directory)."""


def open_store(
    url_or_path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    lock_timeout: float | None = None,
) -> Store:
    """Open (creating and migrating if needed) a metric-history store.

    Parameters
    ----------
    url_or_path : str or path, optional
        None for ``.datacanary/history.duckdb``; a file path or ``duckdb:///path`` for a
        DuckDB file; ``postgresql://user@host:5432/db`` for PostgreSQL.
    read_only : bool, default False
        Open for reading only (no migration).
    lock_timeout : float, optional
        DuckDB only: seconds to wait for another process to release the file before
        raising :class:`StoreLockedError`; default ``$DATACANARY_STORE_WAIT``, else 60.

    Returns
    -------
    Store

    Raises
    ------
    ConfigError
        The location is not a store: a CSV, Parquet or other data file, a libpq keyword
        string (``host=... password=...``), ``:memory:`` or an unknown URL scheme.
    StoreLockedError
        Another process held the DuckDB file for longer than ``lock_timeout``.
    StoreError
        The store cannot be reached, opened or migrated.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "history.duckdb"
    >>> with open_store(path) as store:
    ...     run = store.record_run("orders", [("row_count", None, 9800.0)])
    ...     [p.value for p in store.history("orders", "row_count")]
    [9800.0]
    """
    if url_or_path is None:
        return DuckDBStore(DEFAULT_STORE, read_only=read_only, lock_timeout=lock_timeout)
    location = store_location(url_or_path)
    if location.startswith("postgresql://"):
        return PostgresStore(location, read_only=read_only)
    return DuckDBStore(location, read_only=read_only, lock_timeout=lock_timeout)


# data files DuckDB would open as an empty in-memory database (or that are plainly not stores)
_DATA_SUFFIXES = frozenset(
    {
        ".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".jsonl", ".ndjson", ".arrow",
        ".feather", ".ipc", ".orc", ".avro", ".xlsx", ".xls", ".gz", ".zip", ".zst",
        ".yml", ".yaml", ".sqlite", ".sqlite3",
    }
)  # fmt: skip
_LIBPQ = re.compile(
    r"^\s*(host|hostaddr|port|dbname|user|password|sslmode|service|passfile|options)\s*=",
    re.IGNORECASE,
)


def store_location(url_or_path: str | os.PathLike[str]) -> str:
    """Check a store location without opening it: a ``postgresql://`` URL or a DuckDB path.

    Raises :class:`ConfigError` (one line, never echoing a password) for what would lose the
    history: a data file (``orders.csv``, ``x.parquet``), a libpq keyword string, an
    in-memory database, an unknown URL scheme.

    >>> store_location("duckdb:///history.duckdb"), store_location("postgres://u@db/wh")
    ('history.duckdb', 'postgresql://u@db/wh')
    >>> store_location("host=db password=secret")
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: the history store looks like a libpq keyword string ...
    """
    if isinstance(url_or_path, os.PathLike):
        url_or_path = os.fspath(url_or_path)
    if not isinstance(url_or_path, str) or not url_or_path.strip():
        raise ConfigError(f"a store is a path or a postgresql:// URL; got {url_or_path!r}")
    text = url_or_path.strip()
    lowered = text.lower()
    if lowered.startswith("postgresql://"):
        return text
    if lowered.startswith("postgres://"):
        return "postgresql://" + text[len("postgres://") :]
    if _LIBPQ.match(text) or re.search(r"(^|\s)password\s*=", text, re.IGNORECASE):
        raise ConfigError(
            "the history store looks like a libpq keyword string (host=... dbname=...); give a "
            "URL such as postgresql://user@host:5432/db and put the password in PGPASSWORD"
        )
    if lowered.startswith("duckdb://"):
        rest = text[len("duckdb://") :]
        text = rest[1:] if rest.startswith("/") else rest
    elif "://" in text:
        raise ConfigError(
            f"unsupported store URL {text.split('://')[0]}://; use a file path, duckdb:///path "
            "or postgresql://..."
        )
    if text.strip() in ("", ":memory:") or text.startswith(":memory:"):
        raise ConfigError(
            "an in-memory history store forgets every run; give a file such as "
            ".datacanary/history.duckdb or a postgresql:// URL"
        )
    path = Path(os.path.expanduser(text))
    suffix = path.suffix.lower()
    if suffix in _DATA_SUFFIXES:
        raise ConfigError(
            f"history store {path} is a {suffix} data file, not a store; give a DuckDB "
            "file such as .datacanary/history.duckdb or a postgresql:// URL"
        )
    return str(path)
