"""Profile a table in one pushed-down query: counts, nulls, distincts, ranges, freshness, schema."""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from datacanary.errors import ColumnNotFoundError, ConfigError, InputError
from datacanary.metrics._catalog import (
    APPLICABLE,
    COLUMN_METRICS,
    DEFAULT_METRICS,
    METRIC_GROUPS,
    TABLE_METRICS,
    Dialect,
    get_dialect,
)
from datacanary.results import Observation, as_utc
from datacanary.sources import Source, SourceConnection, resolve_source

__all__ = ["ColumnProfile", "Observation", "TableProfile", "profile", "schema_fingerprint"]

_CUSTOM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ColumnProfile:
    """The metrics of one column; a metric that was not computed or does not apply is None.

    ``min``/``max`` of a date or timestamp column are seconds since 1970-01-01 UTC (naive
    timestamps read as UTC); :attr:`earliest` and :attr:`latest` give them as datetimes.
    """

    name: str
    type: str
    kind: str
    null_count: int | None = None
    null_fraction: float | None = None
    distinct_count: int | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stddev: float | None = None
    min_length: float | None = None
    max_length: float | None = None
    mean_length: float | None = None
    freshness_seconds: float | None = None

    @property
    def earliest(self) -> datetime | None:
        """The smallest value of a date/timestamp column, in UTC."""
        return _from_epoch(self.min) if self.kind == "temporal" else None

    @property
    def latest(self) -> datetime | None:
        """The largest value of a date/timestamp column, in UTC."""
        return _from_epoch(self.max) if self.kind == "temporal" else None

    def metric(self, name: str) -> float | None:
        """The value of column metric ``name`` as a float, or None."""
        value = getattr(self, name)
        return None if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN/inf as None, datetimes as ISO strings)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "kind": self.kind}
        for name in COLUMN_METRICS:
            out[name] = _json_number(getattr(self, name))
        if self.kind == "temporal":
            out["earliest"] = _iso(self.earliest)
            out["latest"] = _iso(self.latest)
        return out


