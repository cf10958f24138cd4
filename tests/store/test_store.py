from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from datacanary.errors import ConfigError, InputError, StoreError, StoreLockedError
from datacanary.metrics import profile
from datacanary.store import (
    SCHEMA_VERSION,
    DuckDBStore,
    HistoryPoint,
    Observation,
    PostgresStore,
    Store,
    open_store,
)

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return str(tmp_path / "history.duckdb")
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


def _child(code: str) -> subprocess.Popen[str]:
    """A real second process running datacanary code."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_record_and_read_history(store: Store) -> None:
    for day in range(5):
        store.record_run(
            "orders",
            [
                Observation("row_count", None, 1000.0 + day),
                ("null_fraction", "email", 0.01 * day),
            ],
            observed_at=T0 + timedelta(days=day),
            run_id=f"run-{day}",
        )
    history = store.history("orders", "row_count")
    assert [p.value for p in history] == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]
    assert history[0] == HistoryPoint(T0, 1000.0, "run-0")  # aware UTC datetimes
    newest = store.history("orders", "row_count", limit=2)
    assert [p.run_id for p in newest] == ["run-3", "run-4"]  # the newest two, oldest first
    before = store.history("orders", "null_fraction", "email", before=T0 + timedelta(days=2))
    assert [p.value for p in before] == [0.0, 0.01]  # strictly before
    assert store.history("orders", "null_fraction") == []  # table-level series is separate
    assert store.datasets() == ["orders"]
    assert store.series("orders") == [("null_fraction", "email"), ("row_count", None)]
    assert store.schema_version == SCHEMA_VERSION


def test_record_run_defaults_and_tags(store: Store) -> None:
    run = store.record_run("a", [("row_count", None, 3)], tags={"git": "abc", "n": 1})
    assert run[:8].isdigit() and run[8] == "T"  # time-sortable
    [record] = store.runs("a")
    assert record.run_id == run and record.tags == {"git": "abc", "n": 1}
    assert abs((record.observed_at - datetime.now(timezone.utc)).total_seconds()) < 60
    naive = datetime(2024, 1, 1, 12, 0)  # naive means UTC, as everywhere in datacanary
    store.record_run("a", [("row_count", None, 4)], observed_at=naive)
    assert store.history("a", "row_count")[0].observed_at == naive.replace(tzinfo=timezone.utc)
    assert store.history("a", "row_count", before=naive) == []


def test_record_run_accepts_a_table_profile(store: Store) -> None:
    p = profile(pd.DataFrame({"x": [1.0, None]}))
    store.record_run("frame", p)
    assert store.history("frame", "null_fraction", "x")[0].value == 0.5
    assert ("schema_hash", None) in store.series("frame")
    assert store.history("frame", "schema_hash")[0].value == p.schema_hash


def test_a_failing_run_leaves_nothing(store: Store) -> None:
    store.record_run("orders", [("row_count", None, 1.0)], run_id="good")

    def observations() -> Iterator[tuple[str, str | None, object]]:
        for i in range(1200):  # several INSERT chunks are written before the bad value
            yield ("metric", f"c{i}", float(i))
        yield ("broken", None, "not a number")

    with pytest.raises(
        InputError, match="the value of broken must be a number; got 'not a number'"
    ):
        store.record_run("orders", observations(), run_id="bad")
    with pytest.raises(InputError, match="metric 'm' of column 'c' appears twice in one run"):
        store.record_run("orders", [("m", "c", 1), ("m", "c", 2)])
    with pytest.raises(InputError, match="run id 'good' is already recorded"):
        store.record_run("orders", [("row_count", None, 2.0)], run_id="good")
    assert [r.run_id for r in store.runs("orders")] == ["good"]
    assert store.series("orders") == [("row_count", None)]


def test_values_may_be_nan_and_inf(store: Store) -> None:
    store.record_run("d", [("a", None, float("nan")), ("b", None, float("inf"))])
    assert str(store.history("d", "a")[0].value) == "nan"
    assert store.history("d", "b")[0].value == float("inf")


def test_bad_arguments_are_named(store: Store) -> None:
    with pytest.raises(InputError, match="dataset must be a non-empty string; got ''"):
        store.record_run("", [])
    with pytest.raises(InputError, match="tags must be JSON values"):
        store.record_run("d", [], tags={"when": object()})
    with pytest.raises(ConfigError, match="limit must be a positive integer or None; got 0"):
        store.history("d", "m", limit=0)
    with pytest.raises(InputError, match=r"must be \(metric, column, value\)"):
        store.record_run("d", [("only-two", 1)])


def test_crash_mid_run_leaves_none_of_it(store_url: str) -> None:
    with open_store(store_url) as store:
        store.record_run("orders", [("row_count", None, 1.0)], run_id="before")
    child = _child(
        f"""
        import os
        from datacanary.store import open_store
        store = open_store({store_url!r})
        def observations():
            for i in range(1500):
                yield ("metric", f"c{{i}}", float(i))
            os._exit(3)  # the process dies with 1,000 rows written and no commit
        store.record_run("orders", observations(), run_id="crashed")
        """
    )
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 3, stderr
    with open_store(store_url) as store:  # the file opens: not corrupt
        assert [r.run_id for r in store.runs("orders")] == ["before"]
        assert store.series("orders") == [("row_count", None)]
        store.record_run("orders", [("row_count", None, 2.0)])  # and takes new runs
        assert len(store.history("orders", "row_count")) == 2


def _raw_holder(path: Path, seconds: float | None = None) -> subprocess.Popen[str]:
    """A second process that holds the DuckDB file open (as a long writer would)."""
    wait = f"time.sleep({seconds})" if seconds is not None else "sys.stdin.readline()"
    return _child(
        f"""
        import sys, time
        import duckdb
        con = duckdb.connect({str(path)!r})
        print("ready", flush=True)
        {wait}
        con.close()
        """
    )


def test_duckdb_store_waits_for_a_held_file_then_says_so(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    with open_store(path) as store:
        store.record_run("orders", [("row_count", None, 1.0)])
    holder = _raw_holder(path)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "ready"
    started = time.monotonic()
    with pytest.raises(StoreLockedError) as info:
        open_store(path, lock_timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 10
    message = str(info.value)
    assert re.match(
        rf"history store {re.escape(str(path))} stayed locked by another process \(PID \d+\) "
        r"for 0\.5 s, probably a check still running; wait for it to finish, wait longer",
        message,
    )
    assert "--store-wait or DATACANARY_STORE_WAIT" in message and "\n" not in message
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(timeout=60) == 0
    with open_store(path) as store:  # released, intact
        assert [p.value for p in store.history("orders", "row_count")] == [1.0]


def test_duckdb_lock_timeout_waits_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    holder = _raw_holder(path, seconds=1.0)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    started = time.monotonic()
    with open_store(path, lock_timeout=30) as store:
        store.record_run("orders", [("row_count", None, 1.0)])
    assert 0.2 < time.monotonic() - started < 30  # it waited, then got in
    assert holder.wait(timeout=60) == 0


def test_store_wait_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATACANARY_STORE_WAIT", "0.25")
    with open_store(tmp_path / "h.duckdb") as store:
        assert isinstance(store, DuckDBStore) and store.lock_timeout == 0.25
    monkeypatch.setenv("DATACANARY_STORE_WAIT", "soon")
    with pytest.raises(ConfigError, match="DATACANARY_STORE_WAIT must be a number of seconds"):
        open_store(tmp_path / "h.duckdb")


def test_an_open_duckdb_store_does_not_hold_the_file(tmp_path: Path) -> None:
    """A check that is profiling (store open, not writing) lets others record meanwhile."""
    path = tmp_path / "history.duckdb"
    holder = _child(
        f"""
        import sys
        from datacanary.store import open_store
        store = open_store({str(path)!r})
        store.record_run("orders", [("row_count", None, 1.0)])
        print("ready", flush=True)
        sys.stdin.readline()  # still open, between operations
        store.record_run("orders", [("row_count", None, 3.0)])
        store.close()
        """
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "ready"
    with open_store(path, lock_timeout=0) as store:  # no wait needed
        store.record_run("orders", [("row_count", None, 2.0)])
    with open_store(path, read_only=True, lock_timeout=0) as reader:
        assert [p.value for p in reader.history("orders", "row_count")] == [1.0, 2.0]
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(timeout=60) == 0
    with open_store(path) as store:
        assert [p.value for p in store.history("orders", "row_count")] == [1.0, 2.0, 3.0]


def test_postgres_concurrent_runs_both_land(fresh_postgres_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = """
        import os, time
        from datacanary.store import open_store
        while not os.path.exists({go!r}):
            time.sleep(0.01)
        store = open_store({url!r})  # both migrate a fresh database at once
        def observations():
            for i in range(2000):
                if i == 1000:
                    time.sleep(0.3)  # keep the transactions open together
                yield ("metric", f"c{{i}}", float(i))
        store.record_run("orders", observations(), run_id={run!r})
        store.close()
        """
    children = [
        _child(textwrap.dedent(code).format(go=str(go), url=fresh_postgres_url, run=f"run-{i}"))
        for i in range(2)
    ]
    go.touch()
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
    with open_store(fresh_postgres_url) as store:
        assert sorted(r.run_id for r in store.runs("orders")) == ["run-0", "run-1"]
        assert len(store.history("orders", "metric", "c1999")) == 2


def test_migrations_apply_once_and_refuse_newer_stores(store_url: str) -> None:
    with open_store(store_url) as store:
        store.record_run("orders", [("row_count", None, 1.0)])
    backend = PostgresStore if store_url.startswith("postgresql") else DuckDBStore

    class NextVersion(backend):  # type: ignore[valid-type,misc]
        migrations = (
            *backend.migrations,
            (3, ["ALTER TABLE datacanary_runs ADD COLUMN pipeline VARCHAR"]),
        )

    for _ in range(2):  # the second open finds version 3 and changes nothing
        with NextVersion(store_url) as upgraded:
            assert upgraded.schema_version == 3
            assert [p.value for p in upgraded.history("orders", "row_count")] == [1.0]
    with pytest.raises(
        StoreError,
        match=r"has schema version 3, newer than this datacanary understands \(2\); upgrade",
    ):
        open_store(store_url)


def test_default_store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        store.record_run("d", [("row_count", None, 1.0)])
    assert (tmp_path / ".datacanary" / "history.duckdb").is_file()
    with open_store("duckdb:///.datacanary/history.duckdb", read_only=True) as again:
        assert again.datasets() == ["d"]


def test_store_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no history store at .*nope\.duckdb; record a run first"):
        open_store(tmp_path / "nope.duckdb", read_only=True)
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"\0" * 8 + os.urandom(8184))
    with pytest.raises(
        ConfigError, match=r"history store .*garbage.duckdb is not a DuckDB"
    ) as info:
        open_store(garbage)
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match=r"PostgreSQL history store at postgresql://u:\*\*\*@"):
        open_store("postgresql://u:pw@127.0.0.1:1/db")
    with pytest.raises(ConfigError, match="unsupported store URL sqlite://"):
        open_store("sqlite:///x.db")
