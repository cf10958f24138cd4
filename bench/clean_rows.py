"""How quiet the row detectors are on clean rows, how well they rank, and the demo's figures.

Four parts, one markdown report:

* **clean**: for each clean table, the rows are shuffled and split 50/50; the detector is fitted
  on one half (``TableDetector(method, random_state=0).fit``) and the other half, fresh clean
  rows, is scored (``score``). The share of fresh rows flagged is reported for the default rule
  and for the alternatives the rule was chosen among. Clean tables: the inliers of the 12 ODDS
  sets (``--max-rows`` inliers at most, drawn at random) and mixed-type public tables with
  nulls (vega-datasets cars / airports / seattle-weather, palmerpenguins, scikit-learn's bundled
  diabetes / breast-cancer / digits) and a synthetic mixed table with 5 % missing cells.
* **ranking**: ROC-AUC and PR-AUC of each method on the whole ODDS sets (``fit_score``, honest
  training scores), beside scikit-learn's ``IsolationForest`` on the raw columns; and precision,
  recall and F1 of each rule on the same rows.
* **demo**: the demo's 5,000 orders (``datacanary.demo.sample.orders(5000, seed=7)``, 75
  injected anomalies), as ``make demo`` scores them: flagged rows, precision, recall.

Rules (all on p-values from the honest training scores, :mod:`datacanary.detectors._threshold`):

* ``p<0.001 exp`` (the default): p-value below 0.001, exponential tail above the 90th percentile;
* ``p<0.001 gpd``: the same with a generalized Pareto tail (shape fitted, censored MLE);
* ``p<0.001 none``: plain conformal p-values, no tail model (never below 1/(m+1));
* ``p<0.01 exp``: a looser per-row level;
* ``BH 5% exp``: Benjamini-Hochberg at a 5 % false discovery rate over the rows scored;
* ``split p<0.001``: ``auto`` only; fitted on half the training rows, calibrated on the other
  half (a held-out split instead of leave-self-out / cross-fitting);
* ``old 3 MAD``: the previous default, median + 3 x 1.4826 x MAD of the training rows scored as
  new rows (in sample);
* ``contamination=0.01``: flag the top 1 % of the honest training scores.

Usage::

    python bench/clean_rows.py                       # everything, a few minutes
    python bench/clean_rows.py --parts clean --methods auto,iforest
    python bench/clean_rows.py --write               # and rewrite its section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Clean rows (`bench/clean_rows.py`)"
DATASETS = Path(os.environ.get("DATACANARY_DATASETS", ROOT / ".." / "shared" / "datasets"))
METHODS = ["auto", "iforest", "knn", "lof", "ocsvm", "ecod", "zscore", "mad"]
PARTS = ["clean", "ranking", "demo"]
RULES = ["p<0.001 exp", "p<0.001 gpd", "p<0.001 none", "p<0.01 exp", "BH 5% exp",
         "split p<0.001", "old 3 MAD", "contamination=0.01"]  # fmt: skip
DEFAULT_RULE = "p<0.001 exp"
TEST_SETS = {"wine", "glass", "thyroid", "breastw"}  # ODDS sets tests/detectors use


# -- rules --------------------------------------------------------------------------------
def bh(p: np.ndarray, q: float) -> np.ndarray:
    """Benjamini-Hochberg at level ``q``: which of the p-values are rejected."""
    n = p.size
    order = np.argsort(p)
    passed = np.flatnonzero(p[order] <= q * np.arange(1, n + 1) / n)
    out = np.zeros(n, dtype=bool)
    if passed.size:
        out[order[: passed[-1] + 1]] = True
    return out


def old_rule(in_sample: np.ndarray) -> float:
    median = float(np.median(in_sample))
    dev = np.abs(in_sample - median)
    spread = 1.4826 * float(np.median(dev)) or 1.2533 * float(np.mean(dev))
    return median + 3.0 * spread


def flags(
    detector: Any, train: pd.DataFrame | np.ndarray, honest: np.ndarray, scores: np.ndarray
) -> dict[str, np.ndarray]:
    """Rule -> flags of the rows with ``scores``, for a TableDetector fitted on ``train``."""
    from datacanary.detectors._threshold import Calibration

    out: dict[str, np.ndarray] = {}
    for tail in ("exp", "gpd", "none"):
        cal = Calibration(honest, tail={"exp": "exponential"}.get(tail, tail))
        p = cal.p_values(scores)
        out[f"p<0.001 {tail}"] = p < 0.001
        if tail == "exp":
            out["p<0.01 exp"] = p < 0.01
            out["BH 5% exp"] = bh(p, 0.05)
    in_sample = detector.detector_.anomaly_score(detector.encoder_.transform(train))
    out["old 3 MAD"] = scores > old_rule(in_sample)
    out["contamination=0.01"] = scores > np.percentile(honest, 99.0)
    return out


# -- tables -------------------------------------------------------------------------------
def synthetic_mixed(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """A clean mixed-type table: numbers, categories, a boolean, a date; 5 % of cells missing."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n).round(2),
            "quantity": rng.integers(1, 6, n),
            "weight": rng.normal(2.0, 0.4, n),
            "score": rng.beta(2, 5, n),
            "country": rng.choice(["DE", "FR", "NL", "BE", "AT"], n, p=[0.4, 0.25, 0.15, 0.1, 0.1]),
            "channel": rng.choice(["web", "app", "store"], n),
            "is_gift": rng.random(n) < 0.1,
            "created": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.uniform(0, 30, n), "D"),
        }
    )
    for column in frame.columns:
        frame[column] = frame[column].mask(rng.random(n) < 0.05)
    return frame


