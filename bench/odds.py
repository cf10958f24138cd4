"""Row detectors on the ODDS sets, beside scikit-learn and PyOD called directly.

Protocol: unsupervised, fit and score on the whole set (labels only to evaluate); sets above
``--max-rows`` (default 50,000: only ``http``, 567,498 rows) are subsampled, stratified and
deterministic (:func:`datacanary.evaluate.odds.load_odds`). datacanary methods run as a user
runs them, ``TableDetector(method, random_state=0).fit_score(X)`` (encoding, threshold and
explanations included); baselines are the libraries' estimators with their defaults on the raw
``X``: ``score_samples`` / ``negative_outlier_factor_`` / ``decision_scores_`` after ``fit``.

Sections (all by default):

* ``main``      ROC-AUC, PR-AUC and seconds of every method on every set; F1 at datacanary's
                own thresholds;
* ``overhead``  best-of-5 seconds (runs interleaved; wall and CPU) of scikit-learn's
                IsolationForest alone, of datacanary's
                ``iforest`` estimator, and of the whole ``TableDetector("iforest")``;
* ``pipeline``  fit+score seconds on a 100,000 x 10 synthetic table;
* ``auto-grid`` how ``auto`` was chosen: every candidate ensemble on every set, and the
                out-of-sample check over all 924 ways to split the 12 sets in two halves;
* ``mixed``     ROC-AUC per kind of planted anomaly in a synthetic 20,000-row table of numbers,
                categories and booleans (3 seeds): why ``auto`` keeps its ECOD member;
* ``threshold`` F1 of candidate ``contamination="auto"`` rules on the ODDS sets and on the
                demo's 5,000 orders (75 injected anomalies).

Usage::

    python bench/odds.py                                  # all sections, about 10 minutes
    python bench/odds.py --sections main --sets wine,glass --methods auto,iforest
    python bench/odds.py --sections auto-grid

Results go to bench/out/odds.json and bench/out/odds.md (the tables in docs/detectors.md).
The data folder is ../shared/datasets beside the repository, or $DATACANARY_DATASETS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DATASETS = Path(os.environ.get("DATACANARY_DATASETS", ROOT / ".." / "shared" / "datasets"))
METHODS = ["auto", "iforest", "knn", "lof", "ocsvm", "ecod", "zscore", "mad", "pyod:ecod"]
SECTIONS = ["main", "overhead", "pipeline", "auto-grid", "mixed", "threshold"]


# -- baselines: the libraries called directly --------------------------------------------
def baselines(seed: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Label -> ``X -> anomaly scores`` for scikit-learn's and PyOD's own estimators."""

    def sk_iforest(X: np.ndarray) -> np.ndarray:
        from sklearn.ensemble import IsolationForest

        return -IsolationForest(random_state=seed).fit(X).score_samples(X)

    def sk_lof(X: np.ndarray) -> np.ndarray:
        from sklearn.neighbors import LocalOutlierFactor

        return -LocalOutlierFactor().fit(X).negative_outlier_factor_

    def pyod(name: str, **params: Any) -> Callable[[np.ndarray], np.ndarray]:
        def score(X: np.ndarray) -> np.ndarray:
            from datacanary.detectors._pyod import pyod_class

            return np.asarray(pyod_class(name)(**params).fit(X).decision_scores_)

        return score

    return {
        "sklearn IForest": sk_iforest,
        "sklearn LOF": sk_lof,
        "PyOD IForest": pyod("iforest", random_state=seed),
        "PyOD KNN": pyod("knn"),
        "PyOD LOF": pyod("lof"),
        "PyOD ECOD": pyod("ecod"),
        "PyOD HBOS": pyod("hbos"),
        "PyOD COPOD": pyod("copod"),
    }


# -- sections -----------------------------------------------------------------------------
def main_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    from datacanary.evaluate.odds import run_odds

    plan: dict[str, Any] = {m: m for m in args.methods}
    if args.baselines:
        plan.update(baselines(args.seed))

    def progress(row: dict[str, Any]) -> None:
        print(
            f"  {row['dataset']:<12} {row['method']:<16} ROC-AUC {row['roc_auc']:.3f}  "
            f"PR-AUC {row['pr_auc']:.3f}  {row['seconds']:7.2f} s",
            flush=True,
        )

    return run_odds(
        DATASETS, plan, max_rows=args.max_rows, random_state=args.seed, progress=progress,
        sets=args.sets,
    )  # fmt: skip


