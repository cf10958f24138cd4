"""Data and settings shared by the Spark tests (tests/spark/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "1g",
}


def orders_frame(rows: int = 4000, seed: int = 3) -> pd.DataFrame:
    """Numbers with NaN and nulls, text with nulls, naive timestamps, booleans."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 30.0, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    qty = pd.array(rng.integers(1, 9, rows), dtype="Int64")
    qty[rng.random(rows) < 0.1] = pd.NA
    country = rng.choice(["DE", "FR", "NL", "PL", "IT", "ES"], rows).astype(object)
    country[rng.random(rows) < 0.02] = None
    created = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 86_400 * 30, rows), "s")
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "amount": amount,
            "qty": qty,
            "country": country,
            "created_at": created.astype("datetime64[us]"),
            "paid": rng.random(rows) < 0.8,
        }
    )


def labelled_frame(rows: int = 3000, outliers: int = 30, seed: int = 5) -> pd.DataFrame:
    """Gaussian rows and a few shifted ones, labelled in ``y``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (rows, 3))
    y = np.zeros(rows, dtype=np.int64)
    where = rng.choice(rows, outliers, replace=False)
    x[where] += rng.choice([-1.0, 1.0], (outliers, 3)) * rng.uniform(3.0, 5.0, (outliers, 3))
    y[where] = 1
    return pd.DataFrame({"id": np.arange(rows), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


def spark_name(path: Path) -> str:
    return f"spark::parquet.`{path}`"
