"""Build a report: profile the table where it lives, sample rows for the pictures, score them.

The numbers come from the modules that own them: :func:`datacanary.metrics.profile` (one
pushed-down query over every row), :func:`datacanary.sources.sample_table` (only the sample
travels), :class:`datacanary.detectors.TableDetector`, :func:`datacanary.evaluate.evaluate_scores`
and :func:`datacanary.checks.replay_history`. This module decides what to show and draws it.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacanary.errors import ColumnNotFoundError, ConfigError, InputError
from datacanary.report import _sections, plots
from datacanary.report._model import (
    ColumnSummary,
    DetectionSection,
    HistorySection,
    MetricHistory,
    Overview,
    Report,
    RunChecks,
)
from datacanary.results import Status

if TYPE_CHECKING:
    import pandas as pd

    from datacanary.detectors import TableDetector
    from datacanary.metrics import TableProfile

__all__ = ["build_report", "write_report"]

MAX_PLOTTED_COLUMNS = 60
"""Columns beyond this many get their numbers but no plot, to keep the page small and fast."""
MAX_HISTORY_SERIES = 40
TOP_ROWS = 20
MAX_TOP_COLUMNS = 12
HISTORY_DETECTOR = "monitor's own (mad where none was recorded)"
EXACT_DISTINCT_ROWS = 5_000_000
"""Up to this many rows distinct values are counted exactly; above, by HyperLogLog."""


class _Clock:
    """Wall time per build step, kept on the report (``Report.timings``) for the benchmark."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started


