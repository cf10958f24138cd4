"""Monitors under faults: a failing dataset, retries, simultaneous runs, bad stores, bad files.

Real DuckDB files, a real PostgreSQL server (tests/conftest.py), real processes and a real
HTTP receiver on 127.0.0.1 (pytest-httpserver).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from datacanary.checks import load_monitor, replay_history, run_monitor
from datacanary.cli import app
from datacanary.errors import ConfigError
from datacanary.store import open_store

pytest.importorskip("pytest_httpserver")

START = datetime(2013, 8, 18, 6, tzinfo=timezone.utc)
AT = START + timedelta(days=10)  # the run under test: 2013-08-28T06:00 UTC


def orders(rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rows + int(rng.integers(-10, 11))
    return pd.DataFrame(
        {
            "order_id": np.arange(290_000_000, 290_000_000 + n),
            "amount": rng.normal(50, 5, n).round(2),
            "quantity": rng.integers(1, 5, n),
            "country": rng.choice(["DE", "FR", None], n),
        }
    )


def monitor(folder: Path, datasets: str, alerts: str = "") -> Path:
    path = folder / "monitor.yml"
    path.write_text(
        "datasets:\n" + textwrap.indent(textwrap.dedent(datasets), "  ") + alerts,
        encoding="utf-8",
    )
    return path


ORDERS = """\
- name: orders
  source: orders.parquet
  metrics: [row_count]
  detector: {name: zscore, min_history: 5}
"""


def seed_history(folder: Path, config: Path, store: str, days: int = 10) -> None:
    """``days`` normal daily runs before AT, then a partial load staged for AT."""
    loaded = load_monitor(config)
    for day in range(days):
        orders(seed=day).to_parquet(folder / "orders.parquet", index=False)
        run_monitor(loaded, store=store, at=START + timedelta(days=day))
    orders(rows=300, seed=99).to_parquet(folder / "orders.parquet", index=False)


def webhook(httpserver: Any) -> str:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = httpserver.url_for("/hook")
    return f"alerts:\n  - {{type: webhook, url: '{url}', retries: 0}}\n"


def deliveries(httpserver: Any) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


# -- 1. one failing dataset never hides the others ----------------------------------------------


def test_a_missing_dataset_is_an_error_and_the_good_one_is_judged_printed_and_alerted(
    tmp_path: Path, httpserver: Any
) -> None:
    store = str(tmp_path / "history.duckdb")
    seed_history(tmp_path, monitor(tmp_path, ORDERS), store)
    datasets = ORDERS + "- {name: returns, source: returns.parquet, metrics: [row_count]}\n"
    config = monitor(tmp_path, datasets, webhook(httpserver))
    result = CliRunner().invoke(
        app, ["check", str(config), "--store", store, "--at", "2013-08-28T06:00"]
    )
    assert result.exit_code == 2, result.output
    assert "orders @ 2013-08-28 06:00 UTC" in result.stdout  # the good dataset is printed
    assert re.search(r"✗ row_count (29\d|30\d|310) is below the expected", result.stdout)
    assert "returns could not be checked: " in result.stdout
    assert "returns.parquet" in result.stdout
    keys = sorted(d["key"] for d in deliveries(httpserver))
    assert keys == ["orders:row_count", "returns:check"]  # both alerted
    with open_store(store, read_only=True) as history:  # the good one is recorded
        assert len(history.runs("orders")) == 11
        assert history.datasets() == ["orders"]


def test_run_monitor_keeps_going_past_bad_sql(tmp_path: Path) -> None:
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    datasets = (
        "- name: broken\n  source: orders.parquet\n  metrics: [row_count]\n"
        "  custom: {late: 'count(*) filter (where no_such_column > 1)'}\n" + ORDERS
    )
    config = load_monitor(monitor(tmp_path, datasets))
    results, _ = run_monitor(config, store=str(tmp_path / "h.duckdb"), at=AT)
    assert [r.dataset for r in results] == ["broken", "orders"]
    (error,) = results[0].verdicts
    assert error.status.value == "error" and error.metric == "check"
    assert error.message.startswith("broken could not be checked: custom metric 'late' failed")
    assert results[1].verdicts[0].status.value == "insufficient_history"


# -- 2. a retry replaces, never doubles -----------------------------------------------------------


def test_a_retry_at_the_same_at_does_not_double_the_history(tmp_path: Path) -> None:
    store = str(tmp_path / "history.duckdb")
    config = monitor(tmp_path, ORDERS)
    seed_history(tmp_path, config, store)
    orders(seed=42).to_parquet(tmp_path / "orders.parquet", index=False)
    args = ["check", str(config), "--store", store, "--at", "2013-08-28T06:00", "--format", "json"]
    first = CliRunner().invoke(app, args)
    band_before = replay_history("orders", store=store)[("row_count", None)][-1]
    retried = CliRunner().invoke(app, args)
    assert first.exit_code == retried.exit_code, retried.output
    assert json.loads(first.stdout)["verdicts"] == json.loads(retried.stdout)["verdicts"]
    replay = replay_history("orders", store=store)[("row_count", None)]
    assert len(replay) == 11  # ten days and one run at 06:00 on the 28th, not two
    assert (replay[-1].expected_low, replay[-1].expected_high) == (
        band_before.expected_low,
        band_before.expected_high,
    )


def test_a_naive_at_means_the_same_instant_from_python_and_the_cli(tmp_path: Path) -> None:
    store = str(tmp_path / "history.duckdb")
    config = monitor(tmp_path, ORDERS)
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    run_monitor(load_monitor(config), store=store, at=datetime(2013, 8, 28, 6))  # naive
    result = CliRunner().invoke(
        app, ["check", str(config), "--store", store, "--at", "2013-08-28T06:00"]
    )
    assert result.exit_code == 0, result.output
    with open_store(store, read_only=True) as history:
        (run,) = history.runs("orders")  # the CLI's run replaced Python's: the same instant
    assert run.observed_at == datetime(2013, 8, 28, 6, tzinfo=timezone.utc)


# -- 3. simultaneous checks on one DuckDB file all land --------------------------------------------


def test_24_simultaneous_cli_checks_8_at_a_time_are_all_recorded(tmp_path: Path) -> None:
    store = str(tmp_path / "history.duckdb")
    config = monitor(tmp_path, ORDERS)
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    env = {**os.environ, "DATACANARY_STORE_WAIT": "120"}

    def check(i: int) -> subprocess.CompletedProcess[str]:
        at = (START + timedelta(hours=i)).isoformat()
        command = [sys.executable, "-m", "datacanary", "check", str(config), "--store", store]
        return subprocess.run(
            [*command, "--at", at, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(check, range(24)))
    assert [p.returncode for p in done] == [0] * 24, [p.stderr for p in done if p.returncode]
    with open_store(store, read_only=True) as history:
        assert len(history.runs("orders")) == 24
        assert len(history.history("orders", "row_count")) == 24


# -- 4. simultaneous checks page once --------------------------------------------------------------

_RUNNER = """
import json, os, sys, time
from datetime import datetime
from datacanary.checks import load_monitor, run_monitor
go, config, store, at = sys.argv[1:5]
while not os.path.exists(go):
    time.sleep(0.005)