def _seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def overhead_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    from sklearn.ensemble import IsolationForest

    from datacanary.detectors import TableDetector, make_detector
    from datacanary.evaluate.odds import load_odds, odds_files

    seed = args.seed

    def direct_run(X: np.ndarray) -> object:
        return IsolationForest(random_state=seed).fit(X).score_samples(X)

    def estimator_run(X: np.ndarray) -> object:
        return make_detector("iforest", random_state=seed).fit(X).anomaly_scores_

    def table_run(X: np.ndarray) -> object:
        return TableDetector("iforest", random_state=seed).fit_score(X)

    rows = []
    for path in odds_files(DATASETS, args.sets):
        X, _ = load_odds(path, max_rows=args.max_rows, random_state=seed)
        variants = {"sklearn": direct_run, "estimator": estimator_run, "table": table_run}
        wall = dict.fromkeys(variants, float("inf"))
        cpu = dict.fromkeys(variants, float("inf"))
        for _ in range(5):  # interleaved, so drifting load hits every variant alike
            for name, run in variants.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                run(X)
                wall[name] = min(wall[name], time.perf_counter() - started)
                cpu[name] = min(cpu[name], time.process_time() - started_cpu)
        rows.append({"dataset": path.stem, "rows": len(X), **wall,
                     **{f"{k}_cpu": v for k, v in cpu.items()}})  # fmt: skip
        print(
            f"  {path.stem:<12} sklearn {wall['sklearn']:6.3f} s  estimator "
            f"{wall['estimator'] / wall['sklearn'] - 1:+.1%}  TableDetector "
            f"{wall['table'] / wall['sklearn'] - 1:+.1%}   (CPU time: estimator "
            f"{cpu['estimator'] / cpu['sklearn'] - 1:+.1%}, TableDetector "
            f"{cpu['table'] / cpu['sklearn'] - 1:+.1%})",
            flush=True,
        )
    return rows


def pipeline_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    import pandas as pd

    from datacanary.detectors import TableDetector

    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(100_000, 10))
    X[:100] += rng.normal(0, 6, size=(100, 10))
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(10)])
    rows = []
    for method in ("auto", "iforest", "knn", "lof", "ecod", "mad"):
        seconds = _seconds(partial(TableDetector(method).fit_score, frame))
        rows.append({"method": method, "rows": len(frame), "columns": 10, "seconds": seconds})
        print(f"  100,000 x 10  {method:<8} {seconds:6.2f} s", flush=True)
    return rows


def threshold_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    """F1 of candidate ``contamination="auto"`` rules on the ODDS sets and the demo's orders."""
    from sklearn.metrics import f1_score

    from datacanary.detectors import TableDetector
    from datacanary.evaluate.odds import load_odds, odds_files

    def mad(s: np.ndarray) -> float:
        return float(1.4826 * np.median(np.abs(s - np.median(s))))

    def upper_mad(s: np.ndarray) -> float:  # the "double MAD": spread of the upper half only
        m = np.median(s)
        return float(1.4826 * np.median(s[s >= m] - m))

    def iqr_fence(k: float) -> Callable[[np.ndarray], float]:
        return lambda s: float(np.percentile(s, 75) + k * np.subtract(*np.percentile(s, [75, 25])))

    rules: dict[str, Callable[[np.ndarray], float]] = {
        "median + 3 MAD (chosen)": lambda s: float(np.median(s)) + 3 * mad(s),
        "median + 3 upper MAD": lambda s: float(np.median(s)) + 3 * upper_mad(s),
        "median + 4 upper MAD": lambda s: float(np.median(s)) + 4 * upper_mad(s),
        "Q3 + 1.5 IQR": iqr_fence(1.5),
        "Q3 + 3 IQR": iqr_fence(3.0),
    }
    tables: dict[str, tuple[Any, np.ndarray]] = {}
    for path in odds_files(DATASETS, args.sets):
        tables[path.stem] = load_odds(path, max_rows=args.max_rows, random_state=args.seed)
    if args.sets is None:  # the demo's orders: a mixed-type table with injected anomalies
        from datacanary.demo.sample import orders

        demo = orders(5000, seed=7)
        tables["demo orders"] = (
            demo.drop(columns=["is_injected", "anomaly_kind"]),
            demo["is_injected"].to_numpy().astype(int),
        )
    rows = []
    for method in ("auto", "iforest", "mad"):
        scores = {
            name: np.asarray(TableDetector(method, random_state=args.seed).fit_score(X).scores)
            for name, (X, _) in tables.items()
        }
        for rule, threshold in rules.items():
            f1 = {}
            flagged = {}
            for name, (_, y) in tables.items():
                flags = scores[name] > threshold(scores[name])
                f1[name] = float(f1_score(y, flags, zero_division=0.0))
                flagged[name] = float(flags.mean())
            odds = [v for k, v in f1.items() if k != "demo orders"]
            row = {"method": method, "rule": rule, "odds_f1": float(np.mean(odds)),
                   "demo_f1": f1.get("demo orders", float("nan")),
                   "demo_flagged": flagged.get("demo orders", float("nan")),
                   "f1": f1, "flagged": flagged}  # fmt: skip
            rows.append(row)
            print(
                f"  {method:<8} {rule:<24} mean F1 on ODDS {row['odds_f1']:.3f}   demo orders: "
                f"F1 {row['demo_f1']:.3f}, {row['demo_flagged']:.1%} of rows flagged",
                flush=True,
            )
    return rows


