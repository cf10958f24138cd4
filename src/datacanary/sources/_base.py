"""The engine interface and the vocabulary every engine shares: Source, SourceConnection, Engine.

An engine is one small module (``_duckdb``, ``_postgres``, ``_spark``) holding one
:class:`Engine`: the names it owns (:meth:`Engine.resolve`, :meth:`Engine.from_object`), its SQL
dialect and how it connects; its :class:`SourceConnection` runs SQL, samples and iterates row
batches. :func:`register_engine` adds one; nothing else branches on the kind of a source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from datacanary.errors import ConfigError, InputError

if TYPE_CHECKING:
    import pandas as pd

SourceKind = Literal["file", "frame", "duckdb", "postgres", "spark"]


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


# key=value secrets: URL query parameters (?password=...) and libpq keyword strings
_SECRET_KEYS = r"password|passwd|pwd|sslpassword|sslkey_password|secret|token|api_?key|access_token"
_SECRET_VALUE = re.compile(
    rf"(?i)(?<![A-Za-z0-9_])({_SECRET_KEYS})(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;#]*)"
)

_EMBEDDED_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^:/?#@\s\"']*):([^@\s\"']*)@")


def mask_secrets(text: str) -> str:
    """``text`` (a source or store name, a URL, a libpq string) fit for messages.

    The password of ``user:pw@`` and the values of ``password=`` (URL query parameters and
    libpq keyword strings) become ``***``. Never raises, whatever the text: this runs on
    user input that may be malformed.

    >>> mask_secrets("postgresql://me:s3cret@db:5432/shop::public.orders")
    'postgresql://me:***@db:5432/shop::public.orders'
    >>> mask_secrets("postgresql://me@db/shop?sslmode=require&password=s3cret")
    'postgresql://me@db/shop?sslmode=require&password=***'
    >>> mask_secrets("host=db user=me password='s 3cret' dbname=shop")
    'host=db user=me password=*** dbname=shop'
    >>> mask_secrets("postgresql://u:p@[::1/db")
    'postgresql://u:***@[::1/db'
    >>> mask_secrets('bad host in URI: "postgresql://u:pw@[::1/db"')
    'bad host in URI: "postgresql://u:***@[::1/db"'
    """
    if not isinstance(text, str):
        text = str(text)
    scheme, sep, rest = text.partition("://")
    if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        # the userinfo ends at the last "@" before the path; a password may hold a "/"
        end = min([len(rest), *(i for i in (rest.find("?"), rest.find("#")) if i != -1)])
        slash = rest.find("/", 0, end)
        head = rest[:slash] if slash != -1 and "@" in rest[:slash] else rest[:end]
        userinfo, at, _ = head.rpartition("@")
        if at and ":" in userinfo:
            text = f"{scheme}://{userinfo.split(':', 1)[0]}:***@{rest[len(userinfo) + 1 :]}"
    text = _EMBEDDED_USERINFO.sub(r"\1\2:***@", text)  # URLs quoted inside the text
    return _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


@dataclass(frozen=True)
class Source:
    """A table to read, resolved from a path, a URL or a frame.

    Build it with :func:`resolve_source`; the fields say what was understood.

    Attributes
    ----------
    kind : {"file", "frame", "duckdb", "postgres", "spark"}
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
        The in-memory frame (``kind="frame"``, or a Spark DataFrame for ``kind="spark"``).
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
        """The SQL dialect queries run in: "duckdb", "postgres" or "spark"."""
        return engine_for(self.kind).dialect

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
        conn = engine_for(self.kind).connect(self)
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

    def quote(self, name: str) -> str:
        """Quote a column name in this engine's SQL."""
        return _quote(name)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return its rows; engine errors become :class:`InputError`."""
        raise NotImplementedError

    def fetch_frame(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` and return a pandas DataFrame, built by a columnar reader."""
        raise NotImplementedError

    def schema(self) -> list[tuple[str, str]]:
        """Column names and engine types, in table order."""
        raise NotImplementedError

    def sample(self, n: int, seed: int, total: int) -> pd.DataFrame:
        """A uniform random sample of exactly ``n`` of the table's ``total`` rows (n < total)."""
        raise NotImplementedError

    def iter_batches(self, sql: str, rows: int = 65_536) -> Iterator[pd.DataFrame]:
        """The result of ``sql`` as pandas frames of at most ``rows`` rows, in order.

        The default reads the whole result first; engines override it to stream.
        """
        frame = self.fetch_frame(sql)
        for start in range(0, len(frame), rows):
            yield frame.iloc[start : start + rows]

    def close(self) -> None:
        """Release the engine."""


class Engine:
    """One engine: which sources it owns, its dialect and how to connect.

    Subclass it in one module, set :attr:`kinds` and :attr:`dialect`, override
    :meth:`resolve` (the names it owns) and/or :meth:`from_object` (the frames it reads), and
    :meth:`connect`; then :func:`register_engine` it.
    """

    kinds: ClassVar[tuple[str, ...]] = ()
    """The :attr:`Source.kind` values this engine connects."""
    dialect: ClassVar[str] = "standard"
    """The SQL dialect its queries use (a name in :func:`datacanary.metrics.get_dialect`)."""

    def resolve(self, text: str) -> Source | None:
        """The source a name means, if this engine owns the name; else None."""
        return None

    def from_object(self, obj: Any) -> Source | None:
        """The source an in-memory object is, if this engine reads it; else None."""
        return None

    def connect(self, source: Source) -> SourceConnection:
        """Open a connection that reads ``source``."""
        raise NotImplementedError


_ENGINES: list[Engine] = []


def register_engine(engine: Engine, *, first: bool = False) -> None:
    """Make ``engine`` resolve names and connect sources (tried before the file fallback)."""
    if first:
        _ENGINES.insert(0, engine)
    else:
        _ENGINES.append(engine)


def engines() -> list[Engine]:
    """The registered engines, in the order names are tried."""
    return list(_ENGINES)


def engine_for(kind: str) -> Engine:
    """The engine that connects sources of ``kind``."""
    for engine in _ENGINES:
        if kind in engine.kinds:
            return engine
    raise ConfigError(f"no engine reads sources of kind {kind!r}; register one")


def split_table(text: str, display: str) -> tuple[str, str]:
    """``"location::table"`` → (location, table), or a one-line error naming ``display``."""
    location, sep, table = text.rpartition("::")
    if not sep or not table.strip() or not location:
        raise InputError(
            f"{display}: no table named; append '::table' or '::schema.table' to the URL"
        )
    return location, table.strip()


def no_rows(source: Source) -> InputError:
    what = "has a header but no rows" if source.format == "csv" else "has no rows"
    return InputError(f"{source.name} {what}; check the export that produced it")
