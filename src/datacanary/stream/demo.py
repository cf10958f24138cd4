"""``make stream-demo``: a local broker, sample events with anomalies, the processor, alerts.

Also the two Kafka helpers the demo, the benchmark and the tests share:
:func:`produce_events` and :func:`read_topic`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from datacanary.results import format_number
from datacanary.stream.sample import SampleEvent, sample_events

if TYPE_CHECKING:
    from rich.console import Console

    from datacanary.stream.processor import StreamStats
    from datacanary.stream.source import Message

__all__ = ["create_topic", "produce_events", "read_topic", "stream_demo"]


async def create_topic(bootstrap: str, topic: str, *, partitions: int = 4) -> None:
    """Create ``topic`` with ``partitions`` partitions unless it exists."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def produce_events(
    bootstrap: str,
    topic: str,
    events: Iterable[SampleEvent],
    *,
    partitions: int = 4,
) -> int:
    """Produce ``events`` to ``topic`` (created with ``partitions`` partitions when new),
    round-robin over the partitions, with their event times; return how many were sent.

    Waits until the broker has acknowledged every message.
    """
    from aiokafka import AIOKafkaProducer

    await create_topic(bootstrap, topic, partitions=partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=1 << 20, acks="all"
    )
    await producer.start()
    try:
        ids = sorted(await producer.partitions_for(topic))
        batches = {p: producer.create_batch() for p in ids}
        futures = []
        sent = 0
        for sent, event in enumerate(events, 1):
            partition = ids[sent % len(ids)]
            batch = batches[partition]
            if batch.append(key=None, value=event.value, timestamp=event.timestamp_ms) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                batch.append(key=None, value=event.value, timestamp=event.timestamp_ms)
        for partition, batch in batches.items():
            if batch.record_count():
                futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        return sent
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, idle: float = 2.0, timeout: float = 60.0
) -> list[Message]:
    """Every message on ``topic`` from the beginning, read until none arrives for ``idle``
    seconds (at most ``timeout`` seconds in all); no consumer group, nothing committed."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    messages: list[Message] = []
    try:
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=int(idle * 1000))
            if not batches:
                break
            for batch in batches.values():
                messages.extend(batch)
    finally:
        await consumer.stop()
    return messages


def _anomaly_rows(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in messages if m.value is not None]


def stream_demo(
    *,
    events: int = 20_000,
    seed: int = 0,
    console: Console | None = None,
    bootstrap: str | None = None,
    topic: str = "orders",
) -> StreamStats:
    """Start a local broker, stream sample events with anomalies through the processor and
    show the alerts, the anomalies topic and the dead-letter topic.

    Parameters
    ----------
    events
        How many sample events (200 per one-minute window of event time).
    seed
        Seeds the sample.
    console
        Where to print (a Rich console on stdout by default).
    bootstrap
        Use this broker instead of starting a local Tansu broker.
    topic
        The input topic; the outputs are ``TOPIC.anomalies`` and ``TOPIC.dead-letter``.

    Returns
    -------
    StreamStats
        What the processor did.
    """
    from rich.console import Console

    from datacanary.stream.broker import local_broker

    console = console or Console(highlight=False)
    if bootstrap is not None:
        return _demo(bootstrap, events, seed, console, topic)
    console.print("[bold]Starting a local Kafka broker[/] (Tansu, memory storage) …")
    with local_broker() as local:
        return _demo(local, events, seed, console, topic)


def _demo(bootstrap: str, n: int, seed: int, console: Console, topic: str) -> StreamStats:
    from rich.table import Table

    from datacanary.stream.run import arun_stream, build_processor
    from datacanary.stream.settings import StreamSettings

    sample = sample_events(n, seed=seed)
    injected = {e.id for e in sample if e.kind == "anomaly"}
    malformed = sum(e.kind == "malformed" for e in sample)
    console.print(
        f"Producing {len(sample):,} order events to topic [bold]{topic}[/] on {bootstrap}: "
        f"{len(injected)} anomalous rows, {malformed} malformed messages, an outage window "
        "and a window of missing e-mails."
    )
    asyncio.run(produce_events(bootstrap, topic, sample))
    settings = StreamSettings.build(
        bootstrap_servers=bootstrap,
        topics=[topic],
        group=f"datacanary-demo-{topic}",
        anomalies_topic=f"{topic}.anomalies",
        dead_letter_topic=f"{topic}.dead-letter",
        train_on=1000,
        id_field="id",
        max_messages=len(sample),
        max_seconds=300,
        alerts=[{"type": "stdout"}],
        state_path="none",  # a throwaway broker: nothing to resume next time
    )
    console.print(
        "Running [bold]datacanary stream[/] (trains on the first 1,000 events; alerts below):"
    )
    processor = build_processor(settings)
    stats = asyncio.run(arun_stream(settings, console=console, processor=processor))
    anomalies = _anomaly_rows(asyncio.run(read_topic(bootstrap, f"{topic}.anomalies")))
    dead = asyncio.run(read_topic(bootstrap, f"{topic}.dead-letter"))

    rows = [a for a in anomalies if a["kind"] == "row"]
    windows = [a for a in anomalies if a["kind"] == "metric"]
    table = Table(title=f"{topic}.anomalies: {len(rows)} rows, {len(windows)} windows")
    for column in ("kind", "id / metric", "score", "reason"):
        table.add_column(column, overflow="fold")
    rarest = sorted(windows, key=lambda a: sum(w["metric"] == a["metric"] for w in windows))
    for item in sorted(rows, key=lambda a: -a["score"])[:6] + rarest[:6]:
        name = str(item["record"].get("id")) if item["kind"] == "row" else item["metric"]
        table.add_row(item["kind"], name, format_number(item["score"]), item["reason"])
    console.print(table)
    letters = Table(title=f"{topic}.dead-letter: {len(dead)} messages")
    letters.add_column("offset")
    letters.add_column("datacanary.error", overflow="fold")
    for message in dead[:8]:
        error = dict(message.headers).get("datacanary.error", b"").decode()
        letters.add_row(f"{message.partition}:{message.offset}", error)
    console.print(letters)
    caught = {a["record"].get("id") for a in rows} & injected
    console.print(
        f"Caught {len(caught)} of {len(injected)} injected row anomalies "
        f"({len(rows) - len(caught)} other rows flagged); {len(dead)} of {malformed} malformed "
        "messages on the dead-letter topic."
    )
    console.print(stats.summary())
    return stats
