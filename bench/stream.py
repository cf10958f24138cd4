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

    .venv/bin/python bench/stream.py --quality [--seeds 5] [--events 20000]

instead measures how quiet the stream is (issue 12), in memory, over several seeds of the
sample events (row anomalies every 997 events, an outage window and a window of missing
e-mails): the share of clean rows flagged, the recall of the injected row anomalies, the
recall of the two window incidents and the window anomalies raised elsewhere (false
window alerts, with the number of windows judged).
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
from datetime import datetime
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
        series_detector=args.series_detector,
        method=args.method,
        id_field="id",
        batch_size=args.batch_size,
        max_messages=n,
        max_seconds=600,
        session_timeout=3,
        **_STATE,
    )


# a throwaway state file per run (the default writes one, so its cost is measured)
_STATE: dict[str, Any] = (
    {"state_path": str(Path(tempfile.mkdtemp(prefix="bench-stream-")) / "state.sqlite")}
    if "state_path" in StreamSettings.model_fields
    else {}
)


def _quality(args: argparse.Namespace) -> dict[str, Any]:
    """Clean rows flagged, recall of row anomalies and of window incidents, false window
    alerts; per seed and overall."""
    window_ms = 60_000
    runs = []
    for seed in range(args.seeds):
        events = sample_events(args.events, seed=seed, per_window=args.per_window_quality)
        messages = [
            Record("orders", i % 4, i // 4, e.timestamp_ms, e.value) for i, e in enumerate(events)
        ]
        settings = _settings("memory", len(messages), args, f"quality-{seed}")
        if "state_path" in StreamSettings.model_fields:
            settings = settings.model_copy(update={"state_path": None})
        output = MemoryOutput()
        processor = build_processor(settings, source=MemorySource(messages), output=output)
        stats = asyncio.run(processor.run())
        kinds = {e.id: e.kind for e in events}
        out = [json.loads(m.value) for m in output.topics.get("orders.anomalies", [])]
        flagged = {o["record"].get("id") for o in out if o["kind"] == "row"}
        clean = [i for i, k in kinds.items() if k == "normal"]
        injected = [i for i, k in kinds.items() if k == "anomaly"]
        origin = events[0].timestamp_ms // window_ms
        incident = {60: "events", 75: "null_fraction"}  # window -> the metric it breaks
        found, false = set(), 0
        scores = []
        for o in out:
            if o["kind"] != "metric":
                continue
            scores.append(abs(o.get("score") or 0.0))
            start = datetime.fromisoformat(o["window"]["start"]).timestamp() * 1000
            window = int(start // window_ms - origin)
            if incident.get(window) == o["metric"]:
                found.add(window)
            else:
                false += 1
        runs.append(
            {
                "seed": seed,
                "clean_flagged": sum(i in flagged for i in clean) / len(clean),
                "row_recall": sum(i in flagged for i in injected) / len(injected),
                "incident_recall": len(found) / len(incident),
                "false_window_alerts": false,
                "windows": stats.windows,
                "largest_window_score": max(scores, default=0.0),
            }
        )
    mean = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0] if k != "seed"}
    clean_total = sum(r["clean_flagged"] for r in runs) / len(runs)
    return {"runs": runs, "mean": mean, "clean_flagged": clean_total}


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
    parser.add_argument("--train-on", type=int, default=None, help="default: the setting's")
    parser.add_argument("--series-detector", default=None, help="default: the setting's")
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--river-python", default=None)
    parser.add_argument("--river-events", type=int, default=50_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quality", action="store_true", help="measure flags, not speed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-window-quality", type=int, default=200)
    args = parser.parse_args()
    if args.quality:
        if args.events == 300_000:
            args.events = 20_000
        args.batch_size = min(args.batch_size, 5_000)
        quality = _quality(args)
        print(
            f"datacanary stream quality, {args.events:,} sample events x {args.seeds} seeds, "
            f"method={args.method}, train_on="
            f"{args.train_on or StreamSettings.model_fields['train_on'].default}, "
            "series_detector="
            f"{args.series_detector or StreamSettings.model_fields['series_detector'].default}"
        )
        print("  seed  clean rows flagged  row recall  incidents found  false window alerts")
        for r in quality["runs"]:
            print(
                f"  {r['seed']:>4}  {r['clean_flagged']:>17.2%}  {r['row_recall']:>10.2f}  "
                f"{r['incident_recall']:>15.2f}  {r['false_window_alerts']:>6} in "
                f"{r['windows']} windows (largest score {r['largest_window_score']:,.0f})"
            )
        m = quality["mean"]
        print(
            f"  mean  {m['clean_flagged']:>17.2%}  {m['row_recall']:>10.2f}  "
            f"{m['incident_recall']:>15.2f}  {m['false_window_alerts']:>6.1f} per run"
        )
        if args.json:
            args.json.write_text(json.dumps(quality, indent=2))
        return

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