def _check_arguments(sample_rows: int, seed: int, method: str) -> None:
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 10:
        raise ConfigError(
            f"sample_rows must be an integer of at least 10; got {sample_rows!r}; "
            "50_000 draws a clear picture of most tables"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer; got {seed!r}")
    if not isinstance(method, str) or not method:
        raise ConfigError(f"method must be a detector name such as 'auto'; got {method!r}")


def build_report(
    source: Any,
    *,
    label_column: str | None = None,
    method: str = "auto",
    store: str | None = None,
    dataset: str | None = None,
    sample_rows: int = 50_000,
    seed: int = 0,
    title: str | None = None,
) -> Report:
    """Profile, sample, score and draw a table: everything one HTML report shows.

    Parameters
    ----------
    source
        A path, glob or URL (``"orders.parquet"``, ``"duckdb:///wh.db::orders"``,
        ``"postgresql://...::public.orders"``) or a pandas/polars/pyarrow frame; anything
        :func:`datacanary.sources.resolve_source` accepts.
    label_column
        A column of known labels (1/true/"outlier" = anomaly): left out of detection and
        used to measure it (precision, recall, F1, ROC and PR curves).
    method
        The row detector (:class:`datacanary.detectors.TableDetector`), ``"auto"`` by default.
    store
        A history store (DuckDB file or ``postgresql://`` URL). When it holds ``dataset``,
        each stored metric is drawn with its expected band and flagged runs.
    dataset
        The dataset's name in ``store``; by default the source as written, its file name
        without suffix, or the store's only dataset.
    sample_rows
        Tables with more rows are sampled (uniformly, pushed down) for the plots and the
        row-level detection; the page says so. The row count, column statistics, duplicate
        rows and outlier counts always cover every row.
    seed
        Seed of the sample and of the detector.
    title
        The page title; default ``"Data report: <source>"``.

    Returns
    -------
    Report

    Raises
    ------
    SourceNotFoundError, InputError
        The source does not exist, cannot be read or has no rows.
    ColumnNotFoundError
        ``label_column`` is not a column of the table.
    ConfigError
        A bad argument (unknown method, ``sample_rows`` below 10).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"amount": [10.0, 11, 9, 10.5, 9.5, 10, 11, 9, 10, 250],
    ...                       "country": list("ABABABABAB")})
    >>> report = build_report(frame, title="Orders")
    >>> report.overview.rows, [c.kind for c in report.columns]
    (10, ['numeric', 'categorical'])
    >>> report.detection.top_rows[0]["values"]["amount"]  # the most anomalous row
    250.0
    """
    _check_arguments(sample_rows, seed, method)
    clock = _Clock()
    with clock.step("setup"):
        from datacanary.detectors import TableDetector
        from datacanary.sources import resolve_source, sample_table

        # a bad method or parameter fails now, before any data is read
        detector = TableDetector(
            method, exclude=[label_column] if label_column else None, random_state=seed
        )
        resolved = resolve_source(source)
    with clock.step("sample"):
        frame, total = sample_table(resolved, sample_rows, seed=seed)
    labels = None
    if label_column is not None:
        if label_column not in frame.columns:
            raise ColumnNotFoundError.from_missing([label_column], frame.columns)
        from datacanary.evaluate.metrics import labels_from_column

        labels = labels_from_column(frame[label_column], label_column)
    sampled = len(frame) < total
    notes: list[str] = []
    if sampled:
        notes.append(
            f"Large table: the plots and the row-level detection use a uniform random sample "
            f"of {len(frame):,} of its {total:,} rows (seed {seed}). Row and column counts, "
            "missing values, distinct values, duplicate rows and min/max/mean/stddev cover "
            "every row."
        )
    kinds = {str(c): _sections.column_kind(frame[c]) for c in frame.columns}
    with clock.step("profile"):
        prof, duplicates = _profile(resolved, frame, total)
    detection = None
    marked: dict[str, np.ndarray] = {}
    with clock.step("detection"):
        try:
            detection, marked = _detection(frame, detector, label_column, labels, sampled, total)
        except InputError as exc:  # nothing to score: no usable column, too few rows
            notes.append(f"Row-level detection was skipped: {exc}")
    if detection is not None:  # what the detector left out as ids, so the page agrees with it
        identifiers = [
            c for c, why in detection.dropped_columns.items() if why.startswith("identifier")
        ]
    else:
        identifiers = [
            str(c)
            for c in frame.columns
            if c != label_column and _identifier_like(frame[c], kinds[str(c)], prof, total)
        ]
    with clock.step("columns"):
        summaries = _columns(frame, prof, total, notes, detection, marked, identifiers)
    overview = _overview(frame, prof, total, kinds, summaries, identifiers, duplicates)
    numeric_columns = [c for c, k in kinds.items() if k == "numeric" and c not in identifiers]
    with clock.step("correlations"):
        correlations, note = _sections.correlation_image(frame, numeric_columns)
    if note:
        notes.append(note)
    timestamp = next((c for c, k in kinds.items() if k == "datetime"), None)
    trends: list[Any] = []
    if timestamp is not None:
        with clock.step("trends"):
            value_column = next((c for c in numeric_columns if c != label_column), None)
            trends = _sections.trend_images(frame, timestamp, value_column, total_rows=total)
    history = None
    if store is not None:
        with clock.step("history"):
            history = _history(store, dataset, resolved.name)
    return Report(
        title=title or f"Data report: {_short_name(resolved.name)}",
        source=resolved.name,
        created_at=datetime.now(timezone.utc),
        overview=overview,
        columns=summaries,
        correlations=correlations,
        trends=trends,
        timestamp_column=timestamp if trends else None,
        detection=detection,
        history=history,
        notes=notes,
        timings=clock.timings,
    )


def _short_name(name: str) -> str:
    """``orders.parquet`` for ``/long/path/orders.parquet``; the table for a database URL."""
    if "::" in name:
        return name.rsplit("::", 1)[1]
    if "://" in name:
        return name
    return Path(name).name or name


def write_report(
    report_or_source: Report | Any,
    out: Path | str,
    **options: Any,
) -> Path:
    """Write one self-contained HTML report (images inline) and return its path.

    Parameters
    ----------
    report_or_source
        A :class:`Report` from :func:`build_report`, or a source to build one from.
    out
        The HTML file to write; parent folders are created.
    **options
        :func:`build_report`'s keyword arguments, when a source is given.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_report(pd.DataFrame({"x": [1.0, 2.0, 3.0, 2.0, 40.0]}),
    ...                     folder / "report.html")
    >>> path.name, "<img src=\\"data:image/png;base64," in path.read_text()
    ('report.html', True)
    """
    if isinstance(report_or_source, Report):
        if options:
            raise ConfigError(
                f"options {sorted(options)} apply when building a report; pass them to "
                "build_report, or pass a source instead of a Report"
            )
        report = report_or_source
    else:
        report = build_report(report_or_source, **options)
    return report.write(out)


# ------------------------------------------------------------------------------- profiling


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def _profile(resolved: Any, frame: pd.DataFrame, total: int) -> tuple[TableProfile, int | None]:
    """The table's profile and the exact number of duplicate rows (None when the engine
    cannot compare the rows and they are not all here), in one pushed-down query when the
    engine allows."""
    from datacanary.metrics import profile

    exact = total <= EXACT_DISTINCT_ROWS
    duplicates_sql = (
        "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM {table}) AS d) "
        "FROM {table}"
    )
    try:
        prof = profile(resolved, custom={"duplicate_rows": duplicates_sql}, exact_distinct=exact)
    except ConfigError:
        # the engine rejected DISTINCT over these columns (JSON or map columns): count the
        # duplicates in the rows that are here, when they are all here
        prof = profile(resolved, exact_distinct=exact)
    duplicates = _int(prof.custom.get("duplicate_rows"))
    if duplicates is None and len(frame) == total:
        duplicates = _sample_duplicates(frame)
    return prof, duplicates


def _sample_duplicates(frame: pd.DataFrame) -> int | None:
    try:
        return int(frame.duplicated().sum())
    except TypeError:  # unhashable cells (lists, dicts)
        return int(frame.astype(str).duplicated().sum())


def _columns(
    frame: pd.DataFrame,
    prof: TableProfile,
    total: int,
    notes: list[str],
    detection: DetectionSection | None,
    marked: Mapping[str, np.ndarray],
    identifiers: Sequence[str],
) -> list[ColumnSummary]:
    out = []
    flagged = detection.flagged_by_column if detection is not None else None
    for i, column in enumerate(frame.columns):
        name = str(column)
        stats = _profile_stats(prof, name)
        if "distinct_count" in stats and not prof.exact_distinct:
            if len(frame) == total:  # every row is here: count exactly
                stats["distinct_count"] = int(frame[column].nunique(dropna=True))
            else:  # HyperLogLog: a few percent off, never above the non-null rows
                non_null = total - int(stats.get("null_count") or 0)
                stats["distinct_count"] = min(int(stats["distinct_count"]), non_null)
                stats["distinct_approximate"] = True
        out.append(
            _sections.summarize_column(
                name,
                frame[column],
                stats,
                total_rows=total,
                draw=i < MAX_PLOTTED_COLUMNS,
                marked=marked.get(name, np.empty(0)) if flagged is not None else None,
                flagged_rows=None if flagged is None else int(flagged.get(name, 0)),
                identifier=name in identifiers,
            )
        )
    if len(frame.columns) > MAX_PLOTTED_COLUMNS:
        notes.append(
            f"The table has {len(frame.columns):,} columns: the first {MAX_PLOTTED_COLUMNS} "
            "are drawn, the others listed with their numbers."
        )
    return out


def _identifier_like(values: pd.Series, kind: str, prof: TableProfile, total: int) -> bool:
    """Unique on every row of the sample (exact) and, by the profile's count, of the table."""
    if not _sections.is_identifier_like(values, kind):
        return False
    stats = _profile_stats(prof, str(values.name))
    distinct = _int(stats.get("distinct_count"))
    non_null = total - (_int(stats.get("null_count")) or 0)
    if distinct is None or non_null <= 0:
        return True
    slack = 0.99 if prof.exact_distinct else 0.9
    return distinct >= slack * non_null


def _profile_stats(prof: TableProfile, name: str) -> dict[str, Any]:
    column = prof.columns.get(name)
    if column is None:
        return {}
    keys = ("null_count", "null_fraction", "distinct_count", "mean", "stddev")
    stats: dict[str, Any] = {k: getattr(column, k) for k in keys}
    if column.kind == "temporal":
        stats["min"], stats["max"] = column.earliest, column.latest
    elif column.kind in ("number", "float"):
        stats["min"], stats["max"] = column.min, column.max
    elif column.kind == "text":
        stats["min_length"] = column.min_length
        stats["max_length"] = column.max_length
    if column.kind == "boolean":
        stats["mean"] = None  # the share of true values reads better in the plot
    if stats.get("distinct_count") is not None:
        stats["distinct_count"] = int(stats["distinct_count"])
    return {k: v for k, v in stats.items() if v is not None}


def _overview(
    frame: pd.DataFrame,
    prof: TableProfile,
    total: int,
    kinds: Mapping[str, str],
    summaries: Sequence[ColumnSummary],
    identifiers: Sequence[str],
    duplicates: int | None,
) -> Overview:
    missing = 0
    for s in summaries:
        count = _int(s.stats.get("null_count"))
        missing += count if count is not None else 0
    sample_bytes = int(frame.memory_usage(deep=True, index=False).sum())
    sampled = len(frame) < total
    memory = int(sample_bytes * total / len(frame)) if sampled and len(frame) else sample_bytes
    dtypes = dict(prof.schema) if prof.schema else {str(c): str(frame[c].dtype) for c in frame}
    return Overview(
        rows=total,
        columns=len(frame.columns),
        types=dict(kinds),
        dtypes=dtypes,
        missing_cells=missing,
        memory_bytes=memory,
        duplicate_rows=duplicates,
        identifier_columns=list(identifiers),
        sample_rows=len(frame),
        memory_estimated=sampled,
    )


# ------------------------------------------------------------------------------- detection


def _detection(
    frame: pd.DataFrame,
    detector: TableDetector,
    label_column: str | None,
    y: np.ndarray | None,
    sampled: bool,
    total: int,
) -> tuple[DetectionSection, dict[str, np.ndarray]]:
    """The detection section, and per column the values of the flagged rows that stand out
    on it (for the column's histogram)."""
    scored = detector.fit_score(frame)
    scores = np.asarray(scored.scores, dtype=float)
    flagged = np.asarray(scored.is_anomaly, dtype=bool)
    features = list(scored.features)
    explanations = list(scored.explanations)
    explanations += [""] * (len(scores) - len(explanations))
    where = f" (a sample of {len(frame):,} of {total:,} rows)" if sampled else ""
    by_column: dict[str, list[int]] = {}
    for i in np.flatnonzero(flagged):
        for name in plots.explained_columns(explanations[int(i)]):
            if name in frame.columns:
                by_column.setdefault(name, []).append(int(i))
    marked = {
        name: _sections.numeric_values(frame[name].iloc[rows])
        for name, rows in by_column.items()
        if _sections.column_kind(frame[name]) == "numeric"
    }
    shown_frame = frame.drop(columns=[label_column]) if label_column else frame
    top_plot = _sections.render(
        plots.top_rows_figure(
            shown_frame,
            scores,
            flagged,
            explanations,
            threshold=float(scored.threshold),
            title=f"The {min(10, len(scores))} most anomalous rows and why — {scored.method}",
            row_labels=[""] * len(scores) if sampled else None,  # sample positions mean nothing
        ),
        f"The most anomalous rows{where} ranked by score, with the columns that made them "
        "stand out and where their values sit",
    )
    distribution = _sections.render(
        plots.score_histogram(scores, scored.threshold),
        "Histogram of anomaly scores with the threshold",
    )
    evaluation = roc = pr = None
    det_notes: list[str] = []
    if sampled:
        det_notes.append(
            f"Scored on a sample of {len(frame):,} of {total:,} rows; "
            "`datacanary detect` scores every row."
        )
    if y is not None:
        from datacanary.evaluate import evaluate_scores

        evaluation = {
            k: float(v)
            for k, v in evaluate_scores(y, scores, flagged).items()
            if isinstance(v, numbers.Real) and not isinstance(v, bool)
        }
        if 0 < y.sum() < len(y):
            roc, pr = _curves(y, scores, evaluation)
        else:
            det_notes.append(
                f"Every label in {label_column!r} is the same, so ROC and PR curves are undefined."
            )
    order = np.argsort(-scores, kind="stable")[:TOP_ROWS]
    shown = _top_columns(frame, explanations, order, label_column)
    top_rows = []
    for i in order:
        row = frame.iloc[int(i)]
        top_rows.append(
            {
                "row": None if sampled else int(i),
                "anomaly_score": float(scores[i]),
                "is_anomaly": bool(flagged[i]),
                "explanation": explanations[i],
                "label": None if y is None else int(y[i]),
                "values": {c: _cell(row[c]) for c in shown},
            }
        )
    return DetectionSection(
        method=scored.method,
        scored_rows=len(scores),
        n_anomalies=int(flagged.sum()),
        threshold=float(scored.threshold),
        features=features,
        dropped_columns=dict(scored.dropped_columns),
        top_rows_plot=top_plot,
        score_distribution=distribution,
        top_rows=top_rows,
        top_columns=shown,
        label_column=label_column,
        evaluation=evaluation,
        roc=roc,
        pr=pr,
        notes=det_notes,
        rule=str(getattr(scored, "rule", "") or ""),
        flagged_by_column={name: len(rows) for name, rows in by_column.items()},
    ), marked


def _cell(value: Any) -> Any:
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, np.generic):
        return value.item()
    return value


