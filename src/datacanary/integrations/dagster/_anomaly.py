"""``build_anomaly_checks``: an asset's newest metadata value judged against its own history."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import dagster as dg

from datacanary.errors import ConfigError
from datacanary.integrations.dagster._common import (
    AssetLike,
    asset_targets,
    check_int,
    check_name_part,
    op_name,
    resolve_severity,
    with_runtime_hints,
)
from datacanary.integrations.dagster._history import (
    Materialization,
    newest_materialization,
    numeric_history,
    numeric_value,
    other_partitions_history,
    partition_start,
    same_partition_history,
)
from datacanary.results import Status, Verdict
from datacanary.series import SeriesDetector, make_series_detector

PartitionHistory = Literal["same_partition", "other_partitions"]

_PARTITION_HISTORIES = ("same_partition", "other_partitions")


def build_anomaly_checks(
    *,
    assets: Sequence[AssetLike],
    metadata_keys: Sequence[str] = ("dagster/row_count",),
    method: str = "auto",
    min_history: int = 7,
    max_history: int = 100,
    partition_history: PartitionHistory = "other_partitions",
    severity: dg.AssetCheckSeverity | None = None,
    blocking: bool = False,
    detector_params: Mapping[str, Any] | None = None,
) -> list[dg.AssetChecksDefinition]:
    """Asset checks that judge each asset's newest metadata values against their own history.

    For every asset and every key of ``metadata_keys`` there is one check, named after the
    key (``dagster/row_count`` → ``row_count_anomaly``,
    ``datacanary/null_fraction/email`` → ``null_fraction_email_anomaly``). A check reads the
    asset's materializations from ``context.instance``, takes the numeric value of the
    *newest* one (the run's own, when the check runs with the asset) and judges it with a
    :mod:`datacanary.series` detector fitted on the materializations *before* it, so the
    value under test is never part of its own baseline. The checks of one asset run in one op
    that reads the history once.

    The result passes or fails with ``severity``; its description is the verdict's sentence
    ("row_count 1,204 is below the expected 9,800–10,400 from the last 14 materializations")
    and its metadata is typed for the UI: the numbers a person compares (``value``,
    ``expected_low``, ``expected_high``, ``score``: ints when whole, else floats rounded to four
    significant digits; ``history_size``), the band as JSON (``expected_band``), and as text
    the sentence (``message``), ``status``, ``detector``, ``rule``, ``metadata_key``,
    ``baseline`` and, for a partition, ``partition``; ``detector_params`` is JSON. Settings
    such as ``min_history`` are never numeric metadata, which Dagster would chart over time.

    * Fewer than ``min_history`` earlier values: the check **passes** with the status
      ``insufficient_history`` and the sentence "row_count 10,000: insufficient history
      (2 of 7 materializations) to judge".
    * No materialization yet, the key missing from the newest one, or a value that is not a
      finite number: the check **fails** with a sentence that says so (never an exception).
      Earlier materializations without a usable value are left out of the baseline.

    Parameters
    ----------
    assets
        The assets to check: keys (``"orders"``, ``["raw", "orders"]``, ``AssetKey``) or
        definitions (``@asset``, ``AssetSpec``, ``SourceAsset``). Pass the definition of a
        partitioned asset so its checks are partitioned too (one result per partition in the
        UI); with a bare key the partitions are looked up when the check runs.
    metadata_keys
        Numeric materialization metadata to judge. :func:`profile_metadata` writes
        ``dagster/row_count``, ``datacanary/null_count/<column>`` and
        ``datacanary/null_fraction/<column>``; any int or float metadata works.
    method
        The series detector: ``auto`` (the default: finds the weekly pattern, count models
        for small counts, accepts a lasting level shift), ``mad``, ``zscore``, ``seasonal``,
        ``change`` or ``ets`` (see :func:`datacanary.series.make_series_detector`).
    min_history
        Earlier values needed before a value is judged.
    max_history
        At most this many earlier materializations (or partitions) are read. The detector's
        ``window`` (default 30) limits how many of them form the band.
    partition_history
        For a partitioned asset, what a partition's value is compared with.
        ``"other_partitions"`` (default): the newest value of each other partition; for time
        partitions the ``max_history`` partitions *before* it, so a daily partition is judged
        against the previous days and a backfill never against the future; for static or
        dynamic partitions all the others. ``"same_partition"``: the earlier
        materializations of the same partition (one day re-loaded, one region recomputed
        every run). Unpartitioned assets always use their earlier materializations.
    severity
        The severity of a failed result. Default: ``ERROR`` when ``blocking``, else ``WARN``.
    blocking
        When a check fails (with severity ``ERROR``), downstream assets in the same run do
        not materialize.
    detector_params
        Other parameters of the detector, e.g. ``{"sensitivity": 4, "direction": "down",
        "rel_floor": 0.05}``.

    Returns
    -------
    list of AssetChecksDefinition
        One per asset; pass them to ``Definitions(asset_checks=...)``.

    Raises
    ------
    ConfigError
        A bad definition, when the checks are built: an unknown method or detector
        parameter, ``min_history`` below 1, ``max_history`` below ``min_history``, an empty
        or repeated asset or metadata key, ``blocking=True`` with ``severity=WARN``.

    Examples
    --------
    >>> import dagster as dg
    >>> from datacanary.integrations.dagster import build_anomaly_checks
    >>> @dg.asset
    ... def orders() -> dg.MaterializeResult:
    ...     return dg.MaterializeResult(metadata={"dagster/row_count": 10_000})
    >>> checks = build_anomaly_checks(assets=[orders], min_history=3)
    >>> [key.name for c in checks for key in c.check_keys]
    ['row_count_anomaly']
    >>> build_anomaly_checks(assets=[orders], method="median")
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: unknown series detector 'median'; ...
    """
    targets = asset_targets(assets)
    keys = _metadata_keys(metadata_keys)
    min_history = check_int("min_history", min_history, low=1)
    max_history = check_int("max_history", max_history, low=1)
    if max_history < min_history:
        raise ConfigError(
            f"max_history must be >= min_history ({min_history}); got {max_history}; "
            "read at least as many materializations as a verdict needs"
        )
    if partition_history not in _PARTITION_HISTORIES:
        raise ConfigError(
            "partition_history must be 'same_partition' or 'other_partitions'; "
            f"got {partition_history!r}"
        )
    resolved_severity = resolve_severity(severity, blocking)
    params = dict(_detector_params(detector_params))
    prototype = make_series_detector(method, min_history=min_history, **params)
    judge = _Judge(
        prototype=prototype,
        method=method,
        min_history=min_history,
        max_history=max_history,
        partition_history=partition_history,
        severity=resolved_severity,
    )
    return [
        _asset_checks(key, partitions_def, keys, judge, blocking) for key, partitions_def in targets
    ]


def metric_of(metadata_key: str) -> tuple[str, str | None]:
    """How a verdict names a metadata key: its metric and column.

    >>> metric_of("dagster/row_count"), metric_of("datacanary/null_fraction/email")
    (('row_count', None), ('null_fraction', 'email'))
    >>> metric_of("revenue")
    ('revenue', None)
    """
    if metadata_key.startswith("datacanary/"):
        metric, _, column = metadata_key[len("datacanary/") :].partition("/")
        return metric, column or None
    if metadata_key.startswith("dagster/"):
        return metadata_key[len("dagster/") :], None
    return metadata_key, None


def check_name_for(metadata_key: str) -> str:
    """The check's name for a metadata key: ``row_count_anomaly``."""
    metric, column = metric_of(metadata_key)
    base = f"{metric}_{column}" if column else metric
    return f"{check_name_part(base)}_anomaly"


def _metadata_keys(metadata_keys: Any) -> list[str]:
    if isinstance(metadata_keys, str) or not isinstance(metadata_keys, Sequence):
        raise ConfigError(
            f"metadata_keys must be a list of metadata keys; got {metadata_keys!r}; "
            "wrap a single key in a list: metadata_keys=['dagster/row_count']"
        )
    keys = list(metadata_keys)
    if not keys:
        raise ConfigError("metadata_keys must name at least one key; got an empty list")
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"each metadata key must be a non-empty string; got {key!r}")
    names: dict[str, str] = {}
    for key in keys:
        name = check_name_for(key)
        if name in names:
            raise ConfigError(
                f"metadata_keys {names[name]!r} and {key!r} give the same check name "
                f"{name!r}; list each key once"
            )
        names[name] = key
    return keys


