"""DuckDB: Parquet/CSV/JSON-lines files and globs, DuckDB database files, in-memory frames.

The fallback engine: a name no other engine owns is read as a file path or glob.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from datacanary.errors import InputError, SourceNotFoundError
from datacanary.sources._base import (
    Engine,
    Source,
    SourceConnection,
    _first_line,
    _literal,
    quote_identifier,
    split_table,
)

if TYPE_CHECKING:
    import pandas as pd

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


def _resolve_duckdb(rest: str, display: str) -> Source:
    path, table = split_table(rest, display)
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


def _open_text(path: str) -> Any:
    if path.lower().endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _first_text_line(path: str) -> str:
    if path.lower().endswith(".zst"):
        return path  # not read here: each .zst file counts as its own header
    with _open_text(path) as handle:
        return str(handle.readline()).strip()


def _ragged_line(path: str, delimiter: str) -> str | None:
    """'line N has F fields, the header has H' for the first line that differs, or None."""
    import csv

    if path.lower().endswith(".zst"):
        return None
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        while header is not None and (not header or header[0].lstrip().startswith("#")):
            header = next(reader, None)  # blank lines and # comments before the header
        if header is None:
            return None
        for row in reader:
            if row and len(row) != len(header):
                return f"line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
    return None


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
        self._schema: list[tuple[str, str]] | None = None
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
        if source.kind == "file" and source.format == "csv":
            self._check_csv_shape()
        self._seal()

    def _check_csv_shape(self) -> None:
        """A glob of CSVs with different headers, or a ragged CSV, is an error naming it.

        DuckDB would merge different headers by name (filling nulls) and read a file whose
        rows have different numbers of fields as one text column.
        """
        paths = self.source.paths
        if len(paths) > 1:
            firsts: dict[str, str] = {}
            for path in paths:
                firsts.setdefault(_first_text_line(path), path)
            if len(firsts) > 1:
                columns = {path: self._csv_columns(path) for path in firsts.values()}
                if len({frozenset(c) for c in columns.values()}) > 1:
                    shown = "; ".join(
                        f"{path}: {', '.join(c)}" for path, c in list(columns.items())[:3]
                    )
                    more = f" (and {len(columns) - 3} more)" if len(columns) > 3 else ""
                    raise InputError(
                        f"the files of {self.source.name} have different columns: "
                        f"{shown}{more}; read them separately or give them one header"
                    )
        for path in dict.fromkeys({_first_text_line(p): p for p in paths}.values()):
            delimiter = self._sniffed_badly(path)
            problem = None if delimiter is None else _ragged_line(path, delimiter)
            if problem is not None:
                raise InputError(
                    f"{path} {problem}; fix the export (quote fields that contain "
                    f"{delimiter!r}) or remove the line"
                )

    def _sniffed_badly(self, path: str) -> str | None:
        """The delimiter, when DuckDB's sniffer gave up on a consistent table; else None.

        It then reads the whole file as one text column (named like ``id,amount``), or
        skips every row up to the first one with the most fields.
        """
        try:
            rows = self._con.execute(
                f"SELECT Delimiter, SkipRows, Columns FROM sniff_csv({_literal(path)})"
            ).fetchall()
        except self._duckdb.Error:
            return None  # reading will fail and say why
        if not rows:
            return None
        delimiter, skipped, columns = rows[0]
        names = [str(c.get("name", "")) for c in columns or [] if isinstance(c, dict)]
        if len(names) == 1:
            return next((d for d in (",", ";", "\t", "|") if d in names[0]), None)
        return str(delimiter) if skipped and delimiter else None

    def _csv_columns(self, path: str) -> list[str]:
        rows = self.fetch(f"DESCRIBE SELECT * FROM read_csv([{_literal(path)}])")
        return [str(r[0]) for r in rows]

    def _seal(self) -> None:
        """Let this connection reach only the source: no other file, no COPY, no extension.

        The source's own files stay readable (``allowed_paths``); then external access is
        switched off and the configuration locked, so SQL run here (custom metrics) cannot
        read ``/etc/passwd``, write a file or switch it back on. A DuckDB too old for
        ``allowed_paths`` keeps file access for file sources (custom SQL is still parsed
        and refused, see datacanary.metrics).
        """
        con, duckdb = self._con, self._duckdb
        try:
            if self.source.kind == "file":
                paths = sorted({q for p in self.source.paths for q in (p, os.path.abspath(p))})
                con.execute("SET allowed_paths = [" + ", ".join(_literal(p) for p in paths) + "]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except duckdb.Error:  # pragma: no cover - DuckDB < 1.3 has no allowed_paths
            return

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
        if self._schema is None:  # the relation never changes: sniff it once
            rows = self.fetch(f"DESCRIBE SELECT * FROM {self.relation}")
            self._schema = [(str(r[0]), str(r[1])) for r in rows]
        return list(self._schema)

    def close(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None

    def sample(self, n: int, seed: int, total: int) -> pd.DataFrame:
        sql = f"SELECT * FROM {self.relation} USING SAMPLE reservoir({n} ROWS) REPEATABLE ({seed})"
        return self.fetch_frame(sql).reset_index(drop=True)

    def iter_batches(self, sql: str, rows: int = 65_536) -> Iterator[pd.DataFrame]:
        try:
            reader = self._con.execute(sql).fetch_record_batch(rows)
            for batch in reader:
                yield batch.to_pandas()
        except self._duckdb.Error as exc:
            raise InputError(_duckdb_error_text(self.source, exc)) from None


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


class DuckDBEngine(Engine):
    """Files, globs, DuckDB database files and pandas/polars/pyarrow frames, read by DuckDB."""

    kinds: ClassVar[tuple[str, ...]] = ("file", "frame", "duckdb")
    dialect: ClassVar[str] = "duckdb"

    def resolve(self, text: str) -> Source | None:
        if text.lower().startswith("duckdb://"):
            # duckdb:///wh.db -> "wh.db" (relative); duckdb:////abs/wh.db -> "/abs/wh.db"
            rest = text[len("duckdb://") :]
            return _resolve_duckdb(rest[1:] if rest.startswith("/") else rest, text)
        if "::" in text and text.rpartition("::")[0].lower().endswith(_DUCKDB_SUFFIXES):
            return _resolve_duckdb(text, text)
        return None

    def resolve_files(self, text: str) -> Source:
        """The fallback: ``text`` as a file path or glob."""
        return _resolve_files(text)

    def from_object(self, obj: Any) -> Source | None:
        kind = _frame_kind(obj)
        return None if kind is None else Source(kind="frame", name=f"{kind} frame", frame=obj)

    def connect(self, source: Source) -> SourceConnection:
        return _DuckDBConnection(source)
