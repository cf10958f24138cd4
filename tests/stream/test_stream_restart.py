"""At-least-once: a processor killed with SIGKILL mid-stream and restarted loses no event."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import numpy as np

from datacanary.stream.demo import produce_events, read_topic
from datacanary.stream.sample import SampleEvent

N = 8_000
MALFORMED = set(range(37, N, 397))  # truncated JSON that still names its id


def _events() -> list[SampleEvent]:
    rng = np.random.default_rng(3)
    amounts = 100 + rng.uniform(-5, 5, N)
    events = []
    for i in range(N):
        value = json.dumps({"id": i, "amount": round(float(amounts[i]), 2)}).encode()
        if i in MALFORMED:
            value = f'{{"id": {i}, "amount": '.encode()
        events.append(SampleEvent(i, value, 1_714_521_600_000 + i * 10, "normal"))
    return events


async def _count(bootstrap: str, topic: str) -> int:
    """Messages on ``topic`` (acknowledged outputs), without joining a group."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _processed(bootstrap: str, topic: str) -> list[int]:
    scores = asyncio.run(read_topic(bootstrap, f"{topic}.scores"))
    dead = asyncio.run(read_topic(bootstrap, f"{topic}.dlq"))
    ids = [json.loads(m.value)["id"] for m in scores]
    ids += [int(re.match(rb'\{"id": (\d+)', m.value).group(1)) for m in dead]  # type: ignore[union-attr]
    return ids


def test_stream_sigkill_then_restart_processes_every_event_at_least_once(
    kafka_bootstrap: str,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"orders-{suffix}", f"canary-{suffix}"
    asyncio.run(produce_events(kafka_bootstrap, topic, _events(), partitions=4))
    command = [
        sys.executable, "-m", "datacanary.stream",
        "--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--group", group,
        "--anomalies-topic", f"{topic}.anomalies", "--dead-letter-topic", f"{topic}.dlq",
        "--scores-topic", f"{topic}.scores", "--id-field", "id", "--train-on", "300",
        "--batch-size", "100", "--session-timeout", "2", "--max-seconds", "120",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        outputs = lambda: asyncio.run(_count(kafka_bootstrap, f"{topic}.scores"))  # noqa: E731
        _wait_for(lambda: outputs() >= 1_000, 90, "the first processor's outputs")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    killed_at = outputs()
    assert 1_000 <= killed_at < N - len(MALFORMED), "the kill did not land mid-stream"

    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        _wait_for(
            lambda: set(_processed(kafka_bootstrap, topic)) == set(range(N)),
            90,
            "the restarted processor to catch up",
        )
        second.send_signal(signal.SIGTERM)  # graceful: finish the batch, commit, leave
        out, err = second.communicate(timeout=30)
    finally:
        second.kill()
    assert second.returncode == 0, err.decode()[-2000:]
    stats = json.loads(out.decode().strip().splitlines()[-1])
    assert stats["stopped_by"] == "signal"

    ids = _processed(kafka_bootstrap, topic)
    assert set(ids) == set(range(N))  # every event at least once, counted by its id
    assert len(ids) >= N  # the batches in flight at the kill were processed twice
