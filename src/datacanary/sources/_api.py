"""Resolve, read and sample: the functions callers use, the same for every engine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datacanary.errors import ColumnNotFoundError, ConfigError, InputError
from datacanary.sources._base import (
    Source,
    SourceConnection,
    engines,
    no_rows,
    register_engine,
)
from datacanary.sources._duckdb import DuckDBEngine
from datacanary.sources._postgres import PostgresEngine
from datacanary.sources._spark import SparkEngine

if TYPE_CHECKING:
    import pandas as pd

# the order names are tried; a name none of them owns is a file path or glob (DuckDB)
_FILES = DuckDBEngine()
register_engine(PostgresEngine())
register_engine(SparkEngine())
register_engine(_FILES)


def resolve_source(source: str | os.PathLike[str] | Source | Any) -> Source:
    """Understand a path, URL or frame as a :class:`Source`, checking what it can cheaply.

    Parameters
    ----------
    source : str, path-like, Source or frame
        ``"orders.parquet"``, ``"data/*.csv"``, ``"events.jsonl.gz"``,
        ``"duckdb:///wh.db::orders"`` (also ``"wh.duckdb::orders"``),
        ``"postgresql://user@host/db::schema.table"``, ``"spark::sales.orders"``, or a
        pandas / polars / pyarrow / Spark DataFrame.
        A :class:`Source` is returned unchanged.

    Returns
    -------
    Source

    Raises
    ------
    SourceNotFoundError
        A file or database file that does not exist, or a glob that matches nothing.
    InputError
        An unsupported extension, an empty (0-byte) file, a URL without a table.

    Examples
    --------
    >>> resolve_source("postgresql://me:secret@db:5432/shop::public.orders").name
    'postgresql://me:***@db:5432/shop::public.orders'
    >>> resolve_source("orders.xlsx")
    Traceback (most recent call last):
    ...
    datacanary.errors.InputError: orders.xlsx: unsupported file type '.xlsx'; use Parquet, ...
    """
    if isinstance(source, Source):
        return source
    for engine in engines():
        found = engine.from_object(source)
        if found is not None:
            return found
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise InputError(
            f"cannot read a {type(source).__name__} as a table; pass a path, a URL or a "
            "pandas/polars/pyarrow/Spark frame"
        )
    text = source.strip()
    if not text:
        raise InputError("the source is empty; pass a path, a glob or a URL such as data.parquet")
    for engine in engines():
        found = engine.resolve(text)
        if found is not None:
            return found
    return _FILES.resolve_files(text)


def _select_list(conn: SourceConnection, columns: Sequence[str] | None) -> str:
    if columns is None:
        return "*"
    if isinstance(columns, str):
        columns = [columns]
    available = [name for name, _ in conn.schema()]
    missing = [c for c in columns if c not in available]
    if missing:
        raise ColumnNotFoundError.from_missing(missing, available)
    if not columns:
        raise ConfigError("columns is an empty list; pass None for all columns or name some")
    return ", ".join(conn.quote(c) for c in columns)


def read_table(
    source: str | os.PathLike[str] | Source | Any,
    *,
    columns: list[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Load a table into pandas with the engine's columnar reader (never row by row).

    Parameters
    ----------
    source : str, path-like, Source or frame
        Anything :func:`resolve_source` accepts. A pandas frame passes through (columns
        selected, ``limit`` applied); polars and pyarrow frames are converted.
    columns : list of str, optional
        Columns to read, in this order; default all.
    limit : int, optional
        Read at most this many rows (the first ones, in the source's order).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    SourceNotFoundError, InputError, ColumnNotFoundError
        A missing source, an unreadable or empty one (no rows), an unknown column.

    Examples
    --------
    >>> import pandas as pd
    >>> read_table(pd.DataFrame({"a": [1, 2, 3], "b": list("xyz")}), columns=["b"], limit=2)
       b
    0  x
    1  y
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive integer or None; got {limit!r}")
    src = resolve_source(source)
    if src.kind == "frame" and type(src.frame).__module__.split(".")[0] == "pandas":
        frame = src.frame
        if columns is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ColumnNotFoundError.from_missing(missing, [str(c) for c in frame.columns])
            frame = frame[list(columns)]
        if limit is not None:
            frame = frame.head(limit)
        if len(frame) == 0:
            raise no_rows(src)
        return frame
    with src.connect() as conn:
        sql = f"SELECT {_select_list(conn, columns)} FROM {conn.relation}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        frame = conn.fetch_frame(sql)
    if len(frame) == 0:
        raise no_rows(src)
    return frame


def sample_table(
    source: str | os.PathLike[str] | Source | Any,
    n: int,
    *,
    seed: int = 0,
) -> tuple[pd.DataFrame, int]:
    """A uniform random sample of ``n`` rows and the table's total row count, pushed down.

    DuckDB sources use reservoir sampling (``USING SAMPLE reservoir(n ROWS) REPEATABLE``);
    PostgreSQL tables use ``TABLESAMPLE BERNOULLI ... REPEATABLE`` and Spark a seeded
    ``DataFrame.sample`` (through Arrow), each with a margin, cut to exactly ``n`` rows.
    Only the sample travels. A table with at most ``n`` rows is returned whole, in its order.

    Parameters
    ----------
    source : str, path-like, Source or frame
        Anything :func:`resolve_source` accepts.
    n : int
        Rows to sample (positive).
    seed : int, default 0
        The same seed on the same unchanged table gives the same sample.

    Returns
    -------
    sample : pandas.DataFrame
    total_rows : int

    Examples
    --------
    >>> import pandas as pd
    >>> sample, total = sample_table(pd.DataFrame({"x": range(1000)}), 10, seed=1)
    >>> len(sample), total
    (10, 1000)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be a positive integer; got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer; got {seed!r}")
    src = resolve_source(source)
    with src.connect() as conn:
        total = int(conn.fetch(f"SELECT count(*) FROM {conn.relation}")[0][0])
        if total == 0:
            raise no_rows(src)
        if total <= n:
            return conn.fetch_frame(f"SELECT * FROM {conn.relation}"), total
        return conn.sample(n, seed, total), total
