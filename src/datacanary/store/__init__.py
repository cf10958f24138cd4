"""Metric history: every observation of every run, append-only.

:func:`open_store` opens the embedded DuckDB file (``.datacanary/history.duckdb`` by default,
one writer at a time) or PostgreSQL (``postgresql://...``, many writers). A run's
observations are written in one transaction with :meth:`Store.record_run`, and read back per
series with :meth:`Store.history`, oldest first::

    with open_store() as store:
        store.record_run("orders", profile("orders.parquet"))
        past = store.history("orders", "row_count", limit=30)

The schema is versioned (:data:`SCHEMA_VERSION`) and migrated when a store is opened.
"""

from __future__ import annotations

import os
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
from datacanary.store._duckdb import DuckDBStore
from datacanary.store._postgres import PostgresStore

__all__ = [
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "DuckDBStore",
    "HistoryPoint",
    "Observation",
    "PostgresStore",
    "RunRecord",
    "Store",
    "new_run_id",
    "open_store",
]

DEFAULT_STORE = Path(".datacanary") / "history.duckdb"
"""Where the embedded store lives unless told otherwise (relative to the working directory)."""


def open_store(
    url_or_path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    lock_timeout: float = 0.0,
) -> Store:
    """Open (creating and migrating if needed) a metric-history store.

    Parameters
    ----------
    url_or_path : str or path, optional
        None for ``.datacanary/history.duckdb``; a file path or ``duckdb:///path`` for a
        DuckDB file; ``postgresql://user@host:5432/db`` for PostgreSQL.
    read_only : bool, default False
        Open for reading only (no migration).
    lock_timeout : float, default 0
        DuckDB only: seconds to wait for another process to release the file before
        raising :class:`StoreLockedError`.

    Returns
    -------
    Store

    Raises
    ------
    StoreLockedError
        Another process holds the DuckDB file.
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
    if isinstance(url_or_path, os.PathLike):
        return DuckDBStore(os.fspath(url_or_path), read_only=read_only, lock_timeout=lock_timeout)
    if not isinstance(url_or_path, str) or not url_or_path.strip():
        raise ConfigError(f"a store is a path or a postgresql:// URL; got {url_or_path!r}")
    text = url_or_path.strip()
    if text.lower().startswith(("postgresql://", "postgres://")):
        return PostgresStore(text, read_only=read_only)
    if text.lower().startswith("duckdb://"):
        rest = text[len("duckdb://") :]
        text = rest[1:] if rest.startswith("/") else rest
    elif "://" in text:
        raise ConfigError(
            f"unsupported store URL {text.split('://')[0]}://; use a file path, duckdb:///path "
            "or postgresql://..."
        )
    return DuckDBStore(os.path.expanduser(text), read_only=read_only, lock_timeout=lock_timeout)
