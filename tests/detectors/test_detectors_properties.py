"""Adversarial tables: the encoder and the detectors return finite answers or a clear InputError."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datacanary.detectors import TableEncoder, score_table
from datacanary.errors import InputError, NotEnoughDataError

KINDS = ["float", "int", "text", "bool", "null", "constant", "mixed", "datetime"]
SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

_values: dict[str, st.SearchStrategy[object]] = {
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "int": st.integers(-(2**62), 2**62),
    "text": st.sampled_from(["a", "b", "c", "", "Ω", " "]),
    "bool": st.sampled_from([True, False, None]),
    "mixed": st.one_of(
        st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.text(max_size=3)
    ),
    "datetime": st.one_of(
        st.none(), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
    ),
}


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    columns: dict[str, object] = {}
    for j in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(KINDS))
        if kind == "null":
            values: list[object] = [None] * n
        elif kind == "constant":
            values = [draw(st.one_of(st.floats(allow_nan=False), st.text(max_size=2)))] * n
        else:
            values = draw(st.lists(_values[kind], min_size=n, max_size=n))
        columns[f"{kind}{j}"] = pd.Series(values, dtype=object if kind == "mixed" else None)
    return pd.DataFrame(columns)


@SETTINGS
@given(tables())
def test_encoder_gives_a_finite_matrix_or_an_input_error(frame: pd.DataFrame) -> None:
    try:
        encoder = TableEncoder().fit(frame)
    except InputError as error:
        assert "no usable feature column" in str(error)
        return
    matrix = encoder.transform(frame)
    assert matrix.shape == (len(frame), len(encoder.feature_names_))
    assert np.all(np.isfinite(matrix))
    assert set(encoder.columns_) | set(encoder.dropped_columns_) == set(frame.columns)
    one_row = encoder.transform(frame.iloc[:1])  # new data scored alone
    np.testing.assert_allclose(one_row, matrix[:1])


@SETTINGS
@given(tables(), st.sampled_from(["auto", "iforest", "ecod", "mad", "zscore", "knn"]))
def test_detectors_score_every_row_or_raise_an_input_error(
    frame: pd.DataFrame, method: str
) -> None:
    try:
        result = score_table(frame, method)
    except NotEnoughDataError as error:
        assert method == "knn" and len(frame) < 10 and "n_neighbors=10" in str(error)
        return
    except InputError as error:
        assert "no usable feature column" in str(error)
        return
    scores = np.asarray(result.scores)
    assert scores.shape == (len(frame),) and np.all(np.isfinite(scores))
    assert list(result.is_anomaly) == (scores > result.threshold).tolist()
    assert all((text != "") == flagged for text, flagged in
               zip(result.explanations, result.is_anomaly, strict=True))  # fmt: skip


@SETTINGS
@given(
    st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=3, max_size=3),
        min_size=2,
        max_size=40,
    )
)
def test_extreme_numbers_stay_finite(rows: list[list[float]]) -> None:
    matrix = np.array(rows, dtype=np.float64)
    try:
        result = score_table(matrix)
    except InputError as error:  # e.g. every column all NaN
        assert "no usable feature column" in str(error)
        return
    assert np.all(np.isfinite(result.scores))
