"""Spark against the in-process path: profile and row scoring, as ratios in one run.

1. ``profile`` of the bench/profile.py file (default 10M rows x 12 columns, Parquet) by DuckDB
   in-process and by Spark ``local[2]`` (``spark::parquet.`…```), both with approximate
   distincts; Spark's session start is timed apart.
2. Scoring throughput: a TableDetector (iforest) fitted on a 100k-row seeded sample scores
   ``--score-rows`` rows of the numeric columns in-process (``detector.score``) and on Spark
   (:func:`datacanary.sources.score_spark`, ``mapInPandas``, output written as Parquet).

    nice .venv/bin/python bench/spark.py --rows 10000000 --score-rows 2000000

Writes bench/out/spark.json. Per-row costs are wall time divided by rows; per core-second
figures multiply by the cores used (Spark: 2; DuckDB: its threads, here 2).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/profile.py would shadow the standard library's profile module (pyspark imports cProfile)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
OUT = HERE / "out"
FEATURES = ["quantity", "amount", "price", "discount"]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("bench_profile", HERE / "profile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--score-rows", type=int, default=2_000_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["DATACANARY_SPARK_MASTER"] = f"local[{args.cores}]"
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="datacanary-spark-bench-"))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    import pyarrow.parquet as pq

    from datacanary.detectors import TableDetector
    from datacanary.metrics import profile
    from datacanary.sources import configure_spark, sample_table, score_spark, spark_session

    table = work / "orders.parquet"
    started = time.perf_counter()
    _generator().generate(table, args.rows)  # type: ignore[attr-defined]
    print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
    result: dict[str, object] = {"rows": args.rows, "cores": args.cores}

    started = time.perf_counter()
    local = profile(table)
    result["duckdb_profile_s"] = time.perf_counter() - started
    print(f"duckdb profile {result['duckdb_profile_s']:.2f}s", flush=True)

    configure_spark({"spark.sql.shuffle.partitions": args.cores * 2, "spark.driver.memory": "2g"})
    started = time.perf_counter()
    session = spark_session()
    session.sparkContext.setLogLevel("ERROR")
    result["spark_start_s"] = time.perf_counter() - started
    name = f"spark::parquet.`{table}`"
    runs = []
    for _ in range(2):  # the first run also warms the JVM (JIT, Parquet readers)
        started = time.perf_counter()
        remote = profile(name)
        runs.append(time.perf_counter() - started)
    result["spark_profile_s"] = runs
    assert remote.row_count == local.row_count
    print(f"spark start {result['spark_start_s']:.1f}s, profile {runs}", flush=True)

    # scoring: the first score_rows rows, numeric features only
    scoring = work / "score.parquet"
    frame = pq.read_table(table, columns=FEATURES).slice(0, args.score_rows).to_pandas()
    frame.to_parquet(scoring, index=False)
    sample, _ = sample_table(scoring, 100_000, seed=0)
    detector = TableDetector("iforest", random_state=0).fit(sample)
    started = time.perf_counter()
    detector.score(frame)
    result["local_score_s"] = time.perf_counter() - started
    started = time.perf_counter()
    summary = score_spark(f"spark::parquet.`{scoring}`", detector, output=work / "scored", top=5)
    result["spark_score_s"] = time.perf_counter() - started
    assert summary.rows == args.score_rows
    result["score_rows"] = args.score_rows
    best = min(runs)
    rows = args.rows
    result["ratios"] = {
        "spark_over_duckdb_profile": best / float(result["duckdb_profile_s"]),  # type: ignore[arg-type]
        "spark_over_local_score": float(result["spark_score_s"]) / float(result["local_score_s"]),  # type: ignore[arg-type]
    }
    result["per_row"] = {
        "duckdb_profile_ns": 1e9 * float(result["duckdb_profile_s"]) / rows,  # type: ignore[arg-type]
        "spark_profile_ns": 1e9 * best / rows,
        "spark_profile_core_ns": 1e9 * best * args.cores / rows,
        "local_score_us": 1e6 * float(result["local_score_s"]) / args.score_rows,  # type: ignore[arg-type]
        "spark_score_us": 1e6 * float(result["spark_score_s"]) / args.score_rows,  # type: ignore[arg-type]
        "spark_score_core_us": 1e6 * float(result["spark_score_s"]) * args.cores / args.score_rows,  # type: ignore[arg-type]
    }
    (args.out / "spark.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
