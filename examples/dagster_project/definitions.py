"""The example's definitions: three daily assets, datacanary's checks and the alert sensor."""

from __future__ import annotations

import dagster as dg

from datacanary.integrations.dagster import (
    build_alert_sensor,
    build_anomaly_checks,
    build_outlier_check,
)

from .assets import daily_revenue, orders, raw_orders

# The day's row count and share of missing e-mails, each judged against the days before it.
# Blocking: on a partial load or a broken join, `orders` and `daily_revenue` are not built.
# Weekends carry ~15 % fewer orders, so row counts alert only on moves over 20 % of the median.
raw_orders_checks = [
    *build_anomaly_checks(
        assets=[raw_orders],
        metadata_keys=["dagster/row_count"],
        blocking=True,
        detector_params={"rel_floor": 0.2},
    ),
    *build_anomaly_checks(
        assets=[raw_orders],
        metadata_keys=["datacanary/null_fraction/customer_email"],
        blocking=True,
    ),
]

# The day's revenue against the days before it (a warning: revenue legitimately moves).
revenue_checks = build_anomaly_checks(
    assets=[daily_revenue],
    metadata_keys=["revenue"],
    detector_params={"rel_floor": 0.1},  # moves under 10 % of the median never alert
)

# Row-level: fail when more than 10 % of a day's orders stand out (on a normal day the
# automatic threshold flags 6-8 % of these heavy-tailed orders; a batch of broken rows, ~15 %).
raw_orders_outliers = build_outlier_check(
    asset=raw_orders,
    columns=["quantity", "unit_price", "discount", "amount", "country", "channel"],
    max_fraction=0.10,
)

# Failed checks to alert sinks; turn it on in the UI (Automation → datacanary_alerts).
alerts = build_alert_sensor(sinks=[{"type": "stdout"}])

ASSETS = [raw_orders, orders, daily_revenue]
CHECKS = [*raw_orders_checks, *revenue_checks, raw_orders_outliers]

defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, sensors=[alerts])
