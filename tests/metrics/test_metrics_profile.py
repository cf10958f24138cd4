from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from datacanary.errors import ColumnNotFoundError, ConfigError
from datacanary.metrics import (
    COLUMN_METRICS,
    DEFAULT_METRICS,
    Observation,
    TableProfile,
    profile,
)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1000
    amount = rng.normal(100, 15, n)
    amount[:50] = np.nan
    amount[50] = np.inf
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),
            "amount": amount,
            "country": rng.choice(["DE", "FR", "USA"], n).astype(object),
            "shipped": pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 86400, n), "s"),
            "paid": rng.random(n) < 0.25,
            "empty": pd.Series([None] * n, dtype="float64"),
        }
    )


def test_profile_matches_numpy_on_a_parquet_file(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.loc[3, "country"] = None
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    p = profile(path, now=NOW, exact_distinct=True)
    assert p.row_count == 1000 and p.column_count == 6
    assert p.schema[:3] == [("id", "BIGINT"), ("amount", "DOUBLE"), ("country", "VARCHAR")]

    amount = p.columns["amount"]
    finite = frame["amount"][np.isfinite(frame["amount"])]
    assert amount.null_count == 50 and amount.null_fraction == 0.05  # NaN counts as null
    assert amount.max == math.inf  # inf is a value...
    assert amount.mean == pytest.approx(finite.mean())  # ...but not part of the mean
    assert amount.stddev == pytest.approx(finite.std())
    assert amount.min == pytest.approx(finite.min())
    assert amount.distinct_count == frame["amount"].nunique()

    ids = p.columns["id"]
    assert (ids.min, ids.max, ids.distinct_count, ids.null_count) == (0, 999, 1000, 0)
    assert ids.min_length is None  # length metrics apply to text only

    country = p.columns["country"]
    assert (country.null_count, country.distinct_count) == (1, 3)
    assert (country.min_length, country.max_length) == (2, 3)
    assert country.mean_length == pytest.approx(frame["country"].dropna().str.len().mean())
    assert country.mean is None and country.min is None

    shipped = p.columns["shipped"]
    latest = frame["shipped"].max().tz_localize("UTC")
    assert shipped.latest == latest.to_pydatetime()
    assert shipped.freshness_seconds == pytest.approx((NOW - latest).total_seconds())
    assert shipped.earliest == frame["shipped"].min().tz_localize("UTC").to_pydatetime()

    assert p.columns["paid"].mean == pytest.approx(frame["paid"].mean())  # share of True
    empty = p.columns["empty"]  # all null: counts work, the rest is undefined
    assert (empty.null_count, empty.null_fraction, empty.distinct_count) == (1000, 1.0, 0)
    assert empty.mean is None and empty.min is None


def test_approximate_distinct_is_close_and_exact_on_request() -> None:
    frame = pd.DataFrame({"user": np.arange(200_000) % 50_000})
    approx = profile(frame, metrics=["distinct_count"]).columns["user"].distinct_count
    exact = profile(frame, metrics=["distinct_count"], exact_distinct=True)
    assert exact.columns["user"].distinct_count == 50_000 and exact.exact_distinct
    assert approx is not None and abs(approx - 50_000) / 50_000 < 0.07


def test_text_only_and_empty_tables() -> None:
    text = profile(pd.DataFrame({"a": ["x", "yy", None], "b": ["", "z", "z"]}))
    assert text.columns["b"].min_length == 0 and text.columns["a"].null_count == 1
    empty = profile(pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    assert empty.row_count == 0
    assert empty.columns["a"].null_fraction is None  # 0/0 is undefined, not 0
    assert empty.observations()[0] == Observation("row_count", None, 0.0)
    measured = {(o.metric, o.column) for o in empty.observations()}
    assert ("null_count", "a") in measured  # 0 nulls is a fact...
    assert ("null_fraction", "a") not in measured and ("mean", "a") not in measured  # ...0/0 not


def test_columns_and_metrics_select_what_is_measured(frame: pd.DataFrame) -> None:
    p = profile(frame, columns=["amount", "country"], metrics=["nulls", "length"], now=NOW)
    assert list(p.columns) == ["amount", "country"]
    assert p.column_count == 6  # the schema still covers the whole table
    assert p.columns["amount"].mean is None and p.columns["amount"].null_count == 50
    assert {o.metric for o in p.observations()} == {
        "null_count",
        "null_fraction",
        "min_length",
        "max_length",
        "mean_length",
    }


def test_unknown_column_and_metric_name_the_fix(frame: pd.DataFrame) -> None:
    with pytest.raises(
        ColumnNotFoundError, match="column 'amont' not found; did you mean 'amount'"
    ):
        profile(frame, columns=["amont"])
    with pytest.raises(
        ConfigError, match="unknown metric 'null_frac'; did you mean 'null_fraction'"
    ):
        profile(frame, metrics=["null_frac"])


def test_custom_metrics_run_in_the_same_query_or_as_their_own(tmp_path: Path) -> None:
    orders = pd.DataFrame(
        {
            "shipped_at": pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-05"]),
            "promised_at": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-02"]),
        }
    )
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path)
    p = profile(
        path,
        metrics=["row_count"],
        custom={
            "late_orders": "count(*) filter (where shipped_at > promised_at)",
            "any_late": "bool_or(shipped_at > promised_at)",
            "late_share": "SELECT avg((shipped_at > promised_at)::int) FROM {table}",
        },
    )
    assert p.custom == {"late_orders": 2.0, "any_late": 1.0, "late_share": pytest.approx(2 / 3)}
    assert Observation("late_orders", None, 2.0) in p.observations()


def test_custom_metric_errors_name_the_metric(frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"custom metric 'broken' failed in duckdb: .*amout"):
        profile(frame, custom={"fine": "count(*)", "broken": "sum(amout)"})
    with pytest.raises(ConfigError, match=r"custom metric 'word' returned 'DE' \(str\)"):
        profile(frame, custom={"word": "min(country)"})
    with pytest.raises(ConfigError, match="custom metric name 'row_count' is a built-in"):
        profile(frame, custom={"row_count": "count(*)"})
    with pytest.raises(ConfigError, match="must be letters, digits and _"):
        profile(frame, custom={"late orders": "count(*)"})


def test_schema_fingerprint_catches_retyped_added_and_removed_columns(frame: pd.DataFrame) -> None:
    base = profile(frame, metrics=["schema"])
    same = profile(frame.copy(), metrics=["schema"])
    retyped = profile(frame.assign(id=frame["id"].astype("int32")), metrics=["schema"])
    added = profile(frame.assign(extra=1), metrics=["schema"])
    assert base.schema_fingerprint == same.schema_fingerprint
    assert len({base.schema_hash, retyped.schema_hash, added.schema_hash}) == 3
    assert retyped.schema_changes(base.schema) == [
        "column 'id' changed type from BIGINT to INTEGER"
    ]
    assert added.schema_changes(base.schema) == ["column 'extra' (BIGINT) was added"]
    assert base.schema_changes(added.schema) == ["column 'extra' (BIGINT) was removed"]
    observed = {o.metric: o.value for o in base.observations()}
    assert observed == {"column_count": 6.0, "schema_hash": float(base.schema_hash)}
    assert observed["schema_hash"] == base.schema_hash  # exact as a float


def test_observations_are_flat_numbers_and_to_dict_is_json(frame: pd.DataFrame) -> None:
    p = profile(frame, now=NOW)
    observations = p.observations()
    assert observations[:3] == [
        Observation("row_count", None, 1000.0),
        Observation("column_count", None, 6.0),
        Observation("schema_hash", None, float(p.schema_hash)),
    ]
    assert all(isinstance(o.value, float) and not math.isnan(o.value) for o in observations)
    keys = [(o.metric, o.column) for o in observations]
    assert len(keys) == len(set(keys))
    assert ("mean", "empty") not in keys  # undefined values are left out
    data = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert data["columns"]["amount"]["max"] is None  # inf is not JSON
    assert data["columns"]["shipped"]["latest"].startswith("2024-02-0")
    assert set(COLUMN_METRICS) <= set(data["columns"]["id"])
    assert data["metrics"] == list(DEFAULT_METRICS)


def test_freshness_uses_now_and_naive_timestamps_are_utc() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-03-01 11:00"])})
    p = profile(frame, metrics=["freshness_seconds"], now=NOW)
    assert p.columns["t"].freshness_seconds == 3600.0
    later = profile(frame, metrics=["freshness_seconds"], now=NOW + timedelta(days=1))
    assert later.columns["t"].freshness_seconds == 3600.0 + 86400


def test_duckdb_database_and_polars_frames(tmp_path: Path) -> None:
    import polars as pl

    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE orders AS SELECT range AS id, range % 7 AS k FROM range(100)")
    p = profile(f"duckdb:///{db}::orders", exact_distinct=True)
    assert (p.row_count, p.columns["k"].distinct_count, p.columns["id"].max) == (100, 7, 99.0)
    q = profile(pl.DataFrame({"k": [1, 2, None]}))
    assert q.columns["k"].null_count == 1 and q.source == "polars frame"


def _load_postgres(url: str, frame: pd.DataFrame) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(
            "CREATE TABLE orders (id bigint, amount double precision, country text, "
            "shipped timestamp, paid boolean, empty double precision, price numeric(8,2))"
        )
        with con.cursor().copy(
            "COPY orders (id, amount, country, shipped, paid, empty, price) FROM STDIN"
        ) as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(
                    [
                        int(row.id),
                        float(row.amount),
                        row.country,
                        row.shipped.to_pydatetime(),
                        bool(row.paid),
                        None,
                        round(float(row.id) / 7, 2),
                    ]
                )


def test_postgres_profile_runs_in_postgres_and_agrees_with_duckdb(
    fresh_postgres_url: str, frame: pd.DataFrame
) -> None:
    _load_postgres(fresh_postgres_url, frame)
    pg = profile(f"{fresh_postgres_url}::public.orders", now=NOW)
    local = profile(frame, now=NOW, exact_distinct=True)
    assert pg.dialect == "postgres" and pg.exact_distinct  # no approximate count in PostgreSQL
    assert pg.row_count == local.row_count
    for column in ("id", "amount", "country", "shipped", "paid", "empty"):
        for metric in COLUMN_METRICS:
            a, b = pg.columns[column].metric(metric), local.columns[column].metric(metric)
            assert (a is None) == (b is None), (column, metric)
            if a is not None and b is not None:
                assert a == pytest.approx(b, rel=1e-9), (column, metric)
    price = pg.columns["price"]  # numeric is measured like a float
    assert price.kind == "float" and price.max == pytest.approx(999 / 7, abs=0.01)
    custom = profile(
        f"{fresh_postgres_url}::orders",
        metrics=["row_count"],
        custom={"big": "count(*) FILTER (WHERE amount > 120)"},
    )
    # custom SQL keeps the engine's own semantics: PostgreSQL sorts NaN above every number
    expected = (frame["amount"] > 120) | frame["amount"].isna()
    assert custom.custom["big"] == float(expected.sum())


def test_postgres_wide_tables_are_split_under_the_select_limit(fresh_postgres_url: str) -> None:
    import psycopg

    columns = ", ".join(f"c{i} double precision" for i in range(300))
    with psycopg.connect(fresh_postgres_url, autocommit=True) as con:
        con.execute(f"CREATE TABLE wide ({columns})")
        con.execute(f"INSERT INTO wide VALUES ({', '.join(str(i) for i in range(300))})")
    p = profile(f"{fresh_postgres_url}::wide")  # 1,801 expressions > 1,664 allowed per SELECT
    assert p.columns["c299"].max == 299.0 and p.row_count == 1


def test_profile_of_a_frame_has_its_numbers_and_an_aware_time() -> None:
    before = datetime.now(timezone.utc)
    p = profile(pd.DataFrame({"a": [1.0, 2.0, None]}))
    assert isinstance(p, TableProfile)
    assert p.row_count == 3 and p.columns["a"].null_count == 1
    assert p.columns["a"].mean == pytest.approx(1.5) and p.columns["a"].max == 2.0
    assert before <= p.observed_at <= datetime.now(timezone.utc)  # UTC-aware, this run's


@pytest.mark.parametrize("module", ["datacanary.sources", "datacanary.metrics", "datacanary.store"])
def test_public_names_resolve(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert len(set(mod.__all__)) == len(mod.__all__)  # ruff (RUF022) keeps the order
    for name in mod.__all__:
        value = getattr(mod, name)
        if isinstance(value, type) or callable(value):
            assert value.__name__ == name, name  # the object it names, not another
        else:  # a constant (metric names, a default path): set, not empty
            assert value, name
