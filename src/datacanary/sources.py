"""Sources: a table named by path, URL or frame, read where it lives.

A source is what a monitor or a detector reads. It is named the way a person would name it:

==================================================  ===========================================
``"orders.parquet"``, ``"data/*.csv"``              Parquet, CSV/TSV (also ``.gz``), JSON lines
                                                    files and globs, read by DuckDB
``"duckdb:///wh.db::orders"``, ``"wh.duckdb::s.t"`` a table (or view) in a DuckDB database file
``"postgresql://user@host:5432/db::public.orders"`` a table (or view) in PostgreSQL; queries run
                                                    inside PostgreSQL (password from ``PGPASSWORD``)
a pandas / polars / pyarrow frame                   scanned in place by DuckDB (zero-copy)
==================================================  ===========================================

:func:`resolve_source` turns any of these into a :class:`Source` and checks what it can without
reading data (the file exists, the glob matches, the extension is known, the file is not empty).
:meth:`Source.connect` opens the engine that reads it; :func:`read_table` and
:func:`sample_table` load rows into pandas for row-level detectors, and
:mod:`datacanary.metrics` pushes aggregate queries down to the same engines.

Every bad input becomes one line naming the source and the fix: :class:`SourceNotFoundError`
for what does not exist, :class:`InputError` for what cannot be read. Engine exceptions (DuckDB,
psycopg) never leak.

Examples
--------
>>> src = resolve_source("postgresql://monitor@db.internal:5432/shop::public.orders")
>>> src.kind, src.dialect, src.table
('postgres', 'postgres', 'public.orders')
>>> resolve_source("duckdb:///warehouse.db::orders")
Traceback (most recent call last):
...
datacanary.errors.SourceNotFoundError: DuckDB database warehouse.db does not exist; ...
"""

from __future__ import annotations

import glob as _glob
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from datacanary.errors import (
    ColumnNotFoundError,
    ConfigError,
    InputError,
    MissingDependencyError,
    SourceNotFoundError,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Source",
    "SourceConnection",
    "quote_identifier",
    "read_table",
    "resolve_source",
    "sample_table",
]

SourceKind = Literal["file", "frame", "duckdb", "postgres"]

# file suffix (lower case, compression stripped) -> DuckDB reader
_FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}
_COMPRESSIONS = (".gz", ".zst")
_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
_READERS = {
    "parquet": "read_parquet",
    "csv": "read_csv",
    "json": "read_json",
}


