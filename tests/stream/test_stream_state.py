"""The state file: a restarted processor continues its windows and does not page again;
poison messages are cut or recorded as skipped (in-memory source and output, no broker)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from datacanary.stream import MemoryOutput, MemorySource, Record, StreamSettings, build_processor
from datacanary.stream.state import StreamState

WINDOW_MS = 2_000


def _messages(n: int, *, anomalies: dict[int, float], outage: range = range(0)) -> list[Record]:
    out = []
    for i in range(n):
        if i in outage and i % 10:
            continue  # a window with a tenth of the usual events
        amount = anomalies.get(i, 95.0 + i % 11)  # a pattern: every window's mean is 100
        value = json.dumps({"id": i, "amount": amount, "country": ["DE", "FR"][i % 2]}).encode()
        out.append(Record("orders", i % 2, i // 2, 1_714_521_600_000 + i * 20, value))
    return out


def _settings(state: Path | str, n: int, **extra: Any) -> StreamSettings:
    return StreamSettings.build(
        bootstrap_servers="memory",
        topics="orders",
        group="g",
        anomalies_topic="anomalies",
        dead_letter_topic="dlq",
        train_on=200,
        id_field="id",
        batch_size=250,
        max_messages=n,
        window_seconds=WINDOW_MS / 1000,
        state_path=str(state),
        alerts=[{"type": "log"}],
        **extra,
    )


def _run(settings: StreamSettings, source: MemorySource) -> tuple[Any, MemoryOutput]:
    output = MemoryOutput()
    processor = build_processor(settings, source=source, output=output)
    return asyncio.run(processor.run()), output


def test_stream_restart_continues_windows_and_does_not_page_again(tmp_path: Path) -> None:
    messages = _messages(
        12_000, anomalies={500: 9_000.0, 9_000: 9_500.0}, outage=range(8_000, 8_100)
    )
    state = tmp_path / "state.sqlite"
    first = MemorySource(messages)
    stats1, _ = _run(_settings(state, 5_000), first)
    assert stats1.alerts_delivered == 1  # the amount at id 500
    assert stats1.windows > 20

    second = MemorySource(messages, committed=first.committed)  # a restart resumes there
    stats2, output2 = _run(_settings(state, len(messages) - 5_000), second)

    assert stats2.resumed_partitions == 2 and stats2.model.startswith("restored")
    kinds = [json.loads(m.value)["kind"] for m in output2.topics["anomalies"]]
    assert kinds.count("row") == 1  # id 9,000, found by the restored model ...
    assert stats2.alerts_delivered == 2  # ... but not paged again: only the outage and its recovery
    assert stats2.alerts_suppressed == 1
    outage = [
        json.loads(m.value) for m in output2.topics["anomalies"] if b'"metric": "events"' in m.value
    ]
    assert len(outage) == 1 and outage[0]["reason"].startswith("events 10 is below")
    # every window judged exactly once across the two runs: one history, no gap, no repeat
    history = StreamState(state, group="g").history("orders:0,orders:1")
    ends = [at for metric, _, at, _ in history if metric == "events"]
    assert ends == list(range(ends[0], ends[-1] + 1, WINDOW_MS))
    assert len(ends) == stats1.windows + stats2.windows


def test_stream_without_state_forgets_across_a_restart(tmp_path: Path) -> None:
    # the behaviour the state file fixes: a restart pages again and starts its windows afresh
    messages = _messages(10_000, anomalies={500: 9_000.0, 9_000: 9_500.0})
    first = MemorySource(messages)
    stats1, _ = _run(_settings("none", 5_000), first)
    stats2, _ = _run(_settings("none", 5_000), MemorySource(messages, committed=first.committed))
    assert stats1.alerts_delivered == 1 and stats2.alerts_delivered == 1
    assert stats2.model.startswith("trained") and stats2.resumed_partitions == 0
    assert not (tmp_path / ".datacanary").exists()


def _poison(n: int, *, at: int, size: int) -> list[Record]:
    messages = _messages(n, anomalies={})
    big = b'{"id": ' + str(at).encode() + b', "blob": "' + b"x" * size  # truncated JSON
    old = messages[at]
    messages[at] = Record(old.topic, old.partition, old.offset, old.timestamp, big, b"k", ())
    return messages


def test_stream_cuts_a_dead_letter_the_broker_refuses(tmp_path: Path) -> None:
    messages = _poison(2_000, at=700, size=300_000)
    output = MemoryOutput(max_message_bytes=100_000)  # a broker that takes 100 kB at most
    settings = _settings(tmp_path / "state.sqlite", len(messages))
    stats = asyncio.run(
        build_processor(settings, source=MemorySource(messages), output=output).run()
    )

    assert stats.consumed == len(messages) and stats.uncommitted == 0 and stats.skipped == 0
    [dead] = output.topics["dlq"]
    headers = dict(dead.headers)
    assert headers["datacanary.truncated"] == b"true"
    assert int(headers["datacanary.size"]) == len(messages[700].value or b"")
    assert dead.value == (messages[700].value or b"")[: len(dead.value or b"")]
    assert headers["datacanary.error"].startswith(b"the value is not valid JSON")
    assert int(headers["datacanary.offset"]) == messages[700].offset


def test_stream_records_a_message_that_fits_nowhere_as_skipped(tmp_path: Path) -> None:
    messages = _poison(2_000, at=700, size=300_000)
    output = MemoryOutput(max_message_bytes=700)  # not even the dead letter's headers fit
    settings = _settings(tmp_path / "state.sqlite", len(messages))
    stats = asyncio.run(
        build_processor(settings, source=MemorySource(messages), output=output).run()
    )

    assert stats.consumed == len(messages) and stats.uncommitted == 0  # the partition went on
    assert stats.skipped == 1 and "dlq" not in output.topics
    [skipped] = StreamState(tmp_path / "state.sqlite", group="g").skipped()
    assert (skipped.topic, skipped.partition, skipped.offset) == ("orders", 0, 350)
    assert skipped.size == len(messages[700].value or b"")
    assert skipped.sha256 == hashlib.sha256(messages[700].value or b"").hexdigest()
