"""profile on Spark (classic local[2] and Spark Connect) against the DuckDB path, same file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import assert_one_line_error, invoke
from datacanary.metrics import profile
from spark_helpers import spark_name

APPROX = 0.05 * 4  # HyperLogLog++ at rsd 5 %: four standard deviations


def _assert_same_profile(spark: dict[str, Any], local: dict[str, Any], *, exact: bool) -> None:
    assert spark["dialect"] == "spark" and local["dialect"] == "duckdb"
    assert spark["row_count"] == local["row_count"]
    assert [c["name"] for c in spark["schema"]] == [c["name"] for c in local["schema"]]
    for name, want in local["columns"].items():
        got = spark["columns"][name]
        assert got["kind"] == want["kind"], name
        assert got["null_count"] == want["null_count"], name
        assert got["null_fraction"] == want["null_fraction"], name
        for metric in ("mean", "stddev", "min", "max", "mean_length", "min_length", "max_length"):
            if want[metric] is None:
                assert got[metric] is None, (name, metric)
            else:
                assert math.isclose(got[metric], want[metric], rel_tol=1e-9), (name, metric)
        if want["distinct_count"] is not None:
            truth = want["distinct_count"]
            if exact:
                assert got["distinct_count"] == truth, name
            else:
                assert abs(got["distinct_count"] - truth) <= max(1, APPROX * truth), name
        if want["freshness_seconds"] is not None:
            assert got["latest"] == want["latest"], name


def test_spark_profile_cli_matches_duckdb(spark: Any, spark_files: dict[str, Path]) -> None:
    orders = spark_files["orders"]
    code, stdout, stderr = invoke("profile", spark_name(orders), "--format", "json")
    assert code == 0, stderr
    code, local_out, _ = invoke("profile", str(orders), "--format", "json")
    assert code == 0
    _assert_same_profile(json.loads(stdout), json.loads(local_out), exact=False)


def test_spark_profile_exact_distinct_of_a_dataframe(
    spark: Any, spark_files: dict[str, Path]
) -> None:
    orders = spark_files["orders"]
    frame = spark.read.parquet(str(orders))
    got = profile(frame, exact_distinct=True)
    assert got.exact_distinct
    _assert_same_profile(got.to_dict(), profile(orders, exact_distinct=True).to_dict(), exact=True)
    # the temporary view the profile registered is gone again
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("datacanary_")]


def test_spark_profile_custom_metric_runs_in_spark(
    spark: Any, spark_files: dict[str, Path]
) -> None:
    custom = {"big": "count(*) filter (where amount > 100)"}
    name = spark_name(spark_files["orders"])
    got = profile(name, metrics=["row_count"], custom=custom)
    want = profile(spark_files["orders"], metrics=["row_count"], custom=custom)
    assert got.custom == want.custom and got.custom["big"] > 0


def test_spark_profile_missing_table_is_one_line(spark: Any) -> None:
    code, stdout, stderr = invoke("profile", "spark::datacanary_no_such_table")
    assert_one_line_error(code, stdout, stderr, r"spark::datacanary_no_such_table not found")


def test_spark_profile_missing_path_is_one_line(spark: Any, tmp_path: Path) -> None:
    code, stdout, stderr = invoke("profile", spark_name(tmp_path / "nothing.parquet"))
    assert_one_line_error(code, stdout, stderr, r"not found.*PATH_NOT_FOUND|not found")


def test_spark_profile_missing_column_is_one_line(spark: Any, spark_files: dict[str, Path]) -> None:
    args = ("profile", spark_name(spark_files["orders"]), "--columns", "amount,amuont")
    code, stdout, stderr = invoke(*args)
    assert_one_line_error(code, stdout, stderr, r"amuont")


def test_spark_connect_profile_matches_duckdb(
    connect_results: dict[str, Any], spark_files: dict[str, Path]
) -> None:
    assert connect_results["session"].startswith("pyspark.sql.connect")
    orders = spark_files["orders"]
    _assert_same_profile(connect_results["profile"], profile(orders).to_dict(), exact=False)
    exact = profile(orders, exact_distinct=True).to_dict()
    _assert_same_profile(connect_results["frame_profile"], exact, exact=True)


def test_spark_connect_missing_table_is_not_found(connect_results: dict[str, Any]) -> None:
    kind, message = connect_results["missing_table"]
    assert kind == "SourceNotFoundError"
    assert "\n" not in message and "datacanary_no_such_table" in message


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [("bigint", "number"), ("decimal(10,2)", "number"), ("double", "float"),
     ("string", "text"), ("timestamp_ntz", "temporal"), ("date", "temporal"),
     ("array<int>", "other")],
)  # fmt: skip
def test_spark_dialect_column_kinds(type_name: str, kind: str) -> None:
    from datacanary.metrics import get_dialect

    assert get_dialect("spark").column_kind(type_name) == kind
