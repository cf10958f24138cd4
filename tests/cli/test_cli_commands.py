"""`profile`, `history`, `report`, `benchmark odds` and `benchmark nab` end to end.

Every input is a tiny hand-made file in a temporary folder (never the public datasets), so the
whole module runs in seconds. Good inputs are checked on their numbers, files and JSON; bad ones
exit 2 with one line on stderr and no traceback, as in ``test_cli_detect.py``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cli_helpers import assert_one_line_error, invoke
from datacanary.evaluate import nab

PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------- profile


def small_table() -> pd.DataFrame:
    """Six rows; two amounts and one email missing on purpose."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "amount": [10.0, np.nan, 12.0, 14.0, np.nan, 16.0],
            "email": ["a@x.io", "b@x.io", None, "dd@x.io", "e@x.io", "f@x.io"],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_profile_json_counts_rows_and_the_nulls_put_there(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"orders{suffix}"
    if suffix == ".csv":
        small_table().to_csv(path, index=False)
    else:
        small_table().to_parquet(path, index=False)
    code, stdout, _ = invoke("profile", str(path), "--format", "json")
    assert code == 0
    data = json.loads(stdout)
    assert (data["row_count"], data["column_count"]) == (6, 3)
    assert [c["name"] for c in data["schema"]] == ["id", "amount", "email"]
    amount, email, ids = data["columns"]["amount"], data["columns"]["email"], data["columns"]["id"]
    assert (amount["null_count"], email["null_count"], ids["null_count"]) == (2, 1, 0)
    assert amount["null_fraction"] == pytest.approx(2 / 6)
    assert email["null_fraction"] == pytest.approx(1 / 6)
    assert (amount["min"], amount["max"], amount["mean"]) == (10.0, 16.0, 13.0)  # nulls skipped
    assert (ids["min"], ids["max"], ids["mean"]) == (1.0, 6.0, 3.5)
    assert (email["min_length"], email["max_length"]) == (6.0, 7.0)
    assert data["exact_distinct"] is False


def test_profile_columns_and_exact_options(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    small_table().to_parquet(path, index=False)
    code, stdout, _ = invoke(
        "profile", str(path), "--columns", "amount", "--exact", "--format", "json"
    )
    assert code == 0
    data = json.loads(stdout)
    assert list(data["columns"]) == ["amount"]
    assert data["columns"]["amount"]["distinct_count"] == 4
    assert data["exact_distinct"] is True
    assert data["column_count"] == 3  # the schema is still the whole table's


def test_profile_table_shows_counts_and_null_shares(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    small_table().to_csv(path, index=False)
    code, stdout, _ = invoke("profile", str(path))
    assert code == 0
    assert "orders.csv: 6 rows, 3 columns" in " ".join(stdout.split())  # Rich may wrap
    amount_line = next(line for line in stdout.splitlines() if " amount " in line)
    assert "33.3%" in amount_line
    email_line = next(line for line in stdout.splitlines() if " email " in line)
    assert "16.7%" in email_line


def test_profile_of_a_table_with_no_rows_is_a_measurement(tmp_path: Path) -> None:
    # docs/metrics.md: profile() treats an empty table as a measurement (row_count 0 is what a
    # monitor must catch); only a 0-byte file is refused (see the bad inputs below)
    path = tmp_path / "header.csv"
    path.write_text("id,amount\n", encoding="utf-8")
    code, stdout, _ = invoke("profile", str(path), "--format", "json")
    assert code == 0
    data = json.loads(stdout)
    assert data["row_count"] == 0
    assert data["columns"]["amount"]["null_fraction"] is None  # 0/0 is undefined, not 0


PROFILE_BAD = {
    "missing file": (lambda d: d / "nope.csv", [], r"nope\.csv does not exist"),
    "0-byte file": (
        lambda d: (d / "empty.csv").write_bytes(b"") or d / "empty.csv",
        [],
        r"empty\.csv is empty \(0 bytes\)",
    ),
    "unknown column": (lambda d: d / "ok.csv", ["--columns", "amout"], r"did you mean 'amount'"),
    "unknown format": (lambda d: d / "ok.csv", ["--format", "xml"], r"--format must be"),
}


@pytest.mark.parametrize("case", sorted(PROFILE_BAD))
def test_profile_bad_input_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    small_table().to_csv(tmp_path / "ok.csv", index=False)
    make, extra, pattern = PROFILE_BAD[case]
    code, stdout, stderr = invoke("profile", str(make(tmp_path)), *extra)
    assert_one_line_error(code, stdout, stderr, pattern)


# ----------------------------------------------------------------------------- check, history

MONITOR = """\
datasets:
  - name: orders
    source: orders.parquet
    metrics:
      - row_count
      - null_fraction: {columns: [email]}
    detector: {name: mad, min_history: 3}
"""

START = datetime(2026, 10, 1, 6, tzinfo=timezone.utc)
ROWS = [100, 101, 102, 103, 104, 20]  # the last load is partial


def orders_snapshot(rows: int, day: int) -> pd.DataFrame:
    rng = np.random.default_rng(day)
    email = np.array([f"c{i}@example.com" for i in range(rows)], dtype=object)
    email[: rows // 10] = None  # one in ten missing, every day
    return pd.DataFrame({"id": np.arange(rows), "email": email, "amount": rng.normal(50, 5, rows)})


@pytest.fixture(scope="module")
def history_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The monitor's folder and its store after six daily `check` runs (the last one anomalous)."""
    folder = tmp_path_factory.mktemp("monitor")
    (folder / "monitor.yml").write_text(MONITOR, encoding="utf-8")
    store = folder / "history.duckdb"
    codes = []
    for day, rows in enumerate(ROWS):
        orders_snapshot(rows, day).to_parquet(folder / "orders.parquet", index=False)
        code, stdout, _ = invoke(
            "check",
            str(folder / "monitor.yml"),
            "--store",
            str(store),
            "--at",
            (START + timedelta(days=day)).isoformat(),
            "--format",
            "json",
        )
        codes.append(code)
        assert json.loads(stdout)["observed_at"] == (START + timedelta(days=day)).isoformat()
    assert codes == [0, 0, 0, 0, 0, 1]
    return folder, store


def series_of(payload: list[dict[str, Any]]) -> dict[tuple[str, str | None], list[dict[str, Any]]]:
    return {(s["metric"], s["column"]): s["verdicts"] for s in payload}


def test_history_json_replays_every_recorded_run(history_store: tuple[Path, Path]) -> None:
    _, store = history_store
    code, stdout, _ = invoke("history", "orders", "--store", str(store), "--format", "json")
    assert code == 0
    series = series_of(json.loads(stdout))
    row_count = series[("row_count", None)]
    assert [v["value"] for v in row_count] == [float(n) for n in ROWS]
    assert [v["observed_at"] for v in row_count] == [
        (START + timedelta(days=d)).isoformat() for d in range(len(ROWS))
    ]
    assert [v["status"] for v in row_count] == ["insufficient_history"] * 3 + [
        "passed",
        "passed",
        "anomaly",
    ]
    assert [v["history_size"] for v in row_count] == list(range(len(ROWS)))
    assert row_count[-1]["message"].startswith("row_count 20 is below the expected")
    assert row_count[-1]["detector"] == "mad"
    assert row_count[-1]["params"]["min_history"] == 3  # the monitor's detector, as recorded
    emails = series[("null_fraction", "email")]
    assert [v["value"] for v in emails] == pytest.approx([(n // 10) / n for n in ROWS])
    assert all(v["passed"] for v in emails)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--metric", "row_count"], [("row_count", None)]),
        (["--column", "email"], [("null_fraction", "email")]),
    ],
)
def test_history_filters_by_metric_and_column(
    history_store: tuple[Path, Path], option: list[str], expected: list[tuple[str, str | None]]
) -> None:
    _, store = history_store
    args = ("history", "orders", "--store", str(store), *option, "--format", "json")
    code, stdout, _ = invoke(*args)
    assert code == 0
    assert list(series_of(json.loads(stdout))) == expected


def test_history_detector_option_changes_the_band(history_store: tuple[Path, Path]) -> None:
    _, store = history_store
    args = ("history", "orders", "--store", str(store), "--metric", "row_count", "--format", "json")
    _, recorded, _ = invoke(*args)
    code, stdout, _ = invoke(*args, "--detector", "zscore")
    assert code == 0
    (verdicts,) = series_of(json.loads(stdout)).values()
    assert {v["detector"] for v in verdicts} == {"zscore"}
    (before,) = series_of(json.loads(recorded)).values()
    assert [v["value"] for v in verdicts] == [v["value"] for v in before]
    judged = [(v["expected_low"], w["expected_low"]) for v, w in zip(verdicts, before, strict=True)]
    assert any(ours != recorded for ours, recorded in judged if recorded is not None)


def test_history_table_and_plot(history_store: tuple[Path, Path], tmp_path: Path) -> None:
    _, store = history_store
    plot = tmp_path / "rows.png"
    code, stdout, _ = invoke(
        "history", "orders", "--store", str(store), "--metric", "row_count", "--plot", str(plot)
    )
    assert code == 0
    assert "orders: row_count" in stdout
    assert f"Wrote plot to {plot}" in stdout.replace("\n", "")
    last = next(line for line in stdout.splitlines() if "2026-10-06 06:00" in line)
    assert "20" in last and "ANOMALY" in last
    assert sum("learning" in line for line in stdout.splitlines()) == 3
    assert plot.read_bytes()[:8] == PNG
    assert plot.stat().st_size > 1000


HISTORY_BAD = {
    "unknown dataset": (["nope"], r"dataset 'nope' has no stored history; datasets: orders"),
    "unknown metric": (["orders", "--metric", "nope"], r"no stored series of 'orders' match"),
    "unknown format": (["orders", "--format", "xml"], r"--format must be"),
    "unknown detector": (["orders", "--detector", "magic"], r"magic"),
}


@pytest.mark.parametrize("case", sorted(HISTORY_BAD))
def test_history_bad_input_exits_2_with_one_line(
    history_store: tuple[Path, Path], case: str
) -> None:
    _, store = history_store
    args, pattern = HISTORY_BAD[case]
    code, stdout, stderr = invoke("history", *args, "--store", str(store))
    assert_one_line_error(code, stdout, stderr, pattern)


def test_history_of_a_missing_store_exits_2_with_one_line(tmp_path: Path) -> None:
    store = tmp_path / "typo" / "history.duckdb"
    code, stdout, stderr = invoke("history", "orders", "--store", str(store))
    assert_one_line_error(code, stdout, stderr, r"no history store at .*typo")


def test_history_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    store = tmp_path / "typo" / "history.duckdb"
    invoke("history", "orders", "--store", str(store))
    assert not store.parent.exists()


def test_history_json_with_a_plot_stays_json(
    history_store: tuple[Path, Path], tmp_path: Path
) -> None:
    _, store = history_store
    plot = tmp_path / "rows.png"
    code, stdout, stderr = invoke(
        "history", "orders", "--store", str(store), "--format", "json", "--plot", str(plot)
    )
    assert code == 0 and plot.is_file()
    assert [row["metric"] for row in json.loads(stdout)]
    assert "Wrote plot to" in stderr and "Wrote plot" not in stdout


# ------------------------------------------------------------------------------------ report


def labelled_table(path: Path) -> Path:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "amount": np.r_[rng.normal(50, 5, 76), [900.0, 950.0, -400.0, 1200.0]],
            "country": rng.choice(["DE", "FR", "IT"], 80),
            "is_outlier": [0] * 76 + [1] * 4,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_report_writes_html_with_the_columns_labels_and_history(
    history_store: tuple[Path, Path], tmp_path: Path
) -> None:
    _, store = history_store
    source = labelled_table(tmp_path / "payments.csv")
    out = tmp_path / "site" / "report.html"  # parent folders are created
    code, stdout, _ = invoke(
        "report",
        str(source),
        "--label-column",
        "is_outlier",
        "--method",
        "mad",
        "--store",
        str(store),
        "--dataset",
        "orders",
        "--out",
        str(out),
    )
    assert code == 0
    assert f"Wrote report to {out}" in stdout.replace("\n", "")
    html = out.read_text(encoding="utf-8")
    assert "<title>Data report: payments.csv</title>" in html
    for column in ("amount", "country"):
        assert re.search(rf"<h3>{column}\b", html), column
    assert 'id="detection"' in html and 'id="evaluation"' in html
    assert "Against the labels in" in html
    history = html[html.index('<section id="history">') :]
    assert "<b>orders</b>" in history
    assert "<h3>row_count</h3>" in history
    assert "1 of 6 runs flagged" in history
    assert '<img src="data:image/png;base64,' in html


REPORT_BAD = {
    "missing file": (lambda d: d / "nope.csv", [], r"nope\.csv does not exist"),
    "header only": (
        lambda d: (d / "header.csv").write_text("a,b\n") and d / "header.csv",
        [],
        r"header\.csv has a header but no rows",
    ),
    "unknown label column": (lambda d: d / "ok.csv", ["--label-column", "y"], r"'y' not found"),
    "unknown method": (lambda d: d / "ok.csv", ["--method", "magic"], r"unknown method 'magic'"),
}


@pytest.mark.parametrize("case", sorted(REPORT_BAD))
def test_report_bad_input_exits_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    labelled_table(tmp_path / "ok.csv")
    make, extra, pattern = REPORT_BAD[case]
    out = tmp_path / "report.html"
    code, stdout, stderr = invoke("report", str(make(tmp_path)), *extra, "--out", str(out))
    assert_one_line_error(code, stdout, stderr, pattern)
    assert not out.exists()


# ------------------------------------------------------------------------------- benchmark nab

NAB_ROWS = 400
NAB_FILES = {"realA/one.csv": 250, "artB/two.csv": 300}  # file -> row of its planted spike
NAB_TIMES = pd.date_range("2015-01-01 00:00:00", periods=NAB_ROWS, freq="5min")


def nab_window(spike: int) -> tuple[int, int]:
    """The labelled window of a spike: 10 rows either side (inclusive row indices)."""
    return spike - 10, spike + 10


def stamp(row: int) -> str:
    return NAB_TIMES[row].strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def nab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nab")
    rng = np.random.default_rng(7)
    labels = {}
    for name, spike in NAB_FILES.items():
        values = 10.0 + rng.normal(0, 0.5, NAB_ROWS)
        values[spike : spike + 5] += 30.0
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": [stamp(i) for i in range(NAB_ROWS)], "value": values}).to_csv(
            path, index=False
        )
        start, end = nab_window(spike)
        labels[name] = [[stamp(start), stamp(end)]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels), encoding="utf-8")
    return root


def write_results(folder: Path, detector: str, fire: dict[str, list[int]]) -> Path:
    """A NAB results folder: <detector>/<category>/<detector>_<file>, 1.0 at the given rows."""
    root = folder / detector
    for name in NAB_FILES:
        category, base = name.split("/")
        scores = np.zeros(NAB_ROWS)
        scores[fire.get(name, [])] = 1.0
        path = root / category / f"{detector}_{base}"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {"timestamp": [stamp(i) for i in range(NAB_ROWS)], "anomaly_score": scores}
        ).to_csv(path, index=False)
    return root


PROFILE_NAMES = {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}


@pytest.mark.parametrize("detector", ["novelty", "mad"])
def test_nab_json_equals_the_library_score(nab_dir: Path, detector: str) -> None:
    code, stdout, _ = invoke(
        "benchmark", "nab", "--data", str(nab_dir), "--detector", detector, "--format", "json"
    )
    assert code == 0
    scores = json.loads(stdout)
    assert set(scores) == PROFILE_NAMES
    corpus = nab.load_corpus(nab_dir)
    assert len(corpus) == 2 and corpus.n_windows == 2
    assert scores == nab.score_corpus(corpus, nab.run_detector(corpus, detector))
    assert all(0.0 < s <= 100.0 for s in scores.values())  # the spikes are found


def test_nab_results_firing_at_each_window_start_score_100(nab_dir: Path, tmp_path: Path) -> None:
    starts = {name: [nab_window(spike)[0]] for name, spike in NAB_FILES.items()}
    results = write_results(tmp_path, "oracle", starts)
    code, stdout, _ = invoke(
        "benchmark", "nab", "--data", str(nab_dir), "--results", str(results), "--format", "json"
    )
    assert code == 0
    scores = json.loads(stdout)
    assert set(scores) == PROFILE_NAMES
    assert scores == pytest.approx(dict.fromkeys(PROFILE_NAMES, 100.0))


def test_nab_results_firing_at_each_window_end_score_by_the_sigmoid(
    nab_dir: Path, tmp_path: Path
) -> None:
    ends = {name: [nab_window(spike)[1]] for name, spike in NAB_FILES.items()}
    results = write_results(tmp_path, "late", ends)
    code, stdout, _ = invoke(
        "benchmark", "nab", "--data", str(nab_dir), "--results", str(results), "--format", "json"
    )
    assert code == 0
    # at a window's last row p = -1/L: each file earns σ(-1/L)/σ(-1) instead of 1 (L = 21)
    length = 21
    weight = float(nab.scaled_sigmoid(-1.0 / length) / nab.scaled_sigmoid(-1.0))
    expected = {}
    for profile, cost in nab.PROFILES.items():
        null, perfect, raw = -2 * cost.fn, 2 * cost.tp, 2 * cost.tp * weight
        expected[profile] = 100.0 * (raw - null) / (perfect - null)
    assert json.loads(stdout) == pytest.approx(expected)
    assert 50.0 < expected["standard"] < 100.0


def test_nab_results_that_never_fire_score_0(nab_dir: Path, tmp_path: Path) -> None:
    results = write_results(tmp_path, "silent", {})
    code, stdout, _ = invoke(
        "benchmark", "nab", "--data", str(nab_dir), "--results", str(results), "--format", "json"
    )
    assert code == 0
    assert json.loads(stdout) == dict.fromkeys(PROFILE_NAMES, 0.0)


def test_nab_table_shows_this_run_beside_the_published_board(nab_dir: Path) -> None:
    code, stdout, _ = invoke("benchmark", "nab", "--data", str(nab_dir), "--detector", "mad")
    assert code == 0
    corpus = nab.load_corpus(nab_dir)
    scores = nab.score_corpus(corpus, nab.run_detector(corpus, "mad"))
    ours = next(line for line in stdout.splitlines() if "mad (this run)" in line)
    assert re.findall(r"\d+\.\d", ours) == [
        f"{scores[p]:.1f}" for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
    ]
    artime = next(line for line in stdout.splitlines() if "ARTime" in line)
    assert re.findall(r"\d+\.\d", artime) == ["74.9", "65.1", "80.4"]
    assert "Windowed Gaussian" in stdout and "Null" in stdout


def test_nab_table_names_a_results_folder_by_its_name(nab_dir: Path, tmp_path: Path) -> None:
    starts = {name: [nab_window(spike)[0]] for name, spike in NAB_FILES.items()}
    results = write_results(tmp_path, "oracle", starts)
    code, stdout, _ = invoke("benchmark", "nab", "--data", str(nab_dir), "--results", str(results))
    assert code == 0
    ours = next(line for line in stdout.splitlines() if "oracle (this run)" in line)
    assert re.findall(r"\d+\.\d", ours) == ["100.0", "100.0", "100.0"]


def _missing_file(tmp: Path, data: Path) -> list[str]:
    root = write_results(tmp, "partial", {})
    (root / "artB" / "partial_two.csv").unlink()
    return ["--data", str(data), "--results", str(root)]


def _short_file(tmp: Path, data: Path) -> list[str]:
    root = write_results(tmp, "short", {})
    path = root / "realA" / "short_one.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:-5]) + "\n")
    return ["--data", str(data), "--results", str(root)]


def _score_above_one(tmp: Path, data: Path) -> list[str]:
    root = write_results(tmp, "big", {})
    path = root / "realA" / "big_one.csv"
    frame = pd.read_csv(path)
    frame.loc[300, "anomaly_score"] = 7.0
    frame.to_csv(path, index=False)
    return ["--data", str(data), "--results", str(root)]


def _window_off_the_rows(tmp: Path, data: Path) -> list[str]:
    root = tmp / "nab"
    shutil.copytree(data, root)
    labels = {name: [["2015-01-01 20:01:00", stamp(260)]] for name in NAB_FILES}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return ["--data", str(root)]


NAB_BAD: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "missing data folder": (lambda t, d: ["--data", str(t / "nope")], r"NAB corpus not found"),
    "missing results folder": (
        lambda t, d: ["--data", str(d), "--results", str(t / "nope")],
        r"results folder '.*nope' does not exist",
    ),
    "results folder missing a file": (_missing_file, r"0 results files for 'artB/two\.csv'"),
    "results file with too few rows": (_short_file, r"395 rows for 400 data rows"),
    "results score above 1": (_score_above_one, r"must lie in \[0, 1\]; got 7\.0"),
    "window not a row of the file": (
        _window_off_the_rows,
        r"'2015-01-01 20:01:00' is not a row of the file",
    ),
    "unknown detector": (
        lambda t, d: ["--data", str(d), "--detector", "magic"],
        r"unknown series detector 'magic'",
    ),
    "unknown format": (
        lambda t, d: ["--data", str(d), "--format", "xml"],
        r"--format must be 'table' or 'json'",
    ),
}


@pytest.mark.parametrize("case", sorted(NAB_BAD))
def test_nab_bad_input_exits_2_with_one_line(nab_dir: Path, tmp_path: Path, case: str) -> None:
    make, pattern = NAB_BAD[case]
    code, stdout, stderr = invoke("benchmark", "nab", *make(tmp_path, nab_dir))
    assert_one_line_error(code, stdout, stderr, pattern)


def test_nab_table_with_a_single_profile_config(nab_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "nab"
    shutil.copytree(nab_dir, root)
    (root / "config").mkdir()
    cost = {"CostMatrix": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}}
    (root / "config" / "profiles.json").write_text(json.dumps({"standard": cost}))
    code, stdout, _ = invoke("benchmark", "nab", "--data", str(root), "--detector", "mad")
    # the table shows the profiles the corpus defines, the board's figures for them
    assert code == 0 and "mad (this run)" in stdout and "standard" in stdout
    assert "reward_low_FP_rate" not in stdout and "74.9" in stdout


# ------------------------------------------------------------------------------ benchmark odds


@pytest.fixture(scope="module")
def odds_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ODDS-shaped sets (X, y with 1 = outlier) whose outliers are far from everything."""
    folder = tmp_path_factory.mktemp("datasets") / "odds"
    folder.mkdir()
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 3)), rng.normal(8, 0.5, size=(6, 3))])
    np.savez(folder / "toy.npz", X=X, y=np.r_[np.zeros(200), np.ones(6)])
    X = np.vstack([rng.normal(size=(150, 2)), [[10.0, 10.0], [-10.0, 9.0], [12.0, -11.0]]])
    np.savez(folder / "wee.npz", X=X, y=np.r_[np.zeros(150), np.ones(3)])
    return folder


@pytest.mark.parametrize("level", ["odds folder", "its parent"])
def test_odds_json_rows_per_set_and_method(odds_dir: Path, level: str) -> None:
    folder = odds_dir if level == "odds folder" else odds_dir.parent
    code, stdout, _ = invoke(
        "benchmark", "odds", "--data", str(folder), "--methods", "mad,zscore", "--format", "json"
    )
    assert code == 0
    rows = json.loads(stdout)
    assert [(r["dataset"], r["method"]) for r in rows] == [
        ("toy", "mad"),
        ("toy", "zscore"),
        ("wee", "mad"),
        ("wee", "zscore"),
    ]
    shapes = {"toy": (206, 3, 6), "wee": (153, 2, 3)}
    for row in rows:
        assert (row["rows"], row["features"], row["outliers"]) == shapes[row["dataset"]]
        assert row["roc_auc"] == 1.0 and row["pr_auc"] == 1.0  # the outliers are obvious
        assert row["recall"] == 1.0
        assert row["flagged"] >= row["outliers"]
        assert row["seconds"] >= 0.0


def test_odds_max_rows_subsamples_each_set_stratified(odds_dir: Path) -> None:
    code, stdout, _ = invoke(
        "benchmark",
        "odds",
        "--data",
        str(odds_dir),
        "--methods",
        "mad",
        "--max-rows",
        "50",
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(stdout)
    # round(50 x share) rows of each class: 49 inliers and 1 outlier in both sets
    assert [(r["dataset"], r["rows"], r["outliers"]) for r in rows] == [
        ("toy", 50, 1),
        ("wee", 50, 1),
    ]


def test_odds_table_lists_each_result(odds_dir: Path) -> None:
    code, stdout, _ = invoke("benchmark", "odds", "--data", str(odds_dir), "--methods", "zscore")
    assert code == 0
    assert "ODDS: ROC-AUC / PR-AUC / seconds" in stdout
    lines = [line for line in stdout.splitlines() if "zscore" in line]
    assert len(lines) == 2
    assert "toy" in lines[0] and "wee" in lines[1]
    assert all(line.count("1.000") == 2 for line in lines)


ODDS_BAD: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "folder with no sets": (lambda t, d: ["--data", str(t)], r"no ODDS \.npz files in"),
    "missing folder": (lambda t, d: ["--data", str(t / "nope")], r"no ODDS \.npz files in"),
    "unknown method": (
        lambda t, d: ["--data", str(d), "--methods", "magic"],
        r"unknown method 'magic'",
    ),
    "unknown format": (lambda t, d: ["--data", str(d), "--format", "xml"], r"--format must be"),
}


@pytest.mark.parametrize("case", sorted(ODDS_BAD))
def test_odds_bad_input_exits_2_with_one_line(odds_dir: Path, tmp_path: Path, case: str) -> None:
    make, pattern = ODDS_BAD[case]
    code, stdout, stderr = invoke("benchmark", "odds", *make(tmp_path, odds_dir))
    assert_one_line_error(code, stdout, stderr, pattern)


def test_odds_set_without_x_exits_2_with_one_line(tmp_path: Path) -> None:
    np.savez(tmp_path / "odd.npz", data=np.zeros((5, 2)))
    code, stdout, stderr = invoke("benchmark", "odds", "--data", str(tmp_path), "--methods", "mad")
    expected = r"odd\.npz: an ODDS set needs arrays X and y; missing X"
    assert_one_line_error(code, stdout, stderr, expected)


def test_odds_file_that_is_not_an_archive_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.npz").write_bytes(b"not a zip archive")
    code, stdout, stderr = invoke("benchmark", "odds", "--data", str(tmp_path), "--methods", "mad")
    assert_one_line_error(code, stdout, stderr, r"broken\.npz: not a readable ODDS \.npz set")
