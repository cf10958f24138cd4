"""build_outlier_check against real Dagster: data through the IO manager or a loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

from datacanary.errors import ConfigError  # noqa: E402
from datacanary.integrations.dagster import build_outlier_check  # noqa: E402


@pytest.fixture
def instance(dagster_instance: Any) -> Any:
    """The session's Dagster instance (tests/integrations/conftest.py); assets named apart."""
    return dagster_instance


def _orders(rows: int, broken: int, seed: int) -> Any:
    """Orders with ``broken`` rows whose amount is 50-100x their usual size."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "quantity": rng.integers(1, 6, rows),
            "unit_price": rng.normal(20.0, 2.0, rows).round(2),
            "country": rng.choice(["DE", "FR", "NL"], rows),
        }
    )
    frame["amount"] = (frame["quantity"] * frame["unit_price"]).round(2)
    frame.loc[: broken - 1, "amount"] *= rng.uniform(50, 100, broken)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _evaluation(result: Any) -> Any:
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_dagster_outlier_check_per_partition_through_the_io_manager(instance: Any) -> None:
    days = dg.StaticPartitionsDefinition(["good", "bad"])

    @dg.asset(partitions_def=days)
    def sales(context) -> Any:  # type: ignore[no-untyped-def]
        broken = 2 if context.partition_key == "good" else 60
        return _orders(400, broken, seed=1)

    # the robust z-score row detector: deterministic, and flags ~1.5 % of these clean rows
    check = build_outlier_check(asset=sales, method="mad", max_fraction=0.1, top=5)
    good = _evaluation(dg.materialize([sales, check], instance=instance, partition_key="good"))
    bad = _evaluation(
        dg.materialize([sales, check], instance=instance, partition_key="bad", raise_on_error=False)
    )
    assert good.passed
    assert not bad.passed
    assert bad.partition == "bad"  # a partitioned check loads and judges the run's partition
    meta = {k: v.value for k, v in bad.metadata.items()}
    assert meta["rows"] == 400
    assert meta["outliers"] >= 60
    assert meta["outlier_fraction"] == pytest.approx(meta["outliers"] / 400)
    assert meta["max_fraction"] == 0.1
    assert meta["status"] == "anomaly"
    assert meta["method"] == "mad"
    assert set(meta["features"]) >= {"amount", "quantity", "unit_price"}
    assert bad.description.startswith(
        f"{meta['outliers']} of 400 rows of sales [bad] ({meta['outlier_fraction']:.2%}) are "
        "outliers, above the allowed 10.00%; the most anomalous is row "
    )
    table = meta["top_rows"].splitlines()
    assert table[0].startswith("| row | score | p-value | stands out on | quantity |")
    assert len(table) == 2 + 5  # header, rule and the top five rows
    assert all("amount" in line for line in table[2:])  # each explained by its amount


def test_dagster_outlier_check_with_a_loader_and_unusable_data(instance: Any) -> None:
    pl = pytest.importorskip("polars")
    data: dict[str, Any] = {"frame": pl.from_pandas(_orders(300, 1, seed=2))}

    @dg.asset
    def payments() -> None:
        return None

    check = build_outlier_check(
        asset=payments,
        method="mad",
        columns=["amount", "quantity"],
        loader=lambda context: data["frame"],
        name="payment_outliers",
        blocking=True,
    )
    passed = _evaluation(dg.materialize([payments, check], instance=instance))
    assert passed.passed
    assert passed.check_name == "payment_outliers"
    assert {k: v.value for k, v in passed.metadata.items()}["features"] == ["amount", "quantity"]

    data["frame"] = pl.DataFrame({"id": [1, 2, 3]})  # the named columns are gone
    result = dg.materialize([payments, check], instance=instance, raise_on_error=False)
    failed = _evaluation(result)
    assert not failed.passed
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.description.startswith("the rows of payments cannot be scored: column")
    assert not result.success  # blocking, ERROR: the check step fails


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_fraction": 1.0}, "max_fraction must be a share of rows in [0, 1); got 1.0"),
        ({"method": "forest"}, "unknown method 'forest'"),
        ({"top": -1}, "top must be an integer >= 0; got -1"),
        ({"name": "row outliers"}, "name must be letters, digits and underscores"),
        ({"loader": "orders.parquet"}, "loader must be a function"),
        ({"columns": "amount"}, "columns must be a non-empty list of column names"),
        ({"detector_params": {"contamination": 0.1}}, "must not set contamination"),
        ({"detector_params": {"n_neighbours": 5}}, "n_neighbours"),
        ({"asset": ["a", 1]}, "each of asset must be an asset key"),
    ],
)
def test_dagster_outlier_check_bad_definitions(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"asset": "orders", **kwargs}
    with pytest.raises(ConfigError) as error:
        build_outlier_check(**arguments)
    assert message in str(error.value)


def test_dagster_outlier_check_needs_one_asset(tmp_path: Path) -> None:
    @dg.multi_asset(specs=[dg.AssetSpec("a"), dg.AssetSpec("b")])
    def both():  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(ConfigError, match="asset must be one asset; the definition given has 2"):
        build_outlier_check(asset=both)
