"""PostgreSQL: ``postgresql://user@host:5432/db::schema.table``; queries run inside the server."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, ClassVar

from datacanary.errors import InputError, MissingDependencyError, SourceNotFoundError
from datacanary.sources._base import (
    Engine,
    Source,
    SourceConnection,
    _first_line,
    mask_secrets,
    quote_identifier,
    split_table,
)

if TYPE_CHECKING:
    import pandas as pd


def _resolve_postgres(text: str) -> Source:
    location, sep, table = text.rpartition("::")
    display = mask_secrets(location) + sep + table if sep else mask_secrets(text)
    url, table = split_table(text, display)
    return Source(kind="postgres", name=display, location=url, table=table)


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
            # a source is only read: every statement on this session runs read-only, so SQL
            # that slips past the custom-metric check still cannot write (docs/metrics.md)
            self._con.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            self.close()
            raise InputError(
                f"cannot connect to PostgreSQL at {mask_secrets(source.location)}: "
                f"{mask_secrets(_first_line(exc))}; check the URL, that the server is running, "
                "and PGPASSWORD"
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
            raise InputError(
                f"cannot read {self.source.name}: {mask_secrets(_first_line(exc))}"
            ) from None
        return [(str(r[0]), str(r[1])) for r in rows]

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            with self._con.cursor() as cur:
                return list(cur.execute(sql).fetchall())
        except self._psycopg.Error as exc:
            raise InputError(
                f"cannot read {self.source.name}: {mask_secrets(_first_line(exc))}"
            ) from None

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
            raise InputError(
                f"cannot read {self.source.name}: {mask_secrets(_first_line(exc))}"
            ) from None
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

    def sample(self, n: int, seed: int, total: int) -> pd.DataFrame:
        return _sample_postgres(self, n, seed, total)


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


class PostgresEngine(Engine):
    """Tables and views in PostgreSQL, named ``postgresql://…::schema.table``."""

    kinds: ClassVar[tuple[str, ...]] = ("postgres",)
    dialect: ClassVar[str] = "postgres"

    def resolve(self, text: str) -> Source | None:
        if text.lower().startswith(("postgresql://", "postgres://")):
            return _resolve_postgres(text)
        return None

    def connect(self, source: Source) -> SourceConnection:
        return _PostgresConnection(source)
