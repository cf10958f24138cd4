"""Run a monitor: compute each dataset's metrics, judge them against history, record them, alert.

The order matters: a value is judged against the history *before* it (never part of its own
baseline), then the whole run is recorded in one transaction, then alerts go out. A sink that
is down is reported in the result and never fails the check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

from datacanary.checks.config import DatasetMonitor, DetectorSpec, MetricSpec, MonitorConfig
from datacanary.results import CheckResult, Status, Verdict

__all__ = ["replay_history", "run_monitor"]

DEFAULT_STORE = Path(".datacanary") / "history.duckdb"


def run_monitor(
    config: MonitorConfig,
    *,
    store: str | Path | None = None,
    at: datetime | None = None,
    datasets: Sequence[str] | None = None,
) -> tuple[list[CheckResult], dict[str, Any] | None]:
    """Check every dataset of ``config`` once; return the results and the alert delivery report.

    ``store`` overrides the file's store; ``at`` records the run at that time (backfill or replay)
    and judges it only against history before it.
    """
    from datacanary.store import open_store

    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    location = store or config.store or DEFAULT_STORE
    chosen = [d for d in config.datasets if datasets is None or d.name in datasets]
    results: list[CheckResult] = []
    with open_store(location) as history_store:
        for dataset in chosen:
            results.append(_check_dataset(config, dataset, history_store, when))
    delivery = _alert(config, results, location) if config.alerts else None
    return results, delivery


def _check_dataset(
    config: MonitorConfig, dataset: DatasetMonitor, history_store: Any, when: datetime
) -> CheckResult:
    from datacanary.metrics import profile

    columns = _columns_needed(dataset.metrics)
    table = profile(
        dataset.source,
        columns=columns,
        metrics=sorted({spec.name for spec in dataset.metrics}),
        custom=dataset.custom or None,
        now=when,
    )
    observations = table.observations()
    verdicts: list[Verdict] = []
    used: dict[str, dict[str, Any]] = {}  # series key -> detector spec, kept in the run's tags
    if any(spec.name == "schema" for spec in dataset.metrics):
        verdicts.append(_judge_schema(dataset.name, table, history_store, when))
    verdicts.extend(_missing_columns(dataset, table, when))
    for obs in observations:
        if obs.metric in SCHEMA_METRICS:
            continue  # judged as one schema verdict above, recorded below
        spec = _spec_for(dataset.metrics, obs.metric, obs.column)
        if spec is None and obs.metric not in dataset.custom:
            continue
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
    )
    return CheckResult(dataset=dataset.name, verdicts=verdicts, run_id=run_id, observed_at=when)


SCHEMA_METRICS = ("column_count", "schema_hash")


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


def _columns_needed(specs: Iterable[MetricSpec]) -> list[str] | None:
    """The union of the columns named by metric specs; None (all) if any spec takes all."""
    names: list[str] = []
    for spec in specs:
        if spec.columns is None:
            return None
        names.extend(c for c in spec.columns if c not in names)
    return names


def _spec_for(specs: Iterable[MetricSpec], metric: str, column: str | None) -> MetricSpec | None:
    for spec in specs:
        if spec.name == metric and (
            column is None or spec.columns is None or column in spec.columns
        ):
            return spec
    return None


def _make_detector(spec: DetectorSpec) -> Any:
    from datacanary.series import make_series_detector

    return make_series_detector(spec.name, **spec.params())


def _alert(config: MonitorConfig, results: list[CheckResult], store: str | Path) -> dict[str, Any]:
    """Send every verdict to the configured sinks (de-duplicated); never raises."""
    from datetime import timedelta

    from datacanary.alerts import Alert, AlertDispatcher, build_sink

    sinks = [build_sink(sink) for sink in config.alerts]
    state = Path(config.alert_state) if config.alert_state else _state_path_beside(store)
    dispatcher = AlertDispatcher(sinks, state_path=state, cooldown=timedelta(hours=6))
    alerts = [Alert.from_verdict(v) for r in results for v in r.verdicts]
    report = dispatcher.dispatch(alerts)
    return {
        "delivered": len(report.delivered),
        "suppressed": len(report.suppressed),
        "failed": [f"{f[0]}: {f[2]}" for f in report.failed],
    }


def _state_path_beside(store: str | Path) -> Path:
    text = str(store)
    if "://" in text:
        return DEFAULT_STORE.parent / "alert-state.json"
    return Path(text).parent / "alert-state.json"


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
    with the detector its monitor used last (recorded with the run), else ``mad``.
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
                spec = dict(recorded.get(_series_key(m, c)) or {"name": "mad"})
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