def mixed_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    """ROC-AUC per planted kind on a synthetic mixed table: does auto need its ECOD member?"""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from datacanary.detectors import TableDetector

    variants: dict[str, dict[str, Any]] = {
        f"auto, tail_weight={w:g}": {"method": "auto", "tail_weight": w} for w in (0, 0.25, 0.5, 1)
    }
    variants.update({m: {"method": m} for m in ("iforest", "ecod", "knn")})
    results: dict[tuple[str, str], list[float]] = {}
    for seed in range(3):
        rng = np.random.default_rng(args.seed + seed)
        n = 20_000
        frame = pd.DataFrame({f"n{i}": rng.normal(size=n) for i in range(6)})
        frame["amount"] = rng.lognormal(3, 0.5, n)
        frame["country"] = rng.choice(
            ["DE", "FR", "NL", "BE", "AT"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]
        )
        frame["channel"] = rng.choice([f"c{i}" for i in range(40)], n)
        frame["vip"] = rng.random(n) < 0.2
        planted = rng.choice(n, 200, replace=False)
        kinds = dict(zip(("rare category", "extreme amount", "combination", "rare high-card value"),
                         np.split(planted, 4), strict=True))  # fmt: skip
        frame.loc[kinds["rare category"], "country"] = "XX"  # 50 rows of an otherwise unseen value
        frame.loc[kinds["extreme amount"], "amount"] *= 8
        rows = kinds["combination"]  # each value ordinary, the pair is not
        frame.loc[rows, "n0"] = rng.normal(2.5, 0.1, len(rows))
        frame.loc[rows, "n1"] = rng.normal(-2.5, 0.1, len(rows))
        frame.loc[kinds["rare high-card value"], "channel"] = "rare"
        y = np.zeros(n, dtype=int)
        y[planted] = 1
        for label, params in variants.items():
            scores = np.asarray(TableDetector(**params).fit_score(frame).scores)
            results.setdefault((label, "all"), []).append(roc_auc_score(y, scores))
            for kind, kind_rows in kinds.items():
                keep = y == 0
                keep[kind_rows] = True
                results.setdefault((label, kind), []).append(roc_auc_score(y[keep], scores[keep]))
    rows_out = []
    for label in variants:
        row = {
            "variant": label,
            **{k: float(np.mean(v)) for (name, k), v in results.items() if name == label},
        }
        rows_out.append(row)
        print(
            "  "
            + label.ljust(24)
            + "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "variant")
        )
    return rows_out


