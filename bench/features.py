"""What the encoder's derived features and null / zero handling do, on mixed-type tables.

Two measurements (``docs/detectors.md``, "Derived features" and "Nulls and zeros"):

* ``demo``   the demo's orders (``datacanary.demo.sample.orders(5000, seed=7)``, 75 injected
             anomalies of five kinds), fitted and scored as ``make demo`` does
             (``TableDetector(method).fit_score``): ROC-AUC, PR-AUC, the best precision at
             recall >= 0.8 over all thresholds, recall per injected kind at the detector's own
             threshold and at that best threshold, and the share of fresh clean orders
             (``orders(5000, seed=8, inject=False)``) flagged by the fitted detector;
* ``clean``  a synthetic clean mixed-type table (numbers, a count, a product, two categories,
             a boolean, a datetime pair, a 30 %-null column, a zero-inflated discount, then
             5 % of all cells set to null), 3 seeds, and its numeric columns alone
             (``narrow``, where one null weighs most): share of training rows and of fresh
             clean rows flagged, and the share of rows with a null flagged, per method.

Usage::

    python bench/features.py                         # both, about a minute
    python bench/features.py --sections demo --methods auto,iforest
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
METHODS = ["auto", "iforest", "mad", "zscore"]


def best_precision_at_recall(y: np.ndarray, scores: np.ndarray, recall: float) -> float:
    """The highest precision of any threshold whose recall is at least ``recall``."""
    from sklearn.metrics import precision_recall_curve

    precision, achieved, _ = precision_recall_curve(y, scores)
    return float(np.max(precision[achieved >= recall]))


def demo_section(methods: list[str]) -> list[dict[str, Any]]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from datacanary.demo.sample import ANOMALY_KINDS, orders
    from datacanary.detectors import TableDetector

    table = orders(5000, seed=7)
    fresh = orders(5000, seed=8, inject=False).drop(columns=["is_injected", "anomaly_kind"])
    y = table["is_injected"].to_numpy().astype(int)
    kinds = table["anomaly_kind"].to_numpy()
    features = table.drop(columns=["is_injected", "anomaly_kind"])
    rows = []
    for method in methods:
        detector = TableDetector(method, random_state=0)
        result = detector.fit_score(features)
        scores = np.asarray(result.scores)
        flagged = np.asarray(result.is_anomaly)
        # the threshold with the best precision among those reaching recall 0.8
        order = np.sort(scores[y == 1])[::-1]
        at80 = order[int(np.ceil(0.8 * len(order))) - 1]
        best = scores >= at80
        row: dict[str, Any] = {
            "method": method,
            "roc_auc": float(roc_auc_score(y, scores)),
            "pr_auc": float(average_precision_score(y, scores)),
            "precision_at_recall_0.8": best_precision_at_recall(y, scores, 0.8),
            "flagged": int(flagged.sum()),
            "precision": float(y[flagged].mean()) if flagged.any() else float("nan"),
            "recall": float(flagged[y == 1].mean()),
            "fresh_flagged": float(np.mean(detector.score(fresh).is_anomaly)),
        }
        for kind in ANOMALY_KINDS:
            mask = kinds == kind
            row[f"{kind} caught"] = f"{int(flagged[mask].sum())}/{int(mask.sum())}"
            row[f"{kind} at recall 0.8"] = f"{int(best[mask].sum())}/{int(mask.sum())}"
        print(
            f"  demo {method:<8} ROC-AUC {row['roc_auc']:.3f}  PR-AUC {row['pr_auc']:.3f}  "
            f"precision@recall0.8 {row['precision_at_recall_0.8']:.3f}  flagged {row['flagged']}"
            f" (precision {row['precision']:.2f}, recall {row['recall']:.2f})  fresh clean "
            f"flagged {row['fresh_flagged']:.2%}",
            flush=True,
        )
        print("       " + "  ".join(f"{k} {row[k + ' caught']}" for k in ANOMALY_KINDS))
        print("       at the best threshold for recall 0.8: "
              + "  ".join(f"{k} {row[k + ' at recall 0.8']}" for k in ANOMALY_KINDS))  # fmt: skip
        rows.append(row)
    return rows


def clean_table(n: int, seed: int, missing: float = 0.05) -> Any:
    """A clean mixed-type table: no anomalies, nulls everywhere (``missing`` of all cells)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.uniform(0, 30 * 86400, n), "s")
    quantity = rng.geometric(0.4, n)
    price = np.exp(rng.normal(3, 0.5, n)).round(2)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(5, 2, n),
            "amount": rng.lognormal(3, 0.6, n).round(2),
            "quantity": quantity,
            "unit_price": price,
            "total": (quantity * price).round(2),
            "country": rng.choice(["DE", "FR", "NL", "IT", "ES"], n, p=[0.4, 0.2, 0.2, 0.1, 0.1]),
            "sku": rng.choice([f"s{i}" for i in range(40)], n),
            "flag": rng.random(n) < 0.2,
            "discount": np.where(rng.random(n) < 0.7, 0.0, rng.uniform(0.02, 0.3, n).round(2)),
            "coupon": np.where(rng.random(n) < 0.3, np.nan, rng.normal(10, 2, n)),
            "created_at": created,
            "shipped_at": created + pd.to_timedelta(rng.gamma(4, 9, n), "h"),
        }
    )
    mask = rng.random(frame.shape) < missing
    for j, column in enumerate(frame.columns):
        frame[column] = frame[column].mask(mask[:, j])
    return frame