def _top_columns(
    frame: pd.DataFrame, explanations: Sequence[str], order: np.ndarray, label_column: str | None
) -> list[str]:
    """The columns the top rows' explanations name first, then the others, at most 12."""
    columns = [str(c) for c in frame.columns if c != label_column]
    text = " ".join(explanations[i] for i in order if i < len(explanations))
    named = [c for c in columns if c in text]
    rest = [c for c in columns if c not in named]
    return (named + rest)[:MAX_TOP_COLUMNS]


def _curves(y: np.ndarray, scores: np.ndarray, evaluation: Mapping[str, float]) -> tuple[Any, Any]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    precision, recall, _ = precision_recall_curve(y, scores)
    roc = _sections.render(
        plots.curve_plot(fpr, tpr, kind="roc", area=evaluation.get("roc_auc")),
        "ROC curve of the anomaly scores against the labels",
    )
    pr = _sections.render(
        plots.curve_plot(
            recall[::-1],
            precision[::-1],
            kind="pr",
            area=evaluation.get("pr_auc"),
            baseline=float(y.mean()),
        ),
        "Precision-recall curve of the anomaly scores against the labels",
    )
    return roc, pr


# --------------------------------------------------------------------------------- history


def _store_file(location: str) -> Path | None:
    """The file of an embedded (DuckDB) store; None for a server URL."""
    if location.lower().startswith("duckdb://"):
        rest = location[len("duckdb://") :]
        return Path(rest[1:] if rest.startswith("/") else rest).expanduser()
    if "://" in location:
        return None
    return Path(location).expanduser()


