"""One real Spark for the Spark tests: a classic ``local[2]`` session shared by the session.

Spark Connect cannot share the process: once a classic SparkContext exists,
``SparkSession.builder.remote("local[2]")`` refuses (``SESSION_ALREADY_EXIST``), and once a
Connect session exists the environment flag it sets (``SPARK_CONNECT_MODE_ENABLED``) sends every
later builder, and pyspark's functions, to Connect. So the Connect cases run in one subprocess
(``connect_cases.py``) with ``SPARK_REMOTE=local[2]``, started once per test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spark_helpers import SPARK_CONF, labelled_frame, orders_frame

pytest.importorskip("pyspark")

collect_ignore = ["conftest.py", "connect_cases.py"]


@pytest.fixture(scope="session")
def spark_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("spark-data")
    paths = {"orders": folder / "orders.parquet", "labelled": folder / "t.parquet"}
    orders_frame().to_parquet(paths["orders"], index=False)
    labelled_frame().to_parquet(paths["labelled"], index=False)
    return paths


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A classic local[2] session; the executors' Python workers run this interpreter."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["DATACANARY_SPARK_MASTER"] = "local[2]"
    os.environ.pop("SPARK_REMOTE", None)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("datacanary-tests")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def connect_results(spark_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The Spark Connect cases, run once in a subprocess against a local Connect server."""
    out = tmp_path_factory.mktemp("connect")
    env = {
        **os.environ,
        "SPARK_REMOTE": "local[2]",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_CONF_JSON": json.dumps(SPARK_CONF),
    }
    env.pop("DATACANARY_SPARK_MASTER", None)
    script = Path(__file__).with_name("connect_cases.py")
    args = [str(spark_files["orders"]), str(spark_files["labelled"]), str(out)]
    done = subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "results.json").read_text())
