"""Why a row was flagged: the few input columns whose values are most unusual on their own.

Each input column's value in the row is compared with that column in the training table:

* numbers, timestamps: the robust z-score the encoder uses, ``(x - median) / robust scale``,
  written ``amount (+8.1σ)``; infinities ``amount (+inf)``; a timestamp's gap to the table's
  first datetime column, ``shipped_at (-4.2σ after ordered_at)``;
* categories, booleans, hours of the day, weekdays: the share of training rows with the same
  value, written ``country (rare: 0.1%)``, ``is_test (true: 0.5% of rows)``,
  ``created_at (hour 03: 0.2% of rows)``; a value never seen in training is ``(unseen value)``;
* nulls: ``email (missing: 2.0% of rows)``, or ``(missing: never in training)``.

To rank columns of different kinds on one scale, a value's *tail* -- the share of training rows
whose value is at most as common as this one -- counts as the two-sided normal z-score with the
same tail probability, ``Φ⁻¹(1 - tail/2)`` (0.1% -> 3.3σ, 5% -> 2.0σ). The tail, not the share,
so that evenly spread values (24 hours of about 4% each) are not called rare. The
``n_explain`` columns with the largest ``|z|`` of at least 2 are listed, most unusual first.
When no column reaches 2, the row is unusual only as a combination of ordinary values and the
text says so: ``unusual combination; closest: amount (+1.8σ), country (rare: 12%)``.

The explanation is about the data, not the model's internals: it is the same for every
detector, costs one pass over the flagged rows, and never prints a value itself (only its
rarity), so alerts do not leak the data they describe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from datacanary.detectors._encode import (
    _WEEKDAYS,
    MISSING,
    TableEncoder,
    _categories,
    _datetime_parts,
    _floats,
    _Plan,
    _share_text,
    gap_seconds,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MIN_SURPRISE", "explain"]

MIN_SURPRISE = 2.0
"""Columns are named when their (equivalent) |z| is at least this."""

_Describe = Callable[[int], str]


def _z_of_share(shares: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return np.asarray(ndtri(1.0 - np.clip(shares, 1e-300, 1.0) / 2.0))


def _surprise(
    shares_of: Mapping[Any, float], keys: Sequence[Any], unseen: float
) -> tuple[np.ndarray, np.ndarray]:
    """Share of each key's value, and its surprise: z of the share of values at most as common.

    Using the tail (the value's share plus the shares of all rarer values) rather than the
    share alone keeps evenly spread values unsurprising: each of 24 equally common hours has a
    share of 4% but a tail of 100%.
    """
    levels = list(shares_of)
    level_shares = np.array([shares_of[k] for k in levels], dtype=np.float64)
    ordered = np.sort(level_shares)
    cumulative = np.cumsum(ordered)
    tails = dict(
        zip(
            levels,
            cumulative[np.searchsorted(ordered, level_shares, side="right") - 1],
            strict=True,
        )
    )
    share = np.array([shares_of.get(k, 0.0) for k in keys], dtype=np.float64)
    tail = np.array([tails.get(k, 0.0) for k in keys], dtype=np.float64)
    return share, _z_of_share(np.where(share > 0, tail, unseen))


def _sigma_text(z: float) -> str:
    if math.isinf(z):
        return "+inf" if z > 0 else "-inf"
    return f"{z:+,.0f}σ" if abs(z) >= 100 else f"{z:+.1f}σ"


def _missing_text(plan: _Plan) -> str:
    if plan.missing_share <= 0:
        return "missing: never in training"
    return f"missing: {_share_text(plan.missing_share)} of rows"


def _missing_z(plan: _Plan) -> float:
    shares = {MISSING: plan.missing_share, "": 1.0 - plan.missing_share}
    return float(_surprise(shares, [MISSING], plan.unseen_share)[1][0])


def _numeric(plan: _Plan, values: pd.Series) -> tuple[np.ndarray, _Describe]:
    x = _floats(values, "bool" if plan.kind == "bool" else "timedelta")
    missing = np.isnan(x)
    if plan.kind == "bool":
        keys = np.where(missing, MISSING, np.where(x == 1.0, "true", "false"))
        shares_of = {**plan.shares, MISSING: plan.missing_share}
        shares, surprise = _surprise(shares_of, list(keys), plan.unseen_share)

        def describe(i: int) -> str:
            if missing[i]:
                return _missing_text(plan)
            return f"{keys[i]}: {_share_text(float(shares[i]))} of rows"

        return surprise, describe
    with np.errstate(invalid="ignore"):
        z = (x - plan.center) / plan.scale
    z_list, missing_list = z.tolist(), missing.tolist()  # fast scalar access

    def describe_number(i: int) -> str:
        return _missing_text(plan) if missing_list[i] else _sigma_text(z_list[i])

    return np.where(missing, _missing_z(plan), np.abs(z)), describe_number


def _categorical(plan: _Plan, values: pd.Series) -> tuple[np.ndarray, _Describe]:
    keys = _categories(values)
    shares, surprise = _surprise(plan.shares, list(keys), plan.unseen_share)

    def describe(i: int) -> str:
        if keys[i] == MISSING:
            return _missing_text(plan) if shares[i] > 0 else "missing: never in training"
        if shares[i] <= 0:
            return "unseen value"
        share = _share_text(float(shares[i]))
        return f"rare: {share}" if surprise[i] >= MIN_SURPRISE else f"{share} of rows"

    return surprise, describe


def _datetime(plan: _Plan, values: pd.Series, rows: pd.DataFrame) -> tuple[np.ndarray, _Describe]:
    parts = _datetime_parts(values)
    missing = np.isnan(parts[""])
    candidates: list[tuple[np.ndarray, _Describe]] = []
    if "" in plan.parts:
        center, scale = plan.parts[""]
        z = (parts[""] - center) / scale
        candidates.append((np.abs(z), lambda i: _sigma_text(float(z[i]))))
    if plan.base is not None:
        gap = (gap_seconds(plan, rows) - plan.gap[0]) / plan.gap[1]
        after = f" after {plan.base}"
        candidates.append(
            (np.nan_to_num(np.abs(gap), nan=0.0), lambda i: _sigma_text(float(gap[i])) + after)
        )
    for suffix, shares_of in plan.part_shares.items():
        if suffix not in plan.cycles:
            continue
        slot = np.nan_to_num(np.floor(parts[suffix]), nan=0.0).astype(int)
        shares, surprise = _surprise(shares_of, [int(s) for s in slot], plan.unseen_share)

        def describe(i: int, slot: np.ndarray = slot, shares: np.ndarray = shares,
                     hour: bool = suffix == ":hour") -> str:  # fmt: skip
            what = f"hour {slot[i]:02d}" if hour else _WEEKDAYS[slot[i] % 7]
            share = float(shares[i])
            return f"{what}: {_share_text(share)} of rows" if share > 0 else f"{what}: unseen"

        candidates.append((surprise, describe))
    if not candidates:
        return np.where(missing, _missing_z(plan), 0.0), lambda i: _missing_text(plan)
    stacked = np.nan_to_num(np.vstack([c[0] for c in candidates]), nan=0.0)
    best = np.argmax(stacked, axis=0)
    surprise = np.where(missing, _missing_z(plan), stacked.max(axis=0))

    def describe_best(i: int) -> str:
        return _missing_text(plan) if missing[i] else candidates[best[i]][1](i)

    return surprise, describe_best


def explain(
    encoder: TableEncoder, frame: pd.DataFrame, rows: np.ndarray, n_explain: int = 3
) -> list[str]:
    """One explanation per row index in ``rows`` of ``frame`` (see the module docstring).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> frame = pd.DataFrame({"amount": [10.0, 11.0, 9.0, 10.5, 9.5] * 20,
    ...                       "country": ["DE"] * 99 + ["MT"]})
    >>> frame.loc[99, "amount"] = 90.0
    >>> encoder = TableEncoder().fit(frame)
    >>> explain(encoder, frame, np.array([99, 0]))
    ['amount (+108σ), country (rare: 1.0%)',
     'unusual combination; closest: amount (+0.0σ), country (99% of rows)']
    """
    if n_explain <= 0 or len(rows) == 0:
        return [""] * len(rows)
    subset = frame.iloc[rows].reset_index(drop=True)
    columns: list[tuple[str, np.ndarray, _Describe]] = []
    for plan in encoder.plans_:
        values = subset[plan.column]
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite z is a fine answer
            if plan.kind in ("numeric", "bool"):
                surprise, describe = _numeric(plan, values)
            elif plan.kind == "datetime":
                surprise, describe = _datetime(plan, values, subset)
            else:
                surprise, describe = _categorical(plan, values)
        columns.append((plan.column, np.nan_to_num(surprise, nan=0.0, posinf=np.inf), describe))
    matrix = np.column_stack([c[1] for c in columns])
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :n_explain]
    notable = (np.take_along_axis(matrix, order, axis=1) >= MIN_SURPRISE).tolist()
    texts = []
    for i, (ranked, marks) in enumerate(zip(order.tolist(), notable, strict=True)):
        top = [j for j, mark in zip(ranked, marks, strict=True) if mark]
        pieces = ", ".join(f"{columns[j][0]} ({columns[j][2](i)})" for j in top or ranked)
        texts.append(pieces if top else f"unusual combination; closest: {pieces}")
    return texts