def clean_tables(max_rows: int, seed: int) -> dict[str, Any]:
    """Name -> clean table (ODDS inliers, public mixed tables, the synthetic one)."""
    from datacanary.evaluate.odds import load_odds, odds_files

    tables: dict[str, Any] = {}
    rng = np.random.default_rng(seed)
    for path in odds_files(DATASETS):
        X, y = load_odds(path)
        inliers = X[y == 0]
        if len(inliers) > max_rows:
            inliers = inliers[np.sort(rng.choice(len(inliers), max_rows, replace=False))]
        tables[f"odds:{path.stem}"] = inliers
    try:
        from vega_datasets import data as vega

        tables["vega:cars"] = vega.cars()
        tables["vega:airports"] = vega.airports()
        tables["vega:seattle_weather"] = vega.seattle_weather()
    except ImportError:
        print("  vega-datasets not installed: its tables are skipped")
    try:
        from palmerpenguins import load_penguins

        tables["penguins"] = load_penguins()
    except ImportError:
        print("  palmerpenguins not installed: skipped")
    from sklearn import datasets

    for name in ("diabetes", "breast_cancer", "digits"):
        tables[f"sklearn:{name}"] = getattr(datasets, f"load_{name}")(as_frame=True).data
    tables["synthetic mixed, 5% null"] = synthetic_mixed()
    return tables


def _rows(table: Any, index: np.ndarray) -> Any:
    return table[index] if isinstance(table, np.ndarray) else table.iloc[index]