def _history(
    store: str | os.PathLike[str], dataset: str | None, source_name: str
) -> HistorySection:
    from datacanary.checks import replay_history
    from datacanary.store import open_store

    location = str(store)
    file = _store_file(location)
    if file is not None and not file.exists():
        return HistorySection(
            dataset=dataset or source_name,
            store=location,
            detector=HISTORY_DETECTOR,
            message=f"No history store at {location}; run `datacanary check` to record one.",
        )
    with open_store(location, read_only=True) as opened:
        known = list(opened.datasets())
    name = _pick_dataset(dataset, source_name, known)
    if name is None:
        listed = ", ".join(known) if known else "none yet"
        wanted = dataset or source_name
        return HistorySection(
            dataset=wanted,
            store=location,
            detector=HISTORY_DETECTOR,
            message=(
                f"The store has no history of {wanted!r} (datasets: {listed}); pass the "
                "dataset's name (--dataset) to show its metrics."
            ),
        )
    with open_store(location, read_only=True) as opened:
        runs = opened.runs(name)
        points = {key: opened.history(name, *key) for key in opened.series(name)}
    series = replay_history(name, store=location)
    latest = runs[-1] if runs else None
    schemas = {r.run_id: [tuple(pair) for pair in r.tags.get("schema") or []] for r in runs}
    newest_columns = {c for c, _ in schemas.get(latest.run_id, [])} if latest else set()

    def measured_now(key: tuple[str, str | None]) -> bool:
        return bool(latest and points.get(key) and points[key][-1].run_id == latest.run_id)

    def vanished(key: tuple[str, str | None]) -> bool:  # its column is gone from the table
        return key[1] is not None and bool(newest_columns) and key[1] not in newest_columns

    own = {k: v for k, v in series.items() if measured_now(k) or vanished(k)}
    left_out = sorted(_subject(*k) for k in series if k not in own)
    checks = _run_checks(name, runs, points, series, schemas)
    ranked = sorted(
        own.items(),
        key=lambda item: -sum(v.status is Status.ANOMALY for v in item[1]),
    )
    message = ""
    if len(ranked) > MAX_HISTORY_SERIES:
        message = (
            f"Showing {MAX_HISTORY_SERIES} of {len(ranked)} of the monitor's metrics, those "
            "with flagged runs first."
        )
        ranked = ranked[:MAX_HISTORY_SERIES]
    metrics = [_metric_history(metric, column, verdicts) for (metric, column), verdicts in ranked]
    return HistorySection(
        dataset=name,
        store=location,
        detector=HISTORY_DETECTOR,
        metrics=metrics,
        message=message,
        checks=checks,
        left_out=left_out,
    )


