"""Turn message values into a table: JSON objects in, one error sentence per bad message out.

:func:`decode_frame` parses a whole batch at once with pyarrow's JSON reader (several times
faster than ``json.loads`` per message plus building a frame from dicts). A bad message
fails the bulk parse, so the batch is split around the row the parser names, or halved,
until each bad message is alone; a batch whose good rows still disagree on a field's type
is built through ``json.loads`` instead. Either way each message is judged on its own.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datacanary.stream.source import Message

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["Decoded", "DecodedFrame", "decode_frame", "decode_messages"]

_ROW = re.compile(r"in row (\d+)")

_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


@dataclass
class Decoded:
    """The messages of one batch, split into records and errors (indices into the batch)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    good: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def _error(value: bytes | None) -> str:
    """Why ``value`` is not a JSON object (called for the bad ones only)."""
    if value is None:
        return "the message has no value (a tombstone); a JSON object was expected"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"the value is not UTF-8 text (byte {error.start}); send JSON objects as UTF-8"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return (
            f"the value is not valid JSON: {error.msg} at line {error.lineno} column "
            f"{error.colno}; send one JSON object per message"
        )
    except (ValueError, RecursionError) as error:
        return f"the value is not usable JSON: {error}; send one JSON object per message"
    kind = "null" if data is None else _KINDS.get(type(data), type(data).__name__)
    return f"the value is {kind}, not a JSON object; send one JSON object per message"


def decode_messages(messages: Sequence[Message]) -> Decoded:
    """Parse each message's value as a JSON object, one message at a time.

    A message whose value is missing, not UTF-8, not JSON or not an object becomes an
    error sentence; nothing raises.

    Examples
    --------
    >>> from datacanary.stream.source import Record
    >>> batch = [Record("t", 0, i, 0, v) for i, v in enumerate([b'{"a": 1}', b'{"a": ', b'[1]'])]
    >>> decoded = decode_messages(batch)
    >>> decoded.records, decoded.good
    ([{'a': 1}], [0])
    >>> for index, error in decoded.errors:
    ...     print(index, error.split(";")[0])
    1 the value is not valid JSON: Expecting value at line 1 column 7
    2 the value is an array, not a JSON object
    """
    decoded = Decoded()
    loads = json.loads
    records, good = decoded.records, decoded.good
    for index, message in enumerate(messages):
        value = message.value
        try:
            data = loads(value.decode("utf-8"))  # type: ignore[union-attr]
        except (AttributeError, ValueError, RecursionError):
            decoded.errors.append((index, _error(value)))
            continue
        if type(data) is dict:
            records.append(data)
            good.append(index)
        else:
            decoded.errors.append((index, _error(value)))
    return decoded


@dataclass
class DecodedFrame:
    """A batch as a table: ``frame`` row ``i`` is message ``good[i]``; ``errors`` holds
    (message index, sentence) for the rest."""

    frame: pd.DataFrame
    good: list[int]
    errors: list[tuple[int, str]]


def _read(lines: list[bytes]) -> pa.Table:
    return _parse(b"\n".join(lines))


def _parse(data: bytes) -> pa.Table:
    import pyarrow.json as pj

    return pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 16)),
    )


def _bulk(lines: list[bytes]) -> tuple[list[tuple[int, pa.Table]], list[int]]:
    """Parse ``lines`` as NDJSON in as few pieces as possible; return the parsed pieces
    (start, table) and the lines that could not be parsed in bulk."""
    import pyarrow as pa

    tables: list[tuple[int, pa.Table]] = []
    leaves: list[int] = []
    pending = [(0, len(lines))]
    while pending:
        start, end = pending.pop()
        size = end - start
        if size <= 0:
            continue
        row: int | None = None
        try:
            table = _read(lines[start:end])
            if table.num_rows == size:
                tables.append((start, table))
                continue
        except pa.ArrowInvalid as error:
            found = _ROW.search(str(error))
            row = int(found.group(1)) if found else None
        if size == 1:
            leaves.append(start)
        elif row is not None and 0 <= row < size:  # the parser named the odd line
            leaves.append(start + row)
            pending.append((start + row + 1, end))
            if row:
                pending.append((start, start + row))
        else:
            middle = start + size // 2
            pending += [(middle, end), (start, middle)]
    tables.sort(key=lambda item: item[0])
    return tables, sorted(leaves)


