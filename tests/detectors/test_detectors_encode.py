"""TableEncoder on real-looking tables: types, nulls, ids, explicit choices, every input format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from datacanary.detectors import TableEncoder
from datacanary.detectors._encode import CLIP
from datacanary.errors import ColumnNotFoundError, ConfigError, InputError, NotEnoughDataError


def _orders(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "order_id": [f"o-{i:05d}" for i in range(n)],
            "row": np.arange(1, n + 1),
            "amount": rng.lognormal(3, 0.4, n),
            "cents": rng.integers(0, 10**7, n),
            "country": rng.choice(["DE", "FR", "NL"], n),
            "sku": rng.choice([f"s{i}" for i in range(25)], n),
            "gift": rng.random(n) < 0.3,
            "created": pd.date_range("2024-01-01", periods=n, freq="97min"),
            "empty": [None] * n,
            "currency": "EUR",
        }
    )


def test_columns_become_the_documented_features() -> None:
    encoder = TableEncoder().fit(_orders())
    assert encoder.feature_names_ == [
        "amount", "cents", "country=DE", "country=FR", "country=NL", "sku:rarity", "gift",
        "created", "created:hour_sin", "created:hour_cos",  # 4 days: hours, but no weekdays yet
    ]  # fmt: skip
    assert encoder.dropped_columns_ == {
        "order_id": "identifier-like: 100% unique",
        "row": "identifier-like: 100% unique",
        "empty": "all null",
        "currency": "constant",
    }
    assert encoder.source_columns_["country=DE"] == "country"
    assert encoder.columns_ == ["amount", "cents", "country", "sku", "gift", "created"]
    assert list(encoder.get_feature_names_out()) == encoder.feature_names_


def test_numbers_are_robust_scaled() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 1000.0]})
    column = TableEncoder().fit_transform(frame)[:, 0]
    scale = 1.4826 * 1.0  # MAD of [1, 2, 3, 4, 1000] around the median 3 is 1
    np.testing.assert_allclose(column, (frame["x"] - 3.0) / scale)


def test_missing_values_get_an_indicator_weighted_by_surprise_and_the_median() -> None:
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 5.0], "flag": pd.array([True, None, False, True])})
    encoder = TableEncoder().fit(frame)
    assert encoder.feature_names_ == ["x", "x:missing", "flag", "flag:missing"]
    matrix = encoder.transform(frame)
    weight = np.log(5 / 2)  # -log of the smoothed null share (1 + 1) / (4 + 1)
    np.testing.assert_allclose(matrix[1], [0.0, weight, 1.0, weight])  # median, mode
    unseen_null = encoder.transform(pd.DataFrame({"x": [None], "flag": [None]}))
    assert np.all(np.isfinite(unseen_null))


def test_a_common_null_weighs_less_than_a_rare_one_and_a_never_seen_one_most() -> None:
    n = 1000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: rng.normal(size=n) for c in ("often", "rarely", "never")})
    frame.loc[: n * 0.3 - 1, "often"] = np.nan  # 30 % null
    frame.loc[:9, "rarely"] = np.nan  # 1 % null
    encoder = TableEncoder().fit(frame)
    assert encoder.feature_names_ == ["often", "often:missing", "rarely", "rarely:missing", "never"]
    new = pd.DataFrame({"often": [np.nan], "rarely": [np.nan], "never": [np.nan]})
    often, _, rarely, never = encoder.transform(new)[0, [1, 0, 3, 4]]
    assert 1.0 < often < 1.5 < 4.0 < rarely < 5.0 < never == pytest.approx(np.log(n + 1))


def test_bounds_point_masses_and_relations_are_learned_from_training_rows() -> None:
    rng = np.random.default_rng(1)
    n = 1000
    quantity = rng.geometric(0.4, n)
    price = rng.lognormal(3, 0.4, n).round(2)
    frame = pd.DataFrame(
        {
            "quantity": quantity,
            "price": price,
            "total": (quantity * price).round(2),
            "discount": np.where(rng.random(n) < 0.7, 0.0, rng.uniform(0.05, 0.2, n)),
        }
    )
    encoder = TableEncoder().fit(frame)
    assert encoder.feature_names_[-1] == "total:quantity*price"
    scales = {p.column: p.values for p in encoder.plans_}
    assert scales["quantity"].floor == 1.0 and scales["price"].floor == 0.0
    assert scales["discount"].mass == 0.0 and scales["discount"].off_share == pytest.approx(
        np.mean(frame["discount"] > 0)
    )
    new = pd.DataFrame({"quantity": [2, -1, 2], "price": [10.0, 10.0, 10.0],
                        "total": [20.0, -10.0, 35.0], "discount": [0.0, 0.1, 0.9]})  # fmt: skip
    matrix = encoder.transform(new)
    assert abs(matrix[0]).max() < 2  # an ordinary order
    assert matrix[1, 0] < -5  # below the floor: a jump of -log(1 / 1001) plus the distance
    assert matrix[2, -1] > 100  # 35 is not 2 x 10: far off a relation that always held
    assert matrix[0, 3] == 0.0 and 1 < matrix[1, 3] < 4 < 10 < matrix[2, 3]  # discount


def test_categories_one_hot_or_frequency_and_unseen_values() -> None:
    frame = pd.DataFrame(
        {"small": ["a", "b", "a", None] * 10, "big": [f"v{i % 20}" for i in range(40)]}
    )
    encoder = TableEncoder().fit(frame)
    assert encoder.feature_names_ == ["small=(missing)", "small=a", "small=b", "big:rarity"]
    new = encoder.transform(pd.DataFrame({"small": ["zzz"], "big": ["never-seen"]}))
    assert new[0, :3].tolist() == [0.0, 0.0, 0.0]  # an unseen category sets no one-hot column
    seen = encoder.transform(frame)[:, 3]
    assert new[0, 3] > seen.max()  # and is rarer than any seen one


def test_identifier_detection_keeps_measures() -> None:
    n = 80
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "customerId": rng.permutation(10**6)[:n],  # named like an id, unique
            "ticket": np.arange(5000, 5000 + n),  # sequential integers
            "price_cents": rng.choice(10**6, n, replace=False),  # unique but a measure
            "weight": rng.normal(size=n),  # unique floats are measures
            "email": [f"user{i}@x.org" for i in range(n)],  # unique strings
        }
    )
    encoder = TableEncoder().fit(frame)
    assert set(encoder.dropped_columns_) == {"customerId", "ticket", "email"}
    assert encoder.columns_ == ["price_cents", "weight"]
    chosen = TableEncoder(columns=["ticket", "weight"]).fit(frame)  # named: kept anyway
    assert chosen.columns_ == ["ticket", "weight"] and chosen.dropped_columns_ == {}


def test_columns_and_exclude_choose_explicitly() -> None:
    frame = _orders()
    assert TableEncoder(exclude=["cents", "sku"]).fit(frame).columns_ == [
        "amount", "country", "gift", "created",
    ]  # fmt: skip
    with pytest.raises(
        ColumnNotFoundError, match="column 'amout' not found; did you mean 'amount'"
    ):
        TableEncoder(columns=["amout"]).fit(frame)
    with pytest.raises(ColumnNotFoundError, match="'nope' not found"):
        TableEncoder(exclude=["nope"]).fit(frame)
    with pytest.raises(ConfigError, match=r"got the string 'amount' \(write \['amount'\]\)"):
        TableEncoder(columns="amount").fit(frame)


def test_no_usable_column_says_which_were_dropped_and_why() -> None:
    frame = pd.DataFrame({"order_id": [f"o{i}" for i in range(30)], "note": [None] * 30})
    with pytest.raises(InputError) as error:
        TableEncoder().fit(frame)
    assert str(error.value) == (
        "no usable feature column (order_id: identifier-like: 100% unique; note: all null); "
        "pass columns=[...] naming numeric, categorical, boolean or datetime columns"
    )


def test_a_single_constant_column_still_encodes() -> None:
    encoder = TableEncoder().fit(pd.DataFrame({"currency": ["EUR"] * 5}))
    assert encoder.feature_names_ == ["currency=EUR"] and encoder.dropped_columns_ == {}
    np.testing.assert_array_equal(encoder.transform(pd.DataFrame({"currency": ["USD"]})), [[0.0]])


def test_infinities_and_huge_values_stay_finite() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.inf, -np.inf, 1e308, 3.0]})
    column = TableEncoder().fit_transform(frame)[:, 0]
    assert np.all(np.isfinite(column))
    assert column[2] == CLIP and column[3] == -CLIP and column[4] == CLIP


def test_datetimes_and_iso_strings_become_time_features() -> None:
    stamps = pd.date_range("2024-03-01", periods=150, freq="5h", tz="Europe/Berlin")  # 31 days
    shipped = (stamps + pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    frame = pd.DataFrame({"ordered": stamps, "shipped": shipped})
    shipped_early = frame["shipped"].copy()
    shipped_early[10] = (stamps[10] - pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    frame["shipped"] = shipped_early
    encoder = TableEncoder().fit(frame)
    assert encoder.feature_names_ == [
        "ordered", "ordered:hour_sin", "ordered:hour_cos", "ordered:weekday_sin",
        "ordered:weekday_cos", "shipped", "shipped:hour_sin", "shipped:hour_cos",
        "shipped:weekday_sin", "shipped:weekday_cos", "shipped-ordered",
    ]  # fmt: skip
    matrix = encoder.transform(frame)
    assert np.all(np.isfinite(matrix)) and matrix[:, 0].argmax() == 149  # later = higher
    gap = matrix[:, encoder.feature_names_.index("shipped-ordered")]
    assert gap.argmin() == 10 and gap[10] < -50  # shipped before it was ordered
    one_day = TableEncoder().fit(frame.iloc[:4])  # 15 hours: the hour is the timestamp
    assert "ordered:hour_sin" not in one_day.feature_names_


def test_mixed_object_columns_are_typed_by_their_values() -> None:
    frame = pd.DataFrame(
        {
            "numbers_as_text": ["1.5", "2", "3.25", None] * 5,
            "mixed": [1, "a", 2.5, None] * 5,
            "bools": [True, False, None, True] * 5,
            "lists": [[1], [2, 3], None, [1]] * 5,
        }
    )
    encoder = TableEncoder().fit(frame)
    plans = {plan.column: plan.kind for plan in encoder.plans_}
    assert plans == {"numbers_as_text": "numeric", "mixed": "onehot", "bools": "bool",
                     "lists": "onehot"}  # fmt: skip
    assert np.all(np.isfinite(encoder.transform(frame)))


def test_every_input_format_gives_the_same_matrix() -> None:
    frame = _orders().drop(columns=["empty"])
    expected = TableEncoder().fit_transform(frame)
    for data in (pl.from_pandas(frame), pa.Table.from_pandas(frame)):
        np.testing.assert_allclose(TableEncoder().fit_transform(data), expected)
    numbers = frame[["amount", "cents"]].to_numpy()
    encoder = TableEncoder().fit(numbers)
    assert encoder.feature_names_ == ["x0", "x1"]
    np.testing.assert_allclose(encoder.transform(numbers), expected[:, :2])


def test_bad_shapes_and_missing_columns_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"expected a 2-D table .* shape \(3,\)"):
        TableEncoder().fit(np.zeros(3))
    with pytest.raises(NotEnoughDataError, match="the table has 0 rows"):
        TableEncoder().fit(pd.DataFrame({"x": []}))
    encoder = TableEncoder().fit(pd.DataFrame({"amount": [1.0, 2.0], "n": [3, 4]}))
    with pytest.raises(ColumnNotFoundError, match="column 'n' not found"):
        encoder.transform(pd.DataFrame({"amount": [1.0]}))
    with pytest.raises(InputError, match="duplicate column names 'a'"):
        TableEncoder().fit(pd.DataFrame([[1, 2]], columns=["a", "a"]))
