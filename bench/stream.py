"""Stream throughput: events per second end to end through a real Kafka broker.

    .venv/bin/python bench/stream.py [--events 300000] [--method mad] [--batch-size 10000]
                                     [--river-python /tmp/rv/bin/python]

1. Produces ``--events`` sample order events (``datacanary.stream.sample``: row anomalies,
   malformed messages) to a local Tansu broker (memory storage), 4 partitions.
2. Runs the stream processor on them, bounded by ``--max-messages``: consume, decode, score
   rows, window metrics, produce anomalies and dead letters, await the acks, commit. Imports
   are warmed first; the consumer group join is reported apart from the steady rate.
3. Runs the same pipeline on an in-memory source and output: the compute-only rate.
4. With ``--river-python`` (an interpreter that has River, e.g. a throwaway venv:
   ``python3 -m venv /tmp/rv && /tmp/rv/bin/pip install river numpy``), times River's
   HalfSpaceTrees learning and scoring the same events one at a time.

Prints a table; ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from datacanary.stream import (
    MemoryOutput,
    MemorySource,
    Record,
    StreamSettings,
    build_processor,
    local_broker,
)
from datacanary.stream.demo import produce_events
from datacanary.stream.sample import SampleEvent, sample_events

RIVER = r"""
import json, sys, time
from river import anomaly, preprocessing
rows = json.load(open(sys.argv[1]))
out = {}
for name, make in (
    ("HalfSpaceTrees", lambda: anomaly.HalfSpaceTrees(seed=0)),
    ("MinMaxScaler | HalfSpaceTrees",
     lambda: preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=0)),
):
    model = make()
    start = time.perf_counter()
    for x in rows:
        model.score_one(x)
        model.learn_one(x)
    out[name] = len(rows) / (time.perf_counter() - start)
print(json.dumps(out))
"""


def _settings(bootstrap: str, n: int, args: argparse.Namespace, group: str) -> StreamSettings:
    return StreamSettings.build(
        bootstrap_servers=bootstrap,
        topics=["orders"],
        group=group,
        anomalies_topic="orders.anomalies",
        dead_letter_topic="orders.dead-letter",
        train_on=args.train_on,
        method=args.method,
        id_field="id",
        batch_size=args.batch_size,
        max_messages=n,
        max_seconds=600,
        session_timeout=3,
    )


def _in_memory(events: list[SampleEvent], args: argparse.Namespace) -> dict[str, Any]:
    messages = [Record("orders", 0, i, e.timestamp_ms, e.value) for i, e in enumerate(events)]
    settings = _settings("memory", len(messages), args, "memory")
    processor = build_processor(settings, source=MemorySource(messages), output=MemoryOutput())
    start = time.perf_counter()
    stats = asyncio.run(processor.run())
    seconds = time.perf_counter() - start
    return {"events": stats.consumed, "seconds": seconds, "rate": stats.consumed / seconds}


def _through_kafka(events: list[SampleEvent], args: argparse.Namespace) -> dict[str, Any]:
    with local_broker() as bootstrap:
        start = time.perf_counter()
        asyncio.run(produce_events(bootstrap, "orders", events, partitions=4))
        produce_seconds = time.perf_counter() - start

        settings = _settings(bootstrap, len(events), args, "bench")
        processor = build_processor(settings)
        marks: list[tuple[float, int]] = []

        def mark(stats: Any) -> None:
            marks.append((time.perf_counter(), stats.consumed))

        start = time.perf_counter()
        stats = asyncio.run(processor.run(on_batch=mark))
        total = time.perf_counter() - start
    busy = [(t, c) for t, c in marks if c > 0]
    (t0, c0), (t1, c1) = busy[0], busy[-1]
    first_batch = t0 - start
    return {
        "events": stats.consumed,
        "produce_rate": len(events) / produce_seconds,
        "total_seconds": total,
        "first_batch_seconds": first_batch,
        "steady_rate": (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan"),
        "overall_rate": stats.consumed / total,
        "row_anomalies": stats.row_anomalies,
        "window_anomalies": stats.metric_anomalies,
        "dead_letters": stats.dead_letters,
        "batches": stats.batches,
    }


def _river(events: list[SampleEvent], python: str, n: int) -> dict[str, float]:
    rows = []
    for event in events[:n]:
        try:
            record = json.loads(event.value)
        except (TypeError, ValueError):
            continue
        if isinstance(record, dict):
            row = {k: record.get(k) for k in ("amount", "quantity", "latency_ms")}
            if all(isinstance(v, (int, float)) for v in row.values()):
                rows.append(row)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(rows, handle)
    try:
        done = subprocess.run(
            [python, "-c", RIVER, handle.name], capture_output=True, text=True, check=True
        )
    finally:
        os.unlink(handle.name)
    return {k: float(v) for k, v in json.loads(done.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--per-window", type=int, default=10_000, help="events per minute")
    parser.add_argument("--method", default="mad")
    parser.add_argument("--train-on", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--river-python", default=None)
    parser.add_argument("--river-events", type=int, default=50_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    events = sample_events(args.events, per_window=args.per_window, incidents=False)
    warm = sample_events(3_000, per_window=args.per_window)  # imports, not measured
    _in_memory(warm, argparse.Namespace(**{**vars(args), "batch_size": 1000}))

    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "events": args.events,
        "method": args.method,
        "batch_size": args.batch_size,
    }
    results["kafka"] = _through_kafka(events, args)
    results["memory"] = _in_memory(events, args)
    if args.river_python:
        results["river"] = _river(events, args.river_python, args.river_events)

    kafka, memory = results["kafka"], results["memory"]
    print(
        f"datacanary stream, {args.events:,} events, method={args.method}, "
        f"batch_size={args.batch_size:,} ({results['machine']})"
    )
    print(f"  produce to the broker          {kafka['produce_rate']:>12,.0f} events/s")
    print(
        f"  end to end through the broker  {kafka['steady_rate']:>12,.0f} events/s steady "
        f"({kafka['overall_rate']:,.0f}/s counting the {kafka['first_batch_seconds']:.1f} s "
        "group join and first batch)"
    )
    print(f"  same pipeline, in memory       {memory['rate']:>12,.0f} events/s")
    print(
        f"  found: {kafka['row_anomalies']:,} rows, {kafka['window_anomalies']:,} windows, "
        f"{kafka['dead_letters']:,} dead letters in {kafka['batches']:,} batches"
    )
    for name, rate in results.get("river", {}).items():
        print(f"  River {name:<24} {rate:>12,.0f} events/s (one at a time)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