def auto_grid_section(args: argparse.Namespace) -> dict[str, Any]:
    """Score candidate members once per set, then evaluate every candidate ensemble."""
    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score

    from datacanary.detectors import (
        ECODDetector,
        IForestDetector,
        KNNDetector,
        MADDetector,
        TableEncoder,
    )
    from datacanary.evaluate.odds import load_odds, odds_files

    members: dict[str, Callable[[], Any]] = {
        "iforest": partial(IForestDetector, random_state=args.seed),
        "ecod": ECODDetector,
        "mad": MADDetector,
    }
    for k, size in itertools.product((10, 20), (256, 512)):
        members[f"knn{k}x{size}"] = partial(
            KNNDetector, n_neighbors=k, max_samples=size, n_estimators=5, random_state=args.seed
        )
    scores: dict[str, dict[str, np.ndarray]] = {}
    labels: dict[str, np.ndarray] = {}
    for path in odds_files(DATASETS, args.sets):
        X, y = load_odds(path, max_rows=args.max_rows, random_state=args.seed)
        X = TableEncoder().fit_transform(X)
        labels[path.stem] = y
        for name, make in members.items():
            detector = make()
            if name.startswith("knn"):
                detector.set_params(n_neighbors=min(detector.n_neighbors, len(X)))
            scores.setdefault(name, {})[path.stem] = detector.fit(X).anomaly_scores_
        print(f"  scored the candidate members on {path.stem}", flush=True)

    def robust(s: np.ndarray) -> np.ndarray:
        q1, q2, q3 = np.percentile(s, [25, 50, 75])
        return (s - q2) / (q3 - q1 if q3 > q1 else (np.std(s) or 1.0))

    def rank(s: np.ndarray) -> np.ndarray:
        return np.asarray(rankdata(s) / len(s))

    candidates: dict[str, tuple[list[str], list[float], Callable[..., np.ndarray]]] = {
        name: ([name], [1.0], robust) for name in ("iforest", "ecod", "mad")
    }
    partners = [("iforest",), ("ecod",), ("mad",), ("iforest", "ecod"), ("iforest", "mad")]
    for knn in [m for m in members if m.startswith("knn")]:
        candidates[knn] = ([knn], [1.0], robust)
        for others, weight, (norm_name, norm) in itertools.product(
            partners, (1.0, 0.5, 0.25), (("z", robust), ("rank", rank))
        ):
            label = f"{knn} + {weight:g} x ({' + '.join(others)}) [{norm_name}]"
            candidates[label] = ([knn, *others], [1.0] + [weight] * len(others), norm)
    sets = list(labels)
    auc = np.array(
        [
            [
                roc_auc_score(
                    labels[s],
                    sum(w * norm(scores[m][s]) for m, w in zip(ms, ws, strict=True)),
                )
                for s in sets
            ]
            for ms, ws, norm in candidates.values()
        ]
    )
    names = list(candidates)
    means = auc.mean(axis=1)
    top = np.argsort(-means)[:12]
    print(f"  {len(names)} candidates (members: {', '.join(members)})")
    for i in top:
        print(f"  {means[i]:.4f}  {names[i]}")
    singles = [names.index(s) for s in ("iforest", "ecod", "mad")]
    gains: list[float] = []
    picks: dict[str, int] = {}
    if len(sets) == 12:
        for half in itertools.combinations(range(12), 6):
            tune = list(half)
            test = [i for i in range(12) if i not in half]
            best = int(np.argmax(auc[:, tune].mean(axis=1)))
            single = singles[int(np.argmax(auc[singles][:, tune].mean(axis=1)))]
            gains.append(float(auc[best, test].mean() - auc[single, test].mean()))
            picks[names[best]] = picks.get(names[best], 0) + 1
        g = np.array(gains)
        print(
            f"  out of sample over {len(g)} half splits: gain of the best candidate over the "
            f"best single member, both chosen on the other half: mean {g.mean():+.4f}, "
            f"median {np.median(g):+.4f}, 10th percentile {np.percentile(g, 10):+.4f}, "
            f"min {g.min():+.4f}; >= +0.02 in {np.mean(g >= 0.02):.0%} of splits"
        )
        for name, count in sorted(picks.items(), key=lambda item: -item[1])[:5]:
            print(f"    chosen {count:>3} times: {name}")
    per_set = [dict(zip(sets, map(float, row), strict=True)) for row in auc]
    return {
        "sets": sets,
        "candidates": dict(zip(names, per_set, strict=True)),
        "split_gains": gains,
        "picks": picks,
    }


