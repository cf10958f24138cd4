"""build_alert_sensor: failed checks of real runs delivered to a real webhook on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster")
pytest.importorskip("pytest_httpserver")

from datacanary.errors import ConfigError  # noqa: E402
from datacanary.integrations.dagster import build_alert_sensor, build_anomaly_checks  # noqa: E402


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Any]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as dagster_instance:
        yield dagster_instance


def _tick(sensor: Any, instance: Any, cursor: str | None) -> Any:
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    return result


def test_dagster_alert_sensor_sends_failures_then_recoveries(
    instance: Any, httpserver: Any, tmp_path: Path
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    state = {"rows": 1005}

    @dg.asset
    def orders() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"dagster/row_count": state["rows"]})

    @dg.asset_check(asset=orders)
    def has_owner() -> dg.AssetCheckResult:  # a check of the user's own
        return dg.AssetCheckResult(passed=state["rows"] > 100, description="owner unknown")

    checks = [*build_anomaly_checks(assets=[orders], method="zscore", min_history=3), has_owner]
    for rows in (1000, 1010, 990):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="orders", metadata={"dagster/row_count": rows})
        )
    sensor = build_alert_sensor(
        sinks=[{"type": "webhook", "url": httpserver.url_for("/hook"), "retries": 0}],
        state_path=tmp_path / "alert-state.sqlite",
    )
    first = _tick(sensor, instance, None)  # starts from now: history is not alerted on
    assert first.skip_reason.skip_message.startswith("started")

    state["rows"] = 12
    run = dg.materialize([orders, *checks], instance=instance)
    spike = {e.check_name: e for e in run.get_asset_check_evaluations()}["row_count_anomaly"]
    second = _tick(sensor, instance, first.cursor)
    assert "2 new check evaluations" in second.skip_reason.skip_message
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert sorted(b["key"] for b in bodies) == ["orders:has_owner", "orders:row_count"]
    alert = next(b for b in bodies if b["key"] == "orders:row_count")
    meta = {k: v.value for k, v in spike.metadata.items()}
    assert alert["kind"] == "anomaly"
    assert alert["severity"] == "warning"
    assert alert["sentence"] == spike.description
    assert alert["sentence"].startswith("row_count 12 is below the expected")
    assert alert["value"] == 12
    assert alert["expected_low"] == pytest.approx(meta["expected_low"])
    assert alert["detector"] == "zscore"
    own = next(b for b in bodies if b["key"] == "orders:has_owner")
    assert (own["kind"], own["sentence"]) == ("anomaly", "owner unknown")

    # nothing new: nothing sent; then both checks pass again: one recovery each
    third = _tick(sensor, instance, second.cursor)
    assert len(httpserver.log) == 2
    state["rows"] = 1002
    dg.materialize([orders, *checks], instance=instance)
    _tick(sensor, instance, third.cursor)
    recoveries = [json.loads(request.get_data()) for request, _ in httpserver.log[2:]]
    assert sorted((b["key"], b["kind"]) for b in recoveries) == [
        ("orders:has_owner", "recovery"),
        ("orders:row_count", "recovery"),
    ]


def test_dagster_alert_sensor_validates_sinks_when_built() -> None:
    with pytest.raises(ConfigError, match="sinks must be a list of sink definitions"):
        build_alert_sensor(sinks={"type": "stdout"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="webhook_url: not a setting"):
        build_alert_sensor(sinks=[{"type": "slack", "webhook_url": "https://hooks.example"}])
    with pytest.raises(ConfigError, match="give each a distinct"):
        build_alert_sensor(sinks=[{"type": "stdout"}, {"type": "stdout"}])
