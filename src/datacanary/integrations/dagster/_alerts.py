"""``build_alert_sensor``: failed asset-check evaluations sent to datacanary alert sinks."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg

from datacanary.errors import ConfigError
from datacanary.integrations.dagster._common import check_int
from datacanary.results import Status, Verdict

if TYPE_CHECKING:
    from datacanary.alerts import Alert, AlertSink, SinkConfig

_RUN_ENDS: dict[str, Literal[dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE]] = {
    "success": dg.DagsterEventType.RUN_SUCCESS,
    "failure": dg.DagsterEventType.RUN_FAILURE,
}
_PAGE = 100


def build_alert_sensor(
    *,
    sinks: Sequence[Mapping[str, Any] | SinkConfig | AlertSink],
    name: str = "datacanary_alerts",
    state_path: str | Path | None = None,
    cooldown: timedelta | str = "6h",
    only_datacanary: bool = False,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """A sensor that sends asset-check evaluations to datacanary alert sinks.

    Each tick reads the check evaluations of the runs that finished (succeeded or failed)
    since the last tick and hands them to an :class:`~datacanary.alerts.AlertDispatcher`:
    a failed check pages once per cooldown, and when the same check passes again a recovery
    is sent. The evaluations of :func:`build_anomaly_checks` and :func:`build_outlier_check`
    become alerts with their value, expected band and sentence; other checks (Dagster's own,
    yours) become alerts keyed ``asset:check_name`` with the check's description, unless
    ``only_datacanary``. Severity ``ERROR`` maps to ``critical``, ``WARN`` to ``warning``.

    The first tick starts from "now" (no alerts for history). A sink that cannot be reached
    is reported in the tick's log and skip message and never fails the tick.

    Parameters
    ----------
    sinks
        Sink definitions as in a monitor file's ``alerts:`` list (``{"type": "slack",
        "webhook_url_env": "SLACK_WEBHOOK_URL"}``), validated now; their secrets are read
        from the environment when the sensor runs. Built sinks (``AlertSink``) work too.
    name
        The sensor's name.
    state_path
        SQLite file keeping the de-duplication state between ticks. Default:
        ``datacanary-alert-state.sqlite`` in the Dagster instance's directory
        (``$DAGSTER_HOME``).
    cooldown
        After paging about a check, stay quiet about it this long (``"6h"``, a timedelta).
    only_datacanary
        Alert only on datacanary's own checks.
    minimum_interval_seconds
        Seconds between ticks.
    default_status
        ``STOPPED`` (default: turn it on in the UI) or ``RUNNING``.

    Returns
    -------
    SensorDefinition

    Raises
    ------
    ConfigError
        A sink definition is invalid, two sinks share a name, or an argument is out of range.

    Examples
    --------
    >>> from datacanary.integrations.dagster import build_alert_sensor
    >>> sensor = build_alert_sensor(sinks=[{"type": "stdout"}])
    >>> sensor.name
    'datacanary_alerts'
    >>> build_alert_sensor(sinks=[{"type": "pager"}])
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: alert sink #1: type must be one of ...; got 'pager'
    """
    from datacanary.alerts import AlertSink, parse_duration, sink_configs_from

    if isinstance(sinks, (str, Mapping)) or not isinstance(sinks, Sequence):
        raise ConfigError(
            f"sinks must be a list of sink definitions; got {sinks!r}; "
            "wrap a single sink in a list: sinks=[{'type': 'stdout'}]"
        )
    if not sinks:
        raise ConfigError("sinks must name at least one alert sink; got an empty list")
    built = [s for s in sinks if isinstance(s, AlertSink)]
    configs = sink_configs_from([s for s in sinks if not isinstance(s, AlertSink)])
    names = [s.name for s in built] + [c.sink_name for c in configs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(
            f"alert sinks must have distinct names; {repeated} appear more than once: "
            "give each a distinct name"
        )
    cooldown_delta = parse_duration(cooldown)
    interval = check_int("minimum_interval_seconds", minimum_interval_seconds, low=1)
    if not isinstance(only_datacanary, bool):
        raise ConfigError(f"only_datacanary must be True or False; got {only_datacanary!r}")

    @dg.sensor(
        name=name,
        minimum_interval_seconds=interval,
        default_status=default_status,
        description="datacanary: sends failed asset checks to alert sinks, with recoveries.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from datacanary.alerts import AlertDispatcher, build_sink

        instance = context.instance
        cursor = _read_cursor(context.cursor)
        if cursor is None:
            start = {kind: _latest_storage_id(instance, kind) for kind in _RUN_ENDS}
            return dg.SensorResult(
                skip_reason="started: alerts on check evaluations from now on",
                cursor=json.dumps(start),
            )
        evaluations, cursor = _new_evaluations(instance, cursor)
        alerts = [
            alert
            for evaluation, at in evaluations
            if (alert := evaluation_alert(evaluation, at, only_datacanary)) is not None
        ]
        if not alerts:
            return dg.SensorResult(
                skip_reason=f"{len(evaluations)} new check evaluations; nothing to send",
                cursor=json.dumps(cursor),
            )
        dispatcher = AlertDispatcher(
            [*built, *(build_sink(c) for c in configs)],
            state_path=state_path or _default_state_path(instance),
            cooldown=cooldown_delta,
        )
        report = dispatcher.dispatch(alerts)
        summary = f"{len(evaluations)} new check evaluations; {report.summary()}"
        for failure in report.failed:
            context.log.warning(f"alert not delivered: {failure}")
        return dg.SensorResult(skip_reason=summary, cursor=json.dumps(cursor))

    return _sensor


def evaluation_alert(
    evaluation: dg.AssetCheckEvaluation, at: datetime, only_datacanary: bool = False
) -> Alert | None:
    """The alert for one check evaluation (None for other checks when ``only_datacanary``).

    A datacanary check's metadata is read back into a :class:`~datacanary.results.Verdict`
    (value, band, score, status, sentence); any other check becomes an alert keyed
    ``asset:check_name`` that fires when it did not pass and recovers when it passes.
    """
    from datacanary.alerts import Alert, Severity

    severity = "critical" if evaluation.severity is dg.AssetCheckSeverity.ERROR else "warning"
    dataset = evaluation.asset_key.to_user_string()
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    description = evaluation.description or (
        f"check {evaluation.check_name} on {dataset} "
        + ("passed" if evaluation.passed else "did not pass")
    )
    ours = {"status", "message"} <= metadata.keys() and (
        "metadata_key" in metadata or "max_fraction" in metadata
    )
    if ours:
        verdict = _verdict_from(evaluation, metadata, dataset, description, at)
        return Alert.from_verdict(verdict, severity=severity)
    if only_datacanary:
        return None
    return Alert(
        key=f"{dataset}:{evaluation.check_name}",
        status=Status.PASSED if evaluation.passed else Status.ANOMALY,
        severity=Severity.parse(severity),
        sentence=description,
        observed_at=at,
        dataset=dataset,
        metric=evaluation.check_name,
        details={"partition": evaluation.partition} if evaluation.partition else {},
    )


def _verdict_from(
    evaluation: dg.AssetCheckEvaluation,
    metadata: Mapping[str, Any],
    dataset: str,
    description: str,
    at: datetime,
) -> Verdict:
    from datacanary.integrations.dagster._anomaly import metric_of

    if "metadata_key" in metadata:
        metric, column = metric_of(str(metadata["metadata_key"]))
        value = metadata.get("value")
        low, high = metadata.get("expected_low"), metadata.get("expected_high")
        detector = str(metadata.get("detector", ""))
        history = int(metadata.get("history_size", 0) or 0)
    else:  # an outlier check
        metric, column = "outlier_fraction", None
        value, low, high = metadata.get("outlier_fraction"), None, metadata.get("max_fraction")
        detector, history = str(metadata.get("method", "")), 0
    try:
        status = Status(str(metadata.get("status")))
    except ValueError:
        status = Status.PASSED if evaluation.passed else Status.ANOMALY
    return Verdict(
        metric=metric,
        value=_number(value),
        expected_low=_number(low),
        expected_high=_number(high),
        score=_number(metadata.get("score")) or 0.0,
        status=status,
        detector=detector,
        history_size=history,
        message=description,
        column=column,
        dataset=dataset,
        observed_at=at,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _read_cursor(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    try:
        raw = json.loads(text)
        return {kind: int(raw.get(kind, 0)) for kind in _RUN_ENDS}
    except (ValueError, TypeError, AttributeError):
        return None


def _latest_storage_id(instance: dg.DagsterInstance, kind: str) -> int:
    records = instance.fetch_run_status_changes(_RUN_ENDS[kind], limit=1).records
    return records[0].storage_id if records else 0


def _new_evaluations(
    instance: dg.DagsterInstance, cursor: Mapping[str, int]
) -> tuple[list[tuple[dg.AssetCheckEvaluation, datetime]], dict[str, int]]:
    """The check evaluations of the runs that ended after ``cursor``, oldest first."""
    ended: list[tuple[int, str]] = []
    advanced = dict(cursor)
    for kind, event_type in _RUN_ENDS.items():
        records = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=cursor[kind]),
            limit=_PAGE,
            ascending=True,
        ).records
        for record in records:
            ended.append((record.storage_id, record.run_id))
            advanced[kind] = max(advanced[kind], record.storage_id)
    found: list[tuple[dg.AssetCheckEvaluation, datetime]] = []
    for _, run_id in sorted(ended):
        found.extend(_run_evaluations(instance, run_id))
    return found, advanced


def _run_evaluations(
    instance: dg.DagsterInstance, run_id: str
) -> Iterator[tuple[dg.AssetCheckEvaluation, datetime]]:
    connection = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    for record in connection.records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event is not None else None
        if isinstance(data, dg.AssetCheckEvaluation):
            at = datetime.fromtimestamp(record.event_log_entry.timestamp, tz=timezone.utc)
            yield data, at


def _default_state_path(instance: dg.DagsterInstance) -> Path:
    root = getattr(instance, "root_directory", None)
    base = Path(root) if root else Path(".datacanary")
    return base / "datacanary-alert-state.sqlite"
