"""Benchmark datacanary's table profile against hand-written single queries and pandas.

Generates a Parquet file (default 10M rows, 12 columns: integers, floats with NaN, strings of
low and high cardinality, a timestamp and a boolean) under bench/out/, then runs each variant
in a fresh Python process, timing the whole process (wall clock, and CPU time, which a busy
machine disturbs less) and reading its peak memory (``ru_maxrss`` of that child via
``os.wait4``):

* ``datacanary`` — ``profile(path)`` (approximate distinct counts, the default)
* ``datacanary-exact`` — ``profile(path, exact_distinct=True)``
* ``duckdb-approx`` / ``duckdb-exact`` — one hand-written DuckDB query for the same metrics
* ``polars-approx`` / ``polars-exact`` — one hand-written Polars ``select``
* ``pandas`` — ``read_parquet`` then the same metrics column by column
* ``ibis-approx`` (not run by default; needs ``ibis-framework[duckdb]``) — the same
  approximate profile written once in Ibis, run on its DuckDB backend: the portable layer
  docs/metrics.md weighs

Usage::

    python bench/profile.py                      # 10M rows (467 MB file); a few minutes
    python bench/profile.py --rows 1000000 --variants datacanary,duckdb-approx

It prints a table, the ratios the project's goals are stated in, and the largest relative
error of the approximate distinct counts against the exact ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

COLUMNS = {
    "id": "BIGINT",
    "user_id": "BIGINT",
    "quantity": "INTEGER",
    "amount": "DOUBLE",
    "price": "DOUBLE",
    "discount": "DOUBLE",
    "country": "VARCHAR",
    "status": "VARCHAR",
    "email": "VARCHAR",
    "sku": "VARCHAR",
    "created_at": "TIMESTAMP",
    "is_gift": "BOOLEAN",
}
NUMERIC = ["id", "user_id", "quantity", "amount", "price", "discount"]
TEXT = ["country", "status", "email", "sku"]


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write the benchmark file in row groups, so generating it needs little memory."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    countries = np.array(["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "JP"] * 5)
    countries = np.array([f"{c}{i // 10}" for i, c in enumerate(countries)])
    statuses = np.array(["new", "paid", "shipped", "delivered", "returned", "cancelled"])
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("user_id", pa.int64()),
            ("quantity", pa.int32()),
            ("amount", pa.float64()),
            ("price", pa.float64()),
            ("discount", pa.float64()),
            ("country", pa.string()),
            ("status", pa.string()),
            ("email", pa.string()),
            ("sku", pa.string()),
            ("created_at", pa.timestamp("us")),
            ("is_gift", pa.bool_()),
        ]
    )
    start = np.datetime64("2024-01-01T00:00:00", "us")
    chunk = 1_000_000
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            ids = np.arange(offset, offset + n, dtype=np.int64)
            amount = rng.gamma(2.0, 40.0, n)
            amount[rng.random(n) < 0.02] = np.nan
            discount = np.where(rng.random(n) < 0.3, rng.random(n) * 0.5, np.nan)
            users = rng.integers(0, rows // 4 + 1, n)
            email = pc.binary_join_element_wise(
                "user", pa.array(users).cast(pa.string()), "@example.com", ""
            )
            sku = pc.binary_join_element_wise(
                "SKU-", pa.array(rng.integers(0, 50_000, n)).cast(pa.string()), ""
            )
            seconds = rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")
            batch = pa.record_batch(
                [
                    pa.array(ids),
                    pa.array(users),
                    pa.array(rng.integers(1, 20, n).astype(np.int32)),
                    pa.array(amount),
                    pa.array(np.round(rng.lognormal(3, 1, n), 2)),
                    pa.array(discount),
                    pa.array(countries[rng.integers(0, len(countries), n)]),
                    pa.array(statuses[rng.integers(0, len(statuses), n)]),
                    email,
                    sku,
                    pa.array(start + seconds),
                    pa.array(rng.random(n) < 0.1),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=chunk)
    tmp.replace(path)


def _duckdb_query(path: Path, exact: bool) -> str:
    distinct = "count(DISTINCT {c})" if exact else "approx_count_distinct({c})"
    parts = ["count(*)"]
    for c in COLUMNS:
        parts += [f"count({c})", distinct.format(c=c)]
    for c in NUMERIC:
        parts += [f"min({c})", f"max({c})", f"avg({c})", f"stddev_samp({c})"]
    for c in TEXT:
        parts += [f"min(length({c}))", f"max(length({c}))", f"avg(length({c}))"]
    parts += ["min(created_at)", "max(created_at)", "avg(is_gift::INTEGER)"]
    return f"SELECT {', '.join(parts)} FROM read_parquet('{path}')"


def _script(variant: str, path: Path) -> str:
    if variant.startswith("datacanary"):
        exact = variant.endswith("exact")
        return (
            "import json\nfrom datacanary.metrics import profile\n"
            f"p = profile({str(path)!r}, exact_distinct={exact})\n"
            "print(json.dumps({c: v.distinct_count for c, v in p.columns.items()}))\n"
        )
    if variant.startswith("duckdb"):
        query = _duckdb_query(path, exact=variant.endswith("exact"))
        return f"import duckdb\nrow = duckdb.sql({query!r}).fetchall()\nprint('{{}}')\n"
    if variant.startswith("polars"):
        unique = "n_unique" if variant.endswith("exact") else "approx_n_unique"
        return (
            "import polars as pl\n"
            f"lf = pl.scan_parquet({str(path)!r})\n"
            f"num, txt = {NUMERIC!r}, {TEXT!r}\n"
            f"cols = {list(COLUMNS)!r}\n"
            "exprs = [pl.len().alias('rows')]\n"
            "for c in cols:\n"
            "    exprs += [pl.col(c).null_count().alias(c + '_n'),\n"
            f"              pl.col(c).drop_nulls().{unique}().alias(c + '_d')]\n"
            "for c in num:\n"
            "    exprs += [pl.col(c).min().alias(c + '_lo'), pl.col(c).max().alias(c + '_hi'),\n"
            "              pl.col(c).mean().alias(c + '_m'), pl.col(c).std().alias(c + '_s')]\n"
            "for c in txt:\n"
            "    n = pl.col(c).str.len_chars()\n"
            "    exprs += [n.min().alias(c + '_l0'), n.max().alias(c + '_l1'),\n"
            "              n.mean().alias(c + '_l2')]\n"
            "exprs += [pl.col('created_at').min().alias('t0'),\n"
            "          pl.col('created_at').max().alias('t1'),\n"
            "          pl.col('is_gift').mean().alias('g')]\n"
            "lf.select(exprs).collect()\nprint('{}')\n"
        )
    if variant == "ibis-approx":  # the portable layer we measured and did not choose
        return (
            "import ibis\n"
            f"t = ibis.duckdb.connect().read_parquet({str(path)!r})\n"
            f"num, txt = {NUMERIC!r}, {TEXT!r}\n"
            "aggs = {'rows': t.count()}\n"
            "for c in t.columns:\n"
            "    aggs[c + '_n'] = t[c].count()\n"
            "    aggs[c + '_d'] = t[c].approx_nunique()\n"
            "for c in num:\n"
            "    aggs[c + '_lo'], aggs[c + '_hi'] = t[c].min(), t[c].max()\n"
            "    aggs[c + '_m'], aggs[c + '_s'] = t[c].mean(), t[c].std()\n"
            "for c in txt:\n"
            "    n = t[c].length()\n"
            "    aggs[c + '_l0'], aggs[c + '_l1'], aggs[c + '_l2'] = n.min(), n.max(), n.mean()\n"
            "aggs['t0'], aggs['t1'] = t.created_at.min(), t.created_at.max()\n"
            "aggs['g'] = t.is_gift.mean()\n"
            "t.aggregate(**aggs).to_pyarrow()\nprint('{}')\n"
        )
    if variant == "pandas":
        return (
            "import pandas as pd\n"
            f"df = pd.read_parquet({str(path)!r})\n"
            "out = {'rows': len(df)}\n"
            "for c in df.columns:\n"
            "    s = df[c]\n"
            "    out[c] = [int(s.isna().sum()), int(s.nunique())]\n"
            f"    if c in {NUMERIC!r}:\n"
            "        out[c] += [s.min(), s.max(), s.mean(), s.std()]\n"
            f"    if c in {TEXT!r}:\n"
            "        n = s.str.len()\n"
            "        out[c] += [n.min(), n.max(), n.mean()]\n"
            "out['t'] = [df['created_at'].min(), df['created_at'].max()]\n"
            "out['g'] = df['is_gift'].mean()\n"
            "print('{}')\n"
        )
    raise SystemExit(f"unknown variant {variant!r}")


def run_variant(variant: str, path: Path) -> dict[str, object]:
    """Run one variant in a fresh process: wall and CPU seconds, peak RSS (MB), its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _script(variant, path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed with exit code {proc.returncode}")
    peak_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "variant": variant,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_mb,
        "output": stdout,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--variants",
        default="datacanary,duckdb-approx,datacanary-exact,duckdb-exact,"
        "polars-approx,polars-exact,pandas",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (best kept)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"profile_{args.rows}.parquet"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s")
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({args.rows:,} rows, 12 columns, {size_mb:,.0f} MB)")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    results: dict[str, dict[str, object]] = {}
    for variant in args.variants.split(","):
        runs = [run_variant(variant, path) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
        results[variant] = best
        print(
            f"{variant:<18} {best['seconds']:>8.2f} s wall {best['cpu_seconds']:>8.2f} s CPU "
            f"{best['peak_mb']:>9,.0f} MB peak",
            flush=True,
        )

    def secs(name: str, key: str = "seconds") -> float | None:
        return float(results[name][key]) if name in results else None  # type: ignore[arg-type]

    print()
    for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
        dc, dd = secs("datacanary", key), secs("duckdb-approx", key)
        if dc and dd:
            ratio = dc / dd
            print(f"[{label}] default / hand-written DuckDB approx: {ratio:.2f}x (goal <= 1.2x)")
        exact = secs("datacanary-exact", key)
        fastest = [s for s in (secs("duckdb-exact", key), secs("polars-exact", key)) if s]
        if exact and fastest:
            ratio = exact / min(fastest)
            print(
                f"[{label}] exact profile / fastest hand-written exact: {ratio:.2f}x (goal <= 1.2x)"
            )
        pandas = secs("pandas", key)
        if dc and pandas:
            print(f"[{label}] pandas / default profile: {pandas / dc:.1f}x (goal >= 20x)")
    if "datacanary" in results and "datacanary-exact" in results:
        approx = json.loads(str(results["datacanary"]["output"]))
        true = json.loads(str(results["datacanary-exact"]["output"]))
        errors = {
            c: abs(approx[c] - true[c]) / true[c]
            for c in true
            if true[c] and approx.get(c) is not None
        }
        worst = max(errors, key=errors.__getitem__)
        print(
            f"approximate distinct counts: largest error {errors[worst]:.1%} ({worst}: "
            f"{approx[worst]:,} vs {true[worst]:,})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
