"""Dagster asset checks that judge each materialization against the asset's own history.

Open-source Dagster checks metadata against fixed bounds (``build_metadata_bounds_checks``);
these checks learn the bounds from the asset's past materializations instead::

    import dagster as dg
    from datacanary.integrations.dagster import build_anomaly_checks, profile_metadata

    @dg.asset
    def orders() -> dg.MaterializeResult:
        frame = load_orders()
        return dg.MaterializeResult(metadata=profile_metadata(frame))

    defs = dg.Definitions(
        assets=[orders],
        asset_checks=build_anomaly_checks(assets=[orders], blocking=True),
    )

* :func:`build_anomaly_checks` — the newest value of numeric materialization metadata
  (``dagster/row_count`` by default) judged by a :mod:`datacanary.series` detector against
  the materializations before it, or against the other partitions; "cannot judge yet" passes
  with a sentence, a missing or non-numeric value fails with one.
* :func:`build_outlier_check` — a row-level check on the asset's data that fails when the
  share of outlier rows is above a bound, with the top rows and why in its metadata.
* :func:`profile_metadata` — a table's row count, schema and per-column metrics as the
  metadata those checks read.
* :func:`build_alert_sensor` — a sensor that sends failed check evaluations to datacanary
  alert sinks (Slack, webhook, e-mail, Kafka, stdout).

Needs the ``dagster`` extra: ``pip install 'datacanary[dagster]'``. See docs/dagster.md.
"""

from __future__ import annotations

try:
    import dagster  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from datacanary.errors import MissingDependencyError

    raise MissingDependencyError.for_extra("dagster", "Dagster asset checks") from exc

from datacanary.integrations.dagster._alerts import build_alert_sensor
from datacanary.integrations.dagster._anomaly import build_anomaly_checks
from datacanary.integrations.dagster._outlier import build_outlier_check
from datacanary.integrations.dagster._profile import profile_metadata

__all__ = [
    "build_alert_sensor",
    "build_anomaly_checks",
    "build_outlier_check",
    "profile_metadata",
]