def _detector_params(detector_params: Any) -> Mapping[str, Any]:
    if detector_params is None:
        return {}
    if not isinstance(detector_params, Mapping):
        raise ConfigError(
            f"detector_params must be a mapping of detector parameters; got {detector_params!r}"
        )
    if "min_history" in detector_params:
        raise ConfigError(
            "detector_params must not set min_history; pass it as "
            "build_anomaly_checks(min_history=...)"
        )
    return detector_params


class _Judge:
    """What every check of one factory call shares: the detector and how to read history."""

    def __init__(
        self,
        *,
        prototype: SeriesDetector,
        method: str,
        min_history: int,
        max_history: int,
        partition_history: PartitionHistory,
        severity: dg.AssetCheckSeverity,
    ) -> None:
        self.prototype = prototype
        self.method = method
        self.min_history = min_history
        self.max_history = max_history
        self.partition_history = partition_history
        self.severity = severity

    def describe(self, metadata_key: str, partitioned: bool) -> str:
        if partitioned and self.partition_history == "other_partitions":
            baseline = "the partitions before it"
        elif partitioned:
            baseline = "the earlier materializations of the same partition"
        else:
            baseline = "the materializations before it"
        return (
            f"datacanary: the newest `{metadata_key}` is judged against {baseline} with the "
            f"{self.method!r} series detector (at least {self.min_history} needed)."
        )

    def run(
        self,
        context: dg.AssetCheckExecutionContext,
        key: dg.AssetKey,
        partitions_def: dg.PartitionsDefinition | None,
        keys_by_name: Mapping[str, str],
    ) -> Iterator[dg.AssetCheckResult]:
        selected = sorted(
            (k for k in context.selected_asset_check_keys if k.asset_key == key),
            key=lambda k: k.name,
        )
        partitions = _run_partitions(context)
        target = newest_materialization(
            context.instance, key, partitions=partitions, run_id=context.run.run_id
        )
        history: list[Materialization] = []
        if target is not None:
            if self.partition_history == "same_partition" or target.partition is None:
                history = same_partition_history(context.instance, key, target, self.max_history)
            else:
                known = partitions_def or _runtime_partitions_def(context, key)
                history = other_partitions_history(
                    context.instance, key, target, known, self.max_history
                )
                # judged, like its history, at the start of its time partition
                target = dataclasses.replace(
                    target, at=partition_start(known, target.partition) or target.at
                )
        for check_key in selected:
            metadata_key = keys_by_name[check_key.name]
            verdict, baseline = self.verdict(key, metadata_key, target, history, partitions)
            yield self.result(check_key, metadata_key, verdict, baseline, target)

    def verdict(
        self,
        key: dg.AssetKey,
        metadata_key: str,
        target: Materialization | None,
        history: Sequence[Materialization],
        partitions: Sequence[str] | None,
    ) -> tuple[Verdict, str]:
        metric, column = metric_of(metadata_key)
        dataset = key.to_user_string()
        if target is None:
            where = dataset if not partitions else f"partition {', '.join(partitions)} of {dataset}"
            message = f"{where} has not been materialized yet, so there is nothing to judge"
            error = Verdict.error(
                metric, message, detector=self.method, column=column, dataset=dataset
            )
            return error, ""
        across = self.partition_history == "other_partitions" and target.partition is not None
        baseline = (
            "other partitions"
            if across
            else "same partition"
            if target.partition is not None
            else "earlier materializations"
        )
        where = dataset if target.partition is None else f"{dataset} [{target.partition}]"
        value, problem = numeric_value(target.metadata, metadata_key)
        if value is not None:
            values, times = numeric_history(history, metadata_key)
            unit = "partitions" if across else "materializations"
            detector = self.prototype.clone().fit(values, times)
            verdict = detector.judge(  # a NaN or infinite value becomes an error verdict
                value, target.at, metric=metric, column=column, dataset=dataset, unit=unit
            )
            return _plural_note(verdict, unit), baseline
        if problem == "missing":
            message = (
                f"metadata key `{metadata_key}` is missing from the newest materialization of "
                f"{where}; return it from the asset, e.g. "
                "MaterializeResult(metadata=profile_metadata(df))"
            )
        else:
            message = (
                f"metadata `{metadata_key}` of the newest materialization of {where} is "
                f"{problem}, not a number, so it cannot be judged"
            )
        error = Verdict.error(
            metric,
            message,
            detector=self.method,
            column=column,
            dataset=dataset,
            observed_at=target.at,
        )
        return error, baseline

    def result(
        self,
        check_key: dg.AssetCheckKey,
        metadata_key: str,
        verdict: Verdict,
        baseline: str,
        target: Materialization | None,
    ) -> dg.AssetCheckResult:
        metadata: dict[str, Any] = {
            "status": dg.MetadataValue.text(verdict.status.value),
            "message": dg.MetadataValue.text(verdict.message),
            "metadata_key": dg.MetadataValue.text(metadata_key),
        }
        if verdict.value is not None:
            original = numeric_value(target.metadata, metadata_key)[0] if target else None
            metadata["value"] = display_number(original if original is not None else verdict.value)
        band = {
            "low": _rounded(verdict.expected_low),
            "high": _rounded(verdict.expected_high),
        }
        if verdict.expected_low is not None:
            metadata["expected_low"] = display_number(verdict.expected_low)
        if verdict.expected_high is not None:
            metadata["expected_high"] = display_number(verdict.expected_high)
        if band["low"] is not None or band["high"] is not None:
            metadata["expected_band"] = dg.MetadataValue.json(band)
        metadata["history_size"] = dg.MetadataValue.int(int(verdict.history_size))
        metadata["score"] = display_number(verdict.score)
        # the settings are constants, not measurements: text and JSON, which Dagster does not
        # chart over time (a number would be plotted run after run as if it had been measured)
        metadata["detector"] = dg.MetadataValue.text(self.method)
        metadata["rule"] = dg.MetadataValue.text(
            f"{self.method} against the {self.max_history} newest earlier values at most; "
            f"judged once {self.min_history} are known"
        )
        metadata["detector_params"] = dg.MetadataValue.json(dict(self.prototype.get_params()))
        if baseline:
            metadata["baseline"] = dg.MetadataValue.text(baseline)
        description = verdict.message
        if target is not None and target.partition is not None:
            metadata["partition"] = dg.MetadataValue.text(target.partition)
            description = f"partition {target.partition}: {description}"
        return dg.AssetCheckResult(
            passed=verdict.passed,
            asset_key=check_key.asset_key,
            check_name=check_key.name,
            severity=self.severity,
            description=description,
            metadata=metadata,
        )


