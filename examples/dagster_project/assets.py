"""The example's assets: a shop's daily orders, cleaned, and the day's revenue per country.

``raw_orders`` stands in for an extract from an operational database: one partition per day,
about 2,000 orders (fewer at weekends), with the odd broken row a real shop has. Its run
config can inject an incident, so you can watch the checks catch it:

* ``partial_load``: only a third of the day's orders arrive;
* ``missing_emails``: a broken join leaves 40 % of the e-mails empty;
* ``bad_rows``: one order in eight has an impossible amount, quantity or discount.

Every asset returns its table and records datacanary's profile of it as materialization
metadata (``dagster/row_count``, ``dagster/column_schema``, per-column null counts and
fractions); that is the history the anomaly checks read.

``context`` is left unannotated: under ``from __future__ import annotations`` its annotation
would be a string, which Dagster refuses for ``context``.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import pandas as pd

from datacanary.integrations.dagster import profile_metadata

DAILY = dg.DailyPartitionsDefinition(start_date="2024-05-01", end_offset=0)
"""One partition per day; the example's history starts on 1 May 2024."""

INCIDENTS = ("none", "partial_load", "missing_emails", "bad_rows")


@dg.asset(
    partitions_def=DAILY,
    group_name="shop",
    kinds={"pandas"},
    config_schema={
        "incident": dg.Field(
            dg.Enum("Incident", [dg.EnumValue(name) for name in INCIDENTS]),
            default_value="none",
            description="Inject an incident into the day's extract (for trying the checks).",
        )
    },
)
def raw_orders(context) -> pd.DataFrame:  # type: ignore[no-untyped-def]  # see module doc
    """The day's orders as extracted from the shop database."""
    from datacanary.demo.sample import orders

    incident = context.op_execution_context.op_config["incident"]
    day = datetime.strptime(context.partition_key, "%Y-%m-%d")
    seed = day.toordinal()
    weekly = 0.85 if day.weekday() >= 5 else 1.0
    rows = int(2000 * weekly) + seed % 41 - 20
    if incident == "partial_load":
        rows //= 3
    frame = orders(
        rows,
        day=day,
        seed=seed,
        anomaly_fraction=0.125 if incident == "bad_rows" else 0.003,
        null_email_fraction=0.4 if incident == "missing_emails" else 0.02,
    ).drop(columns=["is_injected", "anomaly_kind"])
    context.add_output_metadata(profile_metadata(frame))
    return frame


@dg.asset(partitions_def=DAILY, group_name="shop", kinds={"pandas"})
def orders(context, raw_orders: pd.DataFrame) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Cleaned orders: no test orders, no duplicate order ids."""
    frame = raw_orders.drop_duplicates("order_id")
    frame = frame[~frame["customer_email"].fillna("").str.endswith("@test.example")]
    context.add_output_metadata(profile_metadata(frame, metrics=["row_count"]))
    return frame


@dg.asset(partitions_def=DAILY, group_name="shop", kinds={"pandas"})
def daily_revenue(context, orders: pd.DataFrame) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Revenue and order count per country for the day."""
    summary = (
        orders.groupby("country", as_index=False)
        .agg(revenue=("amount", "sum"), orders=("order_id", "count"))
        .sort_values("revenue", ascending=False)
    )
    context.add_output_metadata(
        {
            "dagster/row_count": len(summary),
            "revenue": float(summary["revenue"].sum()),
            "orders": int(summary["orders"].sum()),
        }
    )
    return summary
