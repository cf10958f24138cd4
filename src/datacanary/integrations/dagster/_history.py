"""Reading an asset's materialization history from a Dagster instance.

The value under test is the newest materialization (of the run's partition, when the run has
one); its baseline is what came *before* it, never itself:

* ``same_partition``: the earlier materializations of the same partition (of the asset, when
  it is not partitioned), newest ``limit`` of them;
* ``other_partitions``: the newest materialization of each other partition, for time
  partitions only the ``limit`` partitions before this one (a backfill of an old day is not
  judged against the days after it), for other partitions the others in definition order.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dagster as dg

_PAGE = 500


@dataclass(frozen=True)
class Materialization:
    """One materialization of an asset (partition): where it is in the log and its metadata.

    ``at`` is when the value belongs: the start of its time partition when the baseline is
    the other partitions of a time-partitioned asset, else when it was materialized.
    """

    storage_id: int
    run_id: str
    partition: str | None
    at: datetime
    metadata: Mapping[str, Any]


def _materialization(
    record: dg.EventLogRecord, at: datetime | None = None
) -> Materialization | None:
    event = record.asset_materialization
    if event is None:
        return None
    return Materialization(
        storage_id=record.storage_id,
        run_id=record.run_id,
        partition=record.partition_key,
        at=at or datetime.fromtimestamp(record.timestamp, tz=timezone.utc),
        metadata=event.metadata,
    )


def newest_materialization(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    *,
    partitions: Sequence[str] | None = None,
    run_id: str | None = None,
) -> Materialization | None:
    """The materialization to judge: this run's own if it made one, else the newest.

    The run's own materialization is read from the run's event log (by run id), however many
    other runs materialized the asset since, so a check never judges another run's value
    when its run made one. Only a run that made none (a check run on its own) judges the
    newest materialization. ``partitions`` limits both to the run's partition(s).
    """
    if run_id is not None:
        own = _own_materialization(instance, key, run_id, partitions)
        if own is not None:
            return own
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=1
    )
    records = list(result.records)
    return _materialization(records[0]) if records else None


def _own_materialization(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    run_id: str,
    partitions: Sequence[str] | None,
) -> Materialization | None:
    """The newest materialization of ``key`` (in ``partitions``) that run ``run_id`` made."""
    wanted = None if partitions is None else set(partitions)
    cursor: str | None = None
    while True:
        page = instance.get_records_for_run(
            run_id,
            cursor=cursor,
            of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
            limit=_PAGE,
            ascending=False,
        )
        for record in page.records:
            if record.asset_key != key:
                continue
            if wanted is not None and record.partition_key not in wanted:
                continue
            return _in_asset_log(instance, key, record)
        if not page.has_more:
            return None
        cursor = page.cursor


def _in_asset_log(
    instance: dg.DagsterInstance, key: dg.AssetKey, record: dg.EventLogRecord
) -> Materialization | None:
    """``record`` (from a run's log) as the asset's log has it.

    Run-sharded storages (the default SQLite instance) number a run's events apart from the
    asset index; the history before a materialization is read by the asset index's storage
    id, so the same event is looked up there by its run and timestamp.
    """
    partitions = [record.partition_key] if record.partition_key is not None else None
    around = dg.AssetRecordsFilter(
        asset_key=key,
        asset_partitions=partitions,
        after_timestamp=record.timestamp - 1e-3,
        before_timestamp=record.timestamp + 1e-3,
    )
    result = instance.fetch_materializations(around, limit=_PAGE)
    same = [r for r in result.records if r.run_id == record.run_id]
    return _materialization(same[0] if same else record)


def same_partition_history(
    instance: dg.DagsterInstance, key: dg.AssetKey, target: Materialization, limit: int
) -> list[Materialization]:
    """The ``limit`` materializations before ``target`` of its partition, oldest first."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=key,
            asset_partitions=[target.partition] if target.partition is not None else None,
            before_storage_id=target.storage_id,
        ),
        limit=limit,
    )
    found = [m for m in map(_materialization, result.records) if m is not None]
    return found[::-1]


