"""build_anomaly_checks against real Dagster: materializations in a temporary instance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

dg = pytest.importorskip("dagster")

from datacanary.errors import ConfigError  # noqa: E402
from datacanary.integrations.dagster import build_anomaly_checks  # noqa: E402
from datacanary.results import format_number  # noqa: E402
from datacanary.series import make_series_detector  # noqa: E402


@pytest.fixture
def instance(dagster_instance: Any) -> Any:
    """The session's Dagster instance (tests/integrations/conftest.py); assets named apart."""
    return dagster_instance


def _run(definitions: Sequence[Any], instance: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Materialize; return the check evaluations by check name and the run's result."""
    result = dg.materialize(definitions, instance=instance, raise_on_error=False, **kwargs)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return evaluations, result


def _meta(evaluation: Any) -> dict[str, Any]:
    return {key: value.value for key, value in evaluation.metadata.items()}


def _band(method: str, history: Sequence[float], **params: Any) -> tuple[float, float]:
    """The band datacanary's detector expects after ``history`` (computed independently),
    clipped to what a row count can be."""
    expected = make_series_detector(method, **params).fit(history).expected(metric="row_count")
    assert expected is not None
    low, high = expected
    assert low is not None and high is not None
    return low, high


def _seed(instance: Any, asset: str, rows: int, partition: str | None = None) -> None:
    """Record a past materialization without a run (a real event in the instance's log)."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=asset, partition=partition, metadata={"dagster/row_count": rows}
        )
    )


def _counting_asset(name: str = "orders", **asset_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """An asset whose ``dagster/row_count`` is whatever ``state["rows"]`` says."""
    state: dict[str, Any] = {"rows": 0}

    @dg.asset(name=name, **asset_kwargs)
    def _asset() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"dagster/row_count": state["rows"]})

    return _asset, state


def test_dagster_spike_fails_with_band_and_sentence(instance: Any) -> None:
    orders, state = _counting_asset()
    checks = build_anomaly_checks(assets=[orders], min_history=3)
    stable = [1000, 1010, 990, 1005]
    seen = []
    for rows in stable:
        state["rows"] = rows
        evaluations, _ = _run([orders, *checks], instance)
        seen.append(evaluations["row_count_anomaly"])
    # below min_history: passes, with the visible note
    assert [e.passed for e in seen] == [True] * 4
    assert seen[2].description == (
        "row_count 990: insufficient history (2 of 3 materializations) to judge"
    )
    assert _meta(seen[2])["status"] == "insufficient_history"
    assert _meta(seen[3])["status"] == "passed"

    state["rows"] = 5000
    evaluations, _ = _run([orders, *checks], instance)
    spike = evaluations["row_count_anomaly"]
    low, high = _band("auto", stable, min_history=3)
    assert not spike.passed
    assert spike.severity == dg.AssetCheckSeverity.WARN
    band = f"{format_number(low)}–{format_number(high)}"
    assert spike.description == (
        f"row_count 5,000 is above the expected {band} from the last 4 materializations"
    )
    meta = _meta(spike)
    # the value under test is not part of its own baseline: the band is the history's alone
    assert meta["expected_low"] == pytest.approx(low, rel=1e-3)  # 4 significant digits
    assert meta["expected_high"] == pytest.approx(high, rel=1e-3)
    assert meta["value"] == 5000
    assert meta["history_size"] == 4
    assert "min_history" not in meta  # a setting, not a measurement to chart over time
    assert "at least" not in meta["rule"] and "judged once 3 are known" in meta["rule"]
    assert meta["detector"] == "auto"
    assert meta["detector_params"]["min_history"] == 3
    assert meta["status"] == "anomaly"
    assert meta["message"] == spike.description
    assert meta["metadata_key"] == "dagster/row_count"
    assert meta["score"] > 1

    # the spike stays out of the baseline: the next normal value passes against the same band
    state["rows"] = 1002
    evaluations, _ = _run([orders, *checks], instance)
    after = evaluations["row_count_anomaly"]
    assert after.passed
    assert _meta(after)["expected_high"] == pytest.approx(high, rel=1e-3)


def test_dagster_missing_or_non_numeric_metadata_fails_with_sentence(instance: Any) -> None:
    @dg.asset
    def shipments() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={"dagster/row_count": "n/a", "flag": True, "nan": float("nan")}
        )

    checks = build_anomaly_checks(
        assets=[shipments],
        metadata_keys=["dagster/row_count", "flag", "nan", "dagster/null_count"],
        min_history=3,
    )
    never, _ = _run([shipments, *checks], instance, selection=dg.AssetSelection.checks(*checks))
    assert not never["row_count_anomaly"].passed
    assert never["row_count_anomaly"].description == (
        "shipments has not been materialized yet, so there is nothing to judge"
    )

    evaluations, result = _run([shipments, *checks], instance)
    assert result.success  # a failed (WARN) check is a result, never an exception
    assert {name: e.passed for name, e in evaluations.items()} == {
        "row_count_anomaly": False,
        "flag_anomaly": False,
        "nan_anomaly": False,
        "null_count_anomaly": False,
    }
    assert evaluations["row_count_anomaly"].description == (
        "metadata `dagster/row_count` of the newest materialization of shipments is the text "
        "'n/a', not a number, so it cannot be judged"
    )
    assert evaluations["flag_anomaly"].description == (
        "metadata `flag` of the newest materialization of shipments is the boolean True, "
        "not a number, so it cannot be judged"
    )
    assert evaluations["nan_anomaly"].description.startswith("nan is NaN, so it cannot be judged")
    assert evaluations["null_count_anomaly"].description == (
        "metadata key `dagster/null_count` is missing from the newest materialization of "
        "shipments; return it from the asset, e.g. "
        "MaterializeResult(metadata=profile_metadata(df))"
    )
    assert _meta(evaluations["row_count_anomaly"])["status"] == "error"


def test_dagster_daily_partition_judged_against_the_days_before(instance: Any) -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-31")
    orders, state = _counting_asset("daily_orders", partitions_def=daily)
    checks = build_anomaly_checks(assets=[orders], min_history=3)
    days = [f"2024-01-0{d}" for d in range(1, 8)]
    rows = [1000, 1010, 990, 1005, 995, 1002, 40]
    for day, count in zip(days[:-1], rows[:-1], strict=True):
        _seed(instance, "daily_orders", count, day)
    state["rows"] = rows[-1]
    evaluations, _ = _run([orders, *checks], instance, partition_key=days[-1])
    last = evaluations["row_count_anomaly"]
    low, high = _band("auto", rows[:6], min_history=3)
    assert not last.passed
    assert last.partition == "2024-01-07"  # a partitioned check: one result per partition
    assert last.description == (
        f"partition 2024-01-07: row_count 40 is below the expected "
        f"{format_number(low)}–{format_number(high)} from the last 6 partitions"
    )
    meta = _meta(last)
    assert meta["baseline"] == "other partitions"
    assert meta["partition"] == "2024-01-07"

    # a backfill of an old day is judged against the days before it, never the ones after
    state["rows"] = 1001
    evaluations, _ = _run([orders, *checks], instance, partition_key="2024-01-03")
    backfill = evaluations["row_count_anomaly"]
    assert backfill.passed
    assert backfill.description == (
        "partition 2024-01-03: row_count 1,001: insufficient history (2 of 3 partitions) to judge"
    )


def test_dagster_partitioned_asset_named_by_key_finds_its_partitions_at_run_time(
    instance: Any,
) -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2024-02-01", end_date="2024-02-29")
    orders, state = _counting_asset("keyed_orders", partitions_def=daily)
    checks = build_anomaly_checks(assets=["keyed_orders"], method="zscore", min_history=3)
    history = [1000, 1010, 990, 1005]
    days = ["2024-02-01", "2024-02-02", "2024-02-03", "2024-02-05"]  # 02-04 never loaded
    for day, count in zip(days, history, strict=True):
        _seed(instance, "keyed_orders", count, day)
    _seed(instance, "keyed_orders", 5, "2024-02-09")  # after the day under test: not compared
    state["rows"] = 2000
    evaluations, _ = _run([orders, *checks], instance, partition_key="2024-02-06")
    check = evaluations["row_count_anomaly"]
    assert check.partition is None  # a check built from a bare key is not partitioned
    low, high = _band("zscore", history, min_history=3)
    assert check.description == (
        f"partition 2024-02-06: row_count 2,000 is above the expected "
        f"{format_number(low)}–{format_number(high)} from the last 4 partitions"
    )


def test_dagster_same_partition_history_judges_each_partition_alone(instance: Any) -> None:
    regions = dg.StaticPartitionsDefinition(["eu", "us"])
    orders, state = _counting_asset("regional_orders", partitions_def=regions)
    checks = build_anomaly_checks(
        assets=[orders], method="zscore", min_history=3, partition_history="same_partition"
    )
    history = {"eu": [100, 102, 98, 101], "us": [10000, 10100, 9900, 10050]}
    for i in range(4):
        for region in ("eu", "us"):
            _seed(instance, "regional_orders", history[region][i], region)
    # 100 rows is normal for eu and a collapse for us
    state["rows"] = 100
    eu, _ = _run([orders, *checks], instance, partition_key="eu")
    us, _ = _run([orders, *checks], instance, partition_key="us")
    assert eu["row_count_anomaly"].passed
    assert not us["row_count_anomaly"].passed
    low, high = _band("zscore", history["us"], min_history=3)
    assert us["row_count_anomaly"].description == (
        f"partition us: row_count 100 is below the expected "
        f"{format_number(low)}–{format_number(high)} from the last 4 materializations"
    )
    assert _meta(us["row_count_anomaly"])["baseline"] == "same partition"


def test_dagster_blocking_check_stops_the_downstream_asset(instance: Any) -> None:
    orders, state = _counting_asset("blocked_orders")

    @dg.asset(deps=[orders])
    def revenue() -> None:
        return None

    checks = build_anomaly_checks(assets=[orders], method="zscore", min_history=3, blocking=True)
    for rows in (1000, 1010, 990):
        _seed(instance, "blocked_orders", rows)
    state["rows"] = 1005
    evaluations, result = _run([orders, revenue, *checks], instance)
    assert evaluations["row_count_anomaly"].passed
    assert result.success
    assert result.asset_materializations_for_node("revenue")

    state["rows"] = 3
    evaluations, result = _run([orders, revenue, *checks], instance)
    check = evaluations["row_count_anomaly"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert not result.success
    assert not result.asset_materializations_for_node("revenue")
    # the bad data itself is recorded
    assert result.asset_materializations_for_node("blocked_orders")


def test_dagster_checks_of_several_assets_and_keys() -> None:
    @dg.multi_asset(specs=[dg.AssetSpec("a"), dg.AssetSpec(["raw", "b"])])
    def both():
        return None

    checks = build_anomaly_checks(
        assets=[both, "c"],
        metadata_keys=["dagster/row_count", "datacanary/null_fraction/email", "revenue"],
    )
    names = sorted((k.asset_key.to_user_string(), k.name) for c in checks for k in c.check_keys)
    assert names == sorted(
        (asset, check)
        for asset in ("a", "raw/b", "c")
        for check in ("row_count_anomaly", "null_fraction_email_anomaly", "revenue_anomaly")
    )
    assert len(checks) == 3  # one op per asset reads the history once
    assert len({c.node_def.name for c in checks}) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"assets": "orders"}, "assets must be a list of assets or asset keys; got 'orders'"),
        ({"assets": []}, "assets must name at least one asset; got an empty list"),
        ({"assets": ["orders", "orders"]}, "assets names orders more than once"),
        ({"assets": [42]}, "each of assets must be an asset key"),
        ({"metadata_keys": "dagster/row_count"}, "metadata_keys must be a list"),
        ({"metadata_keys": []}, "metadata_keys must name at least one key"),
        (
            {"metadata_keys": ["dagster/row_count", "row_count"]},
            "give the same check name 'row_count_anomaly'",
        ),
        ({"method": "median"}, "unknown series detector 'median'"),
        ({"min_history": 0}, "min_history must be an integer >= 1; got 0"),
        ({"max_history": 2, "min_history": 3}, "max_history must be >= min_history (3); got 2"),
        ({"partition_history": "all"}, "partition_history must be 'same_partition' or"),
        (
            {"blocking": True, "severity": dg.AssetCheckSeverity.WARN},
            "blocking=True stops downstream assets only when a check fails with severity ERROR",
        ),
        ({"severity": "fatal"}, "severity must be AssetCheckSeverity.WARN or"),
        ({"detector_params": {"min_history": 3}}, "detector_params must not set min_history"),
        ({"detector_params": {"sensitivty": 3}}, "has no parameter 'sensitivty'"),
        ({"detector_params": {"sensitivity": -1}}, "sensitivity must be a finite number > 0"),
    ],
)
def test_dagster_bad_definitions_fail_when_built(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"assets": ["orders"], **kwargs}
    with pytest.raises(ConfigError) as error:
        build_anomaly_checks(**arguments)
    assert message in str(error.value)


def test_dagster_check_metadata_is_typed_for_the_ui(instance: Any) -> None:
    """Rounded floats, the sentence as text, the band as numbers; no constant as a number."""
    orders, state = _counting_asset("typed_orders")
    checks = build_anomaly_checks(assets=[orders], method="mad", min_history=3)
    for rows in (1000, 1013, 987, 1004, 1500):
        state["rows"] = rows
        evaluations, _ = _run([orders, *checks], instance)
    metadata = evaluations["row_count_anomaly"].metadata
    kinds = {key: type(value).__name__ for key, value in metadata.items()}
    assert kinds["value"] == "IntMetadataValue" and metadata["value"].value == 1500
    for key in ("expected_low", "expected_high", "score"):
        assert kinds[key] in ("FloatMetadataValue", "IntMetadataValue")
        number = metadata[key].value
        assert number == float(f"{number:.4g}")  # four significant digits, for display
    assert kinds["message"] == kinds["status"] == kinds["detector"] == "TextMetadataValue"
    assert kinds["rule"] == "TextMetadataValue" and kinds["expected_band"] == "JsonMetadataValue"
    band = metadata["expected_band"].value
    assert band == {"low": metadata["expected_low"].value, "high": metadata["expected_high"].value}
    # the only numbers Dagster charts run after run are measurements
    numeric = {k for k, v in kinds.items() if v in ("IntMetadataValue", "FloatMetadataValue")}
    assert numeric == {"value", "expected_low", "expected_high", "score", "history_size"}
