"""The Spark Connect cases, run by ``conftest.connect_results`` in their own process.

``SPARK_REMOTE=local[2]`` makes datacanary start an in-process Spark Connect server from the
pyspark wheel and talk to it over gRPC, as it would to ``sc://host:15002`` or Databricks.
Usage: ``python connect_cases.py ORDERS.parquet LABELLED.parquet OUT_DIR``; writes
``OUT_DIR/results.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(orders: str, labelled: str, out: str) -> None:
    from datacanary.detectors import TableDetector
    from datacanary.errors import DatacanaryError
    from datacanary.metrics import profile
    from datacanary.sources import configure_spark, sample_table, score_spark, spark_session

    configure_spark(json.loads(os.environ["SPARK_CONF_JSON"]))
    results: dict[str, object] = {}
    session = spark_session()
    results["session"] = type(session).__module__
    results["profile"] = profile(f"spark::parquet.`{orders}`").to_dict()
    frame = session.read.parquet(orders)
    results["frame_profile"] = profile(frame, exact_distinct=True).to_dict()
    try:
        profile("spark::datacanary_no_such_table")
    except DatacanaryError as exc:
        results["missing_table"] = [type(exc).__name__, str(exc)]
    name = f"spark::parquet.`{labelled}`"
    detector = TableDetector(exclude=["y", "id"], random_state=0)
    sample, _ = sample_table(name, 100_000, seed=0)
    detector.fit(sample)
    target = Path(out) / "scored"
    summary = score_spark(name, detector, output=target, label_column="y", top=5)
    results["detect"] = {
        "rows": summary.rows,
        "anomalies": summary.anomalies,
        "evaluation": summary.evaluation,
        "output": summary.output,
    }
    (Path(out) / "results.json").write_text(json.dumps(results, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:4])