@dataclass(frozen=True)
class TableProfile:
    """The metrics of one table at one moment, from one pushed-down query.

    Attributes
    ----------
    source : str
        The source's name.
    row_count : int
    columns : dict of str to ColumnProfile
        The profiled columns, in table order.
    schema : list of (name, type)
        Every column of the table with its engine type, in table order.
    schema_fingerprint : str
        SHA-256 (hex) of the schema; changes when a column is added, removed, renamed,
        reordered or retyped.
    custom : dict of str to float
        Custom SQL metrics by name.
    metrics : tuple of str
        The metric names that were asked for (groups expanded).
    exact_distinct : bool
        Whether distinct counts are exact (always so on PostgreSQL).
    observed_at : datetime
        The ``now`` freshness was measured against (UTC).
    dialect : str
        The engine the query ran in.
    elapsed_seconds : float
        Wall time of the profile.
    """

    source: str
    row_count: int
    columns: dict[str, ColumnProfile]
    schema: list[tuple[str, str]]
    schema_fingerprint: str
    custom: dict[str, float | None] = field(default_factory=dict)
    metrics: tuple[str, ...] = DEFAULT_METRICS
    exact_distinct: bool = False
    observed_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    dialect: str = "duckdb"
    elapsed_seconds: float = 0.0

    @property
    def column_count(self) -> int:
        """Columns in the table (all of them, not only the profiled ones)."""
        return len(self.schema)

    @property
    def schema_hash(self) -> int:
        """The fingerprint's first 52 bits as an integer: exact as a float, for the store.

        An identifier, not a quantity: compare it with the previous run's (any difference is
        a schema change); a band detector on it means nothing.
        """
        return int(self.schema_fingerprint[:13], 16)

    def observations(self) -> list[Observation]:
        """Every requested metric as a flat, numeric :class:`Observation`, for the store.

        Table metrics first (``column`` None), then each column's in :data:`COLUMN_METRICS`
        order, then custom metrics (``column`` None). Metrics with no value (the mean of an
        all-null column, metrics of an empty table) are left out: there is nothing to judge.

        Examples
        --------
        >>> import pandas as pd
        >>> p = profile(pd.DataFrame({"x": [1.0, None, 3.0]}), metrics=["row_count", "nulls"])
        >>> p.observations()
        [Observation(metric='row_count', column=None, value=3.0),
         Observation(metric='null_count', column='x', value=1.0),
         Observation(metric='null_fraction', column='x', value=0.333...)]
        """
        wanted = set(self.metrics)
        out: list[Observation] = []
        table_values = {
            "row_count": self.row_count,
            "column_count": self.column_count,
            "schema_hash": self.schema_hash,
        }
        for name in TABLE_METRICS:
            if name in wanted:
                out.append(Observation(name, None, float(table_values[name])))
        for column in self.columns.values():
            for name in COLUMN_METRICS:
                value = column.metric(name)
                if name in wanted and value is not None and not math.isnan(value):
                    out.append(Observation(name, column.name, value))
        for name, value in self.custom.items():
            if value is not None and not math.isnan(value):
                out.append(Observation(name, None, float(value)))
        return out

    def schema_changes(self, previous: Sequence[tuple[str, str]]) -> list[str]:
        """Sentences describing how the schema differs from ``previous`` ((name, type) pairs).

        >>> import pandas as pd
        >>> p = profile(pd.DataFrame({"id": [1], "email": ["a@b"]}), metrics=["row_count"])
        >>> p.schema_changes([("id", "INTEGER"), ("name", "VARCHAR")])
        ["column 'name' (VARCHAR) was removed", "column 'email' (VARCHAR) was added",
         "column 'id' changed type from INTEGER to BIGINT"]
        """
        before = dict(previous)
        after = dict(self.schema)
        changes = [f"column {n!r} ({t}) was removed" for n, t in previous if n not in after]
        changes += [f"column {n!r} ({t}) was added" for n, t in self.schema if n not in before]
        changes += [
            f"column {n!r} changed type from {before[n]} to {t}"
            for n, t in self.schema
            if n in before and before[n] != t
        ]
        if not changes and [n for n, _ in previous] != [n for n, _ in self.schema]:
            changes.append("columns were reordered")
        return changes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything measured."""
        return {
            "source": self.source,
            "dialect": self.dialect,
            "observed_at": _iso(self.observed_at),
            "row_count": self.row_count,
            "column_count": self.column_count,
            "schema": [{"name": n, "type": t} for n, t in self.schema],
            "schema_fingerprint": self.schema_fingerprint,
            "schema_hash": self.schema_hash,
            "exact_distinct": self.exact_distinct,
            "metrics": list(self.metrics),
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
            "custom": {name: _json_number(v) for name, v in self.custom.items()},
            "elapsed_seconds": round(self.elapsed_seconds, 6),
        }


def _from_epoch(seconds: float | None) -> datetime | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json_number(value: float | None) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return float(value) if math.isfinite(value) else None


def schema_fingerprint(schema: Iterable[tuple[str, str]]) -> str:
    """SHA-256 (hex) of ``name<TAB>type`` lines, in table order.

    >>> schema_fingerprint([("id", "BIGINT")])[:12]
    'd88fca4564d7'
    """
    text = "\n".join(f"{name}\t{type_}" for name, type_ in schema)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _expand_metrics(metrics: Iterable[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return DEFAULT_METRICS
    if isinstance(metrics, str):
        metrics = [metrics]
    chosen: set[str] = set()
    for name in metrics:
        if name in METRIC_GROUPS:
            chosen.update(METRIC_GROUPS[name])
        elif name in DEFAULT_METRICS:
            chosen.add(name)
        else:
            import difflib

            known = [*DEFAULT_METRICS, *METRIC_GROUPS]
            hint = difflib.get_close_matches(str(name), known, n=1)
            raise ConfigError(
                f"unknown metric {name!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + f" Known: {', '.join(known)}"
            )
    return tuple(m for m in DEFAULT_METRICS if m in chosen)


def _check_custom(custom: Mapping[str, str] | None) -> dict[str, str]:
    if not custom:
        return {}
    out: dict[str, str] = {}
    for name, sql in custom.items():
        if not isinstance(name, str) or not _CUSTOM_NAME.match(name):
            raise ConfigError(
                f"custom metric name {name!r} must be letters, digits and _ (not first a digit)"
            )
        if name in DEFAULT_METRICS or name in METRIC_GROUPS:
            raise ConfigError(f"custom metric name {name!r} is a built-in metric; rename it")
        if not isinstance(sql, str) or not sql.strip():
            raise ConfigError(
                f"custom metric {name!r} needs an SQL expression, e.g. "
                "'count(*) filter (where shipped_at > promised_at)'"
            )
        out[name] = sql.strip().rstrip(";")
    return out


# the table a custom metric may read, while it is parsed; {table} in a full query
_TABLE_STAND_IN = "__datacanary_source__"
# functions that reach outside the table (files, other servers, settings) or write
_REFUSED_PREFIXES = (
    "read_", "pg_", "lo_", "dblink", "glob", "sniff_", "parquet_", "query", "getenv",
    "set_config", "nextval", "setval", "txid_", "http_", "json_execute", "load_", "install_",
)  # fmt: skip
_REFUSED_SUFFIXES = ("_scan", "_attach")
_STATEMENTS = frozenset(
    (
        "ALTER", "ATTACH", "CALL", "COPY", "CREATE", "DELETE", "DETACH", "DO", "DROP",
        "EXECUTE", "EXPORT", "GRANT", "IMPORT", "INSERT", "INSTALL", "LOAD", "MERGE", "PRAGMA",
        "REVOKE", "SET", "TRUNCATE", "UPDATE", "USE", "VACUUM",
    )
)  # fmt: skip


def custom_sql_problem(sql: str, dialect: str | None) -> str | None:
    """Why custom metric SQL is refused (a sentence), or None when it is one safe query.

    The expression is parsed as the engine will receive it (``SELECT (<sql>) FROM
    <table>``; a full ``SELECT`` with ``{table}`` as written) with sqlglot, and accepted
    only as exactly one ``SELECT`` that reads nothing but the source's table: no second
    statement, no ``INSERT``/``DROP``/``COPY``/``SET``/``SELECT INTO``, no other table, no
    file or table function (``read_csv``, ``read_text``, ``pg_read_file``...).

    >>> custom_sql_problem("count(*) filter (where amount > 10)", "duckdb") is None
    True
    >>> custom_sql_problem("count(*)) FROM src; DROP TABLE orders; SELECT (1", "postgres")
    'it is 3 SQL statements (SELECT, DROP, SELECT); a custom metric is one expression ...'
    >>> custom_sql_problem("(SELECT max(length(content)) FROM read_text('/etc/passwd'))", "duckdb")
    "it reads read_text(...), not the source's table; a custom metric reads only its table"
    """
    import sqlglot
    from sqlglot import exp

    text = sql.strip().rstrip(";")
    query = (
        text.replace("{table}", _TABLE_STAND_IN)
        if _is_query(text)
        else f"SELECT ({text}) FROM {_TABLE_STAND_IN}"
    )
    read = {"duckdb": "duckdb", "postgres": "postgres", "spark": "spark"}.get(str(dialect))
    try:
        statements = [s for s in sqlglot.parse(query, read=read) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        keyword = text.split(None, 1)[0].upper() if text.split() else ""
        if keyword in _STATEMENTS:
            return f"it is a {keyword} statement; a custom metric is one expression or one SELECT"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"it cannot be parsed as one SQL expression ({first[:120]})"
    if len(statements) != 1:
        kinds = ", ".join(_statement_kind(s) for s in statements)
        return (
            f"it is {len(statements)} SQL statements ({kinds}); a custom metric is one "
            "expression or one SELECT"
        )
    (statement,) = statements
    if not isinstance(statement, exp.Select):
        return f"it is a {_statement_kind(statement)} statement; only SELECT is run"
    writes = tuple(
        getattr(exp, name)
        for name in (
            "Insert", "Update", "Delete", "Drop", "Create", "Alter", "AlterTable", "Command",
            "Copy", "Set", "Pragma", "Merge", "Into", "Use", "Transaction", "Commit",
            "Rollback", "Attach", "Detach", "Install", "LoadData", "Export",
        )
        if hasattr(exp, name)
    )  # fmt: skip
    for node in statement.walk():
        if isinstance(node, writes):
            return f"it contains {_statement_kind(node)}; a custom metric only reads"
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            return (
                f"it reads {_function_name(table.this)}(...), not the source's table; a custom "
                "metric reads only its table"
            )
        name = table.name
        if table.this.quoted and ("/" in name or "." in name):
            return f"it reads the file {name!r}; a custom metric reads only its table"
        if table.db or table.catalog or name.lower() not in {_TABLE_STAND_IN, *ctes}:
            shown = ".".join(p for p in (table.catalog, table.db, name) if p)
            hint = "write {table}" if _is_query(text) else "an expression reads the source"
            return f"it reads the table {shown!r}; a custom metric reads only its table ({hint})"
    for function in statement.find_all(exp.Func):
        name = _function_name(function).lower()
        if name.startswith(_REFUSED_PREFIXES) or name.endswith(_REFUSED_SUFFIXES):
            return f"it calls {name}(), which reaches outside the table; it is not allowed"
    return None


def _statement_kind(node: Any) -> str:
    kind = type(node).__name__.upper()
    return {"ALTERTABLE": "ALTER", "COMMAND": str(getattr(node, "this", "COMMAND")).upper()}.get(
        kind, kind
    )


def _function_name(node: Any) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return str(node.sql_name()).lower()
    return str(getattr(node, "name", "") or type(node).__name__).lower()


def _refuse_unsafe_custom(custom: Mapping[str, str], dialect: str) -> None:
    for name, sql in custom.items():
        problem = custom_sql_problem(sql, dialect)
        if problem is not None:
            raise ConfigError(f"custom metric {name!r} refused: {problem}")


def _is_query(sql: str) -> bool:
    return re.match(r"(?is)^\s*(select|with)\b", sql) is not None


def _to_float(value: Any) -> float | None:
    """An engine's number (int, float, Decimal, bool) as a float; None stays None."""
    return None if value is None else float(value)