# -- report -------------------------------------------------------------------------------
def markdown(rows: list[dict[str, Any]]) -> str:
    """ROC-AUC, PR-AUC, seconds and F1 tables, one column per method, a mean row."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    cell = {(r["dataset"], r["method"]): r for r in rows}
    parts = []
    for key, title, fmt, agg in (
        ("roc_auc", "ROC-AUC", "{:.3f}", statistics.fmean),
        ("pr_auc", "PR-AUC (average precision)", "{:.3f}", statistics.fmean),
        ("seconds", "Seconds, fit + score", "{:.2f}", sum),
        ("f1", "F1 at the method's own threshold (contamination='auto')", "{:.3f}",
         statistics.fmean),
    ):  # fmt: skip
        shown = [m for m in methods if not all(np.isnan(cell[(s, m)][key]) for s in sets)]
        lines = [f"**{title}**", "", "| set | rows | " + " | ".join(shown) + " |"]
        lines.append("|---|---:|" + "---:|" * len(shown))
        for s in sets:
            values = [fmt.format(cell[(s, m)][key]) for m in shown]
            lines.append(f"| {s} | {cell[(s, shown[0])]['rows']:,} | " + " | ".join(values) + " |")
        total = [fmt.format(agg([cell[(s, m)][key] for s in sets])) for m in shown]
        label = "total" if agg is sum else "mean"
        lines.append(f"| **{label}** | | " + " | ".join(f"**{t}**" for t in total) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--methods", default=",".join(METHODS), help="datacanary methods")
    parser.add_argument("--sets", default=None, help="comma-separated set names (default all)")
    parser.add_argument("--max-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baselines", dest="baselines", action="store_false")
    args = parser.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    args.sets = args.sets.split(",") if args.sets else None
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"max_rows": args.max_rows, "seed": args.seed}
    report = []
    started = time.perf_counter()
    if "main" in sections:
        print("main: every method on every set", flush=True)
        results["main"] = main_section(args)
        report.append(markdown(results["main"]))
    if "overhead" in sections:
        print("overhead: iforest through datacanary vs scikit-learn alone", flush=True)
        results["overhead"] = rows = overhead_section(args)

        def total(key: str) -> float:
            return sum(r[key] for r in rows)

        report.append(
            f"Wrapper overhead over {len(rows)} sets (best of 5 interleaved runs, summed): "
            f"scikit-learn IsolationForest {total('sklearn'):.2f} s wall, "
            f"{total('sklearn_cpu'):.2f} s CPU; datacanary estimator "
            f"{total('estimator') / total('sklearn') - 1:+.1%} wall, "
            f"{total('estimator_cpu') / total('sklearn_cpu') - 1:+.1%} CPU; TableDetector "
            f"(encoder, threshold, explanations) {total('table') / total('sklearn') - 1:+.1%} "
            f"wall, {total('table_cpu') / total('sklearn_cpu') - 1:+.1%} CPU.\n"
        )
    if "pipeline" in sections:
        print("pipeline: 100,000 x 10 synthetic rows", flush=True)
        results["pipeline"] = rows = pipeline_section(args)
        report.append(
            "Fit + score of 100,000 x 10: "
            + ", ".join(f"{r['method']} {r['seconds']:.1f} s" for r in rows)
            + ".\n"
        )
    if "auto-grid" in sections:
        print("auto-grid: candidate ensembles for `auto`", flush=True)
        results["auto_grid"] = auto_grid_section(args)
    if "mixed" in sections:
        print("mixed: planted anomalies in a synthetic mixed-type table (3 seeds)", flush=True)
        results["mixed"] = rows = mixed_section(args)
        kinds = [k for k in rows[0] if k != "variant"]
        lines = ["| variant | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
        lines += ["| " + r["variant"] + " | " + " | ".join(f"{r[k]:.3f}" for k in kinds) + " |"
                  for r in rows]  # fmt: skip
        report.append(
            "ROC-AUC by planted kind, synthetic mixed table:\n\n" + "\n".join(lines) + "\n"
        )
    if "threshold" in sections:
        print("threshold: candidate rules for contamination='auto'", flush=True)
        results["threshold"] = rows = threshold_section(args)
        lines = ["| method | rule | mean F1, 12 ODDS sets | F1, demo orders | flagged, demo |",
                 "|---|---|---:|---:|---:|"]  # fmt: skip
        lines += [f"| {r['method']} | {r['rule']} | {r['odds_f1']:.3f} | {r['demo_f1']:.3f} | "
                  f"{r['demo_flagged']:.1%} |" for r in rows]  # fmt: skip
        report.append("Threshold rules:\n\n" + "\n".join(lines) + "\n")
    (OUT / "odds.json").write_text(json.dumps(results, indent=1, default=float))
    (OUT / "odds.md").write_text("\n".join(report))
    print("\n".join(report))
    print(f"done in {time.perf_counter() - started:.0f} s; wrote {OUT / 'odds.md'}")


if __name__ == "__main__":
    main()
