"""A monitor with a spark:: source records and judges through `datacanary check`; a Dagster
outlier check reads an asset that loads as a Spark DataFrame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import invoke
from spark_helpers import orders_frame


def test_spark_monitor_records_and_judges(spark: Any, tmp_path: Path) -> None:
    store = tmp_path / "history.duckdb"
    monitor = tmp_path / "monitor.yml"
    source = f"spark::parquet.`{tmp_path / 'orders'}`"
    monitor.write_text(
        "spark:\n  conf: {spark.sql.shuffle.partitions: 2}\n"
        f"store: {store}\n"
        "defaults:\n  detector: {name: mad, min_history: 3}\n"
        "datasets:\n"
        f'  - name: orders\n    source: "{source}"\n'
        "    metrics: [row_count, {null_fraction: {columns: [amount]}}]\n"
    )
    for day, rows in enumerate((1000, 1010, 990, 1005)):
        spark.createDataFrame(orders_frame(rows, seed=day)).write.mode("overwrite").parquet(
            str(tmp_path / "orders")
        )
        code, stdout, stderr = invoke(
            "check", str(monitor), "--at", f"2024-05-0{day + 1}T00:00:00", "--format", "json"
        )
        assert code == 0, stderr
    spark.createDataFrame(orders_frame(20_000, seed=9)).write.mode("overwrite").parquet(
        str(tmp_path / "orders")
    )
    code, stdout, stderr = invoke("check", str(monitor), "--at", "2024-05-09T00:00:00",
                                  "--format", "json")  # fmt: skip
    assert code == 1, stdout
    verdicts = {v["metric"]: v for v in json.loads(stdout)["verdicts"] if v["column"] is None}
    assert verdicts["row_count"]["value"] == 20_000 and not verdicts["row_count"]["passed"]
    assert verdicts["row_count"]["history_size"] == 4  # the four runs recorded before


def test_dagster_outlier_check_reads_a_spark_asset(spark: Any, tmp_path: Path) -> None:
    dg = pytest.importorskip("dagster")
    from datacanary.integrations.dagster import build_outlier_check

    frame = orders_frame(600, seed=4)[["id", "amount", "qty"]].dropna()
    frame.loc[frame.index[:3], "amount"] *= 80  # three broken rows
    data = {"frame": spark.createDataFrame(frame)}

    @dg.asset
    def spark_orders() -> None:
        return None

    check = build_outlier_check(
        asset=spark_orders,
        method="mad",
        columns=["amount"],
        loader=lambda context: data["frame"],
        max_fraction=0.001,
    )
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize([spark_orders, check], instance=instance, raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert meta["features"] == ["amount"]
    assert "amount" in evaluation.description
