"""Sources: a table named by path, URL or frame, read where it lives.

A source is what a monitor or a detector reads. It is named the way a person would name it:

==================================================  ===========================================
``"orders.parquet"``, ``"data/*.csv"``              Parquet, CSV/TSV (also ``.gz``), JSON lines
                                                    files and globs, read by DuckDB
``"duckdb:///wh.db::orders"``, ``"wh.duckdb::s.t"`` a table (or view) in a DuckDB database file
``"postgresql://user@host:5432/db::public.orders"`` a table (or view) in PostgreSQL; queries run
                                                    inside PostgreSQL (password from ``PGPASSWORD``)
a pandas / polars / pyarrow frame                   scanned in place by DuckDB (zero-copy)
``"spark::sales.orders"``,                          a table Spark SQL names (catalog table, or
``"spark::parquet.`/data/orders/`"``                files by path); queries run in Spark
a pyspark DataFrame (classic or Spark Connect)      read by its own session
==================================================  ===========================================

:func:`resolve_source` turns any of these into a :class:`Source` and checks what it can without
reading data (the file exists, the glob matches, the extension is known, the file is not empty).
:meth:`Source.connect` opens the engine that reads it; :func:`read_table` and
:func:`sample_table` load rows into pandas for row-level detectors, and
:mod:`datacanary.metrics` pushes aggregate queries down to the same engines.

Each engine is one small module behind one interface (:class:`Engine`: the names it owns, its
dialect, how it connects; its :class:`SourceConnection` runs SQL, samples and iterates row
batches): ``_duckdb``, ``_postgres``, ``_spark``. A fourth engine is one more module and a
:func:`register_engine` call.

Every bad input becomes one line naming the source and the fix: :class:`SourceNotFoundError`
for what does not exist, :class:`InputError` for what cannot be read. Engine exceptions (DuckDB,
psycopg, Spark) never leak.

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

from datacanary.sources._api import read_table, resolve_source, sample_table
from datacanary.sources._base import (
    Engine,
    Source,
    SourceConnection,
    engine_for,
    quote_identifier,
    register_engine,
)
from datacanary.sources._spark import SparkScores, configure_spark, score_spark, spark_session

__all__ = [
    "Engine",
    "Source",
    "SourceConnection",
    "SparkScores",
    "configure_spark",
    "engine_for",
    "quote_identifier",
    "read_table",
    "register_engine",
    "resolve_source",
    "sample_table",
    "score_spark",
    "spark_session",
]
