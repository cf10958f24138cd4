"""The stream processor end to end against a real Kafka-protocol broker (Tansu on loopback)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from pytest_httpserver import HTTPServer

from datacanary.stream import StreamSettings, run_stream
from datacanary.stream.demo import produce_events, read_topic
from datacanary.stream.sample import SampleEvent

ANOMALIES = {400: ("amount", 10_000.0), 700: ("amount", 9_500.0), 850: ("quantity", 500)}
MALFORMED: dict[int, bytes | None] = {
    300: b'{"id": 300, "amount": ',
    600: b"[600]",
    900: b"\xff\xfe\x00",
    950: None,
}
TYPE_ERROR = 1100  # valid JSON, but "amount" is text where the training data had numbers


def _events(n: int = 1200) -> list[SampleEvent]:
    rng = np.random.default_rng(7)
    events = []
    for i in range(n):
        record = {
            "id": i,
            "amount": round(100 + float(rng.uniform(-5, 5)), 2),
            "quantity": int(rng.integers(1, 4)),
            "country": str(rng.choice(["DE", "FR", "NL"])),
        }
        kind = "normal"
        if i in ANOMALIES:
            field, value = ANOMALIES[i]
            record[field] = value
            kind = "anomaly"
        if i == TYPE_ERROR:
            record["amount"] = "n/a"
        value = json.dumps(record).encode()
        if i in MALFORMED:
            value, kind = MALFORMED[i], "malformed"  # type: ignore[assignment]
        events.append(SampleEvent(i, value, 1_714_521_600_000 + i * 100, kind))  # type: ignore[arg-type]
    return events


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"orders-{suffix}", f"canary-{suffix}"


def _settings(bootstrap: str, topic: str, group: str, n: int, **extra: object) -> StreamSettings:
    return StreamSettings.build(
        bootstrap_servers=bootstrap,
        topics=[topic],
        group=group,
        anomalies_topic=f"{topic}.anomalies",
        dead_letter_topic=f"{topic}.dlq",
        train_on=200,
        id_field="id",
        batch_size=300,
        max_messages=n,
        max_seconds=60,
        session_timeout=2,
        **extra,
    )


async def _committed(bootstrap: str, topic: str, group: str) -> dict[int, int | None]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        return {tp.partition: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()


def test_stream_writes_exactly_the_anomalies_and_dead_letters_and_alerts(
    kafka_bootstrap: str, httpserver: HTTPServer
) -> None:
    topic, group = _names()
    events = _events()
    asyncio.run(produce_events(kafka_bootstrap, topic, events, partitions=4))
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    settings = _settings(
        kafka_bootstrap,
        topic,
        group,
        len(events),
        alerts=[{"type": "webhook", "url": httpserver.url_for("/hook"), "retries": 0}],
    )

    stats = run_stream(settings)

    assert stats.consumed == len(events)
    assert stats.stopped_by == "max-messages"
    assert stats.uncommitted == 0
    outputs = [
        json.loads(m.value) for m in asyncio.run(read_topic(kafka_bootstrap, f"{topic}.anomalies"))
    ]
    rows = [o for o in outputs if o["kind"] == "row"]
    assert sorted(o["record"]["id"] for o in rows) == sorted(ANOMALIES)
    for row in rows:
        field, value = ANOMALIES[row["record"]["id"]]
        assert row["record"][field] == value  # the original record, untouched
        assert row["score"] > row["threshold"] > 0
        assert row["explanation"].startswith(field)
        assert (
            row["reason"].startswith(f"{topic} row {{")
            and f"stands out on {field}" in row["reason"]
        )
        assert row["source"]["topic"] == topic
    assert stats.row_anomalies == len(rows)

    dead = asyncio.run(read_topic(kafka_bootstrap, f"{topic}.dlq"))
    by_offset = {(m.partition, m.offset): m for m in dead}
    assert len(by_offset) == len(dead) == len(MALFORMED) + 1
    errors = {}
    for message in dead:
        headers = dict(message.headers)
        source = int(headers["datacanary.partition"]), int(headers["datacanary.offset"])
        errors[source] = headers["datacanary.error"].decode()
        assert headers["datacanary.topic"].decode() == topic
    expected = [*(v or b"" for v in MALFORMED.values()), events[TYPE_ERROR].value]
    assert sorted(m.value or b"" for m in dead) == sorted(expected)  # unchanged bytes
    texts = sorted(errors.values())
    assert any(t.startswith("the value is not valid JSON") for t in texts)
    assert any(t.startswith("the value is an array") for t in texts)
    assert any(t.startswith("the value is not UTF-8") for t in texts)
    assert any(t.startswith("the message has no value") for t in texts)
    assert "field 'amount' must be a number, as in the training data; got 'n/a'" in texts

    committed = asyncio.run(_committed(kafka_bootstrap, topic, group))
    assert sum(v or 0 for v in committed.values()) == len(events)  # every offset committed

    alerts = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert {a["schema"] for a in alerts} == {"datacanary.alert/1"}
    # one page per reason within the cooldown: the three amount rows share one
    assert sorted(a["key"] for a in alerts if a["kind"] == "anomaly" and a["row"]) == [
        f"{topic}:row:amount",
        f"{topic}:row:quantity",
    ]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTP endpoint on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        server.close()


def test_stream_goes_on_when_a_webhook_never_answers(
    kafka_bootstrap: str, silent_server: str
) -> None:
    topic, group = _names()
    events = _events()
    asyncio.run(produce_events(kafka_bootstrap, topic, events, partitions=2))
    settings = _settings(
        kafka_bootstrap,
        topic,
        group,
        len(events),
        alerts=[{"type": "webhook", "url": silent_server, "timeout": 1, "retries": 0}],
    )

    started = time.monotonic()
    stats = run_stream(settings)

    assert time.monotonic() - started < 30  # shutdown waits 10 s at most for the sinks
    assert stats.consumed == len(events) and stats.row_anomalies == len(ANOMALIES)
    assert stats.alerts_failed >= 1 and stats.alerts_delivered == 0
    assert any("no answer within 1 s" in p for p in stats.problems), stats.problems
    rows = asyncio.run(read_topic(kafka_bootstrap, f"{topic}.anomalies"))
    assert len([m for m in rows if b'"kind": "row"' in m.value]) == len(ANOMALIES)
