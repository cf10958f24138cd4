"""detect on Spark: fit on a seeded sample, score every row on the executors, write with Spark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cli_helpers import assert_one_line_error, invoke
from datacanary.detectors import TableDetector
from datacanary.errors import InputError
from datacanary.sources import score_spark
from spark_helpers import spark_name


def _local(path: Path) -> dict[str, Any]:
    code, stdout, stderr = invoke(
        "detect", str(path), "--label-column", "y", "--exclude", "id", "--format", "json",
        "--output", str(path.parent / "local-scored.parquet"),
    )  # fmt: skip
    assert code == 0, stderr
    return dict(json.loads(stdout))


def test_spark_detect_scores_every_row_once_like_local(
    spark: Any, spark_files: dict[str, Path], tmp_path: Path
) -> None:
    path = spark_files["labelled"]
    out = tmp_path / "out"
    code, stdout, stderr = invoke(
        "detect", spark_name(path), "--label-column", "y", "--exclude", "id",
        "--output", str(out), "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr
    got = json.loads(stdout)
    local = _local(path)
    assert got["rows"] == local["rows"] == 3000 and got["fitted_rows"] == 3000
    assert abs(got["evaluation"]["roc_auc"] - local["evaluation"]["roc_auc"]) < 0.01
    assert got["evaluation"]["precision"] == pytest.approx(local["evaluation"]["precision"])
    written = pd.read_parquet(out).sort_values("id").reset_index(drop=True)
    assert written["id"].tolist() == list(range(3000))  # every row, once
    # the sample is the whole table, so the same fit: the same scores as scoring it here
    frame = pd.read_parquet(path)
    here = TableDetector(exclude=["y", "id"]).fit(frame).score(frame)
    np.testing.assert_allclose(written["anomaly_score"], here.scores, rtol=1e-9)
    assert written["is_anomaly"].tolist() == list(here.is_anomaly)
    assert got["anomalies"] == int(written["is_anomaly"].sum())
    assert got["top"][0]["anomaly_score"] == pytest.approx(written["anomaly_score"].max())


def test_spark_detect_on_a_sample_keeps_roc_auc(spark: Any, spark_files: dict[str, Path]) -> None:
    path = spark_files["labelled"]
    code, stdout, stderr = invoke(
        "detect", spark_name(path), "--label-column", "y", "--exclude", "id",
        "--fit-rows", "1000", "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr
    got = json.loads(stdout)
    assert got["fitted_rows"] == 1000 and got["rows"] == 3000
    assert abs(got["evaluation"]["roc_auc"] - _local(path)["evaluation"]["roc_auc"]) < 0.01


class _FailsOnExecutors:
    """A fitted detector whose scoring breaks on any batch bigger than the driver's probe."""

    def __init__(self, fitted: TableDetector) -> None:
        self.fitted = fitted

    def score(self, frame: pd.DataFrame) -> Any:
        if len(frame) > 2:
            raise ValueError("broken scorer")
        return self.fitted.score(frame)


def test_spark_detect_executor_failure_is_one_line_and_writes_nothing(
    spark: Any, spark_files: dict[str, Path], tmp_path: Path
) -> None:
    from pyspark import cloudpickle

    # this test module is not importable on the executors: send the class by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    path = spark_files["labelled"]
    fitted = TableDetector(exclude=["y", "id"]).fit(pd.read_parquet(path))
    out = tmp_path / "out"
    with pytest.raises(InputError, match="broken scorer") as caught:
        score_spark(spark_name(path), _FailsOnExecutors(fitted), output=out)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no output, no staging folder


def test_spark_detect_existing_output_and_plot_are_refused(
    spark: Any, spark_files: dict[str, Path], tmp_path: Path
) -> None:
    name = spark_name(spark_files["labelled"])
    code, stdout, stderr = invoke("detect", name, "--output", str(tmp_path))
    assert_one_line_error(code, stdout, stderr, r"already exists")
    code, stdout, stderr = invoke("detect", name, "--plot", str(tmp_path / "p.png"))
    assert_one_line_error(code, stdout, stderr, r"--plot")


def test_spark_connect_detect_matches_local(
    connect_results: dict[str, Any], spark_files: dict[str, Path]
) -> None:
    got = connect_results["detect"]
    local = _local(spark_files["labelled"])
    assert got["rows"] == 3000
    assert abs(got["evaluation"]["roc_auc"] - local["evaluation"]["roc_auc"]) < 0.01
    written = pd.read_parquet(got["output"])
    assert sorted(written["id"]) == list(range(3000))