class _Plan:
    """The expressions of one profile query, each computed once."""

    def __init__(self) -> None:
        self.expressions: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, sql: str) -> int:
        if sql not in self._index:
            self._index[sql] = len(self.expressions)
            self.expressions.append(sql)
        return self._index[sql]


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if not isinstance(now, datetime):
        raise ConfigError(f"now must be a datetime; got {type(now).__name__}")
    return as_utc(now)  # naive means UTC, as everywhere in datacanary


def profile(
    source: str | os.PathLike[str] | Source | Any,
    columns: Sequence[str] | None = None,
    metrics: Iterable[str] | None = None,
    *,
    custom: Mapping[str, str] | None = None,
    exact_distinct: bool = False,
    now: datetime | None = None,
) -> TableProfile:
    """Measure a table in one query that runs inside its engine; no rows come to Python.

    Parameters
    ----------
    source : str, path-like, Source or frame
        Anything :func:`datacanary.sources.resolve_source` accepts: Parquet/CSV/JSON-lines
        files and globs, ``duckdb:///file.db::table``, ``postgresql://...::schema.table``, a
        pandas/polars/pyarrow frame.
    columns : list of str, optional
        Columns to profile (default all). The schema always covers every column.
    metrics : list of str, optional
        Metric names or groups (default all): ``row_count``, ``column_count``,
        ``schema_hash``, ``null_count``, ``null_fraction``, ``distinct_count``, ``min``,
        ``max``, ``mean``, ``stddev``, ``min_length``, ``max_length``, ``mean_length``,
        ``freshness_seconds``; groups ``nulls``, ``length``, ``schema``, ``all``. Each
        column gets the metrics that apply to its type (see docs/metrics.md).
    custom : mapping of str to str, optional
        Named SQL aggregate expressions in the engine's dialect, computed in the same query
        (``{"late_orders": "count(*) filter (where shipped_at > promised_at)"}``). A full
        ``SELECT ... FROM {table}`` statement runs as its own query, ``{table}`` replaced by
        the source. Each must give one number.
    exact_distinct : bool, default False
        Count distinct values exactly. The default is DuckDB's HyperLogLog
        ``approx_count_distinct`` (a few percent off, constant memory); PostgreSQL has no
        built-in approximation and always counts exactly.
    now : datetime, optional
        The moment freshness is measured against (default: now; naive means UTC).

    Returns
    -------
    TableProfile

    Raises
    ------
    ColumnNotFoundError
        ``columns`` names a column the table does not have.
    ConfigError
        An unknown metric, a bad custom metric name, or custom SQL the engine rejects.
    SourceNotFoundError, InputError
        The source does not exist or cannot be read.

    Notes
    -----
    NaN in floating-point columns counts as null (``null_count``, ``null_fraction``) and is
    left out of every other metric. ±inf is a value: it counts as non-null and shows in
    ``min``/``max`` and ``distinct_count``, but ``mean`` and ``stddev`` are taken over finite
    values only.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"amount": [10.0, 12.0, float("nan"), 11.0],
    ...                       "country": ["DE", "FR", "DE", None]})
    >>> p = profile(frame, custom={"big": "count(*) filter (where amount > 10.5)"})
    >>> p.row_count, p.columns["amount"].null_fraction, p.columns["amount"].mean
    (4, 0.25, 11.0)
    >>> p.columns["country"].distinct_count, p.columns["country"].max_length, p.custom
    (2, 2.0, {'big': 2.0})
    """
    started = time.perf_counter()
    wanted = _expand_metrics(metrics)
    custom_sql = _check_custom(custom)
    observed_at = _utc(now)
    if not isinstance(exact_distinct, bool):
        raise ConfigError(f"exact_distinct must be True or False; got {exact_distinct!r}")
    src = resolve_source(source)
    _refuse_unsafe_custom(custom_sql, src.dialect)
    with src.connect() as conn:
        dialect = get_dialect(conn.dialect)
        schema = conn.schema()
        selected = _select_columns(schema, columns)
        plan = _Plan()
        row_count_at = plan.add("count(*)")
        column_plans = [
            _plan_column(plan, dialect, conn, column, wanted, exact_distinct) for column in selected
        ]
        custom_at = {
            name: plan.add(f"({sql})") for name, sql in custom_sql.items() if not _is_query(sql)
        }
        values = _run(conn, dialect, plan, custom_sql)
        custom_values: dict[str, float | None] = {}
        for name, sql in custom_sql.items():
            if name in custom_at:
                raw = values[custom_at[name]]
            else:
                raw = _run_custom_query(conn, name, sql)
            custom_values[name] = _custom_number(name, raw)
    row_count = int(values[row_count_at])
    profiles = {
        plan_.name: _column_profile(plan_, values, row_count, observed_at) for plan_ in column_plans
    }
    return TableProfile(
        source=src.name,
        row_count=row_count,
        columns=profiles,
        schema=schema,
        schema_fingerprint=schema_fingerprint(schema),
        custom=custom_values,
        metrics=wanted,
        exact_distinct=exact_distinct or not dialect.has_approx_distinct,
        observed_at=observed_at,
        dialect=dialect.name,
        elapsed_seconds=time.perf_counter() - started,
    )


