from __future__ import annotations

import asyncio
import uuid

import pytest

from datacanary.errors import DeliveryError
from datacanary.stream.broker import free_port
from datacanary.stream.demo import produce_events
from datacanary.stream.sample import SampleEvent
from datacanary.stream.source import KafkaOutput, KafkaSource


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _poll_all(source: KafkaSource, expected: int, timeout: float = 30.0) -> list:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got: list = []
    while len(got) < expected and loop.time() < deadline:
        got += await source.poll(100, 0.5)
    return got


def test_stream_source_rereads_exactly_what_was_not_committed(kafka_bootstrap: str) -> None:
    topic, group = _name("src"), _name("group")
    events = [SampleEvent(i, f'{{"id": {i}}}'.encode(), 1_000 * i, "normal") for i in range(30)]

    async def scenario() -> tuple[list[int], list[int]]:
        await produce_events(kafka_bootstrap, topic, events, partitions=3)
        first = KafkaSource(kafka_bootstrap, [topic], group, session_timeout=2)
        await first.start()
        try:
            got = await _poll_all(first, 30)
            assert {(t, p) for t, p in first.assignment()} == {(topic, p) for p in range(3)}
            done = [m for m in got if m.offset < 4]  # the first 4 of each partition
            assert await first.commit(done)
        finally:
            await first.stop()
        second = KafkaSource(kafka_bootstrap, [topic], group, session_timeout=2)
        await second.start()
        try:
            again = await _poll_all(second, 18)
        finally:
            await second.stop()
        return sorted(int(m.value[7:-1]) for m in got), sorted(m.offset for m in again)

    everything, reread = asyncio.run(scenario())
    assert everything == list(range(30))
    assert reread == sorted([4, 5, 6, 7, 8, 9] * 3)


def test_stream_output_counts_acknowledged_messages(kafka_bootstrap: str) -> None:
    topic = _name("out")

    async def scenario() -> int:
        output = KafkaOutput(kafka_bootstrap)
        await output.start()
        try:
            for i in range(5):
                await output.send(topic, b"{}", key=str(i).encode(), headers=[("h", b"v")])
            return await output.flush()
        finally:
            await output.stop()

    assert asyncio.run(scenario()) == 5


def test_stream_source_names_an_unreachable_broker() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    source = KafkaSource(bootstrap, ["t"], "g", request_timeout_ms=2000)
    with pytest.raises(DeliveryError, match=f"cannot reach the Kafka broker at {bootstrap}"):
        asyncio.run(source.start())
