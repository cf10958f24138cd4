"""Scale-out on a real broker (Tansu): two processors in one consumer group share a
4-partition topic; one is killed with SIGKILL and the other takes its partitions over,
with nothing lost (at-least-once across the rebalance) and the windows handed over in the
shared state file."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

from datacanary.stream.demo import produce_events, read_topic
from datacanary.stream.sample import SampleEvent

ASSIGNED = re.compile(r"partitions assigned: (.*) \((\d+) resumed")


def _events(ids: range) -> list[SampleEvent]:
    return [
        SampleEvent(
            i, json.dumps({"id": i, "amount": 100.0}).encode(), 1_714_521_600_000 + i * 10, "normal"
        )
        for i in ids
    ]


class _Processor:
    """``python -m datacanary.stream`` in a subprocess, its assignments read from stderr."""

    def __init__(self, command: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.assignments: list[tuple[set[int], int]] = []
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            found = ASSIGNED.search(line)
            if found:
                parts = {int(p.rsplit(":", 1)[1]) for p in found.group(1).split(", ")}
                self.assignments.append((parts, int(found.group(2))))

    @property
    def holds(self) -> set[int]:
        return self.assignments[-1][0] if self.assignments else set()


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_stream_two_processors_share_partitions_and_one_takes_over(kafka_bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"orders-{suffix}", f"canary-{suffix}"
    asyncio.run(produce_events(kafka_bootstrap, topic, _events(range(0, 2_000)), partitions=4))
    command = [
        sys.executable, "-m", "datacanary.stream", "--verbose",
        "--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--group", group,
        "--anomalies-topic", f"{topic}.anomalies", "--dead-letter-topic", f"{topic}.dlq",
        "--scores-topic", f"{topic}.scores", "--id-field", "id", "--train-on", "200",
        "--batch-size", "200", "--session-timeout", "2", "--max-seconds", "90",
        "--window-seconds", "1",
    ]  # fmt: skip

    def processed() -> list[int]:
        return [
            json.loads(m.value)["id"]
            for m in asyncio.run(read_topic(kafka_bootstrap, f"{topic}.scores"))
        ]

    a = _Processor(command)
    b = None
    try:
        _wait_for(lambda: a.holds == {0, 1, 2, 3}, 30, "the first processor to join")
        b = _Processor(command)
        _wait_for(lambda: bool(b.holds) and len(a.holds) < 4, 30, "the second to get a share")
        shared = (set(a.holds), set(b.holds))
        asyncio.run(
            produce_events(kafka_bootstrap, topic, _events(range(2_000, 4_000)), partitions=4)
        )
        _wait_for(lambda: set(processed()) == set(range(4_000)), 30, "both to process their share")

        a.process.send_signal(signal.SIGKILL)  # no goodbye: the group notices after 2 s
        a.process.wait(10)
        asyncio.run(
            produce_events(kafka_bootstrap, topic, _events(range(4_000, 6_000)), partitions=4)
        )
        _wait_for(lambda: b.holds == {0, 1, 2, 3}, 30, "the survivor to take every partition")
        _wait_for(lambda: set(processed()) == set(range(6_000)), 30, "the survivor to catch up")
        b.process.send_signal(signal.SIGTERM)
        out, _ = b.process.communicate(timeout=30)
    finally:
        for p in (a, b):
            if p is not None:
                p.process.kill()
    assert b.process.returncode == 0, "".join(b.log)[-2000:]

    # they shared the partitions: disjoint halves that cover the topic
    assert shared[0] and shared[1] and not shared[0] & shared[1]
    assert shared[0] | shared[1] == {0, 1, 2, 3}
    # the survivor picked up the killed one's partitions with their saved state
    taken, resumed = b.assignments[-1]
    assert taken == {0, 1, 2, 3} and resumed >= len(shared[0])
    # nothing lost: every event scored at least once, across both processors
    ids = processed()
    assert set(ids) == set(range(6_000)) and len(ids) >= 6_000
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["stopped_by"] == "signal" and stats["uncommitted"] == 0