def _select_columns(
    schema: list[tuple[str, str]], columns: Sequence[str] | None
) -> list[tuple[str, str]]:
    if columns is None:
        return list(schema)
    if isinstance(columns, str):
        columns = [columns]
    types = dict(schema)
    missing = [c for c in columns if c not in types]
    if missing:
        raise ColumnNotFoundError.from_missing(missing, [n for n, _ in schema])
    unique = dict.fromkeys(columns)  # keeps the order, drops repeats
    return [(c, types[c]) for c in unique]


@dataclass(frozen=True)
class _ColumnPlan:
    name: str
    type: str
    kind: str
    wanted: frozenset[str]  # the requested metrics that apply to this column
    slots: dict[str, int]  # expression key -> position in the query's result row


def _plan_column(
    plan: _Plan,
    dialect: Dialect,
    conn: SourceConnection,
    column_type: tuple[str, str],
    wanted: tuple[str, ...],
    exact: bool,
) -> _ColumnPlan:
    name, type_ = column_type
    relation = conn.relation
    grouped_distinct = dialect.group_exact_distinct and conn.columnar
    kind = dialect.column_kind(type_)
    todo = frozenset(m for m in wanted if m in APPLICABLE[kind])
    column = dialect.quote(name)
    value = dialect.value(column, kind)
    slots: dict[str, int] = {}
    if todo & {"null_count", "null_fraction"}:
        slots["non_null"] = plan.add(dialect.count(value))
    if "distinct_count" in todo:
        if exact and grouped_distinct:
            slots["distinct_count"] = plan.add(dialect.distinct_by_group(value, relation))
        else:
            slots["distinct_count"] = plan.add(dialect.distinct(value, exact=exact))
    if kind == "temporal":
        if "min" in todo:
            slots["min"] = plan.add(dialect.epoch(f"min({column})", type_))
        if todo & {"max", "freshness_seconds"}:
            slots["max"] = plan.add(dialect.epoch(f"max({column})", type_))
    else:
        for metric in ("min", "max"):
            if metric in todo:
                slots[metric] = plan.add(f"{metric}({value})")
    if "mean" in todo:
        slots["mean"] = plan.add(dialect.aggregate("avg", value, kind))
    if "stddev" in todo:
        slots["stddev"] = plan.add(dialect.aggregate("stddev_samp", value, kind))
    length = dialect.length(column)
    for metric, function in (("min_length", "min"), ("max_length", "max"), ("mean_length", "avg")):
        if metric in todo:
            slots[metric] = plan.add(f"{function}({length})")
    return _ColumnPlan(name, type_, kind, todo, slots)


