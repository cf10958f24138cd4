"""The ``datacanary`` command: parse, call the library, print with Rich.

Exit codes: 0 all passed, 1 anomalies found (``check``), 2 usage or input error. Errors the
library raises on purpose (:class:`~datacanary.errors.DatacanaryError`) become one line on
stderr; anything else is a bug and keeps its traceback. Heavy modules are imported inside the
commands so ``datacanary --help`` starts fast.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # Typer 0.2x carries its own copy of Click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older Typer runs on Click itself
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[assignment]

from datacanary.errors import ConfigError, DatacanaryError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from datacanary.results import CheckResult, RowScores


class _OneLineErrors(TyperGroup):
    """Usage errors (a bad option, a missing argument) as one ``error:`` line, exit 2.

    Click's own rendering is a usage block plus a boxed message; schedulers' logs and
    scripts want the one line every other datacanary error is.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError:  # `datacanary` alone: show the help
            return super().main(args, prog_name, complete_var, standalone_mode=True, **extra)
        except ClickException as exc:
            message = " ".join(exc.format_message().split())
            command = getattr(getattr(exc, "ctx", None), "command_path", None) or "datacanary"
            err.print(
                f"[bold red]error:[/] {message} (see '{command} --help')",
                soft_wrap=True,
                markup=True,
                highlight=False,
            )
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="datacanary",
    help="Find anomalies in data pipelines before they reach the people who rely on the data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
benchmark_app = typer.Typer(help="Score detectors on public benchmarks (ODDS, NAB).")
app.add_typer(benchmark_app, name="benchmark")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


_TEMP_NAME = re.compile(r"\.[0-9a-f]{12}\.tmp-")  # _Outputs.temp's prefix


def _friendly(command: F) -> F:
    """Turn the library's deliberate errors into one line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DatacanaryError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # e.g. an output folder that does not exist
            # name the output, not the temporary file it was being written to
            name = _TEMP_NAME.sub("", str(exc.filename)) if exc.filename else ""
            where = f": {name}" if name else ""
            err.print(f"[bold red]error:[/] {exc.strerror or exc}{where}", soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _split(names: str | None) -> list[str] | None:
    if not names:
        return None
    return [n.strip() for n in names.split(",") if n.strip()]


def _contamination(value: str) -> float | str:
    if value == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise ConfigError(
            f"--contamination must be 'auto' or a fraction such as 0.01; got {value!r}"
        ) from None


def _labels(frame: pd.DataFrame, column: str) -> Any:
    """The label column as 0/1 (see :func:`datacanary.evaluate.labels_from_column`)."""
    from datacanary.errors import ColumnNotFoundError
    from datacanary.evaluate.metrics import labels_from_column

    if column not in frame.columns:
        raise ColumnNotFoundError.from_missing([column], frame.columns)
    return labels_from_column(frame[column], column)


_TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".jsonl", ".ndjson")
_PLOT_SUFFIXES = (".png", ".svg", ".pdf")
_HTML_SUFFIXES = (".html", ".htm")


def _check_output(path: Path, option: str, suffixes: Sequence[str]) -> Path:
    """Refuse an output before any work: unknown extension, a folder in the way, read-only.

    Missing parent folders are fine (they are created when the outputs are committed),
    as long as the nearest existing one is a writable folder. Raises :class:`ConfigError`
    naming the option, the path and the fix.
    """
    name = path.name.lower()
    if not name.endswith(tuple(suffixes)):
        kinds = ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}"
        raise ConfigError(f"{option} {path}: unknown format; use a {kinds} file")
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; name a file inside it")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise ConfigError(f"{option} {path}: {base} is a file, not a folder; choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: folder {base} is not writable; choose another")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{option} {path} exists and is not writable; choose another")
    return path


def _existing_ancestor(path: Path) -> Path:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


class _Outputs:
    """Files written to temporary names and renamed into place only when all succeeded.

    ``temp(target)`` names a hidden temporary file in the target's nearest existing folder,
    ending in the target's name (so its extension still selects the format). Leaving the
    block without an error creates missing folders and renames every file onto its target
    (:func:`os.replace`); leaving it with an error removes them: a failed command leaves
    no output behind, not even a folder.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def temp(self, target: Path) -> Path:
        folder = _existing_ancestor(target)
        temp = folder / f".{uuid.uuid4().hex[:12]}.tmp-{target.name}"  # see _TEMP_NAME
        self._pending.append((temp, target))
        return temp

    def commit(self) -> None:
        for temp, target in self._pending:
            if temp.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, target)
        self._pending.clear()

    def discard(self) -> None:
        for temp, _ in self._pending:
            with suppress(OSError):
                temp.unlink(missing_ok=True)
        self._pending.clear()