def clean_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    from datacanary.detectors import TableDetector
    from datacanary.detectors._threshold import Calibration

    results = []
    for name, table in clean_tables(args.max_rows, args.seed).items():
        order = np.random.default_rng(args.seed).permutation(len(table))
        train, fresh = (
            _rows(table, order[: len(order) // 2]),
            _rows(table, order[len(order) // 2 :]),
        )
        for method in args.methods:
            started = time.perf_counter()
            detector = TableDetector(method, random_state=0, n_explain=0).fit(train)
            result = detector.score(fresh)
            scores = np.asarray(result.scores)
            honest = detector.detector_.anomaly_scores_
            shares = {rule: float(f.mean()) for rule, f in
                      flags(detector, train, honest, scores).items()}  # fmt: skip
            assert math.isclose(shares[DEFAULT_RULE], float(np.mean(result.is_anomaly)))
            if method == "auto":  # a held-out split instead of leave-self-out
                half = len(train) // 2
                split = TableDetector(method, random_state=0, n_explain=0).fit(
                    _rows(train, np.arange(half))
                )
                calib = split.detector_.anomaly_score(
                    split.encoder_.transform(_rows(train, np.arange(half, len(train))))
                )
                p = Calibration(calib).p_values(
                    split.detector_.anomaly_score(split.encoder_.transform(fresh))
                )
                shares["split p<0.001"] = float(np.mean(p < 0.001))
            row = {"table": name, "rows": len(fresh), "method": method, **shares,
                   "seconds": time.perf_counter() - started}  # fmt: skip
            results.append(row)
            old = shares["old 3 MAD"]
            print(f"  {name:<26} {method:<8} flagged {shares[DEFAULT_RULE]:.2%} "
                  f"(old {old:.2%})  {row['seconds']:.1f} s", flush=True)  # fmt: skip
    return results


def ranking_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

    from datacanary.detectors import TableDetector
    from datacanary.evaluate.odds import load_odds, odds_files

    results = []
    for path in odds_files(DATASETS):
        X, y = load_odds(path, max_rows=50_000, random_state=0)
        for method in [*args.methods, "sklearn IsolationForest"]:
            started = time.perf_counter()
            row: dict[str, Any] = {"table": path.stem, "method": method}
            if method == "sklearn IsolationForest":
                scores = -IsolationForest(random_state=0).fit(X).score_samples(X)
            else:
                detector = TableDetector(method, random_state=0, n_explain=0)
                scores = np.asarray(detector.fit_score(X).scores)
                honest = detector.detector_.anomaly_scores_
                for rule, f in flags(detector, X, honest, scores).items():
                    row[f"{rule} precision"] = float(precision_score(y, f, zero_division=0))
                    row[f"{rule} recall"] = float(recall_score(y, f))
                    row[f"{rule} f1"] = float(f1_score(y, f))
            from sklearn.metrics import roc_auc_score

            row["roc_auc"] = float(roc_auc_score(y, scores))
            row["pr_auc"] = float(average_precision_score(y, scores))
            row["seconds"] = time.perf_counter() - started
            results.append(row)
            print(f"  {path.stem:<12} {method:<24} ROC-AUC {row['roc_auc']:.3f}  "
                  f"PR-AUC {row['pr_auc']:.3f}  {row['seconds']:.1f} s", flush=True)  # fmt: skip
    return results


def demo_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from datacanary.demo.sample import orders
    from datacanary.detectors import TableDetector

    table = orders(5000, seed=7)
    truth = table["is_injected"].to_numpy().astype(bool)
    features = table.drop(columns=["is_injected", "anomaly_kind"])
    results = []
    for method in args.methods:
        detector = TableDetector(method, random_state=0)
        scored = detector.fit_score(features)
        scores = np.asarray(scored.scores)
        row: dict[str, Any] = {"method": method, "roc_auc": float(roc_auc_score(truth, scores)),
                               "pr_auc": float(average_precision_score(truth, scores))}  # fmt: skip
        for rule, f in flags(
            detector, features, detector.detector_.anomaly_scores_, scores
        ).items():
            hits = int((f & truth).sum())
            row[f"{rule} flagged"] = int(f.sum())
            row[f"{rule} precision"] = hits / f.sum() if f.sum() else 0.0
            row[f"{rule} recall"] = hits / truth.sum()
        # the best any threshold could do: precision at recall >= 0.8
        order = np.argsort(-scores)
        caught = np.cumsum(truth[order])
        at = int(np.argmax(caught >= math.ceil(0.8 * truth.sum())))
        row["best precision at recall 0.8"] = float(caught[at] / (at + 1))
        results.append(row)
        precision, recall = row[DEFAULT_RULE + " precision"], row[DEFAULT_RULE + " recall"]
        print(f"  demo {method:<8} flagged {row[DEFAULT_RULE + ' flagged']:>4}  precision "
              f"{precision:.2f}  recall {recall:.2f}  "
              f"(best precision at recall 0.8: {row['best precision at recall 0.8']:.2f})",
              flush=True)  # fmt: skip
        if method == "auto":
            print(f"  rule: {scored.rule}")
    return results


# -- report -------------------------------------------------------------------------------
def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _pct(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2%}"


def report(parts: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    out: list[str] = [
        "Fit on clean rows, score fresh clean rows: the share flagged is the false-alarm rate. "
        f"Command: `python bench/clean_rows.py --write` (seed {args.seed}, at most "
        f"{args.max_rows:,} inliers per ODDS set; default rule `{DEFAULT_RULE}`: p-value < 0.001, "
        "exponential tail; see docs/detectors.md)."
    ]
    methods = args.methods
    if parts.get("clean"):
        clean = parts["clean"]
        tables = list(dict.fromkeys(r["table"] for r in clean))
        cell = {(r["table"], r["method"]): r for r in clean}
        out.append("\n**Fresh clean rows flagged, default rule** (`old`: the previous default)\n")
        rows = []
        for t in tables:
            rows.append([t, f"{cell[(t, methods[0])]['rows']:,}"] + [
                f"{_pct(cell[(t, m)][DEFAULT_RULE])} ({_pct(cell[(t, m)]['old 3 MAD'])})"
                for m in methods])  # fmt: skip
        for label, keep in (("mean, all tables", lambda t: True),
                            ("mean, tables the tests do not use",
                             lambda t: t.removeprefix("odds:") not in TEST_SETS)):  # fmt: skip
            chosen = [t for t in tables if keep(t)]
            rows.append([f"**{label}**", ""] + [
                f"**{_pct(np.mean([cell[(t, m)][DEFAULT_RULE] for t in chosen]))}** "
                f"({_pct(np.mean([cell[(t, m)]['old 3 MAD'] for t in chosen]))})"
                for m in methods])  # fmt: skip
        out.append(_table(["table", "fresh rows", *methods], rows))
        out.append("\n**Mean share of fresh clean rows flagged, by rule** (all tables)\n")
        rows = []
        for rule in RULES:
            vals = []
            for m in methods:
                got = [float(cell[(t, m)][rule]) for t in tables if rule in cell[(t, m)]]
                vals.append(_pct(float(np.mean(got))) if got else "")
            rows.append([f"`{rule}`", *vals])
        out.append(_table(["rule", *methods], rows))
    if parts.get("ranking"):
        ranking = parts["ranking"]
        names = [*methods, "sklearn IsolationForest"]
        sets = list(dict.fromkeys(r["table"] for r in ranking))
        cell = {(r["table"], r["method"]): r for r in ranking}
        out.append("\n**Ranking on the ODDS sets** (ROC-AUC / PR-AUC, whole sets, `fit_score`)\n")
        rows = [[s] + [f"{cell[(s, m)]['roc_auc']:.3f} / {cell[(s, m)]['pr_auc']:.3f}"
                       for m in names] for s in sets]  # fmt: skip
        for label, keep in (
            ("mean", lambda s: True),
            ("mean, sets the tests do not use", lambda s: s not in TEST_SETS),
        ):
            chosen = [s for s in sets if keep(s)]
            rows.append(
                [f"**{label}**"]
                + [
                    f"**{np.mean([cell[(s, m)]['roc_auc'] for s in chosen]):.4f} / "
                    f"{np.mean([cell[(s, m)]['pr_auc'] for s in chosen]):.4f}**"
                    for m in names
                ]
            )
        out.append(_table(["set", *names], rows))
        out.append("\n**Flags on the ODDS sets by rule** (mean precision / recall / F1 over the 12 "
                   "sets, training rows judged by their honest scores)\n")  # fmt: skip
        rows = []
        for rule in [r for r in RULES if r != "split p<0.001"]:
            rows.append([f"`{rule}`"] + [
                " / ".join(f"{np.mean([cell[(s, m)][f'{rule} {k}'] for s in sets]):.2f}"
                           for k in ("precision", "recall", "f1")) for m in methods])  # fmt: skip
        out.append(_table(["rule", *methods], rows))
    if parts.get("demo"):
        demo = parts["demo"]
        out.append(
            "\n**Demo orders** (5,000 orders, 75 injected; flagged / precision / recall; "
            "last rows: ranking and the best precision any threshold reaches at recall 0.8)\n"
        )
        rows = []
        for rule in [r for r in RULES if r != "split p<0.001"]:
            rows.append([f"`{rule}`"] + [
                f"{d[f'{rule} flagged']} / {d[f'{rule} precision']:.2f} / {d[f'{rule} recall']:.2f}"
                for d in demo])  # fmt: skip
        rows.append(
            ["ROC-AUC / PR-AUC"] + [f"{d['roc_auc']:.3f} / {d['pr_auc']:.3f}" for d in demo]
        )
        rows.append(["best precision at recall 0.8"]
                    + [f"{d['best precision at recall 0.8']:.2f}" for d in demo])  # fmt: skip
        out.append(_table(["rule", *[d["method"] for d in demo]], rows))
    return "\n".join(out) + "\n"


def write_section(text: str, path: Path = DOCS) -> None:
    """Replace (or append) this benchmark's section of ``docs/benchmarks.md``."""
    doc = path.read_text(encoding="utf-8")
    block = f"{SECTION}\n\n{text.strip()}\n"
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + block
    else:
        end = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + block + ("" if end < 0 else doc[end:])
    path.write_text(doc, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {PARTS}")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--max-rows", type=int, default=20_000, help="ODDS inliers per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"rewrite its section of {DOCS}")
    args = parser.parse_args(argv)
    args.methods = args.methods.split(",")
    runners: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {
        "clean": clean_part, "ranking": ranking_part, "demo": demo_part}  # fmt: skip
    parts = {}
    for part in args.parts.split(","):
        print(f"== {part}", flush=True)
        parts[part] = runners[part](args)
    text = report(parts, args)
    print(text)
    if args.write:
        write_section(text)
        print(f"wrote {SECTION!r} in {DOCS}")


if __name__ == "__main__":
    main()
