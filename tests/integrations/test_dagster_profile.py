"""profile_metadata: table metrics as Dagster metadata, and checks reading them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster")
pd = pytest.importorskip("pandas")

from datacanary.errors import ColumnNotFoundError  # noqa: E402
from datacanary.integrations.dagster import build_anomaly_checks, profile_metadata  # noqa: E402


def _frame(rows: int, null_every: int, seed: int = 0) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    emails = [None if i % null_every == 0 else f"c{i}@example.com" for i in range(rows)]
    return pd.DataFrame(
        {"order_id": range(rows), "email": emails, "amount": rng.gamma(2.0, 20.0, rows)}
    )


def test_dagster_profile_metadata_of_pandas_polars_and_arrow() -> None:
    frame = pd.DataFrame(
        {"id": [1, 2, 3, 4], "email": ["a@x", None, "c@x", None], "amount": [1.5, None, 3.0, 4.0]}
    )
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    for data in (frame, pl.from_pandas(frame), pa.Table.from_pandas(frame, preserve_index=False)):
        metadata = profile_metadata(data)
        values = {key: value.value for key, value in metadata.items()}
        assert values["dagster/row_count"] == 4
        assert values["datacanary/null_count/email"] == 2
        assert values["datacanary/null_fraction/email"] == 0.5
        assert values["datacanary/null_count/amount"] == 1
        assert values["datacanary/null_fraction/id"] == 0.0
        schema = values["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == [
            ("id", "BIGINT"),
            ("email", "VARCHAR"),
            ("amount", "DOUBLE"),
        ]
        assert isinstance(metadata["datacanary/null_count/email"], dg.IntMetadataValue)
        assert isinstance(metadata["datacanary/null_fraction/email"], dg.FloatMetadataValue)


def test_dagster_profile_metadata_columns_metrics_and_custom(tmp_path: Path) -> None:
    frame = _frame(100, null_every=4)
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    metadata = profile_metadata(
        str(path),
        columns=["amount"],
        metrics=["row_count", "mean", "nulls"],
        custom={"big_orders": "count(*) filter (where amount > 1000)"},
    )
    assert set(metadata) == {
        "dagster/row_count",
        "dagster/column_schema",
        "datacanary/null_count/amount",
        "datacanary/null_fraction/amount",
        "datacanary/mean/amount",
        "datacanary/big_orders",
    }
    assert metadata["datacanary/mean/amount"].value == pytest.approx(frame["amount"].mean())
    assert metadata["datacanary/big_orders"].value == 0
    # the schema always lists every column
    assert len(metadata["dagster/column_schema"].value.columns) == 3
    with pytest.raises(ColumnNotFoundError, match="did you mean 'amount'"):
        profile_metadata(frame, columns=["amout"])


def test_dagster_profiled_asset_null_spike_fails_its_check(dagster_instance: Any) -> None:
    state = {"frame": _frame(500, null_every=50)}

    @dg.asset
    def customers() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=profile_metadata(state["frame"]))

    checks = build_anomaly_checks(
        assets=[customers],
        metadata_keys=["dagster/row_count", "datacanary/null_fraction/email"],
        method="zscore",
        min_history=3,
    )
    for i, (rows, every) in enumerate([(500, 50), (510, 48), (495, 52), (505, 49)]):
        dagster_instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="customers", metadata=profile_metadata(_frame(rows, every, i))
            )
        )
    state["frame"] = _frame(502, null_every=2)  # a broken join: half the e-mails gone
    result = dg.materialize([customers, *checks], instance=dagster_instance)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["row_count_anomaly"].passed
    nulls = evaluations["null_fraction_email_anomaly"]
    assert not nulls.passed
    assert nulls.description.startswith("null_fraction of email 0.5 is above the expected ")
    assert nulls.description.endswith(" from the last 4 materializations")
    assert nulls.metadata["metadata_key"].value == "datacanary/null_fraction/email"
