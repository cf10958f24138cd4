"""``profile_metadata``: datacanary's table metrics as Dagster materialization metadata."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

DEFAULT_PROFILE_METRICS: tuple[str, ...] = ("row_count", "nulls")
"""What :func:`profile_metadata` measures unless told otherwise: the row count and, per
column, the null count and fraction."""


def profile_metadata(
    data: Any,
    columns: Sequence[str] | None = None,
    metrics: Iterable[str] | None = DEFAULT_PROFILE_METRICS,
    *,
    custom: Mapping[str, str] | None = None,
    exact_distinct: bool = False,
) -> dict[str, dg.MetadataValue]:
    """Profile a table and return its metrics as materialization metadata.

    Return the result from an asset (``MaterializeResult(metadata=profile_metadata(df))``,
    or ``context.add_output_metadata(profile_metadata(df))`` when the asset returns the
    frame) so each materialization records the numbers :func:`build_anomaly_checks` judges,
    and Dagster's UI plots them over time. The keys are:

    * ``dagster/row_count`` (int) and ``dagster/column_schema`` (a ``TableSchema``), the
      keys Dagster itself shows in the asset's overview;
    * ``datacanary/<metric>/<column>`` for each column metric, e.g.
      ``datacanary/null_fraction/email`` (int counts, float fractions and statistics);
      a metric that does not apply to a column or has no value (the mean of an all-null
      column) is left out;
    * ``datacanary/<name>`` for each custom SQL metric.

    The profile is one query inside DuckDB (or the source's own engine); no rows are
    copied into Python.

    Parameters
    ----------
    data
        A pandas, polars or pyarrow frame, or anything
        :func:`datacanary.metrics.profile` accepts as a source (``"orders.parquet"``,
        ``"duckdb:///wh.db::orders"``, ``"postgresql://...::public.orders"``).
    columns
        Columns to profile (default all); the schema always lists every column.
    metrics
        Metric names or groups for :func:`datacanary.metrics.profile`; default the row
        count and nulls (``null_count``, ``null_fraction``). Add ``"distinct_count"``,
        ``"mean"``, ``"stddev"``, ``"min"``, ``"max"``, ``"length"``, ... or ``"all"``.
    custom
        Named SQL aggregates computed in the same query, e.g.
        ``{"late_orders": "count(*) filter (where shipped_at > promised_at)"}``.
    exact_distinct
        Count distinct values exactly instead of DuckDB's HyperLogLog estimate.

    Returns
    -------
    dict of str to MetadataValue

    Raises
    ------
    ColumnNotFoundError, ConfigError, InputError
        As :func:`datacanary.metrics.profile`: an unknown column or metric, unreadable data.

    Examples
    --------
    >>> import pandas as pd
    >>> from datacanary.integrations.dagster import profile_metadata
    >>> frame = pd.DataFrame({"id": [1, 2, 3, 4], "email": ["a@x", None, "c@x", None]})
    >>> metadata = profile_metadata(frame)
    >>> metadata["dagster/row_count"].value, metadata["datacanary/null_fraction/email"].value
    (4, 0.5)
    >>> [c.name for c in metadata["dagster/column_schema"].value.columns]
    ['id', 'email']
    >>> sorted(metadata)
    ['dagster/column_schema', 'dagster/row_count', 'datacanary/null_count/email',
     'datacanary/null_count/id', 'datacanary/null_fraction/email',
     'datacanary/null_fraction/id']
    """
    from datacanary.metrics import COLUMN_METRICS, profile

    table = profile(
        data,
        columns=columns,
        metrics=metrics,
        custom=custom,
        exact_distinct=exact_distinct,
    )
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name=str(name), type=str(type_)) for name, type_ in table.schema]
    )
    out: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(int(table.row_count)),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
    }
    wanted = set(table.metrics)
    for column in table.columns.values():
        for name in COLUMN_METRICS:
            if name in wanted:
                _put(out, f"datacanary/{name}/{column.name}", getattr(column, name))
    for name, value in table.custom.items():
        _put(out, f"datacanary/{name}", value)
    return out


def _put(out: dict[str, dg.MetadataValue], key: str, value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        out[key] = dg.MetadataValue.int(value)
        return
    number = float(value)
    if math.isfinite(number):
        out[key] = dg.MetadataValue.float(number)
