"""A 1.5 MB poison message on a real broker (Tansu): it ends on the dead-letter topic cut to
its head and digest, and the partition goes on (it used to crash-loop the processor)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

from datacanary.stream import StreamSettings, run_stream
from datacanary.stream.demo import produce_events, read_topic
from datacanary.stream.sample import SampleEvent

N = 3_000
POISON = b'{"id": 3000, "note": "' + b"x" * 1_500_000  # 1.5 MB, truncated JSON
BIG = json.dumps({"id": 3001, "amount": 100.0, "note": "y" * 1_500_000}).encode()  # valid


async def _produce_large(bootstrap: str, topic: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 << 20)
    await producer.start()
    try:
        for value in (POISON, BIG):
            await (await producer.send(topic, value, key=b"big", partition=1))
    finally:
        await producer.stop()


def test_stream_forwards_a_poison_message_over_1_mib_and_goes_on(kafka_bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic = f"orders-{suffix}"
    events = [
        SampleEvent(
            i,
            json.dumps({"id": i, "amount": 95.0 + i % 11}).encode(),
            1_714_521_600_000 + i * 10,
            "normal",
        )
        for i in range(N)
    ]
    asyncio.run(produce_events(kafka_bootstrap, topic, events[:1_500], partitions=4))
    asyncio.run(_produce_large(kafka_bootstrap, topic))
    asyncio.run(produce_events(kafka_bootstrap, topic, events[1_500:], partitions=4))
    settings = StreamSettings.build(
        bootstrap_servers=kafka_bootstrap,
        topics=[topic],
        group=f"canary-{suffix}",
        anomalies_topic=f"{topic}.anomalies",
        dead_letter_topic=f"{topic}.dlq",
        scores_topic=f"{topic}.scores",
        train_on=200,
        id_field="id",
        batch_size=500,
        max_messages=N + 2,
        max_seconds=60,
        session_timeout=2,
    )

    stats = run_stream(settings)

    assert stats.consumed == N + 2 and stats.uncommitted == 0 and stats.stopped_by == "max-messages"
    assert stats.dead_letters == 1 and stats.cut == 1 and stats.skipped == 0
    [dead] = asyncio.run(read_topic(kafka_bootstrap, f"{topic}.dlq"))
    headers = dict(dead.headers)
    assert headers["datacanary.truncated"] == b"true"
    assert int(headers["datacanary.size"]) == len(POISON)
    assert headers["datacanary.sha256"].decode() == hashlib.sha256(POISON).hexdigest()
    assert headers["datacanary.error"].startswith(b"the value is not valid JSON")
    assert b"1,500,022 bytes" in headers["datacanary.cut"]
    assert (int(headers["datacanary.partition"]), headers["datacanary.topic"].decode()) == (
        1,
        topic,
    )
    assert dead.value and POISON.startswith(dead.value) and len(dead.value) == 64 << 10
    # 0 events lost: every id scored, the poison one on the dead-letter topic
    scores = asyncio.run(read_topic(kafka_bootstrap, f"{topic}.scores"))
    ids = {json.loads(m.value)["id"] for m in scores}
    assert ids == set(range(N)) | {3001}
