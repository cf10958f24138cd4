"""The metric catalog: each metric's meaning, the columns it applies to, its SQL per dialect.

A metric is written once as a small SQL expression per dialect, so a whole table profile is
one ``SELECT <aggregates> FROM <table>`` that runs inside the engine. Three dialects ship:
DuckDB (files, frames, DuckDB databases), PostgreSQL and Spark SQL.

Extension points
----------------
* **A new engine** (Snowflake, BigQuery, Databricks SQL...): subclass :class:`Dialect`, override the
  expressions that differ (``approx_distinct``, ``finite``, ``epoch``, ``length``...) and
  ``column_kind`` (the engine's type names), then :func:`register_dialect`. Its source needs a
  connection that runs SQL (:class:`datacanary.sources.SourceConnection`).
* **A new metric for every engine**: write it as a custom metric
  (``profile(..., custom={"late": "count(*) filter (where shipped_at > promised_at)"})``);
  custom SQL is passed to the engine unchanged, in its dialect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "COLUMN_METRICS",
    "DEFAULT_METRICS",
    "METRIC_GROUPS",
    "TABLE_METRICS",
    "Dialect",
    "DuckDBDialect",
    "PostgresDialect",
    "SparkDialect",
    "get_dialect",
    "register_dialect",
]

TABLE_METRICS: tuple[str, ...] = ("row_count", "column_count", "schema_hash")
"""Metrics of the whole table (``column`` is None in observations)."""

COLUMN_METRICS: tuple[str, ...] = (
    "null_count",
    "null_fraction",
    "distinct_count",
    "min",
    "max",
    "mean",
    "stddev",
    "min_length",
    "max_length",
    "mean_length",
    "freshness_seconds",
)
"""Metrics of one column, in the order observations list them."""

DEFAULT_METRICS: tuple[str, ...] = TABLE_METRICS + COLUMN_METRICS

METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    "length": ("min_length", "max_length", "mean_length"),
    "nulls": ("null_count", "null_fraction"),
    "schema": ("column_count", "schema_hash"),
    "all": DEFAULT_METRICS,
}
"""Names that stand for several metrics in ``profile(metrics=...)``."""

# column kind -> the column metrics that apply to it
APPLICABLE: dict[str, frozenset[str]] = {
    "number": frozenset(
        {"null_count", "null_fraction", "distinct_count", "min", "max", "mean", "stddev"}
    ),
    "boolean": frozenset({"null_count", "null_fraction", "distinct_count", "mean"}),
    "text": frozenset(
        {"null_count", "null_fraction", "distinct_count", "min_length", "max_length", "mean_length"}
    ),
    "temporal": frozenset(
        {"null_count", "null_fraction", "distinct_count", "min", "max", "freshness_seconds"}
    ),
    "other": frozenset({"null_count", "null_fraction"}),
}
APPLICABLE["float"] = APPLICABLE["number"]


@dataclass(frozen=True)
class Dialect:
    """SQL expressions for one engine; the base class speaks standard SQL.

    Every method takes SQL text (an already quoted column or an expression) and returns SQL
    text. ``value`` turns a column into the value metrics aggregate (NaN becomes NULL for
    floating-point kinds), so NaN counts as missing everywhere.
    """

    name: str = "standard"
    has_approx_distinct: bool = False
    group_exact_distinct: bool = False
    """Count exact distincts with :meth:`distinct_by_group` on columnar sources."""
    max_select_items: int | None = None
    """The most expressions one SELECT may hold (PostgreSQL: 1664); wider profiles are split."""

    def quote(self, identifier: str) -> str:
        """Quote a column name."""
        return '"' + identifier.replace('"', '""') + '"'

    def column_kind(self, type_name: str) -> str:
        """Classify an engine type: number, float, boolean, text, temporal or other."""
        raise NotImplementedError

    def value(self, column: str, kind: str) -> str:
        """The column as metrics see it: NaN as NULL for floats."""
        return f"NULLIF({column}, 'NaN')" if kind == "float" else column

    def count(self, value: str) -> str:
        return f"count({value})"

    def distinct(self, value: str, *, exact: bool) -> str:
        """Distinct non-null values; approximate (HyperLogLog) where the engine has it."""
        if exact or not self.has_approx_distinct:
            return f"count(DISTINCT {value})"
        return f"approx_count_distinct({value})"

    def distinct_by_group(self, value: str, relation: str) -> str:
        """Exact distinct count as a grouped scalar subquery.

        On columnar sources this reads one more column per distinct count but aggregates in
        parallel with far less memory than ``count(DISTINCT ...)`` (DuckDB, 12 columns of
        2M rows: about half the time and a third of the memory).
        """
        return f"(SELECT count(v) FROM (SELECT {value} AS v FROM {relation} GROUP BY 1) AS d)"

    def finite(self, value: str) -> str:
        """A condition true for finite (not ±inf) values."""
        return f"{value} NOT IN ('Infinity', '-Infinity')"

    def numeric(self, value: str, kind: str) -> str:
        """A value averaging can use: booleans as 0/1."""
        return f"CAST({value} AS INTEGER)" if kind == "boolean" else value

    def aggregate(self, function: str, value: str, kind: str) -> str:
        """``avg`` / ``stddev_samp`` over finite values (±inf excluded for floats)."""
        numeric = self.numeric(value, kind)
        if kind == "float":
            return f"{function}({numeric}) FILTER (WHERE {self.finite(value)})"
        return f"{function}({numeric})"

    def epoch(self, value: str, type_name: str = "") -> str:
        """Seconds since 1970-01-01 UTC of a date or timestamp (naive timestamps as UTC).

        ``type_name`` is the column's engine type, for engines whose functions differ by type.
        """
        return f"EXTRACT(EPOCH FROM {value})"

    def length(self, value: str) -> str:
        """Length of a string in characters."""
        return f"char_length({value})"


def _base_type(type_name: str) -> str:
    return re.sub(r"\(.*\)", "", type_name).strip().upper()


@dataclass(frozen=True)
class DuckDBDialect(Dialect):
    """DuckDB: files, frames and DuckDB databases. Approximate distinct by HyperLogLog."""

    name: str = "duckdb"
    has_approx_distinct: bool = True
    group_exact_distinct: bool = True

    _NUMBER = frozenset(
        {
            "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "DECIMAL",
        }
    )  # fmt: skip
    _FLOAT = frozenset({"FLOAT", "DOUBLE", "REAL"})
    _TEMPORAL = frozenset(
        {
            "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS",
            "TIMESTAMP_NS", "TIMESTAMPTZ",
        }
    )  # fmt: skip

    def column_kind(self, type_name: str) -> str:
        base = _base_type(type_name)
        if base in self._NUMBER:
            return "number"
        if base in self._FLOAT:
            return "float"
        if base == "BOOLEAN":
            return "boolean"
        if base == "VARCHAR":
            return "text"
        if base in self._TEMPORAL:
            return "temporal"
        return "other"

    def finite(self, value: str) -> str:
        return f"isfinite({value})"

    def epoch(self, value: str, type_name: str = "") -> str:
        return f"epoch({value})"

    def length(self, value: str) -> str:
        return f"length({value})"


@dataclass(frozen=True)
class PostgresDialect(Dialect):
    """PostgreSQL: no built-in approximate distinct, so distinct counts are exact there."""

    name: str = "postgres"
    max_select_items: int | None = 1600

    def column_kind(self, type_name: str) -> str:
        base = _base_type(type_name).lower()
        if base in ("smallint", "integer", "bigint"):
            return "number"
        if base in ("real", "double precision", "numeric"):  # numeric has 'NaN' too
            return "float"
        if base == "boolean":
            return "boolean"
        if base in ("text", "character varying", "character", "name", "citext"):
            return "text"
        if base.startswith(("timestamp", "date")):
            return "temporal"
        return "other"

    def numeric(self, value: str, kind: str) -> str:
        return f"({value})::int" if kind == "boolean" else value


@dataclass(frozen=True)
class SparkDialect(Dialect):
    """Spark SQL (classic or Spark Connect): backtick quoting, HyperLogLog++ distincts.

    ``approx_count_distinct`` has a relative standard deviation of 5 % (Spark's default).
    Naive timestamps (``timestamp_ntz``) and dates read as UTC whatever the session time zone.
    """

    name: str = "spark"
    has_approx_distinct: bool = True

    _NUMBER = frozenset({"tinyint", "smallint", "int", "integer", "bigint", "long", "decimal"})
    _TEXT = frozenset({"string", "varchar", "char"})

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def column_kind(self, type_name: str) -> str:
        base = re.sub(r"\(.*\)", "", type_name).strip().lower()
        if base in self._NUMBER:
            return "number"
        if base in ("float", "double", "real"):
            return "float"
        if base == "boolean":
            return "boolean"
        if base in self._TEXT:
            return "text"
        if base in ("date", "timestamp", "timestamp_ntz", "timestamp_ltz"):
            return "temporal"
        return "other"

    def value(self, column: str, kind: str) -> str:
        return (
            f"CASE WHEN isnan({column}) THEN NULL ELSE {column} END" if kind == "float" else column
        )

    def finite(self, value: str) -> str:
        return f"{value} NOT IN (CAST('Infinity' AS DOUBLE), CAST('-Infinity' AS DOUBLE))"

    def epoch(self, value: str, type_name: str = "") -> str:
        base = type_name.strip().lower()
        if base == "date":
            return f"CAST(unix_date({value}) AS DOUBLE) * 86400"
        if base == "timestamp_ntz":
            return f"timestampdiff(MICROSECOND, TIMESTAMP_NTZ'1970-01-01 00:00:00', {value}) / 1e6"
        return f"unix_micros({value}) / 1e6"


_DIALECTS: dict[str, Dialect] = {
    "duckdb": DuckDBDialect(),
    "postgres": PostgresDialect(),
    "spark": SparkDialect(),
}


def register_dialect(dialect: Dialect) -> None:
    """Make ``dialect`` available to sources whose ``dialect`` is ``dialect.name``."""
    _DIALECTS[dialect.name] = dialect


def get_dialect(name: str) -> Dialect:
    """The registered dialect called ``name``.

    >>> get_dialect("postgres").distinct('"email"', exact=False)
    'count(DISTINCT "email")'
    >>> get_dialect("duckdb").aggregate("avg", "NULLIF(\\"x\\", 'NaN')", "float")
    'avg(NULLIF("x", \\'NaN\\')) FILTER (WHERE isfinite(NULLIF("x", \\'NaN\\')))'
    """
    try:
        return _DIALECTS[name]
    except KeyError:
        from datacanary.errors import ConfigError

        known = ", ".join(sorted(_DIALECTS))
        raise ConfigError(
            f"no SQL dialect {name!r}; known: {known}; add one with register_dialect()"
        ) from None