NARROW = ["x1", "x2", "amount", "quantity", "unit_price", "discount", "coupon"]
"""The narrow variant: numbers only, where one null weighs most in a per-column score."""


def clean_section(
    methods: list[str], seeds: int, columns: list[str] | None
) -> list[dict[str, Any]]:
    from datacanary.detectors import TableDetector

    def table(seed: int) -> Any:
        frame = clean_table(5000, seed)
        return frame if columns is None else frame[columns]

    rows = []
    for method in methods:
        per_seed: dict[str, list[float]] = {}
        for seed in range(seeds):
            train, fresh = table(seed), table(100 + seed)
            detector = TableDetector(method, random_state=0)
            train_flags = np.asarray(detector.fit_score(train).is_anomaly)
            fresh_flags = np.asarray(detector.score(fresh).is_anomaly)
            nulls = train.isna().any(axis=1).to_numpy()
            coupon = train["coupon"].isna().to_numpy()
            values = {
                "train_flagged": train_flags.mean(),
                "fresh_flagged": fresh_flags.mean(),
                "null_rows_flagged": train_flags[nulls].mean(),
                "no_null_rows_flagged": train_flags[~nulls].mean(),
                "coupon_null_flagged": train_flags[coupon].mean(),
                "discount_nonzero_flagged": train_flags[train["discount"].fillna(0) > 0].mean(),
            }
            for key, value in values.items():
                per_seed.setdefault(key, []).append(float(value))
        row = {"method": method, **{k: statistics.fmean(v) for k, v in per_seed.items()}}
        label = "wide" if columns is None else "narrow"
        print(
            f"  clean {label} {method:<8} train flagged {row['train_flagged']:.2%}  fresh flagged "
            f"{row['fresh_flagged']:.2%}  rows with a null flagged {row['null_rows_flagged']:.2%}"
            f" (without {row['no_null_rows_flagged']:.2%}; 30%-null column "
            f"{row['coupon_null_flagged']:.2%}; non-zero discount "
            f"{row['discount_nonzero_flagged']:.2%})",
            flush=True,
        )
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="demo,clean", help="demo, clean")
    parser.add_argument("--methods", default=",".join(METHODS), help="datacanary methods")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the clean table")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    sections = [s for s in args.sections.split(",") if s]
    started = time.perf_counter()
    results: dict[str, Any] = {}
    if "demo" in sections:
        results["demo"] = demo_section(methods)
    if "clean" in sections:
        results["clean"] = clean_section(methods, args.seeds, None)
        results["clean_narrow"] = clean_section(methods, args.seeds, NARROW)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "features.json").write_text(json.dumps(results, indent=1, default=float))
    print(f"done in {time.perf_counter() - started:.0f} s; wrote {OUT / 'features.json'}")


if __name__ == "__main__":
    main()