@contextmanager
def _outputs() -> Iterator[_Outputs]:
    outputs = _Outputs()
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    try:
        outputs.commit()
    except BaseException:
        outputs.discard()
        raise


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.name.lower()
    if suffix.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif suffix.endswith((".jsonl", ".ndjson")):
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    elif suffix.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False)
    else:
        raise ConfigError(
            f"--output {path}: unknown format; use a .csv, .csv.gz, .parquet or .jsonl file"
        )


def _scored_frame(frame: pd.DataFrame, scores: RowScores) -> pd.DataFrame:
    import numpy as np

    result = frame.copy()
    result["anomaly_score"] = np.asarray(scores.scores, dtype=float)
    if len(scores.p_values) == len(scores.scores):
        result["p_value"] = np.asarray(scores.p_values, dtype=float)
    result["is_anomaly"] = np.asarray(scores.is_anomaly, dtype=bool)
    result["explanation"] = list(scores.explanations)
    return result


@app.command()
@_friendly
def detect(
    data: str = typer.Argument(..., help="CSV, Parquet or JSON-lines file (or a source URL)."),
    method: str = typer.Option(
        "auto", help="auto, iforest, lof, ocsvm, knn, zscore, mad or pyod:NAME"
    ),
    contamination: str = typer.Option("auto", help="'auto' or the expected outlier fraction."),
    columns: str | None = typer.Option(None, help="Comma-separated columns to use."),
    exclude: str | None = typer.Option(None, help="Comma-separated columns to leave out."),
    label_column: str | None = typer.Option(
        None, help="Column of known labels (1 = anomaly): evaluated against, never a feature."
    ),
    output: Path | None = typer.Option(None, help="Write rows + scores (.csv/.parquet/.jsonl)."),
    plot: Path | None = typer.Option(None, help="Write a PNG: the top rows and why."),
    top: int = typer.Option(20, min=0, help="How many top anomalies to show."),
    seed: int = typer.Option(0, help="Random seed."),
    format: str = typer.Option("table", help="table or json."),
    fit_rows: int = typer.Option(
        100_000, min=1, help="spark:: sources: rows of the seeded sample the detector is fitted on."
    ),
) -> None:
    """Score every row of a table; higher anomaly_score = more anomalous."""
    from datacanary.detectors import TableDetector
    from datacanary.sources import read_table, resolve_source

    fmt = _format(format)
    if plot is not None:
        _check_output(plot, "--plot", _PLOT_SUFFIXES)
    if resolve_source(data).kind == "spark":
        detector = TableDetector(
            method,
            contamination=_contamination(contamination),
            columns=_split(columns),
            exclude=[*(_split(exclude) or []), *([label_column] if label_column else [])] or None,
            random_state=seed,
        )
        _detect_spark(data, detector, fit_rows, seed, label_column, output, plot, top, fmt)
        return
    if output is not None:
        _check_output(output, "--output", _TABLE_SUFFIXES)
    frame = read_table(data)
    excluded = _split(exclude) or []
    y = None
    if label_column:
        y = _labels(frame, label_column)
        excluded = [*excluded, label_column]
    detector = TableDetector(
        method,
        contamination=_contamination(contamination),
        columns=_split(columns),
        exclude=excluded or None,
        random_state=seed,
    )
    with _spinner(f"Scoring {len(frame):,} rows with {method}", enabled=fmt == "table"):
        scores = detector.fit_score(frame)
    evaluation = None
    if y is not None:
        from datacanary.evaluate import evaluate_scores

        evaluation = evaluate_scores(y, scores.scores, scores.is_anomaly)
    with _outputs() as files:
        if output is not None:
            _write_table(_scored_frame(frame, scores), files.temp(output))
        if plot is not None:
            from datacanary.report.plots import top_rows_figure

            top_rows_figure(
                frame,
                scores.scores,
                scores.is_anomaly,
                list(scores.explanations),
                files.temp(plot),
                threshold=scores.threshold,
                title=f"{data} — the most anomalous rows and why ({method})",
            )
    if fmt == "json":
        out.print_json(data=_detect_json(frame, scores, top, evaluation, output, plot), indent=None)
        return
    _print_detect(frame, scores, top, evaluation, data)
    for label, path in (("scored rows", output), ("plot", plot)):
        if path is not None:
            out.print(f"Wrote {label} to {path}")


