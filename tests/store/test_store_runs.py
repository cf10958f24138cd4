"""A run is (dataset, at, partition): retries replace, old stores migrate, non-stores refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from datacanary.errors import ConfigError, InputError
from datacanary.store import SCHEMA_VERSION, Store, open_store, store_location
from datacanary.store._duckdb import _V1 as DUCKDB_V1
from datacanary.store._postgres import _V1 as POSTGRES_V1

T0 = datetime(2013, 8, 28, 6, tzinfo=timezone.utc)


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return str(tmp_path / "history.duckdb")
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


def test_a_retry_at_the_same_instant_replaces_the_run(store: Store) -> None:
    for day in range(5):
        store.record_run(
            "orders", [("row_count", None, 1000.0 + day)], observed_at=T0 + timedelta(days=day)
        )
    last = T0 + timedelta(days=4)
    first = store.runs("orders")[-1].run_id
    again = store.record_run(
        "orders", [("row_count", None, 7.0), ("x", None, 1.0)], observed_at=last
    )
    assert store.last_replaced == first and again != first
    assert [p.value for p in store.history("orders", "row_count")] == [1000, 1001, 1002, 1003, 7]
    assert len(store.runs("orders")) == 5
    assert store.series("orders") == [("row_count", None), ("x", None)]
    # a retry with fewer metrics leaves none of the replaced run's behind
    store.record_run("orders", [("row_count", None, 1004.0)], observed_at=last)
    assert store.series("orders") == [("row_count", None)]
    assert [p.value for p in store.history("orders", "row_count")][-1] == 1004.0
    # another dataset at the same instant is another run
    store.record_run("users", [("row_count", None, 1.0)], observed_at=last)
    assert store.last_replaced is None and len(store.runs("orders")) == 5


def test_partitions_are_runs_of_their_own(store: Store) -> None:
    for partition in ("2013-08-27", "2013-08-28", "2013-08-28"):
        store.record_run("orders", [("row_count", None, 5.0)], observed_at=T0, partition=partition)
    runs = store.runs("orders")
    assert sorted(r.partition for r in runs if r.partition) == ["2013-08-27", "2013-08-28"]
    store.record_run("orders", [("row_count", None, 6.0)], observed_at=T0)  # no partition
    assert len(store.runs("orders")) == 3


def test_an_explicit_run_id_may_repeat_only_for_its_own_run(store: Store) -> None:
    store.record_run("orders", [("row_count", None, 1.0)], run_id="dagster-run-1", observed_at=T0)
    store.record_run("orders", [("row_count", None, 2.0)], run_id="dagster-run-1", observed_at=T0)
    assert [
        (r.run_id, p.value)
        for r, p in zip(store.runs("orders"), store.history("orders", "row_count"), strict=True)
    ] == [("dagster-run-1", 2.0)]
    with pytest.raises(InputError, match="run id 'dagster-run-1' is already recorded"):
        store.record_run(
            "orders",
            [("row_count", None, 3.0)],
            run_id="dagster-run-1",
            observed_at=T0 + timedelta(days=1),
        )
    assert [p.value for p in store.history("orders", "row_count")] == [2.0]


def test_a_failed_retry_keeps_the_run_it_was_to_replace(store: Store) -> None:
    store.record_run("orders", [("row_count", None, 1.0)], observed_at=T0)
    with pytest.raises(InputError, match="must be a number"):
        store.record_run("orders", [("row_count", None, 2.0), ("bad", None, "x")], observed_at=T0)
    assert [p.value for p in store.history("orders", "row_count")] == [1.0]


def _write_v1_store(store_url: str, rows: list[tuple[str, datetime, datetime, float]]) -> None:
    """A store exactly as datacanary with schema 1 wrote it, a retry doubled in it."""
    if store_url.startswith("postgresql"):
        import psycopg

        con: Any = psycopg.connect(store_url, autocommit=True)
        mark = "%s"
        statements = POSTGRES_V1
    else:
        import duckdb

        con = duckdb.connect(store_url)
        mark = "?"
        statements = DUCKDB_V1
    con.execute(
        "CREATE TABLE datacanary_schema_version "
        "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    con.execute(f"INSERT INTO datacanary_schema_version VALUES (1, {mark})", [datetime(2024, 1, 1)])
    for statement in statements:
        con.execute(statement)
    for run_id, at, recorded, value in rows:
        if not store_url.startswith("postgresql"):
            at, recorded = at.replace(tzinfo=None), recorded.replace(tzinfo=None)
        con.execute(
            f"INSERT INTO datacanary_runs VALUES ({mark}, 'orders', {mark}, {mark}, '{{}}')",
            [run_id, at, recorded],
        )
        con.execute(
            "INSERT INTO datacanary_observations VALUES "
            f"({mark}, 'orders', 'row_count', '', {mark}, {mark})",
            [run_id, value, at],
        )
    con.close()


def test_a_schema_1_store_migrates_and_its_doubled_runs_become_one(store_url: str) -> None:
    day = timedelta(days=1)
    _write_v1_store(
        store_url,
        [
            ("a", T0, T0, 1000.0),
            ("b", T0 + day, T0 + day, 1010.0),
            ("b-retry", T0 + day, T0 + day + timedelta(minutes=5), 1011.0),  # the old bug
            ("c", T0 + 2 * day, T0 + 2 * day, 990.0),
        ],
    )
    if not store_url.startswith("postgresql"):  # an old file is readable before migration
        with open_store(store_url, read_only=True) as old:
            assert old.schema_version == 1
            assert [r.partition for r in old.runs("orders")] == [None] * 4
    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        assert [r.run_id for r in store.runs("orders")] == ["a", "b-retry", "c"]
        assert [p.value for p in store.history("orders", "row_count")] == [1000, 1011, 990]
        store.record_run("orders", [("row_count", None, 995.0)], observed_at=T0 + 2 * day)
        assert [p.value for p in store.history("orders", "row_count")] == [1000, 1011, 995]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("orders.csv", r"history store orders\.csv is a \.csv data file, not a store"),
        ("data/orders.parquet", r"is a \.parquet data file, not a store"),
        ("host=db.internal dbname=wh password=X", r"looks like a libpq keyword string"),
        ("dbname=wh user=dq", r"looks like a libpq keyword string"),
        (":memory:", r"an in-memory history store forgets every run"),
        ("sqlite:///x.db", r"unsupported store URL sqlite://"),
    ],
)
def test_what_is_not_a_store_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, location: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message) as info:
        open_store(location)
    text = str(info.value)
    assert "\n" not in text and "password=X" not in text
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_an_existing_data_file_is_never_opened_as_a_store(tmp_path: Path) -> None:
    table = tmp_path / "orders.duckdb"  # a misleading name: Parquet inside
    pd.DataFrame({"x": [1, 2]}).to_parquet(table)
    before = table.read_bytes()
    with pytest.raises(ConfigError, match=r"orders\.duckdb is not a DuckDB database"):
        open_store(table)
    assert table.read_bytes() == before
    assert store_location("postgres://u@h/db") == "postgresql://u@h/db"
