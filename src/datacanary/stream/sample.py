"""Sample order events with known anomalies, for the demo, the benchmark and the tests.

Events arrive about ``per_window`` (±5%) to a window, evenly spread in event time. Among them:

* **row anomalies** every ``anomaly_every`` events: an amount 80 times the usual, a
  quantity of 250, or a latency of a minute;
* **malformed messages** every ``malformed_every`` events: truncated JSON, a JSON array,
  bytes that are not UTF-8, an ``amount`` that is text;
* **window incidents**: an outage window with a sixth of the usual events, and a window
  where most events have no ``email``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["SampleEvent", "sample_events"]

_COUNTRIES = (("DE", 0.4), ("FR", 0.25), ("NL", 0.2), ("US", 0.15))
_MALFORMED: tuple[bytes | None, ...] = (
    b'{"id": 17, "amount": ',
    b"[1, 2, 3]",
    b"\xff\xfe not utf-8 \xc3",
    None,  # replaced by a record whose amount is text
)


@dataclass(frozen=True)
class SampleEvent:
    """One message to produce: its bytes, event time, and what it is.

    ``kind`` is ``normal``, ``anomaly`` (a row the detector should flag) or ``malformed``
    (belongs on the dead-letter topic); ``id`` is the record's ``id`` field.
    """

    id: int
    value: bytes
    timestamp_ms: int
    kind: str


def _normal(rng: random.Random, i: int, with_email: bool) -> dict[str, object]:
    country = rng.choices([c for c, _ in _COUNTRIES], [w for _, w in _COUNTRIES])[0]
    return {
        "id": i,
        "amount": round(rng.lognormvariate(3.7, 0.35), 2),
        "quantity": 1 + min(int(rng.expovariate(1.0)), 9),
        "latency_ms": round(rng.gammavariate(4.0, 30.0), 1),
        "country": country,
        "channel": "app" if rng.random() < 0.4 else "web",
        "email": f"customer{rng.randrange(5000)}@example.com" if with_email else None,
    }


def sample_events(
    n: int = 20_000,
    *,
    seed: int = 0,
    per_window: int = 200,
    window_seconds: float = 60.0,
    start: datetime = datetime(2024, 5, 1, tzinfo=timezone.utc),
    anomaly_every: int | None = 997,
    malformed_every: int | None = 2_503,
    incidents: bool = True,
) -> list[SampleEvent]:
    """``n`` order events, in event-time order, with the anomalies described above.

    Parameters
    ----------
    n
        How many events.
    seed
        Seeds everything random.
    per_window
        Events per window of ``window_seconds`` (±5%, at random).
    anomaly_every, malformed_every
        One row anomaly (malformed message) every this many events; None: none.
    incidents
        Include the outage window (60) and the missing-email window (75).

    Examples
    --------
    >>> events = sample_events(5_000)
    >>> len(events), sorted({e.kind for e in events})
    (5000, ['anomaly', 'malformed', 'normal'])
    >>> sum(e.kind == "anomaly" for e in events), sum(e.kind == "malformed" for e in events)
    (5, 1)
    >>> json.loads(events[0].value)["country"], events[1].timestamp_ms - events[0].timestamp_ms
    ('NL', 297)
    """
    rng = random.Random(seed)
    return list(
        _generate(
            n, rng, per_window, window_seconds, start, anomaly_every, malformed_every, incidents
        )
    )


def _generate(
    n: int,
    rng: random.Random,
    per_window: int,
    window_seconds: float,
    start: datetime,
    anomaly_every: int | None,
    malformed_every: int | None,
    incidents: bool,
) -> Iterator[SampleEvent]:
    window_ms = int(window_seconds * 1000)
    origin = int(start.timestamp() * 1000) // window_ms * window_ms
    i = 0
    window = 0
    malformed = 0
    anomalies = 0
    while i < n:
        jitter = max(1, per_window // 20)
        count = per_window + rng.randint(-jitter, jitter)
        if incidents and window == 60:  # an outage: a sixth of the usual traffic
            count = per_window // 6
        missing_email = incidents and window == 75
        step = window_ms // max(count, 1)
        for k in range(count):
            if i >= n:
                return
            stamp = origin + window * window_ms + k * step
            record = _normal(rng, i, not (missing_email and rng.random() < 0.7))
            kind = "normal"
            if anomaly_every and (i + 1) % anomaly_every == 0:
                kind = "anomaly"
                variant = anomalies % 3
                anomalies += 1
                if variant == 0:
                    record["amount"] = round(float(str(record["amount"])) * 80, 2)
                elif variant == 1:
                    record["quantity"] = 250
                else:
                    record["latency_ms"] = 60_000.0
            value = json.dumps(record).encode()
            if malformed_every and (i + 1) % malformed_every == 0:
                kind = "malformed"
                bad = _MALFORMED[malformed % len(_MALFORMED)]
                malformed += 1
                if bad is None:  # valid JSON, but the amount is text
                    bad = value.replace(b'"amount": ', b'"amount": "n/a", "was": ', 1)
                value = bad
            yield SampleEvent(i, value, stamp, kind)
            i += 1
        window += 1