def _all_at_once(messages: Sequence[Message]) -> pd.DataFrame | None:
    """The batch as a frame when every message is a one-line JSON object; else None."""
    import pyarrow as pa

    values = [m.value for m in messages]
    try:
        data = b"\n".join(values)  # type: ignore[arg-type]
    except TypeError:  # a tombstone
        return None
    if (
        not values
        or data.count(b"\n") != len(values) - 1
        or b"\r" in data
        or not all(v[:1] == b"{" for v in values)  # type: ignore[index]
    ):
        return None
    try:
        table = _parse(data)
    except pa.ArrowInvalid:
        return None
    if table.num_rows != len(values) or not table.num_columns:
        return None
    return table.to_pandas()


def decode_frame(messages: Sequence[Message]) -> DecodedFrame:
    """Parse each message's value as a JSON object, the whole batch into one table.

    Examples
    --------
    >>> from datacanary.stream.source import Record
    >>> values = [b'{"a": 1, "b": "x"}', b'{"a": ', b'{"a": 2.5}', None, b'[1]']
    >>> decoded = decode_frame([Record("t", 0, i, 0, v) for i, v in enumerate(values)])
    >>> decoded.frame.to_dict("list"), decoded.good
    ({'a': [1.0, 2.5], 'b': ['x', nan]}, [0, 2])
    >>> [index for index, _ in decoded.errors]
    [1, 3, 4]
    """
    import pandas as pd
    import pyarrow as pa

    fast = _all_at_once(messages)
    if fast is not None:
        return DecodedFrame(fast, list(range(len(messages))), [])
    errors: list[tuple[int, str]] = []
    values = [m.value for m in messages]
    try:
        data = b"\n".join(values)  # type: ignore[arg-type]
        lines = data.count(b"\n") != len(values) - 1 or b"\r" in data
    except TypeError:  # a tombstone
        lines = True
    # only one-line objects reach the bulk parser (pyarrow crashes on a line that is `null`);
    # the rest are judged one by one
    suspects = [
        i
        for i, v in enumerate(values)
        if v is None or v[:1] != b"{" or (lines and (b"\n" in v or b"\r" in v))
    ]
    flagged = set(suspects)
    where = [i for i in range(len(values)) if i not in flagged]
    slow: list[int] = []  # messages whose record comes from json.loads
    for index in suspects:
        single = decode_messages([messages[index]])
        if single.errors:
            errors.append((index, single.errors[0][1]))
        else:
            slow.append(index)
    tables, leaves = _bulk([values[i] for i in where]) if where else ([], [])  # type: ignore[misc]
    for leaf in leaves:
        single = decode_messages([messages[where[leaf]]])
        if single.errors:
            errors.append((where[leaf], single.errors[0][1]))
        else:
            slow.append(where[leaf])
    frame: pd.DataFrame | None = None
    parsed = [where[i] for start, t in tables for i in range(start, start + t.num_rows)]
    if tables:
        try:
            combined = pa.concat_tables([t for _, t in tables], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a field with numbers in one piece and text in another
        else:
            frame = combined.to_pandas()
            if len(frame) != len(parsed):  # objects without fields: no columns to count rows
                frame = frame.reindex(pd.RangeIndex(len(parsed)))
    if frame is None:  # json.loads for everything: slower, takes any mix of types
        slow, parsed = slow + parsed, []
    if slow:
        records = [json.loads((messages[i].value or b"").decode("utf-8")) for i in slow]
        extra = pd.DataFrame.from_records(records, index=pd.RangeIndex(len(records)))
        frame = extra if frame is None or not parsed else pd.concat([frame, extra])
    good = parsed + slow
    if frame is None:
        frame = pd.DataFrame()
    elif slow and (parsed or len(slow) > 1):  # rows in message order
        import numpy as np

        order = np.argsort(np.asarray(good), kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        good = sorted(good)
    errors.sort()
    return DecodedFrame(frame, good, errors)
