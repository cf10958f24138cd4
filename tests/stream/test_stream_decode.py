from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datacanary.stream.decode import decode_frame
from datacanary.stream.source import Record


def _batch(values: list[bytes | None]) -> list[Record]:
    return [Record("orders", 0, i, 1_700_000_000_000 + i, v) for i, v in enumerate(values)]


def test_stream_decode_splits_good_rows_from_every_kind_of_bad_message() -> None:
    values: list[bytes | None] = [
        b'{"id": 0, "amount": 10.5, "country": "DE"}',
        b'{"id": 1, "amount": ',  # truncated
        b"[1, 2, 3]",  # an array
        b"\xff\xfe not utf-8",  # not UTF-8
        None,  # a tombstone
        b"   ",  # blank
        b'"just a string"',
        b'{"id": 7, "amount": 1} {"id": 8}',  # two objects in one message
        b'{\n  "id": 8,\n  "amount": 12.0\n}',  # pretty-printed: valid
        b'{"id": 9, "note": "raw\nnewline"}',  # a raw newline inside a string: invalid
        b'{"id": 10, "amount": "n/a"}',  # valid JSON; the type is the row scorer's concern
        b'{"id": 11, "amount": 11.0, "country": "FR"}',
    ]
    decoded = decode_frame(_batch(values))

    assert decoded.good == [0, 8, 10, 11]
    assert [i for i, _ in decoded.errors] == [1, 2, 3, 4, 5, 6, 7, 9]
    errors = dict(decoded.errors)
    assert errors[1].startswith("the value is not valid JSON: Expecting value at line 1")
    assert errors[2].startswith("the value is an array, not a JSON object")
    assert errors[3].startswith("the value is not UTF-8 text")
    assert errors[4].startswith("the message has no value (a tombstone)")
    assert errors[6].startswith("the value is a string, not a JSON object")
    assert "Extra data" in errors[7]
    assert "Invalid control character" in errors[9]
    assert decoded.frame["id"].tolist() == [0, 8, 10, 11]
    assert decoded.frame["amount"].tolist() == [10.5, 12.0, "n/a", 11.0]


def test_stream_decode_fast_path_types_columns() -> None:
    values = [
        json.dumps({"id": i, "amount": i * 1.5, "ok": i % 2 == 0}).encode() for i in range(50)
    ]
    decoded = decode_frame(_batch(values))  # type: ignore[arg-type]
    assert decoded.errors == []
    assert decoded.good == list(range(50))
    assert str(decoded.frame["amount"].dtype) == "float64"
    assert decoded.frame["ok"].dtype == bool


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
)
_objects = st.dictionaries(st.sampled_from(["a", "b", "c"]), _scalars, max_size=3)
_garbage = st.one_of(
    st.binary(max_size=12),
    st.just(b'{"a": '),
    st.just(b"[]"),
    st.just(b"null"),  # pyarrow's JSON reader crashes on this line; it must never get it
    st.just(b" {}"),
    st.none(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_objects.map(lambda o: ("ok", o)), _garbage.map(lambda g: ("bad", g)))))
def test_stream_decode_agrees_with_json_loads_message_by_message(
    items: list[tuple[str, object]],
) -> None:
    values: list[bytes | None] = [
        json.dumps(x).encode() if kind == "ok" else x  # type: ignore[misc]
        for kind, x in items
    ]
    decoded = decode_frame(_batch(values))

    expected_good = []
    for i, value in enumerate(values):
        try:
            if value is not None and type(json.loads(value.decode("utf-8"))) is dict:
                expected_good.append(i)
        except ValueError:
            pass
    assert decoded.good == expected_good
    assert sorted(decoded.good + [i for i, _ in decoded.errors]) == list(range(len(values)))
    assert len(decoded.frame) == len(decoded.good)
    for row, index in enumerate(decoded.good):
        original = json.loads(values[index].decode("utf-8"))  # type: ignore[union-attr]
        for key, value in original.items():
            got = decoded.frame[key].iloc[row]
            if value is None:
                assert got is None or got != got  # None or NaN
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                assert float(got) == pytest.approx(float(value), rel=1e-6)
            else:
                assert got == value