def _subject(metric: str, column: str | None) -> str:
    return f"{metric} of {column}" if column else metric


def _schema_changes(
    previous: Sequence[tuple[str, str]], current: Sequence[tuple[str, str]]
) -> list[str]:
    from datacanary.metrics import TableProfile

    table = TableProfile(
        source="", row_count=0, columns={}, schema=list(current), schema_fingerprint=""
    )
    return table.schema_changes(list(previous))


def _run_checks(
    dataset: str,
    runs: Sequence[Any],
    points: Mapping[tuple[str, str | None], Sequence[Any]],
    series: Mapping[tuple[str, str | None], Sequence[Any]],
    schemas: Mapping[str, Sequence[tuple[str, str]]],
) -> list[RunChecks]:
    """What the check said about each run, rebuilt from the store: the schema against the run
    before, a column the monitor measured that vanished ("cannot be computed"), and each
    metric replayed with its monitor's detector. The newest run in full; earlier runs only
    where something failed; newest first."""
    if not runs:
        return []
    by_run: dict[str, list[tuple[str, str]]] = {r.run_id: [] for r in runs}
    judges_schema = ("column_count", None) in points or ("schema_hash", None) in points
    schema_runs = {p.run_id for p in points.get(("column_count", None), [])}
    schema_runs |= {p.run_id for p in points.get(("schema_hash", None), [])}
    previous_schema: tuple[Any, Sequence[tuple[str, str]]] | None = None
    seen: set[tuple[str, str | None]] = set()
    for run in runs:
        verdicts = by_run[run.run_id]
        schema = schemas.get(run.run_id) or []
        if judges_schema and run.run_id in schema_runs and schema:
            if previous_schema is None:
                verdicts.append(
                    ("insufficient_history", "schema: first run, nothing to compare yet")
                )
            else:
                when, before = previous_schema
                changes = _schema_changes(before, schema)
                if changes:
                    verdicts.append(
                        (
                            "anomaly",
                            f"schema of {dataset} changed since the run of {when:%Y-%m-%d %H:%M}: "
                            + "; ".join(changes),
                        )
                    )
                else:
                    verdicts.append(
                        ("passed", f"schema of {dataset} is unchanged ({len(schema)} columns)")
                    )
        columns = {c for c, _ in schema}
        recorded = {k for k, pts in points.items() if any(p.run_id == run.run_id for p in pts)}
        for metric, column in sorted(seen - recorded, key=str):
            if column is not None and schema and column not in columns:
                verdicts.append(
                    (
                        "error",
                        f"{metric} of {column} cannot be computed: {dataset} has no column "
                        f"{column!r} any more (renamed or dropped upstream?)",
                    )
                )
        seen |= recorded
        if schema:
            previous_schema = (run.observed_at, schema)
    for key, verdicts_of in series.items():
        for point, verdict in zip(points.get(key, []), verdicts_of, strict=False):
            if point.run_id in by_run:
                by_run[point.run_id].append((verdict.status.value, verdict.message))
    out = []
    for i, run in enumerate(reversed(runs)):
        said = by_run[run.run_id]
        if i == 0:
            out.append(RunChecks(observed_at=run.observed_at, verdicts=said, latest=True))
            continue
        failing = [(status, text) for status, text in said if status in ("anomaly", "error")]
        if failing:
            out.append(RunChecks(observed_at=run.observed_at, verdicts=failing))
    return out