def _asset_checks(
    key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition | None,
    metadata_keys: Sequence[str],
    judge: _Judge,
    blocking: bool,
) -> dg.AssetChecksDefinition:
    keys_by_name = {check_name_for(k): k for k in metadata_keys}
    with warnings.catch_warnings():
        # a check with the asset's partitions reports one result per partition (Dagster
        # 1.13 marks partitioned checks as a preview)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        specs = [
            dg.AssetCheckSpec(
                name,
                asset=key,
                description=judge.describe(metadata_key, partitions_def is not None),
                blocking=blocking,
                partitions_def=partitions_def,
                metadata={
                    "datacanary/detector": judge.method,
                    "datacanary/metadata_key": metadata_key,
                },
            )
            for name, metadata_key in keys_by_name.items()
        ]

    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        yield from judge.run(context, key, partitions_def, keys_by_name)

    return dg.multi_asset_check(
        specs=specs,
        can_subset=True,
        name=op_name("datacanary_anomaly", key, list(keys_by_name)),
        description=f"datacanary anomaly checks of {key.to_user_string()}",
    )(with_runtime_hints(_checks, context=dg.AssetCheckExecutionContext))


def _rounded(x: float | None) -> float | int | None:
    """``x`` with four significant digits (what a person reads), whole numbers as ints.

    >>> _rounded(0.031920393308883056), _rounded(1204.0), _rounded(None)
    (0.03192, 1204, None)
    """
    if x is None or not math.isfinite(float(x)):
        return None
    value = float(x)
    if value == int(value) and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.4g}")


