"""`datacanary detect` end to end on real files, and every bad input the issue lists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_helpers import assert_one_line_error, invoke
from datacanary.demo.sample import orders


@pytest.fixture(scope="module")
def orders_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "orders.parquet"
    orders(1500, seed=3).drop(columns=["anomaly_kind"]).to_parquet(path, index=False)
    return path


def test_detect_writes_scores_in_input_order_and_evaluates_labels(
    orders_file: Path, tmp_path: Path
) -> None:
    scored = tmp_path / "scored.csv"
    plot = tmp_path / "scores.png"
    code, stdout, _ = invoke(
        "detect",
        str(orders_file),
        "--label-column",
        "is_injected",
        "--output",
        str(scored),
        "--plot",
        str(plot),
        "--top",
        "5",
        "--format",
        "json",
    )
    assert code == 0
    summary = json.loads(stdout)
    table = pd.read_csv(scored)
    original = pd.read_parquet(orders_file)
    assert list(table["order_id"]) == list(original["order_id"])  # input order kept
    assert {"anomaly_score", "is_anomaly", "explanation"} <= set(table.columns)
    assert table["is_anomaly"].sum() == summary["anomalies"] > 0
    assert "order_id" in summary["dropped_columns"]  # identifier-like, left out and reported
    assert "is_injected" not in summary["features"]  # the label is never a feature
    assert summary["evaluation"]["roc_auc"] > 0.8
    top = summary["top"]
    assert len(top) == 5
    assert [row["anomaly_score"] for row in top] == sorted(
        (row["anomaly_score"] for row in top), reverse=True
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detect_table_output_names_top_rows_and_metrics(orders_file: Path) -> None:
    code, stdout, _ = invoke("detect", str(orders_file), "--label-column", "is_injected")
    assert code == 0
    assert "Top 20 rows by anomaly score" in stdout
    assert "precision" in stdout and "roc_auc" in stdout
    assert "order_id" in stdout  # reported as left out


@pytest.mark.parametrize("method", ["iforest", "lof", "knn", "zscore", "mad", "ocsvm"])
def test_every_method_runs_from_the_cli(orders_file: Path, method: str) -> None:
    code, stdout, _ = invoke(
        "detect",
        str(orders_file),
        "--method",
        method,
        "--exclude",
        "is_injected",
        "--format",
        "json",
        "--top",
        "3",
    )
    assert code == 0, stdout
    assert json.loads(stdout)["method"].startswith(method)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


BAD_INPUTS = {
    "missing file": (lambda d: d / "nope.csv", [], r"nope\.csv"),
    "empty file": (lambda d: write_csv(d / "empty.csv", ""), [], r"empty"),
    "header only": (lambda d: write_csv(d / "header.csv", "a,b,c\n"), [], r"no rows"),
    "only an id column": (
        lambda d: write_csv(d / "ids.csv", "order_id\n" + "\n".join(map(str, range(50)))),
        [],
        r"no usable feature column",
    ),
    "binary file": (
        lambda d: (d / "blob.csv").write_bytes(bytes(range(256)) * 40) and d / "blob.csv",
        [],
        r"blob\.csv",
    ),
    "broken parquet": (
        lambda d: (
            (d / "broken.parquet").write_bytes(b"PAR1" + b"\x00" * 100) and d / "broken.parquet"
        ),
        [],
        r"broken\.parquet",
    ),
    "unknown column": (lambda d: d / "ok.csv", ["--columns", "amout"], r"did you mean 'amount'"),
    "unknown excluded column": (lambda d: d / "ok.csv", ["--exclude", "nope"], r"'nope' not found"),
    "unknown label column": (lambda d: d / "ok.csv", ["--label-column", "y"], r"'y' not found"),
    "contamination out of range": (
        lambda d: d / "ok.csv",
        ["--contamination", "0.7"],
        r"contamination",
    ),
    "contamination not a number": (
        lambda d: d / "ok.csv",
        ["--contamination", "lots"],
        r"'auto' or a fraction",
    ),
    "unknown method": (lambda d: d / "ok.csv", ["--method", "magic"], r"magic.*iforest"),
    "too few rows for lof": (
        lambda d: write_csv(d / "tiny.csv", "x,y\n1,2\n2,3\n3,5\n"),
        ["--method", "lof"],
        r"rows",
    ),
    "unknown output format": (lambda d: d / "ok.csv", ["--output", "x.xlsx"], r"\.xlsx"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"amount": rng.normal(size=60), "country": rng.choice(["DE", "FR"], 60)}).to_csv(
        tmp_path / "ok.csv", index=False
    )
    make_path, extra, pattern = BAD_INPUTS[case]
    path = make_path(tmp_path)
    code, stdout, stderr = invoke("detect", str(path), *extra)
    assert_one_line_error(code, stdout, stderr, pattern)


def test_awkward_but_valid_input_still_works(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "all_null": [None] * n,
            "constant": [5.0] * n,
        }
    )
    frame.loc[3, "x"] = np.nan
    frame.loc[4, "y"] = np.inf
    frame.loc[5, "x"] = -np.inf
    frame.loc[7, "x"] = 40.0
    path = tmp_path / "awkward.csv"
    frame.to_csv(path, index=False)
    code, stdout, _ = invoke("detect", str(path), "--format", "json", "--top", "3")
    assert code == 0
    summary = json.loads(stdout)
    assert "all_null" in summary["dropped_columns"]
    assert 7 in [row["row"] for row in summary["top"]]


def test_single_constant_column_is_reported_not_crashed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "const.csv", "v\n" + "3\n" * 30)
    code, _, stderr = invoke("detect", str(path))
    # nothing varies: either scored with no anomalies, or a clear one-line refusal
    assert code in (0, 2)
    if code == 2:
        assert len(stderr.strip().splitlines()) == 1


def test_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "datacanary", "detect", str(tmp_path / "missing.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "missing.parquet" in proc.stderr


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from datacanary.cli import app; "
        "CliRunner().invoke(app, ['--help']); "
        "heavy = [m for m in ('sklearn', 'pandas', 'matplotlib', 'duckdb', 'dagster') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == ""
