from __future__ import annotations

import asyncio
import json
import time

from datacanary.alerts import Alert, AlertDispatcher, StdoutSink, build_sink
from datacanary.results import Verdict


def failing(metric: str) -> Verdict:
    return Verdict.judge(metric, 12, 9800, 10400, score=9.0, detector="mad",
                         history_size=14, dataset="orders")  # fmt: skip


async def _consume(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 10
        while len(found) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            found += [(m.key, m.value) for msgs in batches.values() for m in msgs]
        return found
    finally:
        await consumer.stop()


def test_alerts_kafka_produces_json_keyed_by_alert_key(kafka_bootstrap: str) -> None:
    sink = build_sink({"type": "kafka", "bootstrap_servers": kafka_bootstrap, "topic": "alerts-a"})
    alerts = [
        Alert.from_verdict(failing("row_count")),
        Alert.from_row("orders", {"id": 7, "amount": 1e7}, 0.91, "amount", key_columns=["id"]),
    ]
    report = AlertDispatcher([sink]).dispatch(alerts)
    assert report.ok, report.summary()
    messages = asyncio.run(_consume(kafka_bootstrap, "alerts-a", 2))
    by_key = {key.decode(): json.loads(value) for key, value in messages}
    assert set(by_key) == {"orders:row_count", "orders:row:id=7"}
    assert by_key["orders:row_count"]["sentence"] == alerts[0].sentence
    assert by_key["orders:row:id=7"]["row"] == {"id": 7, "amount": 10_000_000.0}


def test_alerts_kafka_async_dispatch_for_the_stream_processor(kafka_bootstrap: str) -> None:
    sink = build_sink({"type": "kafka", "bootstrap_servers": kafka_bootstrap, "topic": "alerts-b"})
    dispatcher = AlertDispatcher([sink])

    async def run() -> tuple[int, int]:
        first = await dispatcher.adispatch([failing("row_count")])
        second = await dispatcher.adispatch([failing("row_count")])  # same loop, deduplicated
        return len(first.delivered), len(second.suppressed)

    assert asyncio.run(run()) == (1, 1)
    assert len(asyncio.run(_consume(kafka_bootstrap, "alerts-b", 1))) == 1


def test_alerts_kafka_broker_down_is_reported_and_stdout_still_delivers(
    dead_port: int, capsys: object
) -> None:
    kafka = build_sink(
        {"type": "kafka", "bootstrap_servers": f"127.0.0.1:{dead_port}", "topic": "alerts",
         "timeout": 1, "retries": 1}
    )  # fmt: skip
    started = time.monotonic()
    report = AlertDispatcher([kafka, StdoutSink()], time_limit=3, backoff=0.05).dispatch(
        [failing("row_count")]
    )
    assert time.monotonic() - started < 3 + 1.5
    assert [d.sink for d in report.delivered] == ["stdout"]
    (failure,) = report.failed
    assert failure.sink == "kafka"
    assert failure.error.startswith(
        f"ConnectionError: cannot reach the Kafka brokers at 127.0.0.1:{dead_port} (2 attempts, "
    )
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.startswith("[WARNING · orders · row_count] row_count 12 is below")