def _pick_dataset(dataset: str | None, source_name: str, known: Sequence[str]) -> str | None:
    if dataset is not None:
        return dataset if dataset in known else None
    stem = Path(source_name.split("::")[-1]).name.split(".")[0]
    for candidate in (source_name, stem):
        if candidate in known:
            return candidate
    return known[0] if len(known) == 1 else None


def _metric_history(metric: str, column: str | None, verdicts: Sequence[Any]) -> MetricHistory:
    subject = _subject(metric, column)
    usable = [v for v in verdicts if v.value is not None]
    flagged = [v for v in usable if v.status is Status.ANOMALY]
    latest = verdicts[-1].message if verdicts else "no runs"
    values = {float(v.value) for v in usable}
    if len(usable) > 1 and len(values) == 1 and not flagged:  # never moved: a line of text
        return MetricHistory(
            metric=metric,
            column=column,
            runs=len(verdicts),
            flagged=0,
            latest=latest,
            image=None,
            flat_value=values.pop(),
        )
    times: Sequence[Any] = [v.observed_at for v in usable]
    if any(t is None for t in times):
        times = list(range(len(usable)))
    fig = plots.series_plot(
        times,
        [v.value for v in usable],
        [v.expected_low for v in usable],
        [v.expected_high for v in usable],
        [v.status is Status.ANOMALY for v in usable],
        title=subject,
        width=5.9,
    )
    return MetricHistory(
        metric=metric,
        column=column,
        runs=len(verdicts),
        flagged=len(flagged),
        latest=latest,
        image=_sections.render(fig, f"History of {subject} with its expected band"),
        flagged_runs=[_run_line(v) for v in flagged[-10:]],
    )


def _run_line(verdict: Any) -> str:
    when = f"{verdict.observed_at:%Y-%m-%d %H:%M}: " if verdict.observed_at else ""
    return when + verdict.message