def _detect_spark(
    data: str,
    detector: Any,
    fit_rows: int,
    seed: int,
    label_column: str | None,
    output: Path | None,
    plot: Path | None,
    top: int,
    fmt: str,
) -> None:
    """Fit on a seeded sample (through Arrow), score every row on the executors."""
    from datacanary.sources import sample_table, score_spark

    if plot is not None:
        raise ConfigError("--plot needs the rows on this machine; it is not available for spark::")
    with _spinner(f"Fitting on a sample of {data}", enabled=fmt == "table"):
        sample, _ = sample_table(data, fit_rows, seed=seed)
        detector.fit(sample)
    with _spinner(f"Scoring {data} on Spark", enabled=fmt == "table"):
        summary = score_spark(
            data, detector, output=output, label_column=label_column, top=top,
            fitted_rows=len(sample),
        )  # fmt: skip
    payload = {
        "engine": "spark",
        "rows": summary.rows,
        "fitted_rows": summary.fitted_rows,
        "method": summary.method,
        "threshold": summary.threshold,
        "anomalies": summary.anomalies,
        "features": summary.features,
        "dropped_columns": summary.dropped_columns,
        "top": summary.top,
        "evaluation": summary.evaluation,
        "output": summary.output,
        "plot": None,
    }
    if fmt == "json":
        out.print_json(data=payload, indent=None, default=str)
        return
    share = summary.anomalies / summary.rows if summary.rows else 0.0
    out.print(
        f"[bold]{data}[/]: {summary.rows:,} rows scored on Spark with [bold]{summary.method}[/] "
        f"(fitted on {summary.fitted_rows:,}); [bold]{summary.anomalies:,}[/] anomalies "
        f"({share:.1%}, anomaly_score > {summary.threshold:.3g})"
    )
    for row in summary.top:
        flagged = "yes" if row["is_anomaly"] else ""
        out.print(f"  {row['anomaly_score']:.3f} {flagged:3} {row['explanation'] or ''}")
    if summary.evaluation is not None:
        _print_evaluation(summary.evaluation)
    if summary.output:
        out.print(f"Wrote scored rows to {summary.output}")


def _format(value: str) -> str:
    if value not in ("table", "json"):
        raise ConfigError(f"--format must be 'table' or 'json'; got {value!r}")
    return value


class _spinner:
    """A Rich status spinner on a terminal, nothing otherwise (CI logs stay clean)."""

    def __init__(self, text: str, *, enabled: bool = True) -> None:
        self._status = err.status(text) if enabled and err.is_terminal else None

    def __enter__(self) -> None:
        if self._status is not None:
            self._status.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)


def _top_rows(scores: RowScores, top: int) -> list[int]:
    import numpy as np

    order = np.argsort(-np.asarray(scores.scores, dtype=float), kind="stable")
    return [int(i) for i in order[:top]]


