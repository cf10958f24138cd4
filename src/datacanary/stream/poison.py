"""Poison messages: outputs too large for the producer or the broker, cut down to fit.

A message over the output's limit (the producer's ``max_request_size``, the broker's or
topic's ``max.message.bytes``) cannot be forwarded whole. Its dead letter then carries the
first bytes of the value (``head``), and headers with its size, its SHA-256 digest, where
it came from and why it was cut; a row anomaly carries a summary of the record instead of
the record. When even that is refused, the message is recorded as skipped (a log line, a
counter and a row in the state file) and the partition goes on.

>>> value = b'{"blob": "' + b"x" * 3_000_000 + b'"}'
>>> small, headers = cut_dead_letter(value, None, [("datacanary.error", b"too big")],
...                                  limit=1_048_576)
>>> len(small), dict(headers)["datacanary.size"], dict(headers)["datacanary.truncated"]
(65536, b'3000012', b'true')
>>> message_size(small, None, headers) < 1_048_576
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

__all__ = [
    "HEAD_BYTES",
    "KAFKA_DEFAULT_LIMIT",
    "cut_dead_letter",
    "is_size_error",
    "message_size",
    "record_summary",
    "sha256",
]

HEAD_BYTES = 64 << 10
"""The most bytes of a cut message's value that its dead letter keeps."""
KAFKA_DEFAULT_LIMIT = 1_048_576
"""The producer's default ``max_request_size`` (the broker's default ``message.max.bytes``
is 1,048,588): the limit when nothing else is known."""
_OVERHEAD = 512  # record and batch framing, generously
_SIZE_ERRORS = ("MessageSizeTooLargeError", "RecordTooLargeError", "RecordBatchTooLargeError")

Headers = Sequence[tuple[str, bytes]]


def message_size(value: bytes | None, key: bytes | None, headers: Headers = ()) -> int:
    """Bytes a message takes on the wire, framing included (an upper bound)."""
    size = _OVERHEAD + len(value or b"") + len(key or b"")
    return size + sum(len(name) + len(data or b"") + 8 for name, data in headers)


def sha256(value: bytes | None) -> str:
    """The hex SHA-256 digest of ``value`` (of nothing, for None)."""
    return hashlib.sha256(value or b"").hexdigest()


def is_size_error(error: BaseException) -> bool:
    """True when ``error`` says a message or batch was too large (producer or broker)."""
    names = {type(error).__name__, *(t.__name__ for t in type(error).__mro__)}
    return bool(names.intersection(_SIZE_ERRORS)) or getattr(error, "errno", None) in (10, 18)


def cut_dead_letter(
    value: bytes | None,
    key: bytes | None,
    headers: Headers,
    *,
    limit: int,
    head: int = HEAD_BYTES,
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A dead letter for a message too large to forward whole: its first bytes and
    headers saying what was cut (``datacanary.truncated``, ``datacanary.size``,
    ``datacanary.sha256``, ``datacanary.head-bytes``).

    Headers of the original that would not fit are dropped (``datacanary.headers-dropped``
    says how many). The result fits in ``limit`` bytes with ``key``.
    """
    data = value or b""
    kept: list[tuple[str, bytes]] = []
    budget = max(0, limit // 4)  # original headers may use a quarter of the room
    dropped = 0
    for name, raw in headers:
        cost = len(name) + len(raw or b"") + 8
        if name.startswith("datacanary.") or cost <= budget:
            kept.append((name, raw or b""))
            if not name.startswith("datacanary."):
                budget -= cost
        else:
            dropped += 1
    extra: list[tuple[str, bytes]] = [
        ("datacanary.truncated", b"true"),
        ("datacanary.size", str(len(data)).encode()),
        ("datacanary.sha256", sha256(data).encode()),
    ]
    if dropped:
        extra.append(("datacanary.headers-dropped", str(dropped).encode()))
    room = limit - message_size(b"", key, [*kept, *extra, ("datacanary.head-bytes", b"0" * 20)])
    size = max(0, min(head, room, len(data)))
    extra.append(("datacanary.head-bytes", str(size).encode()))
    return data[:size], [*kept, *extra]


def record_summary(value: bytes | None, *, head: int = 1000) -> dict[str, Any]:
    """What the anomalies topic says of a record too large to copy: its size, digest and
    first characters.

    >>> summary = record_summary(b'{"a": 1}', head=4)
    >>> summary["bytes"], summary["head"], summary["sha256"][:12]
    (8, '{"a"', 'f9d86028c6e0')
    """
    data = value or b""
    return {
        "truncated": True,
        "bytes": len(data),
        "sha256": sha256(data),
        "head": data[:head].decode("utf-8", errors="replace"),
    }