def quote_identifier(name: str) -> str:
    """Quote a (possibly schema-qualified) table name for SQL: ``a.b`` → ``"a"."b"``.

    Column names may contain dots; quote those whole with ``'"' + name.replace('"', '""') + '"'``.

    >>> quote_identifier('public.orders'), quote_identifier('odd"name')
    ('"public"."orders"', '"odd""name"')
    """
    return ".".join(_quote(part) for part in name.split("."))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _mask_url(url: str) -> str:
    """A URL fit for messages: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


@dataclass(frozen=True)
class Source:
    """A table to read, resolved from a path, a URL or a frame.

    Build it with :func:`resolve_source`; the fields say what was understood.

    Attributes
    ----------
    kind : {"file", "frame", "duckdb", "postgres"}
        Where the rows live.
    name : str
        How messages name the source (the path or URL as given, a password masked).
    paths : tuple of str
        The files a path or glob matched (``kind="file"``), sorted.
    format : {"parquet", "csv", "json"} or None
        The file format (``kind="file"``).
    location : str or None
        The database file (``kind="duckdb"``) or the connection URL (``kind="postgres"``).
    table : str or None
        The table or view, possibly schema-qualified (``"public.orders"``).
    frame : object or None
        The in-memory frame (``kind="frame"``).
    """

    kind: SourceKind
    name: str
    paths: tuple[str, ...] = ()
    format: str | None = None
    location: str | None = None
    table: str | None = None
    frame: Any = field(default=None, repr=False, compare=False)

    @property
    def dialect(self) -> str:
        """The SQL dialect queries run in: ``"postgres"`` or ``"duckdb"``."""
        return "postgres" if self.kind == "postgres" else "duckdb"

    @contextmanager
    def connect(self) -> Iterator[SourceConnection]:
        """Open the engine that reads this source; closed when the block ends.

        Raises
        ------
        SourceNotFoundError
            The database file or table does not exist.
        InputError
            The file cannot be read, or the server cannot be reached.
        """
        conn: SourceConnection = (
            _PostgresConnection(self) if self.kind == "postgres" else _DuckDBConnection(self)
        )
        try:
            yield conn
        finally:
            conn.close()


class SourceConnection:
    """An open engine for one source: run SQL against :attr:`relation` in :attr:`dialect`.

    ``relation`` is the SQL text that names the table in a ``FROM`` clause (a table name or a
    DuckDB table function over the files), so a caller writes
    ``f"SELECT count(*) FROM {conn.relation}"`` and the query runs inside the engine.
    """

    source: Source
    dialect: str
    relation: str
    columnar: bool = False
    """Whether reading one column costs only that column (Parquet, DuckDB tables, frames)."""

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return its rows; engine errors become :class:`InputError`."""
        raise NotImplementedError

    def fetch_frame(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` and return a pandas DataFrame, built by a columnar reader."""
        raise NotImplementedError

    def schema(self) -> list[tuple[str, str]]:
        """Column names and engine types, in table order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the engine."""


# ---------------------------------------------------------------------------------- resolve


def resolve_source(source: str | os.PathLike[str] | Source | Any) -> Source:
    """Understand a path, URL or frame as a :class:`Source`, checking what it can cheaply.

    Parameters
    ----------
    source : str, path-like, Source or frame
        ``"orders.parquet"``, ``"data/*.csv"``, ``"events.jsonl.gz"``,
        ``"duckdb:///wh.db::orders"`` (also ``"wh.duckdb::orders"``),
        ``"postgresql://user@host/db::schema.table"``, or a pandas / polars / pyarrow frame.
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
    frame_kind = _frame_kind(source)
    if frame_kind is not None:
        return Source(kind="frame", name=f"{frame_kind} frame", frame=source)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise InputError(
            f"cannot read a {type(source).__name__} as a table; pass a path, a URL or a "
            "pandas/polars/pyarrow frame"
        )
    text = source.strip()
    if not text:
        raise InputError("the source is empty; pass a path, a glob or a URL such as data.parquet")
    lowered = text.lower()
    if lowered.startswith(("postgresql://", "postgres://")):
        return _resolve_postgres(text)
    if lowered.startswith("duckdb://"):
        # duckdb:///wh.db -> "wh.db" (relative); duckdb:////abs/wh.db -> "/abs/wh.db"
        rest = text[len("duckdb://") :]
        return _resolve_duckdb(rest[1:] if rest.startswith("/") else rest, text)
    if "::" in text and text.rpartition("::")[0].lower().endswith(_DUCKDB_SUFFIXES):
        return _resolve_duckdb(text, text)
    return _resolve_files(text)


def _frame_kind(obj: Any) -> str | None:
    module = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name in ("DataFrame", "LazyFrame"):
        return "polars"
    if module == "pyarrow" and name in ("Table", "RecordBatch", "Dataset", "FileSystemDataset"):
        return "pyarrow"
    return None


def _split_table(text: str, display: str) -> tuple[str, str]:
    location, sep, table = text.rpartition("::")
    if not sep or not table.strip() or not location:
        raise InputError(
            f"{display}: no table named; append '::table' or '::schema.table' to the URL"
        )
    return location, table.strip()


def _resolve_postgres(text: str) -> Source:
    display = _mask_url(text.split("::")[0]) + (
        "::" + text.rpartition("::")[2] if "::" in text else ""
    )
    url, table = _split_table(text, display)
    return Source(kind="postgres", name=display, location=url, table=table)


def _resolve_duckdb(rest: str, display: str) -> Source:
    path, table = _split_table(rest, display)
    path = os.path.expanduser(path)
    if not path:
        raise InputError(f"{display}: no database file named; use duckdb:///path/to/file.db::table")
    if not Path(path).is_file():
        raise SourceNotFoundError(
            f"DuckDB database {path} does not exist; check the path (duckdb:///relative.db or "
            "duckdb:////absolute/path.db)"
        )
    return Source(kind="duckdb", name=display, location=path, table=table)


def _file_format(path: str) -> str | None:
    lowered = path.lower()
    for compression in _COMPRESSIONS:
        if lowered.endswith(compression):
            lowered = lowered[: -len(compression)]
            break
    return _FORMATS.get(Path(lowered).suffix)


def _resolve_files(text: str) -> Source:
    path = os.path.expanduser(text)
    fmt = _file_format(path)
    if fmt is None:
        suffix = Path(path).suffix or "(none)"
        raise InputError(
            f"{text}: unsupported file type {suffix!r}; use Parquet, CSV/TSV (.csv, .tsv, .txt, "
            "optionally .gz/.zst) or JSON lines (.jsonl, .ndjson, .json)"
        )
    if _glob.has_magic(path):
        paths = sorted(p for p in _glob.glob(path, recursive=True) if os.path.isfile(p))
        if not paths:
            raise SourceNotFoundError(f"no files match {text}; check the pattern and directory")
        formats = {_file_format(p) for p in paths}
        if len(formats) > 1:
            raise InputError(f"{text} matches files of several formats; narrow the pattern")
    else:
        if not os.path.exists(path):
            raise SourceNotFoundError(f"file {text} does not exist; check the path")
        if os.path.isdir(path):
            raise InputError(f"{text} is a directory; name the files, e.g. {text}/*.parquet")
        paths = [path]
    for p in paths:
        if os.path.getsize(p) == 0:
            raise InputError(f"file {p} is empty (0 bytes); re-export it or remove it")
    return Source(kind="file", name=text, paths=tuple(paths), format=fmt)


# ------------------------------------------------------------------------------------ DuckDB


def _duckdb_error_text(source: Source, exc: BaseException) -> str:
    message = _first_line(exc)
    if "No magic bytes" in message or "not a Parquet file" in message.lower():
        return f"{source.name} is not a valid Parquet file ({message}); re-export it"
    if "sniffing file" in message or ("CSV" in message and "Error" in message):
        detail = [
            line.strip()
            for line in str(exc).splitlines()[1:4]
            if line.startswith(("Expected", "Original Line"))
        ]
        reason = "; ".join([message.removeprefix("Invalid Input Error: "), *detail])
        return (
            f"{source.name} cannot be parsed as CSV ({reason}); check the file is text and "
            "its delimiter, quoting and number of fields are consistent"
        )
    if "json" in message.lower() and source.format == "json":
        return f"{source.name} cannot be parsed as JSON lines ({message}); check the file"
    if "Could not set lock" in message:
        return f"{source.name}: the database file is locked by another process; retry later"
    return f"cannot read {source.name}: {message}"


_TEXT_SNIFF_BYTES = 8192


def _check_text_files(source: Source) -> None:
    """Binary content in a CSV/JSON file gives an error, not a table of garbage."""
    for path in source.paths:
        if path.lower().endswith(_COMPRESSIONS):
            continue
        with open(path, "rb") as handle:
            head = handle.read(_TEXT_SNIFF_BYTES)
        if b"\x00" in head:
            kind = "CSV" if source.format == "csv" else "JSON lines"
            raise InputError(
                f"{path} is not a {kind} text file (it contains binary data); check the file "
                "and its extension"
            )


def _connect_database_file(duckdb: Any, path: str) -> Any:
    try:
        return duckdb.connect(path, read_only=True)
    except duckdb.ConnectionException:
        # this process already has the file open read-write: share that instance
        return duckdb.connect(path)


class _DuckDBConnection(SourceConnection):
    def __init__(self, source: Source) -> None:
        import duckdb

        self.source = source
        self.dialect = "duckdb"
        self._duckdb = duckdb
        try:
            if source.kind == "duckdb":
                assert source.location is not None and source.table is not None
                self._con = _connect_database_file(duckdb, source.location)
                self.relation = quote_identifier(source.table)
                self.columnar = True
            else:
                if source.format in ("csv", "json"):
                    _check_text_files(source)
                self._con = duckdb.connect()
                if source.kind == "frame":
                    self._con.register("__datacanary_frame", source.frame)
                    self.relation = '"__datacanary_frame"'
                    self.columnar = True
                else:
                    files = "[" + ", ".join(_literal(p) for p in source.paths) + "]"
                    options = ", union_by_name = true" if len(source.paths) > 1 else ""
                    self.relation = f"{_READERS[str(source.format)]}({files}{options})"
                    self.columnar = source.format == "parquet"
            # DuckDB draws a progress bar on stdout for slow queries; output is ours to write
            self._con.execute("SET enable_progress_bar = false")
        except duckdb.Error as exc:
            raise InputError(_duckdb_error_text(source, exc)) from None
        if source.kind == "duckdb":
            self._check_table()

    def _check_table(self) -> None:
        try:
            self._con.execute(f"SELECT * FROM {self.relation} LIMIT 0")
        except self._duckdb.CatalogException:
            tables = [
                r[0] if r[1] == "main" else f"{r[1]}.{r[0]}"
                for r in self._con.execute(
                    "SELECT table_name, table_schema FROM information_schema.tables ORDER BY 2, 1"
                ).fetchall()
            ]
            self.close()
            shown = ", ".join(tables[:20]) or "(none)"
            raise SourceNotFoundError(
                f"table {self.source.table!r} not found in {self.source.location}; "
                f"available: {shown}"
            ) from None

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql).fetchall()
        except self._duckdb.Error as exc:
            raise InputError(_duckdb_error_text(self.source, exc)) from None

    def fetch_frame(self, sql: str) -> pd.DataFrame:
        try:
            return self._con.execute(sql).df()
        except self._duckdb.Error as exc:
            raise InputError(_duckdb_error_text(self.source, exc)) from None

    def schema(self) -> list[tuple[str, str]]:
        rows = self.fetch(f"DESCRIBE SELECT * FROM {self.relation}")
        return [(str(r[0]), str(r[1])) for r in rows]

    def close(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None


# -------------------------------------------------------------------------------- PostgreSQL


# PostgreSQL type OID -> pyarrow type, for COPY ... CSV into pandas (others stay strings)
def _pg_arrow_types() -> dict[int, Any]:
    import pyarrow as pa

    return {
        16: pa.bool_,  # boolean
        20: pa.int64,  # bigint
        21: pa.int64,  # smallint
        23: pa.int64,  # integer
        700: pa.float64,  # real
        701: pa.float64,  # double precision
        1700: pa.float64,  # numeric
        1082: pa.date32,  # date
        1114: lambda: pa.timestamp("us"),  # timestamp
        1184: lambda: pa.timestamp("us", tz="UTC"),  # timestamptz
    }


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDependencyError.for_extra("postgres", "PostgreSQL sources") from None
    return psycopg


class _PostgresConnection(SourceConnection):
    def __init__(self, source: Source) -> None:
        psycopg = _import_psycopg()
        assert source.location is not None and source.table is not None
        self.source = source
        self.dialect = "postgres"
        self.relation = quote_identifier(source.table)
        self._psycopg = psycopg
        try:
            self._con = psycopg.connect(source.location, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise InputError(
                f"cannot connect to PostgreSQL at {_mask_url(source.location)}: "
                f"{_first_line(exc)}; check the URL, that the server is running, and "
                "PGPASSWORD"
            ) from None
        self._columns = self._describe()

    def _describe(self) -> list[tuple[str, str]]:
        sql = (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum"
        )
        try:
            with self._con.cursor() as cur:
                rows = cur.execute(sql, (self.relation,)).fetchall()
        except self._psycopg.errors.UndefinedTable:
            self.close()
            raise SourceNotFoundError(
                f"table {self.source.table!r} not found in {self.source.name.split('::')[0]}; "
                "check the schema and table name (schema.table)"
            ) from None
        except self._psycopg.Error as exc:
            self.close()
            raise InputError(f"cannot read {self.source.name}: {_first_line(exc)}") from None
        return [(str(r[0]), str(r[1])) for r in rows]

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            with self._con.cursor() as cur:
                return list(cur.execute(sql).fetchall())
        except self._psycopg.Error as exc:
            raise InputError(f"cannot read {self.source.name}: {_first_line(exc)}") from None

    def fetch_frame(self, sql: str) -> pd.DataFrame:
        """COPY the result out as CSV and parse it with pyarrow, typed from the result's OIDs."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        try:
            with self._con.cursor() as cur:
                cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
                described = [(d.name, d.type_code) for d in cur.description or []]
                with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
                    for chunk in copy:
                        buffer.write(chunk)
        except self._psycopg.Error as exc:
            raise InputError(f"cannot read {self.source.name}: {_first_line(exc)}") from None
        if not described:
            import pandas as pd

            return pd.DataFrame()
        names = [name for name, _ in described]
        arrow_types = _pg_arrow_types()
        types = {name: arrow_types.get(oid, pa.string)() for name, oid in described}
        buffer.seek(0)
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
        return table.to_pandas()

    def schema(self) -> list[tuple[str, str]]:
        return list(self._columns)

    def close(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None


# ----------------------------------------------------------------------------- read / sample


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
    return ", ".join(_quote(c) for c in columns)


def _no_rows(source: Source) -> InputError:
    what = "has a header but no rows" if source.format == "csv" else "has no rows"
    return InputError(f"{source.name} {what}; check the export that produced it")


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
    if src.kind == "frame" and _frame_kind(src.frame) == "pandas":
        frame = src.frame
        if columns is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ColumnNotFoundError.from_missing(missing, [str(c) for c in frame.columns])
            frame = frame[list(columns)]
        if limit is not None:
            frame = frame.head(limit)
        if len(frame) == 0:
            raise _no_rows(src)
        return frame
    with src.connect() as conn:
        sql = f"SELECT {_select_list(conn, columns)} FROM {conn.relation}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        frame = conn.fetch_frame(sql)
    if len(frame) == 0:
        raise _no_rows(src)
    return frame


def sample_table(
    source: str | os.PathLike[str] | Source | Any,
    n: int,
    *,
    seed: int = 0,
) -> tuple[pd.DataFrame, int]:
    """A uniform random sample of ``n`` rows and the table's total row count, pushed down.

    DuckDB sources use reservoir sampling (``USING SAMPLE reservoir(n ROWS) REPEATABLE``);
    PostgreSQL tables use ``TABLESAMPLE BERNOULLI ... REPEATABLE`` with a margin, cut to
    exactly ``n`` rows. Only the sample travels. A table with at most ``n`` rows is returned
    whole, in its order.

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
            raise _no_rows(src)
        if total <= n:
            return conn.fetch_frame(f"SELECT * FROM {conn.relation}"), total
        if conn.dialect == "duckdb":
            sql = (
                f"SELECT * FROM {conn.relation} "
                f"USING SAMPLE reservoir({n} ROWS) REPEATABLE ({seed})"
            )
            return conn.fetch_frame(sql).reset_index(drop=True), total
        return _sample_postgres(conn, n, seed, total), total


def _sample_postgres(conn: SourceConnection, n: int, seed: int, total: int) -> pd.DataFrame:
    # Bernoulli keeps each row with probability p: ask for enough that n come back with
    # near certainty (mean + 6 sd), then cut to exactly n with the same seed.
    expected = n + 6.0 * n**0.5 + 10
    percent = min(100.0, 100.0 * expected / total)
    while True:
        frame = conn.fetch_frame(
            f"SELECT * FROM {conn.relation} TABLESAMPLE BERNOULLI ({percent:.6f}) "
            f"REPEATABLE ({seed})"
        )
        if len(frame) >= n or percent >= 100.0:
            break
        percent = min(100.0, percent * 2)
    if len(frame) > n:
        frame = frame.sample(n=n, random_state=seed).sort_index()
    return frame.reset_index(drop=True)
