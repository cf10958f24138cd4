"""``datacanary demo``: the main job end to end on an embedded sample, no network needed.

1. Row-level: score a day of orders with five kinds of injected anomalies; print what was
   found, precision/recall against the injected truth, the recall per kind; write the scored
   rows and the score plot.
2. Metrics over time: replay 30 daily snapshots through ``datacanary check`` (each day the
   pipeline overwrites ``data/orders.parquet``); a partial load, a spike of missing e-mails and a
   renamed column are injected; show them caught with their sentences; plot the history.
3. Write the HTML report of the sample.
"""

from __future__ import annotations

import shutil
import time
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["MONITOR_YAML", "run_demo"]

MONITOR_YAML = """\
# The demo's monitor: what `datacanary check` watches after every load of the orders table.
store: history.duckdb
datasets:
  - name: orders
    source: data/orders.parquet
    metrics:
      # judged by the default detector, `auto`: it finds the weekday pattern itself
      - row_count
      - null_fraction: {columns: [customer_email, country, amount]}
      - mean: {columns: [amount]}
      - schema
"""


def run_demo(out_dir: Path, *, console: Console) -> None:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]datacanary demo")
    console.print(f"Outputs go to [bold]{out_dir}/[/]\n")
    _rows(out_dir, console)
    _metrics(out_dir, console)
    _report(out_dir, console)
    console.rule(f"done in {time.perf_counter() - started:.1f} s")


def _rows(out_dir: Path, console: Console) -> None:
    import numpy as np

    from datacanary.demo.sample import ANOMALY_KINDS, orders
    from datacanary.detectors import TableDetector
    from datacanary.evaluate import evaluate_scores
    from datacanary.report.plots import top_rows_figure

    console.print("[bold]1. Row-level outliers[/] in a day of orders")
    table = orders(5000, seed=7)
    # the file a user can re-run `datacanary detect ... --label-column is_injected` on
    table.drop(columns=["anomaly_kind"]).to_parquet(out_dir / "orders.parquet", index=False)
    truth = table["is_injected"].to_numpy()
    features = table.drop(columns=["is_injected", "anomaly_kind"])
    detector = TableDetector("auto", random_state=0)
    scores = detector.fit_score(features)
    flagged = np.asarray(scores.is_anomaly, dtype=bool)
    metrics = evaluate_scores(truth.astype(int), scores.scores, flagged)
    console.print(
        f"   {len(table):,} orders, {int(truth.sum())} with injected anomalies; "
        f"{int(flagged.sum())} flagged (threshold chosen automatically)"
    )
    for column, reason in scores.dropped_columns.items():
        console.print(f"   left out [cyan]{column}[/]: {reason}")
    console.print(
        f"   precision {metrics['precision']:.2f}  recall {metrics['recall']:.2f}  "
        f"F1 {metrics['f1']:.2f}  ROC-AUC {metrics['roc_auc']:.3f}  PR-AUC {metrics['pr_auc']:.3f}"
    )
    kinds = table["anomaly_kind"].to_numpy()
    for kind, description in ANOMALY_KINDS.items():
        mask = kinds == kind
        console.print(
            f"   {kind:<20} caught {int(flagged[mask].sum()):>2}/{int(mask.sum())}  ({description})"
        )
    order = np.argsort(-np.asarray(scores.scores))[:5]
    console.print("   top anomalies and why:")
    for i in order:
        console.print(
            f"     row {int(i):>4}  score {scores.scores[i]:.3f}  {scores.explanations[i]}"
            + (f"  [dim](injected: {kinds[i]})[/]" if kinds[i] else "")
        )
    scored = table.copy()
    scored["anomaly_score"] = np.asarray(scores.scores)
    scored["is_anomaly"] = flagged
    scored["explanation"] = list(scores.explanations)
    scored.to_csv(out_dir / "scored_orders.csv", index=False)
    top_rows_figure(
        features,
        np.asarray(scores.scores),
        flagged,
        list(scores.explanations),
        out_dir / "scores.png",
        threshold=scores.threshold,
        title="orders — the most anomalous rows and why",
    )
    console.print(f"   wrote {out_dir / 'scored_orders.csv'} and {out_dir / 'scores.png'}\n")


def _metrics(out_dir: Path, console: Console) -> None:
    from datacanary.checks import load_monitor, replay_history, run_monitor
    from datacanary.demo.sample import daily_snapshots
    from datacanary.report.plots import history_figure

    console.print("[bold]2. Metric anomalies over time[/]: 30 daily loads of the orders table")
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    store = out_dir / "history.duckdb"
    for stale in (store, out_dir / "alert-state.json"):
        stale.unlink(missing_ok=True)
    config_path = out_dir / "monitor.yml"
    config_path.write_text(MONITOR_YAML, encoding="utf-8")
    config = load_monitor(config_path)
    staged = out_dir / "data" / "orders.parquet"
    for day, table, incident in daily_snapshots(30):
        tmp = staged.with_suffix(".tmp")
        table.to_parquet(tmp, index=False)
        shutil.move(tmp, staged)  # the pipeline replaces the table atomically
        results, _ = run_monitor(config, at=day.replace(tzinfo=timezone.utc, hour=6))
        failed = [v for r in results for v in r.verdicts if not v.passed]
        note = f"  [dim](injected: {incident})[/]" if incident else ""
        if failed:
            console.print(f"   {day:%a %d %b}: [bold red]{len(failed)} anomalous[/]{note}")
            for v in failed:
                console.print(f"      ✗ {v.message}")
        elif incident:
            console.print(f"   {day:%a %d %b}: [yellow]passed[/]{note}")
    series = replay_history("orders", store=store, metric="row_count")
    history_figure(series, out_dir / "history.png", title="orders: row_count per load")
    console.print(
        f"   history in {store}; plot {out_dir / 'history.png'}; try "
        f"`datacanary history orders --store {store}`\n"
    )


def _report(out_dir: Path, console: Console) -> None:
    from datacanary.report import write_report

    console.print("[bold]3. The report[/]")
    path = write_report(
        out_dir / "orders.parquet",
        out_dir / "report.html",
        label_column="is_injected",
        store=str(out_dir / "history.duckdb"),
        dataset="orders",
    )
    console.print(f"   wrote {path} — open it in a browser\n")
