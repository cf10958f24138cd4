"""`datacanary check` replayed over daily snapshots: which runs fail, and the exact sentences."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from datacanary.checks import load_monitor, replay_history, run_monitor
from datacanary.cli import app
from datacanary.results import format_number

MONITOR = """\
datasets:
  - name: orders
    source: orders.parquet
    metrics:
      - row_count
      - null_fraction: {columns: [email]}
      - schema
    detector: {name: mad, min_history: 5}
"""

START = datetime(2026, 10, 1, 6, tzinfo=timezone.utc)


def snapshot(day: int, *, rows: int = 1000, null_share: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(day)
    n = rows + int(rng.integers(-10, 11))
    email = np.array([f"c{i}@example.com" for i in range(n)], dtype=object)
    email[rng.random(n) < null_share] = None
    return pd.DataFrame({"id": np.arange(n), "email": email, "amount": rng.normal(50, 5, n)})


def replay(folder: Path, tables: list[pd.DataFrame], store: str) -> list[list[str]]:
    """Run the monitor once per table (as a pipeline would after each load); failing sentences."""
    (folder / "monitor.yml").write_text(MONITOR, encoding="utf-8")
    config = load_monitor(folder / "monitor.yml")
    failures = []
    for day, table in enumerate(tables):
        table.to_parquet(folder / "orders.parquet", index=False)
        results, _ = run_monitor(config, store=store, at=START + timedelta(days=day))
        failures.append([v.message for r in results for v in r.verdicts if not v.passed])
    return failures


def incident_tables() -> list[pd.DataFrame]:
    tables = [snapshot(d) for d in range(12)]
    tables[8] = snapshot(8, rows=300)  # a partial load
    tables[10] = snapshot(10, null_share=0.5)  # a broken join
    tables[11] = snapshot(11).rename(columns={"amount": "amount_eur"})  # renamed upstream
    return tables


def test_replay_flags_exactly_the_injected_runs_with_their_sentences(tmp_path: Path) -> None:
    failures = replay(tmp_path, incident_tables(), str(tmp_path / "history.duckdb"))
    flagged = [day for day, messages in enumerate(failures) if messages]
    assert flagged == [8, 10, 11]
    assert len(failures[8]) == 1
    assert re.fullmatch(
        r"row_count (29\d|30\d|310) is below the expected [\d.,]+–[\d.,]+ from the last 8 runs",
        failures[8][0],
    )
    assert failures[10][0].startswith("null_fraction of email 0.")
    assert "is above the expected" in failures[10][0]
    assert failures[11] == [
        "schema of orders changed since the run of 2026-10-11 06:00: "
        "column 'amount' (DOUBLE) was removed; column 'amount_eur' (DOUBLE) was added"
    ]


def test_first_runs_are_learning_not_passing_silently(tmp_path: Path) -> None:
    (tmp_path / "monitor.yml").write_text(MONITOR, encoding="utf-8")
    snapshot(0).to_parquet(tmp_path / "orders.parquet", index=False)
    results, _ = run_monitor(
        load_monitor(tmp_path / "monitor.yml"), store=str(tmp_path / "h.duckdb"), at=START
    )
    statuses = {v.metric: v.status.value for v in results[0].verdicts}
    assert statuses == {
        "row_count": "insufficient_history",
        "null_fraction": "insufficient_history",
        "schema": "insufficient_history",
    }
    rows = len(snapshot(0))
    assert sorted(v.message for v in results[0].verdicts) == sorted(
        [
            "schema: first run, nothing to compare yet",
            f"row_count {rows:,}: insufficient history (0 of 5 runs) to judge",
            f"null_fraction of email {format_number(snapshot(0)['email'].isna().mean())}: "
            "insufficient history (0 of 5 runs) to judge",
        ]
    )


def test_backfilled_run_is_judged_only_against_earlier_runs(tmp_path: Path) -> None:
    store = str(tmp_path / "history.duckdb")
    replay(tmp_path, [snapshot(d) for d in range(8)], store)
    # a late backfill of day 3 sees only days 0-2: too little history, not an anomaly
    snapshot(3, rows=300).to_parquet(tmp_path / "orders.parquet", index=False)
    config = load_monitor(tmp_path / "monitor.yml")
    results, _ = run_monitor(config, store=store, at=START + timedelta(days=3, hours=1))
    row_count = next(v for v in results[0].verdicts if v.metric == "row_count")
    assert row_count.status.value == "insufficient_history"
    assert row_count.history_size == 4


def test_postgres_store_gives_the_same_verdicts(tmp_path: Path, fresh_postgres_url: str) -> None:
    failures = replay(tmp_path, incident_tables(), fresh_postgres_url)
    assert [day for day, messages in enumerate(failures) if messages] == [8, 10, 11]


def test_cli_check_json_exit_codes_and_history(tmp_path: Path) -> None:
    runner = CliRunner()
    store = str(tmp_path / "history.duckdb")
    (tmp_path / "monitor.yml").write_text(MONITOR, encoding="utf-8")
    codes = []
    payload: dict[str, object] = {}
    for day, table in enumerate(incident_tables()[:9]):
        table.to_parquet(tmp_path / "orders.parquet", index=False)
        at = (START + timedelta(days=day)).isoformat()
        result = runner.invoke(
            app,
            [
                "check",
                str(tmp_path / "monitor.yml"),
                "--store",
                store,
                "--at",
                at,
                "--format",
                "json",
            ],
        )
        codes.append(result.exit_code)
        payload = json.loads(result.stdout)
    assert codes == [0] * 8 + [1]
    verdicts = payload["verdicts"]
    assert isinstance(verdicts, list)
    failed = [v for v in verdicts if not v["passed"]]
    assert [(v["metric"], v["status"]) for v in failed] == [("row_count", "anomaly")]
    assert set(failed[0]) >= {
        "dataset",
        "metric",
        "column",
        "value",
        "expected_low",
        "expected_high",
        "passed",
        "status",
        "message",
    }
    series = replay_history("orders", store=store, metric="row_count")
    ((key, verdicts_over_time),) = series.items()
    assert key == ("row_count", None)
    assert [v.status.value for v in verdicts_over_time][-1] == "anomaly"
    plot = tmp_path / "rows.png"
    result = runner.invoke(
        app, ["history", "orders", "--store", store, "--metric", "row_count", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "nope.yml"], "does not exist"),
        (["check", "{monitor}", "--at", "yesterday"], "--at must be an ISO timestamp"),
        (["history", "unknown", "--store", "{store}"], "no history store at"),
    ],
)
def test_check_and_history_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "monitor.yml").write_text(MONITOR, encoding="utf-8")
    filled = [a.format(monitor=tmp_path / "monitor.yml", store=tmp_path / "h.duckdb") for a in args]
    result = CliRunner().invoke(app, filled)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
