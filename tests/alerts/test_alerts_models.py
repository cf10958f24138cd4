from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from datacanary.alerts import SCHEMA, Alert, Severity
from datacanary.errors import ConfigError
from datacanary.results import CheckResult, Status, Verdict

AT = datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)


def _verdict(value: float = 1204, **kw: object) -> Verdict:
    return Verdict.judge(
        "null_fraction", value, 0.0, 0.05, score=8.5, detector="mad", history_size=14,
        dataset="orders", observed_at=AT, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_alerts_from_verdict_carries_what_where_value_band_and_time() -> None:
    alert = Alert.from_verdict(_verdict(0.31, column="email"), severity=Severity.CRITICAL)
    assert alert.key == "orders:null_fraction:email"
    assert alert.firing and alert.kind == "anomaly"
    assert (alert.value, alert.expected_low, alert.expected_high) == (0.31, 0.0, 0.05)
    assert alert.title == "CRITICAL · orders · null_fraction of email"
    assert alert.sentence == (
        "null_fraction of email 0.31 is above the expected 0–0.05 from the last 14 runs"
    )
    assert alert.observed_at == AT


def test_alerts_passing_insufficient_and_error_verdicts_map_to_kinds() -> None:
    passing = Alert.from_verdict(_verdict(0.01))
    assert not passing.firing and passing.kind == "recovery"
    short = Verdict.insufficient("row_count", 10, detector="mad", history_size=1, min_history=3)
    assert Alert.from_verdict(short).kind == "insufficient_history"
    assert Alert.from_verdict(short).key == "-:row_count"
    broken = Verdict.error("row_count", "row_count could not be computed: table is missing")
    assert Alert.from_verdict(broken, dataset="orders").firing
    assert Alert.from_verdict(broken, dataset="orders").kind == "error"


def test_alerts_naive_observed_at_is_taken_as_utc() -> None:
    naive = Verdict.judge("row_count", 5, 10, 20, score=3, detector="z", history_size=9,
                          observed_at=datetime(2024, 5, 1, 6, 30))  # fmt: skip
    assert Alert.from_verdict(naive).observed_at == AT


def test_alerts_from_row_key_is_entity_or_explained_columns() -> None:
    record = {"order_id": np.int64(42), "amount": np.float64(9.9e6), "country": "NZ"}
    by_entity = Alert.from_row("orders", record, 0.93, "amount", key_columns=["order_id"])
    assert by_entity.key == "orders:row:order_id=42"
    by_reason = Alert.from_row("orders", record, 0.93, "country, amount")
    assert by_reason.key == "orders:row:amount,country"
    assert Alert.from_row("orders", record, 0.93).key == "orders:row:*"
    assert not by_reason.resolvable and by_reason.firing
    # fields in the record's order in every alert, ids without thousands separators
    assert by_reason.sentence.startswith("orders row {order_id=42, amount=9,900,000, country=NZ}")
    assert Alert.from_row("orders", {**record, "order_id": 2183}, 0.9).sentence.startswith(
        "orders row {order_id=2183, amount=9,900,000, country=NZ}"
    )
    with pytest.raises(ConfigError, match="key_columns \\['id'\\] are not in the row"):
        Alert.from_row("orders", record, 0.9, key_columns=["id"])


def test_alerts_to_dict_is_json_with_the_documented_fields() -> None:
    record = {"at": datetime(2024, 5, 1), "amount": np.float64("nan"), "tags": np.array([1, 2])}
    row = Alert.from_row("orders", record, 0.8, "amount", threshold=0.5, observed_at=AT)
    payload = json.loads(json.dumps(row.to_dict(), allow_nan=False))
    assert payload["schema"] == SCHEMA == "datacanary.alert/1"
    assert payload["row"] == {"at": "2024-05-01T00:00:00", "amount": None, "tags": [1, 2]}
    assert payload["observed_at"] == "2024-05-01T06:30:00+00:00"
    metric = Alert.from_verdict(_verdict(0.31)).to_dict()
    assert set(metric) == {
        "schema", "key", "kind", "status", "severity", "title", "sentence", "dataset",
        "metric", "column", "row", "value", "expected_low", "expected_high", "score",
        "threshold", "detector", "explanation", "observed_at", "details",
    }  # fmt: skip
    assert metric["details"] == {"history_size": 14, "params": {}}


def test_alerts_check_result_verdicts_take_the_result_dataset() -> None:
    v = Verdict.judge("row_count", 5, 10, 20, score=3, detector="z", history_size=9)
    result = CheckResult("orders", [v], run_id="r1", observed_at=AT)
    alert = Alert.from_verdict(result.verdicts[0], dataset=result.dataset)
    assert alert.key == "orders:row_count"
    assert alert.status is Status.ANOMALY


def test_alerts_severity_order_and_parse() -> None:
    assert [s.rank for s in Severity] == [0, 1, 2]
    assert Severity.parse("ERROR") is Severity.CRITICAL
    with pytest.raises(ConfigError, match="severity must be one of info, warning, critical"):
        Severity.parse("urgent")
    assert Alert.from_verdict(_verdict(), severity="warn").severity is Severity.WARNING
    assert Alert.from_verdict(_verdict()).observed_at - AT == timedelta(0)