results, delivery = run_monitor(load_monitor(config), store=store, at=datetime.fromisoformat(at))
print(json.dumps(delivery))
"""


def _simultaneous(tmp_path: Path, config: Path, store: str, n: int = 8) -> list[dict[str, Any]]:
    go = tmp_path / "go"
    env = {**os.environ, "DATACANARY_STORE_WAIT": "120"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _RUNNER, str(go), str(config), store, AT.isoformat()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(n)
    ]
    go.touch()  # all of them start judging at once
    reports = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_8_simultaneous_runs_seeing_one_anomaly_deliver_it_once(
    tmp_path: Path, httpserver: Any, request: pytest.FixtureRequest, backend: str
) -> None:
    store = (
        str(tmp_path / "history.duckdb")
        if backend == "duckdb"
        else str(request.getfixturevalue("fresh_postgres_url"))
    )
    config = monitor(tmp_path, ORDERS, webhook(httpserver))
    seed_history(tmp_path, config, store)
    httpserver.clear_log()
    reports = _simultaneous(tmp_path, config, store)
    received = deliveries(httpserver)
    assert [d["key"] for d in received] == ["orders:row_count"]  # 1 delivery of 8 runs
    assert sum(r["delivered"] for r in reports) == 1
    assert sum(r["suppressed"] for r in reports) == 7
    assert all(r["failed"] == [] for r in reports)
    with open_store(store) as history:  # and one run at that instant, not eight
        assert len(history.runs("orders")) == 11
    if backend == "postgres":  # the state lives in the store's database, not in a local file
        assert not (tmp_path / "alert-state.sqlite").exists()
    else:
        assert (tmp_path / "alert-state.sqlite").is_file()


def test_an_old_alert_state_json_file_is_still_used(tmp_path: Path, httpserver: Any) -> None:
    store = str(tmp_path / "history.duckdb")
    config = monitor(tmp_path, ORDERS, webhook(httpserver))
    seed_history(tmp_path, config, store)
    run_monitor(load_monitor(config), store=store, at=AT)
    (tmp_path / "alert-state.sqlite").rename(tmp_path / "alert-state.json")  # as 0.x named it
    httpserver.clear_log()
    _, delivery = run_monitor(load_monitor(config), store=store, at=AT + timedelta(hours=1))
    assert delivery is not None and delivery["suppressed"] == 1 and deliveries(httpserver) == []
    assert not (tmp_path / "alert-state.sqlite").exists()


# -- 5. what is not a store is refused -------------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("orders.csv", "orders.csv is a .csv data file, not a store"),
        ("snapshot.parquet", "snapshot.parquet is a .parquet data file, not a store"),
        ("host=db.internal dbname=wh password=X", "looks like a libpq keyword string"),
    ],
)
def test_a_data_file_or_libpq_string_as_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = monitor(tmp_path, ORDERS)
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    csv = tmp_path / "orders.csv"
    orders().to_csv(csv, index=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, ["check", str(config), "--store", store])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "password=X" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created


def test_a_store_that_stays_locked_says_so_in_one_line(tmp_path: Path) -> None:
    store = tmp_path / "history.duckdb"
    config = monitor(tmp_path, ORDERS)
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    run_monitor(load_monitor(config), store=str(store), at=START)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(store)!r}); "
         "print('ready', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "ready"
    try:
        result = CliRunner().invoke(
            app, ["check", str(config), "--store", str(store), "--store-wait", "0.3"]
        )
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "stayed locked by another process" in line and "for 0.3 s" in line


# -- the file is validated completely before anything runs ---------------------------------------


@pytest.mark.parametrize(
    ("datasets", "alerts", "where"),
    [
        (
            ORDERS + "- name: users\n  source: u.parquet\n  metrics: [row_count, nul_fraction]\n",
            "",
            r"monitor.yml:8: datasets.1.metrics.1: unknown metric 'nul_fraction'; did you mean "
            r"'null_fraction'\?",
        ),
        (
            "- name: orders\n  source: orders.parquet\n  metrics:\n    - row_count\n"
            "    - mean: {columns: [amount], detector: {name: zscore, sensitivity: -3}}\n",
            "",
            r"monitor.yml:6: datasets.0.metrics.1.detector.sensitivity: sensitivity must be",
        ),
        (
            ORDERS,
            "alerts:\n  - {type: stdout}\n  - type: webhook\n    url: http://x\n    colour: red\n",
            r"monitor.yml:10: alerts.1.colour: not a setting of this sink \(webhook sink\)",
        ),
        (
            ORDERS + "  custom: {2late: 'count(*)'}\n",
            "",
            r"monitor.yml:6: datasets.0.custom.2late: a custom metric name is letters",
        ),
    ],
)
def test_a_bad_monitor_names_file_line_and_key_and_records_nothing(
    tmp_path: Path, datasets: str, alerts: str, where: str
) -> None:
    config = monitor(tmp_path, datasets, alerts)
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    with pytest.raises(ConfigError, match=where):
        load_monitor(config)
    store = tmp_path / "history.duckdb"
    result = CliRunner().invoke(app, ["check", str(config), "--store", str(store)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert not store.exists()  # nothing recorded


# -- a monitor records and judges what it asks for ----------------------------------------------


def test_a_monitor_records_exactly_what_it_asks_and_never_the_mean_of_an_id(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "history.duckdb")
    orders().to_parquet(tmp_path / "orders.parquet", index=False)
    datasets = """\
    - name: orders
      source: orders.parquet
      metrics:
        - row_count
        - null_fraction: {columns: [country, amount]}
        - mean
        - schema
    - name: explicit
      source: orders.parquet
      metrics: [{mean: {columns: [order_id]}}]
    """
    results, _ = run_monitor(load_monitor(monitor(tmp_path, datasets)), store=store, at=AT)
    judged = {(v.metric, v.column) for v in results[0].verdicts}
    assert judged == {
        ("row_count", None),
        ("null_fraction", "country"),
        ("null_fraction", "amount"),
        ("mean", "amount"),
        ("mean", "quantity"),
        ("schema", None),
    }
    with open_store(store, read_only=True) as history:
        assert history.series("orders") == [
            ("column_count", None),
            ("mean", "amount"),
            ("mean", "quantity"),
            ("null_fraction", "amount"),
            ("null_fraction", "country"),
            ("row_count", None),
            ("schema_hash", None),
        ]
        assert history.series("explicit") == [("mean", "order_id")]  # named: kept
