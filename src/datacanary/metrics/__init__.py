"""Table metrics computed where the data lives: one pushed-down query per table.

:func:`profile` measures a table (row count; per column nulls, distinct values, range, mean,
spread, string lengths, freshness; the schema and its fingerprint; custom SQL metrics) and
returns a :class:`TableProfile`, whose :meth:`~TableProfile.observations` are the flat numbers
a :mod:`datacanary.store` keeps and :mod:`datacanary.series` detectors judge.

The SQL for each metric lives in a small per-dialect catalog (DuckDB, PostgreSQL, Spark SQL) with
:func:`register_dialect` as the extension point for other engines. See docs/metrics.md.
"""

from __future__ import annotations

from datacanary.metrics._catalog import (
    COLUMN_METRICS,
    DEFAULT_METRICS,
    METRIC_GROUPS,
    TABLE_METRICS,
    Dialect,
    DuckDBDialect,
    PostgresDialect,
    SparkDialect,
    get_dialect,
    register_dialect,
)
from datacanary.metrics._profile import (
    ColumnProfile,
    Observation,
    TableProfile,
    profile,
    schema_fingerprint,
)

__all__ = [
    "COLUMN_METRICS",
    "DEFAULT_METRICS",
    "METRIC_GROUPS",
    "TABLE_METRICS",
    "ColumnProfile",
    "Dialect",
    "DuckDBDialect",
    "Observation",
    "PostgresDialect",
    "SparkDialect",
    "TableProfile",
    "get_dialect",
    "profile",
    "register_dialect",
    "schema_fingerprint",
]