def display_number(x: float) -> dg.MetadataValue:
    """A metric value as typed Dagster metadata: an int when whole, else a float rounded to
    four significant digits (``expected_high 0.03192``, not ``0.031920393308883056``).

    >>> display_number(0.031920393308883056), display_number(5000.0)
    (FloatMetadataValue(value=0.03192), IntMetadataValue(value=5000))
    """
    value = _rounded(x)
    if value is None:
        return dg.MetadataValue.float(float(x))
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    return dg.MetadataValue.float(value)


def _plural_note(verdict: Verdict, unit: str) -> Verdict:
    """Keep "(1 of 7 materializations)" plural: the detector singularizes the unit for a
    history of one, which suits "from the last 1 materialization" but not the count of needed
    ones."""
    singular = f" {unit[:-1]}) to judge"
    if verdict.status is Status.INSUFFICIENT_HISTORY and verdict.message.endswith(singular):
        message = verdict.message[: -len(singular)] + f" {unit}) to judge"
        return dataclasses.replace(verdict, message=message)
    return verdict


def _run_partitions(context: dg.AssetCheckExecutionContext) -> list[str] | None:
    """The partition(s) the run targets, or None for an unpartitioned run."""
    if context.has_partition_key:
        return [context.partition_key]
    if context.has_partition_key_range:
        try:
            return list(context.partition_keys)
        except Exception:  # a range whose keys the check cannot list: judge the newest
            return None
    return None


def _runtime_partitions_def(
    context: dg.AssetCheckExecutionContext, key: dg.AssetKey
) -> dg.PartitionsDefinition | None:
    """The asset's partitions as the run's job knows them (None when it does not)."""
    try:
        return context.job_def.asset_layer.asset_graph.get(key).partitions_def
    except Exception:  # the asset is not part of the job: partitions come from the log
        return None