def _column_profile(
    column: _ColumnPlan, values: list[Any], row_count: int, observed_at: datetime
) -> ColumnProfile:
    slots, want = column.slots, column.wanted

    def get(key: str) -> float | None:
        return _to_float(values[slots[key]]) if key in slots else None

    fields: dict[str, Any] = {}
    if "non_null" in slots:
        nulls = row_count - int(values[slots["non_null"]])
        if "null_count" in want:
            fields["null_count"] = nulls
        if "null_fraction" in want:
            fields["null_fraction"] = nulls / row_count if row_count else None
    if "distinct_count" in slots:
        fields["distinct_count"] = int(values[slots["distinct_count"]] or 0)
    for metric in ("min", "max", "mean", "stddev", "min_length", "max_length", "mean_length"):
        if metric in want:
            fields[metric] = get(metric)
    if "freshness_seconds" in want:
        latest = get("max")
        fields["freshness_seconds"] = (
            observed_at.timestamp() - latest
            if latest is not None and math.isfinite(latest)
            else None
        )
    return ColumnProfile(name=column.name, type=column.type, kind=column.kind, **fields)


def _run(
    conn: SourceConnection, dialect: Dialect, plan: _Plan, custom: Mapping[str, str]
) -> list[Any]:
    limit = dialect.max_select_items or len(plan.expressions)
    values: list[Any] = []
    for start in range(0, len(plan.expressions), limit):
        chunk = plan.expressions[start : start + limit]
        sql = "SELECT " + ", ".join(chunk) + f" FROM {conn.relation}"
        try:
            rows = conn.fetch(sql)
        except InputError as exc:
            _blame_custom(conn, custom, exc)
            raise
        values.extend(rows[0])
    return values


