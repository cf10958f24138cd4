"""Run a monitor: compute each dataset's metrics, judge them against history, record them, alert.

The order matters: a value is judged against the history *before* it (never part of its own
baseline), then the whole run is recorded in one transaction, then alerts go out. A sink that
is down is reported in the result and never fails the check.

* **Exactly what the file asks.** Only the (metric, column) pairs a dataset names are
  recorded and judged (plus ``column_count``/``schema_hash`` for ``schema``, and custom
  metrics). A ``mean`` or ``stddev`` asked for every column skips identifier-like columns
  (whole numbers, all distinct, and named like an id or dense like a sequence): the mean of
  ``order_id`` is not a quantity. Naming the column keeps it.
* **One failing dataset never hides the others.** A dataset whose source is missing, whose
  SQL fails or whose database is unreachable becomes one ``error`` verdict with a sentence;
  the other datasets are judged, recorded and alerted as usual.
* **A run is (dataset, at, partition).** Running again at the same ``at`` replaces the run
  recorded there (:meth:`datacanary.store.Store.record_run`); the history never doubles.
* **An alert is sent once** however many runners see it: the de-dup state is claimed before
  delivery, in the history store's PostgreSQL database when the store is PostgreSQL, else in
  ``alert-state.sqlite`` beside the DuckDB file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

from datacanary.checks.config import DatasetMonitor, DetectorSpec, MetricSpec, MonitorConfig
from datacanary.errors import ColumnNotFoundError, ConfigError, DatacanaryError
from datacanary.results import CheckResult, Status, Verdict, as_utc

__all__ = ["dataset_failed", "replay_history", "run_monitor"]

DEFAULT_STORE = Path(".datacanary") / "history.duckdb"
FAILED_METRIC = "check"
"""The metric of the one ``error`` verdict a dataset gets when it could not be checked."""
ID_BLIND = frozenset({"mean", "stddev", "median", "quantile", "p50", "p95", "p99"})
"""Metrics that mean nothing for an identifier: skipped on identifier-like columns unless named."""
_ID_NAME = re.compile(
    r"(^|[_\W])(id|ids|uuid|guid|key|pk|number|no|nr)$|[a-z0-9](Id|ID|Uuid|UUID|Key)$",
    re.IGNORECASE,
)  # the row encoder's rule (datacanary.detectors), without importing scikit-learn


def run_monitor(
    config: MonitorConfig,
    *,
    store: str | Path | None = None,
    at: datetime | None = None,
    datasets: Sequence[str] | None = None,
    partition: str | None = None,
    store_wait: float | None = None,
) -> tuple[list[CheckResult], dict[str, Any] | None]:
    """Check every dataset of ``config`` once; return the results and the alert delivery report.

    ``store`` overrides the file's store; ``at`` records the run at that time (backfill or
    replay; naive means UTC) and judges it only against history before it; a run already
    recorded at that ``at`` (and ``partition``) is replaced. ``store_wait`` is how long to
    wait for a DuckDB store another process is writing (default ``$DATACANARY_STORE_WAIT``,
    else 60 s).

    A dataset that cannot be checked (missing source, failing SQL, unreachable database, a
    store that stayed locked) gets one ``error`` verdict (metric ``check``) saying why, and
    the others go on; :func:`dataset_failed` tells such results apart. A store that cannot
    be opened at all raises.
    """
    from datacanary.store import open_store

    when = datetime.now(timezone.utc) if at is None else as_utc(at)
    location = store or config.store or DEFAULT_STORE
    if datasets is not None:
        unknown = sorted(set(datasets) - {d.name for d in config.datasets})
        if unknown:
            names = ", ".join(d.name for d in config.datasets)
            raise ConfigError(
                f"no dataset {', '.join(map(repr, unknown))} in the monitor; it has {names}"
            )
    chosen = [d for d in config.datasets if datasets is None or d.name in datasets]
    results: list[CheckResult] = []
    with open_store(location, lock_timeout=store_wait) as history_store:
        for dataset in chosen:
            try:
                result = _check_dataset(config, dataset, history_store, when, partition)
            except (DatacanaryError, OSError) as exc:
                result = _failed(dataset, exc, when)
            results.append(result)
    delivery = _alert(config, results, location) if config.alerts else None
    return results, delivery


def dataset_failed(result: CheckResult) -> bool:
    """True when ``result`` is a dataset that could not be checked at all (nothing recorded)."""
    return any(v.metric == FAILED_METRIC and v.status is Status.ERROR for v in result.verdicts)


def _failed(dataset: DatasetMonitor, exc: BaseException, when: datetime) -> CheckResult:
    text = str(exc).strip()
    if isinstance(exc, OSError) and not isinstance(exc, DatacanaryError):
        text = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    reason = text.splitlines()[0] if text else type(exc).__name__
    verdict = Verdict.error(
        FAILED_METRIC,
        f"{dataset.name} could not be checked: {reason}",
        dataset=dataset.name,
        observed_at=when,
    )
    return CheckResult(dataset=dataset.name, verdicts=[verdict], run_id="", observed_at=when)


def _profile_asked(dataset: DatasetMonitor, when: datetime) -> Any:
    """Profile the columns and metrics the dataset asks for, in one query.

    A named column that vanished upstream is left out (and reported by ``_missing_columns``)
    rather than failing the whole dataset.
    """
    from datacanary.metrics import profile

    columns = _columns_needed(dataset.metrics)
    metrics = set(_metric_names(dataset.metrics))
    if any(s.columns is None and s.name in ID_BLIND for s in dataset.metrics):
        metrics |= {"null_count", "distinct_count", "min", "max"}  # to recognise identifiers
    if not metrics:
        metrics = {"row_count"}

    def measure(cols: list[str] | None) -> Any:
        return profile(
            dataset.source,
            columns=cols,
            metrics=sorted(metrics),
            custom=dataset.custom or None,
            now=when,
        )

    try:
        return measure(columns)
    except ColumnNotFoundError:
        if not columns:
            raise
        schema = profile(dataset.source, columns=[], metrics=["row_count"], now=when).schema
        present = {name for name, _ in schema}
        return measure([c for c in columns if c in present])


def _check_dataset(
    config: MonitorConfig,
    dataset: DatasetMonitor,
    history_store: Any,
    when: datetime,
    partition: str | None = None,
) -> CheckResult:
    table = _profile_asked(dataset, when)
    identifiers = _identifier_columns(table)
    observations = [o for o in table.observations() if _asked(dataset, o, identifiers)]
    with history_store.holding():  # the file is held from the first read to the write
        verdicts: list[Verdict] = []
        used: dict[str, dict[str, Any]] = {}  # series key -> detector spec, kept in the run's tags
        if any(spec.name == "schema" for spec in dataset.metrics):
            verdicts.append(_judge_schema(dataset.name, table, history_store, when))
        verdicts.extend(_missing_columns(dataset, table, when))
        for obs in observations:
            if obs.metric in SCHEMA_METRICS:
                continue  # judged as one schema verdict above, recorded below
            spec = _spec_for(dataset.metrics, obs.metric, obs.column)
            chosen = config.detector_for(dataset, spec)
            used[_series_key(obs.metric, obs.column)] = {"name": chosen.name, **chosen.params()}
            detector = _make_detector(chosen)
            past = history_store.history(dataset.name, obs.metric, obs.column, before=when)
            detector.fit([p.value for p in past], [p.observed_at for p in past])
            verdicts.append(
                detector.judge(
                    obs.value, when, metric=obs.metric, column=obs.column, dataset=dataset.name
                )
            )
        run_id = history_store.record_run(
            dataset.name,
            observations,
            run_id=uuid4().hex,
            observed_at=when,
            tags={"schema": [list(pair) for pair in table.schema], "detectors": used},
            partition=partition,
        )
    return CheckResult(dataset=dataset.name, verdicts=verdicts, run_id=run_id, observed_at=when)


SCHEMA_METRICS = ("column_count", "schema_hash")


def _asked(dataset: DatasetMonitor, obs: Any, identifiers: set[str]) -> bool:
    """Whether the monitor file asks for this observation (so it is recorded and judged)."""
    if obs.column is None:
        if obs.metric in dataset.custom:
            return True
        if obs.metric in SCHEMA_METRICS:
            return any(s.name in ("schema", *SCHEMA_METRICS) for s in dataset.metrics)
        return _spec_for(dataset.metrics, obs.metric, None) is not None
    spec = _spec_for(dataset.metrics, obs.metric, obs.column)
    # the mean of an id is recorded only when the file names the column
    implicit = spec is not None and spec.columns is None
    return spec is not None and not (
        implicit and obs.metric in ID_BLIND and obs.column in identifiers
    )


def _identifier_columns(table: Any) -> set[str]:
    """Columns that look like identifiers: whole numbers, all (or 95 %) distinct, and named
    like an id (``order_id``, ``customerId``) or dense like a sequence (20+ rows)."""
    out: set[str] = set()
    for name, column in table.columns.items():
        if column.kind not in ("number", "float") or column.distinct_count is None:
            continue
        low, high = column.min, column.max
        non_null = table.row_count - (column.null_count or 0)
        if low is None or high is None or non_null < 2:
            continue
        if low != int(low) or high != int(high) or column.distinct_count < 0.95 * non_null:
            continue
        dense = non_null >= 20 and (high - low + 1) <= 1.1 * non_null
        if _ID_NAME.search(name) or dense:
            out.add(name)
    return out


def _series_key(metric: str, column: str | None) -> str:
    return f"{metric}|{column or ''}"


def _missing_columns(dataset: DatasetMonitor, table: Any, when: datetime) -> list[Verdict]:
    """A monitored column that vanished (renamed or dropped upstream) is an error, not silence."""
    present = {name for name, _ in table.schema}
    return [
        Verdict.error(
            spec.name,
            f"{spec.name} of {column} cannot be computed: {dataset.name} has no column "
            f"{column!r} any more (renamed or dropped upstream?)",
            column=column,
            dataset=dataset.name,
            observed_at=when,
        )
        for spec in dataset.metrics
        for column in spec.columns or ()
        if column not in present
    ]


def _judge_schema(dataset: str, table: Any, history_store: Any, when: datetime) -> Verdict:
    """Compare the schema with the last run's (kept in the run's tags), column by column."""
    previous = [r for r in history_store.runs(dataset) if r.observed_at < when]
    known = [r for r in previous if r.tags.get("schema")]
    params = {"rule": "schema equals the previous run's"}
    if not known:
        return Verdict.insufficient(
            "schema",
            None,
            detector="schema",
            history_size=0,
            min_history=1,
            params=params,
            dataset=dataset,
            observed_at=when,
        )
    last = known[-1]
    changes = table.schema_changes([tuple(pair) for pair in last.tags["schema"]])
    changed = bool(changes)
    message = (
        f"schema of {dataset} changed since the run of {last.observed_at:%Y-%m-%d %H:%M}: "
        + "; ".join(changes)
        if changed
        else f"schema of {dataset} is unchanged ({table.column_count} columns)"
    )
    return Verdict(
        metric="schema",
        value=float(len(changes)),
        expected_low=0.0,
        expected_high=0.0,
        score=float(len(changes)),
        status=Status.ANOMALY if changed else Status.PASSED,
        detector="schema",
        history_size=len(known),
        message=message,
        params=params,
        dataset=dataset,
        observed_at=when,
    )


def _metric_names(specs: Iterable[MetricSpec]) -> list[str]:
    return sorted({spec.name for spec in specs})


def _expanded(name: str) -> tuple[str, ...]:
    """A metric name or group (``nulls``, ``length``, ``schema``, ``all``) as metric names."""
    from datacanary.metrics import METRIC_GROUPS

    return METRIC_GROUPS.get(name, (name,))


def _is_table_spec(spec: MetricSpec) -> bool:
    from datacanary.metrics import TABLE_METRICS

    return all(m in TABLE_METRICS for m in _expanded(spec.name))


def _columns_needed(specs: Iterable[MetricSpec]) -> list[str] | None:
    """The union of the columns named by column-metric specs; None (all) if one takes all.

    Table metrics (``row_count``, ``schema``) need no column; a monitor of only those
    profiles none.
    """
    names: list[str] = []
    for spec in specs:
        if _is_table_spec(spec):
            continue
        if spec.columns is None:
            return None
        names.extend(c for c in spec.columns if c not in names)
    return names


def _spec_for(specs: Iterable[MetricSpec], metric: str, column: str | None) -> MetricSpec | None:
    """The first spec that asks for ``metric`` (of ``column``), groups expanded."""
    for spec in specs:
        if metric in _expanded(spec.name) and (
            column is None or spec.columns is None or column in spec.columns
        ):
            return spec
    return None


def _make_detector(spec: DetectorSpec) -> Any:
    from datacanary.series import make_series_detector

    return make_series_detector(spec.name, **spec.params())


def _alert(config: MonitorConfig, results: list[CheckResult], store: str | Path) -> dict[str, Any]:
    """Send every verdict to the configured sinks (de-duplicated, claimed before delivery).

    A sink that cannot be built (an environment variable not set) is reported as failed;
    the others still deliver. Never raises for a delivery problem.
    """
    from datetime import timedelta

    from datacanary.alerts import Alert, AlertDispatcher, build_sink

    sinks, failed = [], []
    for k, sink in enumerate(config.alerts, 1):
        try:
            sinks.append(build_sink(sink))
        except DatacanaryError as exc:
            failed.append(f"alert sink #{k} ({sink.get('type')}): {exc}")
    state = _alert_state(config, store)
    dispatcher = AlertDispatcher(sinks, state=state, cooldown=timedelta(hours=6))
    alerts = [Alert.from_verdict(v) for r in results for v in r.verdicts]
    try:
        report = dispatcher.dispatch(alerts)
    finally:
        close = getattr(state, "close", None)
        if close is not None:
            close()
    return {
        "delivered": len(report.delivered),
        "suppressed": len(report.suppressed),
        "failed": failed + [f"{f[0]}: {f[2]}" for f in report.failed] + list(report.notes),
    }


def _alert_state(config: MonitorConfig, store: str | Path) -> Any:
    """Where de-dup state lives: the file named in the monitor, the PostgreSQL history
    store's database (shared by runners on every machine), or a SQLite file beside the
    DuckDB store."""
    from datacanary.alerts import PostgresAlertState, SqliteAlertState

    if config.alert_state:
        return SqliteAlertState(config.alert_state)
    text = str(store)
    if text.lower().startswith(("postgresql://", "postgres://")):
        return PostgresAlertState(text)
    return SqliteAlertState(_state_path_beside(store))


def _state_path_beside(store: str | Path) -> Path:
    """``alert-state.sqlite`` beside a DuckDB store (an older ``alert-state.json`` is kept)."""
    text = str(store)
    folder = DEFAULT_STORE.parent if "://" in text else Path(text).parent
    legacy = folder / "alert-state.json"  # what datacanary 0.x named this SQLite file
    current = folder / "alert-state.sqlite"
    return legacy if legacy.is_file() and not current.exists() else current


def replay_history(
    dataset: str,
    *,
    store: str | Path | None = None,
    metric: str | None = None,
    column: str | None = None,
    detector: str | None = None,
    **params: Any,
) -> dict[tuple[str, str | None], list[Verdict]]:
    """Replay each stored series of ``dataset`` through a detector: the band run by run.

    What ``datacanary history`` shows: for every run, the value, the band it was expected in
    (from the runs before it) and whether it was flagged. ``detector=None`` replays each series
    with the detector its monitor used last (recorded with the run), else the monitor
    default (:class:`~datacanary.checks.DetectorSpec`).
    """
    from datacanary.errors import InputError
    from datacanary.series import make_series_detector
    from datacanary.store import open_store

    out: dict[tuple[str, str | None], list[Verdict]] = {}
    with open_store(store or DEFAULT_STORE, read_only=True) as history_store:
        known = history_store.datasets()
        if dataset not in known:
            listed = ", ".join(known) if known else "none yet; run `datacanary check` first"
            raise InputError(f"dataset {dataset!r} has no stored history; datasets: {listed}")
        runs = history_store.runs(dataset, limit=1)
        recorded = runs[-1].tags.get("detectors", {}) if runs else {}
        for m, c in history_store.series(dataset):
            if (metric is not None and m != metric) or (column is not None and c != column):
                continue
            if m in SCHEMA_METRICS:
                continue  # identifiers of a schema, judged by equality, not by a band
            if detector is None:
                spec = dict(recorded.get(_series_key(m, c)) or {"name": DetectorSpec().name})
                model = make_series_detector(spec.pop("name"), **spec)
            else:
                model = make_series_detector(detector, **params)
            points = history_store.history(dataset, m, c)
            out[(m, c)] = [
                model.update(p.value, p.observed_at, metric=m, column=c, dataset=dataset)
                for p in points
            ]
    if not out:
        raise InputError(f"no stored series of {dataset!r} match metric={metric} column={column}")
    return out
