"""The materialization a Dagster check judges is its own run's, however many came after it."""

from __future__ import annotations

from typing import Any

import pytest

dg = pytest.importorskip("dagster")

from datacanary.integrations.dagster._history import newest_materialization  # noqa: E402


def _asset(name: str, rows: int, **kwargs: Any) -> Any:
    @dg.asset(name=name, **kwargs)
    def _made() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _made


def _rows(materialization: Any) -> int:
    return int(materialization.metadata["dagster/row_count"].value)


def test_a_run_judges_its_own_materialization_after_many_newer_ones(
    dagster_instance: Any,
) -> None:
    key = dg.AssetKey("history_own_run")
    result = dg.materialize([_asset("history_own_run", 1000)], instance=dagster_instance)
    for rows in range(25):  # other runs (backfills, runless reports) materialize it since
        dagster_instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, metadata={"dagster/row_count": 5000 + rows})
        )
    own = newest_materialization(dagster_instance, key, run_id=result.run_id)
    assert own is not None
    assert own.run_id == result.run_id and _rows(own) == 1000
    # a run that made none (a check run on its own) judges the newest one
    other = newest_materialization(dagster_instance, key, run_id="not-a-run-of-this-asset")
    assert other is not None and _rows(other) == 5024
    assert newest_materialization(dagster_instance, dg.AssetKey("never_made")) is None


def test_a_partitioned_run_judges_its_own_partition(dagster_instance: Any) -> None:
    key = dg.AssetKey("history_own_partition")
    days = dg.DailyPartitionsDefinition(start_date="2026-03-01")
    asset = _asset("history_own_partition", 700, partitions_def=days)
    result = dg.materialize([asset], instance=dagster_instance, partition_key="2026-03-02")
    for day in ("2026-03-02", "2026-03-03") * 15:  # later runs of the same and other days
        dagster_instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, partition=day, metadata={"dagster/row_count": 9})
        )
    own = newest_materialization(
        dagster_instance, key, partitions=["2026-03-02"], run_id=result.run_id
    )
    assert own is not None
    assert (own.run_id, own.partition, _rows(own)) == (result.run_id, "2026-03-02", 700)
    # the run's own materialization of another partition is not this partition's
    assert (
        newest_materialization(
            dagster_instance, key, partitions=["2026-03-03"], run_id=result.run_id
        ).partition
        == "2026-03-03"
    )
