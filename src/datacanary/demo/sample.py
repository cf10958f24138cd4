"""A realistic sample: an e-commerce orders table with known, injected anomalies.

Used by ``datacanary demo`` and by tests that need a mixed-type table with ground truth.
Everything is seeded, so the same call always gives the same table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ANOMALY_KINDS", "daily_snapshots", "orders"]

COUNTRIES = ["DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "BE", "AT"]
COUNTRY_WEIGHTS = [0.24, 0.18, 0.16, 0.09, 0.09, 0.08, 0.06, 0.04, 0.03, 0.03]
CHANNELS = ["web", "app", "marketplace"]

ANOMALY_KINDS = {
    "huge_amount": "an order total 30-80x the usual for its quantity",
    "negative_quantity": "a negative quantity (a refund booked as an order)",
    "impossible_discount": "a discount above 100%",
    "ships_before_order": "shipped hours before it was placed",
    "bulk_cheap": "hundreds of items for a few euros",
}


def orders(
    n: int = 5000,
    *,
    anomaly_fraction: float = 0.015,
    day: datetime | None = None,
    seed: int = 0,
    null_email_fraction: float = 0.02,
    inject: bool = True,
) -> pd.DataFrame:
    """One day of orders; ``is_injected`` marks the rows made anomalous and ``anomaly_kind`` why.

    >>> table = orders(200, seed=1)
    >>> len(table), int(table["is_injected"].sum()) > 0
    (200, True)
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    day = day or datetime(2026, 11, 1)
    quantity = rng.geometric(0.45, n)
    unit_price = np.exp(rng.normal(3.2, 0.6, n)).round(2)
    discount = np.where(rng.random(n) < 0.3, rng.choice([0.05, 0.1, 0.15, 0.2], n), 0.0)
    amount = (quantity * unit_price * (1 - discount)).round(2)
    created = pd.Timestamp(day) + pd.to_timedelta(np.sort(rng.uniform(0, 86_400, n)), unit="s")
    promised = created + pd.to_timedelta(rng.choice([2, 3, 5], n), unit="D")
    shipped = created + pd.to_timedelta(rng.gamma(4.0, 9.0, n), unit="h")
    email = np.array([f"customer{c}@example.com" for c in rng.integers(1, 40_000, n)], dtype=object)
    email[rng.random(n) < null_email_fraction] = None
    frame = pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1) + int(seed) * 10_000_000,
            "customer_email": email,
            "country": rng.choice(COUNTRIES, n, p=COUNTRY_WEIGHTS),
            "channel": rng.choice(CHANNELS, n, p=[0.55, 0.35, 0.10]),
            "quantity": quantity,
            "unit_price": unit_price,
            "discount": discount,
            "amount": amount,
            "is_gift": rng.random(n) < 0.07,
            "created_at": created,
            "promised_at": promised,
            "shipped_at": shipped,
        }
    )
    frame["is_injected"] = False
    frame["anomaly_kind"] = ""
    if inject:
        _inject(frame, rng, anomaly_fraction)
    return frame


def _inject(frame: pd.DataFrame, rng: object, fraction: float) -> None:
    import numpy as np

    assert isinstance(rng, np.random.Generator)
    n = len(frame)
    count = max(len(ANOMALY_KINDS), round(n * fraction))
    rows = rng.choice(n, size=min(count, n), replace=False)
    kinds = list(ANOMALY_KINDS)
    for i, row in enumerate(rows):
        kind = kinds[i % len(kinds)]
        at = frame.index[row]
        if kind == "huge_amount":
            frame.loc[at, "amount"] = round(float(frame.loc[at, "amount"]) * rng.uniform(30, 80), 2)
        elif kind == "negative_quantity":
            frame.loc[at, "quantity"] = -int(rng.integers(1, 5))
            frame.loc[at, "amount"] = -abs(float(frame.loc[at, "amount"]))
        elif kind == "impossible_discount":
            frame.loc[at, "discount"] = round(float(rng.uniform(1.2, 2.0)), 2)
        elif kind == "ships_before_order":
            frame.loc[at, "shipped_at"] = frame.loc[at, "created_at"] - timedelta(
                hours=float(rng.uniform(20, 60))
            )
        elif kind == "bulk_cheap":
            frame.loc[at, "quantity"] = int(rng.integers(300, 900))
            frame.loc[at, "unit_price"] = 0.01
            frame.loc[at, "amount"] = round(float(rng.uniform(2, 6)), 2)
        frame.loc[at, "is_injected"] = True
        frame.loc[at, "anomaly_kind"] = kind


def daily_snapshots(
    days: int = 30,
    *,
    start: datetime = datetime(2026, 10, 1),
    base_rows: int = 2000,
    seed: int = 0,
) -> list[tuple[datetime, pd.DataFrame, str]]:
    """A month of daily snapshots with three incidents: ``(day, table, incident or "")``.

    Weekends carry fewer orders, so a detector must allow for the weekly rhythm. The incidents:
    a row-count drop (a partial load), a spike of missing e-mails (a broken join) and a schema
    change (a column renamed upstream).

    >>> snaps = daily_snapshots(days=12, base_rows=100)
    >>> [(day.day, incident) for day, _, incident in snaps if incident]
    [(4, 'row_count_drop'), (7, 'null_spike'), (10, 'schema_change')]
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    incidents = {days - 9: "row_count_drop", days - 6: "null_spike", days - 3: "schema_change"}
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        weekly = 0.85 if day.weekday() >= 5 else 1.0
        n = int(base_rows * weekly * (1 + 0.02 * rng.standard_normal()) + 0.5)
        incident = incidents.get(i, "")
        if incident == "row_count_drop":
            n = int(n * 0.35)
        table = orders(
            n,
            day=day,
            seed=seed * 1000 + i,
            null_email_fraction=0.45 if incident == "null_spike" else 0.02,
            inject=False,
        ).drop(columns=["is_injected", "anomaly_kind"])
        if incident == "schema_change":
            table = table.rename(columns={"amount": "amount_eur"})
        out.append((day, table, incident))
    return out