def _detect_json(
    frame: pd.DataFrame,
    scores: RowScores,
    top: int,
    evaluation: dict[str, float] | None,
    output: Path | None,
    plot: Path | None,
) -> dict[str, Any]:
    return {
        "rows": len(frame),
        "method": scores.method,
        "threshold": _finite(scores.threshold),
        "anomalies": scores.n_anomalies,
        "rule": scores.rule,
        "features": list(scores.features),
        "dropped_columns": dict(scores.dropped_columns),
        "top": [
            {
                "row": i,
                "anomaly_score": float(scores.scores[i]),
                "p_value": _p_value(scores, i),
                "is_anomaly": bool(scores.is_anomaly[i]),
                "explanation": scores.explanations[i],
            }
            for i in _top_rows(scores, top)
        ],
        "evaluation": evaluation,
        "output": str(output) if output else None,
        "plot": str(plot) if plot else None,
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _p_value(scores: RowScores, i: int) -> float | None:
    return float(scores.p_values[i]) if len(scores.p_values) > i else None


def _print_detect(
    frame: pd.DataFrame,
    scores: RowScores,
    top: int,
    evaluation: dict[str, float] | None,
    data: str,
) -> None:
    from rich.table import Table

    n = len(frame)
    share = scores.n_anomalies / n if n else 0.0
    out.print(
        f"[bold]{data}[/]: {n:,} rows scored with [bold]{scores.method}[/] on "
        f"{len(scores.features)} feature{'' if len(scores.features) == 1 else 's'}; "
        f"[bold]{scores.n_anomalies:,}[/] anomalies "
        f"({share:.1%}, anomaly_score > {scores.threshold:.3g})"
    )
    if scores.rule:
        out.print(f"  {scores.rule}")
    for column, reason in scores.dropped_columns.items():
        out.print(f"  left out [cyan]{column}[/]: {reason}")
    if top and n:
        table = Table(title=f"Top {min(top, n)} rows by anomaly score", title_justify="left")
        table.add_column("row", justify="right")
        table.add_column("anomaly_score", justify="right")
        table.add_column("p_value", justify="right")
        table.add_column("flagged")
        table.add_column("why (columns that stand out)")
        for i in _top_rows(scores, top):
            flagged = "yes" if scores.is_anomaly[i] else ""
            explanation = scores.explanations[i] or ""
            p = _p_value(scores, i)
            p_text = "" if p is None else f"{p:.2g}"
            table.add_row(str(i), f"{scores.scores[i]:.3f}", p_text, flagged, explanation)
        out.print(table)
    if evaluation is not None:
        _print_evaluation(evaluation)


def _print_evaluation(evaluation: dict[str, float]) -> None:
    from rich.table import Table

    table = Table(title="Against the labels", title_justify="left")
    for key in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
        table.add_column(key, justify="right")
    table.add_row(
        *(f"{evaluation[k]:.3f}" for k in ("precision", "recall", "f1", "roc_auc", "pr_auc"))
    )
    out.print(table)


@app.command()
@_friendly
def profile(
    source: str = typer.Argument(
        ..., help="File, glob or URL (duckdb:///db::table, postgresql://…)."
    ),
    columns: str | None = typer.Option(None, help="Comma-separated columns to profile."),
    exact: bool = typer.Option(False, help="Exact distinct counts (slower than approximate)."),
    format: str = typer.Option("table", help="table or json."),
) -> None:
    """The metrics of one table, computed where the data lives."""
    from datacanary.metrics import profile as compute_profile

    fmt = _format(format)
    result = compute_profile(source, columns=_split(columns), exact_distinct=exact)
    if fmt == "json":
        out.print_json(data=result.to_dict(), indent=None)
        return
    _print_profile(source, result)


def _print_profile(source: str, result: Any) -> None:
    from rich.table import Table

    from datacanary.results import format_duration, format_number

    data = result.to_dict()
    out.print(
        f"[bold]{source}[/]: {format_number(data['row_count'])} rows, "
        f"{data['column_count']} columns (schema {data['schema_fingerprint'][:12]})"
    )
    table = Table()
    for heading in ("column", "type", "nulls", "distinct", "min", "max", "mean", "freshness"):
        table.add_column(heading, justify="left" if heading in ("column", "type") else "right")

    def cell(stats: dict[str, Any], key: str) -> str:
        value = stats.get(key)
        if value is None:
            return ""
        return format_number(value) if isinstance(value, (int, float)) else str(value)

    for name, stats in data.get("columns", {}).items():
        nulls = stats.get("null_fraction")
        fresh = stats.get("freshness_seconds")
        text = stats.get("kind") == "text"
        temporal = stats.get("kind") == "temporal"
        low, high = ("min_length", "max_length") if text else ("min", "max")
        table.add_row(
            name,
            str(stats.get("type", "")),
            f"{nulls:.1%}" if isinstance(nulls, (int, float)) else "",
            cell(stats, "distinct_count"),
            str(stats.get("earliest") or "")[:16] if temporal else cell(stats, low),
            str(stats.get("latest") or "")[:16] if temporal else cell(stats, high),
            cell(stats, "mean_length" if text else "mean"),
            format_duration(fresh) if isinstance(fresh, (int, float)) else "",
        )
    out.print(table)
    exactness = "exact" if data.get("exact_distinct") else "approximate"
    out.print(f"[dim]distinct counts are {exactness}; text columns show lengths[/]")
    for name, value in (data.get("custom") or {}).items():
        out.print(f"  {name} = {format_number(value)}")


@app.command()
@_friendly
def check(
    config: Path = typer.Argument(..., help="Monitor YAML file."),
    store: str | None = typer.Option(
        None, help="History store: a DuckDB file path or a postgresql:// URL (overrides the file)."
    ),
    at: str | None = typer.Option(
        None,
        help="Record this run at an ISO timestamp (backfill or replay; naive means UTC); "
        "default now. A run already recorded at that instant is replaced.",
    ),
    partition: str | None = typer.Option(
        None, help="The partition this run measured (a run is dataset, at and partition)."
    ),
    store_wait: float | None = typer.Option(
        None,
        "--store-wait",
        help="Seconds to wait for a DuckDB store another check is writing "
        "(default $DATACANARY_STORE_WAIT, else 60).",
    ),
    format: str = typer.Option("table", help="table or json."),
) -> None:
    """Compute the monitored metrics, record them, and judge each against its history.

    Exit 0 when everything passed, 1 when a value is anomalous, 2 when a dataset could not
    be checked (every dataset is still checked, printed and alerted) or on bad input.
    """
    from datacanary.checks import load_monitor, run_monitor
    from datacanary.results import Status

    fmt = _format(format)
    monitor = load_monitor(config)
    when = _parse_at(at)
    if store_wait is not None and not store_wait >= 0:
        raise ConfigError(f"--store-wait must be a number of seconds >= 0; got {store_wait!r}")
    results, delivery = run_monitor(
        monitor, store=store, at=when, partition=partition, store_wait=store_wait
    )
    errored = any(v.status is Status.ERROR for r in results for v in r.verdicts)
    if fmt == "json":
        payload = {
            "observed_at": when.isoformat() if when else None,
            "passed": all(r.passed for r in results),
            "verdicts": [v.to_dict() for r in results for v in r.verdicts],
            "alerts": delivery,
        }
        out.print_json(data=payload, indent=None)
    else:
        _print_results(results)
        _print_delivery(delivery)
    if errored:
        raise typer.Exit(2)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise ConfigError(
            f"--at must be an ISO timestamp such as 2026-11-23T06:00:00; got {at!r}"
        ) from None
    from datacanary.results import as_utc

    return as_utc(when)  # naive means UTC, as everywhere in datacanary


_STATUS_STYLE = {
    "passed": "[green]ok[/]",
    "anomaly": "[bold red]ANOMALY[/]",
    "insufficient_history": "[yellow]learning[/]",
    "error": "[bold red]error[/]",
}


def _print_results(results: list[CheckResult]) -> None:
    from rich.table import Table

    from datacanary.results import format_number

    for result in results:
        table = Table(
            title=f"{result.dataset} @ {result.observed_at:%Y-%m-%d %H:%M} UTC",
            title_justify="left",
        )
        table.add_column("metric")
        table.add_column("column")
        table.add_column("value", justify="right")
        table.add_column("expected", justify="right")
        table.add_column("status")
        for v in result.verdicts:
            band = (
                f"{format_number(v.expected_low)}–{format_number(v.expected_high)}"
                if v.expected_low is not None or v.expected_high is not None
                else ""
            )
            table.add_row(
                v.metric,
                v.column or "",
                format_number(v.value),
                band,
                _STATUS_STYLE.get(v.status.value, v.status.value),
            )
        out.print(table)
        for v in result.verdicts:
            if not v.passed:
                out.print(f"  [bold red]✗[/] {v.message}", soft_wrap=True)
        learning = [v for v in result.verdicts if v.status.value == "insufficient_history"]
        if learning:
            out.print(
                f"  [yellow]…[/] {learning[0].message}"
                + (f" (and {len(learning) - 1} more)" if len(learning) > 1 else "")
            )


def _print_delivery(delivery: dict[str, Any] | None) -> None:
    if not delivery:
        return
    for failure in delivery.get("failed", []):
        err.print(f"[yellow]alert not delivered:[/] {failure}", soft_wrap=True)


@app.command()
@_friendly
def history(
    dataset: str = typer.Argument(..., help="Dataset name as in the monitor file."),
    metric: str | None = typer.Option(None, help="Only this metric."),
    column: str | None = typer.Option(None, help="Only this column."),
    store: str | None = typer.Option(None, help="DuckDB file path or postgresql:// URL."),
    detector: str | None = typer.Option(
        None, help="Series detector for the band; default: the one the monitor used."
    ),
    plot: Path | None = typer.Option(None, help="Write a PNG of the series and its band."),
    format: str = typer.Option("table", help="table or json."),
) -> None:
    """Show a dataset's stored metric history, the expected band and the flagged runs."""
    from datacanary.checks import replay_history

    fmt = _format(format)
    if plot is not None:
        _check_output(plot, "--plot", _PLOT_SUFFIXES)
    series = replay_history(dataset, store=store, metric=metric, column=column, detector=detector)
    if fmt == "json":
        out.print_json(
            data=[
                {"metric": m, "column": c, "verdicts": [v.to_dict() for v in verdicts]}
                for (m, c), verdicts in series.items()
            ],
            indent=None,
        )
    else:
        _print_history(dataset, series)
    if plot is not None:
        from datacanary.report.plots import history_figure

        with _outputs() as files:
            history_figure(series, files.temp(plot), title=f"{dataset} metric history")
        # stdout stays parseable JSON; the note goes to stderr then
        (err if fmt == "json" else out).print(f"Wrote plot to {plot}")


def _print_history(dataset: str, series: dict[tuple[str, str | None], list[Any]]) -> None:
    from rich.table import Table

    from datacanary.results import format_number

    for (metric, column), verdicts in series.items():
        name = f"{metric} of {column}" if column else metric
        table = Table(title=f"{dataset}: {name}", title_justify="left")
        for heading in ("observed_at", "value", "expected", "status"):
            table.add_column(heading)
        for v in verdicts:
            band = (
                f"{format_number(v.expected_low)}–{format_number(v.expected_high)}"
                if v.expected_low is not None or v.expected_high is not None
                else ""
            )
            when = f"{v.observed_at:%Y-%m-%d %H:%M}" if v.observed_at else ""
            table.add_row(when, format_number(v.value), band, _STATUS_STYLE.get(v.status.value, ""))
        out.print(table)


@app.command()
@_friendly
def report(
    source: str = typer.Argument(..., help="File, glob or URL of the table."),
    label_column: str | None = typer.Option(None, help="Known labels (1 = anomaly)."),
    method: str = typer.Option("auto", help="Row detector."),
    store: str | None = typer.Option(None, help="History store with this dataset's metrics."),
    dataset: str | None = typer.Option(None, help="Dataset name in the store."),
    out_path: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    open_browser: bool = typer.Option(False, "--open", help="Open the report in a browser."),
) -> None:
    """Write one self-contained HTML report: distributions, trends, anomalies."""
    from datacanary.report import write_report

    path = _check_output(out_path, "--out", _HTML_SUFFIXES)
    with _spinner(f"Building the report of {source}"), _outputs() as files:
        write_report(
            source,
            files.temp(out_path),
            label_column=label_column,
            method=method,
            store=store,
            dataset=dataset,
        )
    out.print(f"Wrote report to {path}")
    if open_browser:
        import webbrowser

        webbrowser.open(Path(path).resolve().as_uri())


@benchmark_app.command("odds")
@_friendly
def benchmark_odds(
    data: Path | None = typer.Option(None, help="Folder of ODDS .npz sets."),
    methods: str | None = typer.Option(None, help="Comma-separated detectors."),
    max_rows: int | None = typer.Option(
        50_000, help="Subsample larger sets (http) to this many rows, as bench/odds.py does."
    ),
    format: str = typer.Option("table", help="table or json."),
) -> None:
    """Every detector on every ODDS set: ROC-AUC, PR-AUC and seconds."""
    from datacanary.evaluate.odds import run_odds

    fmt = _format(format)
    folder = data or _datasets_dir() / "odds"
    rows = run_odds(folder, _split(methods), max_rows=max_rows)
    if fmt == "json":
        out.print_json(data=rows, indent=None)
        return
    from rich.table import Table

    table = Table(title="ODDS: ROC-AUC / PR-AUC / seconds", title_justify="left")
    for key in ("dataset", "method", "roc_auc", "pr_auc", "seconds"):
        table.add_column(key, justify="left" if key in ("dataset", "method") else "right")
    for row in rows:
        table.add_row(
            str(row["dataset"]),
            str(row["method"]),
            f"{row['roc_auc']:.3f}",
            f"{row['pr_auc']:.3f}",
            f"{row['seconds']:.2f}",
        )
    out.print(table)


@benchmark_app.command("nab")
@_friendly
def benchmark_nab(
    detector: str = typer.Option("novelty", help="Series detector to run over the corpus."),
    data: Path | None = typer.Option(None, help="NAB folder (data/, labels/, config/)."),
    results: Path | None = typer.Option(
        None, help="Score another detector's NAB results folder instead of running one."
    ),
    format: str = typer.Option("table", help="table or json."),
) -> None:
    """Score a detector on the Numenta Anomaly Benchmark, beside the published board."""
    from datacanary.evaluate import nab

    fmt = _format(format)
    corpus = nab.load_corpus(data or _datasets_dir() / "nab")
    if results is not None:
        scores = nab.score_results_dir(corpus, results)
        name = results.name
    else:
        with _spinner(
            f"Running {detector} over {len(corpus.files)} NAB files", enabled=fmt == "table"
        ):
            raw = nab.run_detector(corpus, detector)
        scores = nab.score_corpus(corpus, raw)
        name = detector
    if fmt == "json":
        out.print_json(data=scores, indent=None)
        return
    from rich.table import Table

    profiles = list(scores)  # those the corpus defines (NAB's three unless profiles.json differs)
    table = Table(title="NAB scores (0 = no detections, 100 = perfect)", title_justify="left")
    table.add_column("detector")
    for p in profiles:
        table.add_column(p, justify="right")
    table.add_row(f"[bold]{name} (this run)[/]", *(f"[bold]{scores[p]:.1f}[/]" for p in profiles))
    for board_name, board in sorted(
        nab.PUBLISHED_BOARD.items(), key=lambda item: -item[1]["standard"]
    ):
        table.add_row(board_name, *(f"{board[p]:.1f}" if p in board else "–" for p in profiles))
    out.print(table)


def _datasets_dir() -> Path:
    """The public datasets folder: $DATACANARY_DATASETS, else ../shared/datasets of the checkout."""
    import os

    env = os.environ.get("DATACANARY_DATASETS")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / ".." / "shared" / "datasets"
        if candidate.is_dir():
            return candidate.resolve()
    raise InputError(
        "cannot find the public datasets; pass --data or set DATACANARY_DATASETS to the folder"
    )


@app.command()
@_friendly
def stream(
    bootstrap_servers: str = typer.Option(..., help="Kafka bootstrap servers, HOST:PORT."),
    topic: str = typer.Option(..., help="Topic(s) to consume, comma-separated."),
    group: str = typer.Option(..., help="Consumer group."),
    anomalies_topic: str = typer.Option(..., help="Topic for anomalous records."),
    dead_letter_topic: str = typer.Option(..., help="Topic for malformed messages."),
    model: Path | None = typer.Option(None, help="Saved model (Parquet) to score with."),
    train_on: int | None = typer.Option(None, help="Train on the first N events."),
    save_model: Path | None = typer.Option(None, help="Save the trained model here."),
    method: str | None = typer.Option(None, help="Row detector (default mad: fast)."),
    config: Path | None = typer.Option(None, help="Monitor YAML whose alerts: sinks to use."),
    max_messages: int | None = typer.Option(None, help="Stop after this many messages."),
    max_seconds: float | None = typer.Option(None, help="Stop after this many seconds."),
    format: str = typer.Option("table", help="table or json."),
) -> None:
    """Score JSON events from Kafka as they flow; anomalies to a topic and the alert sinks."""
    from datacanary.stream import StreamSettings, run_stream

    fmt = _format(format)
    settings = StreamSettings.build(
        bootstrap_servers=bootstrap_servers,
        topics=topic,
        group=group,
        anomalies_topic=anomalies_topic,
        dead_letter_topic=dead_letter_topic,
        model=model,
        train_on=train_on,
        save_model=save_model,
        method=method,
        config=config,
        max_messages=max_messages,
        max_seconds=max_seconds,
    )
    stats = run_stream(settings, console=err if fmt == "table" else None)
    if fmt == "json":
        out.print_json(data=stats.to_dict(), indent=None)
    else:
        out.print(stats.summary())


@app.command()
@_friendly
def demo(
    out_dir: Path = typer.Option(Path("datacanary-demo"), "--out", help="Folder for the outputs."),
) -> None:
    """Run the main job end to end on an embedded sample, with no arguments and no network."""
    from datacanary.demo.run import run_demo

    run_demo(out_dir, console=out)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["app", "main"]