def _blame_custom(conn: SourceConnection, custom: Mapping[str, str], error: InputError) -> None:
    """When the profile query fails, name the custom metric that broke it (if one did)."""
    for name, sql in custom.items():
        if _is_query(sql):
            continue
        try:
            conn.fetch(f"SELECT ({sql}) FROM {conn.relation} WHERE 1 = 0")
        except InputError as exc:
            reason = str(exc).split(": ", 1)[-1]
            raise ConfigError(
                f"custom metric {name!r} failed in {conn.dialect}: {reason}; fix its SQL "
                f"(it runs as SELECT <expression> FROM the table)"
            ) from None


def _run_custom_query(conn: SourceConnection, name: str, sql: str) -> Any:
    query = sql.replace("{table}", conn.relation)
    try:
        rows = conn.fetch(query)
    except InputError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise ConfigError(
            f"custom metric {name!r} failed in {conn.dialect}: {reason}; fix its SQL "
            "(write {table} where the source's table belongs)"
        ) from None
    if len(rows) != 1 or len(rows[0]) != 1:
        raise ConfigError(
            f"custom metric {name!r} returned {len(rows)} rows; it must return one row with "
            "one number"
        )
    return rows[0][0]


def _custom_number(name: str, raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        if isinstance(raw, (str, bytes)):
            raise TypeError("text is not a number")
        return _to_float(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"custom metric {name!r} returned {raw!r} ({type(raw).__name__}); it must return "
            "a number (or a boolean)"
        ) from None