def other_partitions_history(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    target: Materialization,
    partitions_def: dg.PartitionsDefinition | None,
    limit: int,
) -> list[Materialization]:
    """The newest materialization of each partition ``target`` is compared with, in order.

    Without a partitions definition (an asset known only by its key and not in the run's
    job), the other partitions are taken in the order they were last materialized.
    """
    if target.partition is None:
        return same_partition_history(instance, key, target, limit)
    candidates = _partitions_before(instance, partitions_def, target.partition, limit)
    latest = _latest_per_partition(instance, key, candidates, target.partition, limit)
    if candidates is None:
        ordered = sorted(latest.values(), key=lambda m: m.storage_id)[-limit:]
        return ordered
    return [
        dataclasses.replace(m, at=partition_start(partitions_def, p) or m.at)
        for p in candidates
        if (m := latest.get(p)) is not None
    ]


def partition_start(
    partitions_def: dg.PartitionsDefinition | None, partition: str | None
) -> datetime | None:
    """When a time partition starts (None for other partitions)."""
    if partition is None or not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return None
    try:
        return partitions_def.time_window_for_partition_key(partition).start
    except Exception:  # a key the definition does not know
        return None


def _partitions_before(
    instance: dg.DagsterInstance,
    partitions_def: dg.PartitionsDefinition | None,
    partition: str,
    limit: int,
) -> list[str] | None:
    """The partitions a value of ``partition`` is compared with; None when unknown."""
    if partitions_def is None:
        return None
    try:
        keys = list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))
    except Exception:  # a definition that cannot list its keys here: fall back to the log
        return None
    if partition not in keys:
        return None
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        index = keys.index(partition)
        return keys[max(0, index - limit) : index]
    return [k for k in keys if k != partition][-limit:]


def _latest_per_partition(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    candidates: list[str] | None,
    exclude: str,
    limit: int,
) -> dict[str, Materialization]:
    """The newest materialization of each candidate partition (any partition if None)."""
    if candidates is not None and not candidates:
        return {}
    wanted = None if candidates is None else set(candidates) - {exclude}
    found: dict[str, Materialization] = {}
    cursor: str | None = None
    scanned, max_scanned = 0, max(50 * limit, 5000)
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=candidates),
            limit=_PAGE,
            cursor=cursor,
        )
        for record in result.records:
            partition = record.partition_key
            if partition is None or partition == exclude or partition in found:
                continue
            materialization = _materialization(record)
            if materialization is not None:
                found[partition] = materialization
        scanned += len(result.records)
        done = len(found) >= limit if wanted is None else len(found) >= len(wanted)
        if done or not result.has_more or scanned >= max_scanned:
            return found
        cursor = result.cursor


def numeric_value(metadata: Mapping[str, Any], key: str) -> tuple[float | None, str | None]:
    """The number stored under ``key``, or None and why it is not usable.

    Integer and float metadata count; booleans, text, JSON and the rest do not. A NaN or
    infinite float is returned as is (the detector turns it into an ``error`` verdict).
    """
    if key not in metadata:
        return None, "missing"
    entry = metadata[key]
    value = entry.value if isinstance(entry, dg.MetadataValue) else entry
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, _describe(value)
    return value, None


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"the text {shown!r}"
    return f"a {type(value).__name__}"


def numeric_history(
    history: Sequence[Materialization], key: str
) -> tuple[list[float], list[datetime]]:
    """The finite numbers stored under ``key`` in ``history`` and when each belongs.

    Materializations without a usable value are left out of the baseline.
    """
    values: list[float] = []
    times: list[datetime] = []
    for materialization in history:
        value, _ = numeric_value(materialization.metadata, key)
        if value is not None and math.isfinite(value):
            values.append(float(value))
            times.append(materialization.at)
    return values, times
