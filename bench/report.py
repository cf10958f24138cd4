"""Benchmark: the HTML report of a one-million-row table.

Writes a mixed-type orders table (ids, timestamps, amounts, countries, e-mails with missing
values, injected anomalies) as Parquet, builds its report with the defaults of
``datacanary report`` and prints the wall time of each step, the total and the HTML size.
The targets (issue "report"): under a minute on a 2-core machine, a page of a few MB.

    .venv/bin/python bench/report.py                 # 1,000,000 rows
    .venv/bin/python bench/report.py --rows 200000   # a quicker look
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TARGET_SECONDS = 60.0
TARGET_MB = 5.0


def orders(rows: int, seed: int = 0) -> pd.DataFrame:
    """A seeded orders table with a few hundred injected anomalies."""
    rng = np.random.default_rng(seed)
    quantity = rng.geometric(0.45, rows)
    unit_price = np.exp(rng.normal(3.2, 0.6, rows)).round(2)
    discount = np.where(rng.random(rows) < 0.3, rng.choice([0.05, 0.1, 0.15, 0.2], rows), 0.0)
    amount = (quantity * unit_price * (1 - discount)).round(2)
    bad = rng.choice(rows, size=max(10, rows // 2000), replace=False)
    amount[bad] *= rng.uniform(30, 80, bad.size)
    created = pd.Timestamp("2026-08-01") + pd.to_timedelta(
        np.sort(rng.uniform(0, 90 * 86_400, rows)), unit="s"
    )
    customers = np.array([f"customer{k}@example.com" for k in range(50_000)], dtype=object)
    email = customers[rng.integers(0, customers.size, rows)]
    email[rng.random(rows) < 0.02] = None
    countries = np.array(["DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "BE", "AT"])
    return pd.DataFrame(
        {
            "order_id": np.arange(1, rows + 1),
            "customer_email": email,
            "country": countries[rng.integers(0, countries.size, rows)],
            "channel": rng.choice(["web", "app", "marketplace"], rows, p=[0.55, 0.35, 0.10]),
            "quantity": quantity,
            "unit_price": unit_price,
            "discount": discount,
            "amount": amount,
            "is_gift": rng.random(rows) < 0.07,
            "created_at": created,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table")
    parser.add_argument("--sample-rows", type=int, default=50_000, help="rows sampled for plots")
    parser.add_argument("--out", type=Path, default=None, help="keep the table and report here")
    args = parser.parse_args(argv)

    from datacanary.report import build_report

    with tempfile.TemporaryDirectory(prefix="datacanary-bench-report-") as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        table = folder / "orders.parquet"
        started = time.perf_counter()
        orders(args.rows).to_parquet(table, index=False)
        print(f"wrote {args.rows:,} rows to {table} in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        report = build_report(str(table), sample_rows=args.sample_rows)
        built = time.perf_counter()
        html = report.write(folder / "report.html")
        elapsed = time.perf_counter() - started
        size_mb = html.stat().st_size / 1e6

        for step, seconds in report.timings.items():
            print(f"  {step:<13} {seconds:6.1f} s")
        print(f"  {'html + write':<13} {elapsed - (built - started):6.1f} s")
        detection = report.detection
        scored = f"{detection.method} on {detection.scored_rows:,} rows" if detection else "none"
        print(
            f"report of {report.overview.rows:,} rows × {report.overview.columns} columns: "
            f"{elapsed:.1f} s (target < {TARGET_SECONDS:.0f} s), HTML {size_mb:.2f} MB "
            f"(target < {TARGET_MB:.0f} MB), {len(report.images)} images, detection {scored}"
        )
        print(f"report: {html}" if args.out else "report: (deleted; pass --out DIR to keep it)")
        ok = elapsed < TARGET_SECONDS and size_mb < TARGET_MB
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
