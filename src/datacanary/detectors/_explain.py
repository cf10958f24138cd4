"""Why a row was flagged: the few input columns whose values are most unusual on their own.

Each input column's value in the row is compared with that column in the training table:

* numbers, timestamps: the robust z-score the encoder uses, ``(x - median) / robust scale``,
  written ``amount (+8.1σ)``; infinities ``amount (+inf)``; a value off a column's point mass,
  among the other values: ``discount (+6.2σ among values other than 0)``;
* a bound the column keeps, in words with the values: ``quantity (-3 is below the smallest
  value ever seen, 1)``, ``amount (-45.20 is negative; never in training)``, or, when a few
  training rows were beyond it, ``quantity (-3 is below 1, the smallest value on 99.7% of
  rows)``;
* a duration between datetime columns: ``shipped_at (2.1 days before created_at; never in
  training)``, or its z, ``shipped_at (+4.2σ after created_at)``;
* a product or ratio the table keeps: ``amount (120.00 is not quantity × unit_price: 3 × 25.00
  = 75.00; equal on 70% of rows)``;
* categories, booleans, hours of the day, weekdays: the share of training rows with the same
  value, written ``country (rare: 0.1%)``, ``is_test (true: 0.5% of rows)``,
  ``created_at (hour 03: 0.2% of rows)``; a value never seen in training is ``(unseen value)``;
* nulls: ``email (missing: 2.0% of rows)``, or ``(missing: never in training)``.

To rank columns of different kinds on one scale, a value's *tail* -- the share of training rows
whose value is at most as common as this one -- counts as the two-sided normal z-score with the
same tail probability, ``Φ⁻¹(1 - tail/2)`` (0.1% -> 3.3σ, 5% -> 2.0σ). The tail, not the share,
so that evenly spread values (24 hours of about 4% each) are not called rare. A broken bound or
relation ranks by its encoded size (its z plus the jump for an event the training rows almost
never show), so it comes first. The ``n_explain`` columns with the largest ``|z|`` of at least 2
are listed, most unusual first (a column once, by its most unusual finding). When no column
reaches 2, the row is unusual only as a combination of ordinary values and the text says so:
``unusual combination; closest: amount (+1.8σ), country (rare: 12%)``.

The explanation is about the data, not the model's internals: it is the same for every
detector and costs one pass over the flagged rows. It prints rarities, not values, except for a
broken bound or relation, which cannot be read without the numbers it breaks.
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
    _BoolPlan,
    _categories,
    _CategoryPlan,
    _Column,
    _datetime_parts,
    _DatetimePlan,
    _DurationPlan,
    _floats,
    _NumericPlan,
    _ProductPlan,
    _Scale,
    _share_text,
)
from datacanary.detectors._robust import mass_z

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MIN_SURPRISE", "explain"]

MIN_SURPRISE = 2.0
"""Columns are named when their (equivalent) |z| is at least this."""

_Describe = Callable[[int], str]
_Finding = tuple[np.ndarray, _Describe]


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


def _number_text(value: float, integer: bool = False) -> str:
    """A value as a person writes it: ``3``, ``25.00``, ``0.004``, ``1.2e+09``."""
    if math.isinf(value) or math.isnan(value):
        return str(value)
    if value == 0 or (integer and value == round(value) and abs(value) < 1e15):
        return f"{int(value):,}"
    if 0.01 <= abs(value) < 1e9:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _duration_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``5.2 hours``, ``2.1 days``."""
    size = abs(seconds)
    if size < 60:
        return f"{size:.0f} s"
    if size < 3600:
        return f"{size / 60:.0f} min"
    if size < 86400 * 2:
        return f"{size / 3600:.1f} hours"
    return f"{size / 86400:.1f} days"


def _seen_text(share: float) -> str:
    """How often training rows broke a rule: 'never in training' or '0.3% of training rows'."""
    return "never in training" if share <= 0 else f"{_share_text(share)} of training rows"


def _missing_text(plan: _Column) -> str:
    if plan.missing_share <= 0:
        return "missing: never in training"
    return f"missing: {_share_text(plan.missing_share)} of rows"


def _missing_z(plan: _Column) -> float:
    shares = {MISSING: plan.missing_share, "": 1.0 - plan.missing_share}
    return float(_surprise(shares, [MISSING], 0.5 / plan.n_rows)[1][0])


def _bound_text(scale: _Scale, side: int, value: str, show: Callable[[float], str]) -> str:
    """``-3 is below the smallest value ever seen, 1`` and the like."""
    if side < 0:
        assert scale.floor is not None
        bound, share, word, edge = scale.floor, scale.below_share, "below", "smallest"
        sign = "negative"
    else:
        assert scale.ceiling is not None
        bound, share, word, edge = scale.ceiling, scale.above_share, "above", "largest"
        sign = "positive"
    if bound == 0:
        return f"{value} is {sign}; {_seen_text(share)}"
    if share <= 0:
        return f"{value} is {word} the {edge} value ever seen, {show(bound)}"
    kept = f"{100 * (1 - share):.1f}%"
    return f"{value} is {word} {show(bound)}, the {edge} value on {kept} of rows"


def _scaled(scale: _Scale, x: np.ndarray, show: Callable[[float], str]) -> _Finding:
    """Surprise and text of numbers judged by ``scale``: bounds first, then the robust z."""
    beyond = scale.beyond(x)
    encoded = np.abs(scale.encode(x))
    z = scale.z(x)
    if scale.mass is not None:
        on = x == scale.mass
        surprise = np.where(on, 0.0, mass_z(z, scale.off_share))
        other = f" among values other than {show(scale.mass)}"
    else:
        on = np.zeros(len(x), dtype=bool)
        surprise, other = np.abs(z), ""
    surprise = np.where(beyond != 0, np.maximum(encoded, surprise), surprise)

    def describe(i: int) -> str:
        if beyond[i] and math.isfinite(x[i]):
            return _bound_text(scale, int(beyond[i]), show(float(x[i])), show)
        if on[i]:
            return f"{show(float(x[i]))}, as on {_share_text(1 - scale.off_share)} of rows"
        return _sigma_text(float(z[i])) + other

    return surprise, describe


def _numeric(plan: _NumericPlan, values: pd.Series) -> _Finding:
    x = _floats(values, "timedelta")
    missing = np.isnan(x)

    def show(value: float) -> str:
        return _number_text(value, plan.integer)

    surprise, describe = _scaled(plan.values, x, show)

    def describe_number(i: int) -> str:
        return _missing_text(plan) if missing[i] else describe(i)

    return np.where(missing, _missing_z(plan), surprise), describe_number


def _boolean(plan: _BoolPlan, values: pd.Series) -> _Finding:
    x = _floats(values, "bool")
    missing = np.isnan(x)
    keys = np.where(missing, MISSING, np.where(x == 1.0, "true", "false"))
    shares_of = {**plan.shares, MISSING: plan.missing_share}
    shares, surprise = _surprise(shares_of, list(keys), 0.5 / plan.n_rows)

    def describe(i: int) -> str:
        if missing[i]:
            return _missing_text(plan)
        return f"{keys[i]}: {_share_text(float(shares[i]))} of rows"

    return surprise, describe


def _categorical(plan: _CategoryPlan, values: pd.Series) -> _Finding:
    keys = _categories(values)
    shares, surprise = _surprise(plan.shares, list(keys), plan.unseen_tail)

    def describe(i: int) -> str:
        if keys[i] == MISSING:
            return _missing_text(plan) if shares[i] > 0 else "missing: never in training"
        if shares[i] <= 0:
            return "unseen value"
        share = _share_text(float(shares[i]))
        return f"rare: {share}" if surprise[i] >= MIN_SURPRISE else f"{share} of rows"

    return surprise, describe


def _datetime(plan: _DatetimePlan, values: pd.Series) -> _Finding:
    parts = _datetime_parts(values)
    missing = np.isnan(parts[""])
    candidates: list[_Finding] = []
    if plan.seconds is not None:
        z = plan.seconds.z(parts[""])
        candidates.append((np.abs(z), lambda i: _sigma_text(float(z[i]))))
    for suffix, shares_of in plan.part_shares.items():
        if suffix not in plan.cycles:
            continue
        slot = np.nan_to_num(np.floor(parts[suffix]), nan=0.0).astype(int)
        shares, surprise = _surprise(shares_of, [int(s) for s in slot], 0.5 / plan.n_rows)

        def describe(i: int, slot: np.ndarray = slot, shares: np.ndarray = shares,
                     hour: bool = suffix == ":hour") -> str:  # fmt: skip
            what = f"hour {slot[i]:02d}" if hour else _WEEKDAYS[slot[i] % 7]
            share = float(shares[i])
            return f"{what}: {_share_text(share)} of rows" if share > 0 else f"{what}: unseen"

        candidates.append((surprise, describe))
    if not candidates:
        return np.where(missing, _missing_z(plan), 0.0), lambda i: _missing_text(plan)
    best, pick = _best(candidates)
    return np.where(
        missing, _missing_z(plan), best
    ), lambda i: _missing_text(plan) if missing[i] else pick(i)


def _duration(plan: _DurationPlan, rows: pd.DataFrame) -> _Finding:
    seconds = plan.seconds(rows)
    known = ~np.isnan(seconds)
    surprise, describe = _scaled(plan.values, seconds, _duration_text)
    beyond = plan.values.beyond(seconds)

    def describe_duration(i: int) -> str:
        if beyond[i] < 0 and plan.values.floor == 0:
            before = f"{_duration_text(float(seconds[i]))} before {plan.base}"
            return f"{before}; {_seen_text(plan.values.below_share)}"
        if beyond[i]:
            text = _bound_text(
                plan.values, int(beyond[i]), _duration_text(seconds[i]), _duration_text
            )
            return f"{text} after {plan.base}"
        return f"{describe(i)} after {plan.base}"

    return np.where(known, surprise, 0.0), describe_duration


def _product(plan: _ProductPlan, rows: pd.DataFrame, integers: Mapping[str, bool]) -> _Finding:
    predicted, actual = plan.predict(rows)
    residual = plan.residuals(rows)
    known = ~np.isnan(residual)
    scale = plan.residual
    encoded = np.abs(np.nan_to_num(scale.encode(residual), nan=0.0))
    z = scale.z(residual)
    if scale.mass is not None and scale.off_share > 0:
        surprise = np.where(residual == scale.mass, 0.0, mass_z(z, scale.off_share))
    else:
        surprise = encoded  # it always held: any break is news
    left = _floats(rows[plan.left], "timedelta")
    right = _floats(rows[plan.right], "timedelta") if plan.right else None

    def show(column: str, value: float) -> str:
        return _number_text(float(value), integers.get(column, False))

    if plan.right:
        formula = f"{plan.left} × {plan.right}"
    else:
        formula = f"{_number_text(plan.factor)} × {plan.left}"

    def describe(i: int) -> str:
        if right is not None:
            terms = f"{show(plan.left, left[i])} × {show(str(plan.right), right[i])}"
        else:
            terms = f"{_number_text(plan.factor)} × {show(plan.left, left[i])}"
        return (
            f"{show(plan.column, actual[i])} is not {formula}: {terms} = "
            f"{_number_text(float(predicted[i]))}; equal on {_share_text(plan.holds)} of rows"
        )

    return np.where(known, np.nan_to_num(surprise, nan=0.0), 0.0), describe


def _best(candidates: Sequence[_Finding]) -> _Finding:
    """The most surprising of several findings about one column, row by row."""
    stacked = np.nan_to_num(np.vstack([c[0] for c in candidates]), nan=0.0)
    best = np.argmax(stacked, axis=0)
    return stacked.max(axis=0), lambda i: candidates[best[i]][1](i)


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
    findings: dict[str, list[_Finding]] = {}
    integers = {p.column: p.integer for p in encoder.plans_ if isinstance(p, _NumericPlan)}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf z: fine
        for plan in encoder.plans_:
            values = subset[plan.column]
            if isinstance(plan, _NumericPlan):
                finding = _numeric(plan, values)
            elif isinstance(plan, _BoolPlan):
                finding = _boolean(plan, values)
            elif isinstance(plan, _DatetimePlan):
                finding = _datetime(plan, values)
            else:
                finding = _categorical(plan, values)
            findings.setdefault(plan.column, []).append(finding)
        for relation in encoder.relations_:
            if isinstance(relation, _DurationPlan):
                finding = _duration(relation, subset)
            else:
                finding = _product(relation, subset, integers)
            findings.setdefault(relation.column, []).append(finding)
    columns = []
    for name, found in findings.items():
        surprise, describe = found[0] if len(found) == 1 else _best(found)
        columns.append((name, np.nan_to_num(surprise, nan=0.0, posinf=np.inf), describe))
    matrix = np.column_stack([c[1] for c in columns])
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :n_explain]
    notable = (np.take_along_axis(matrix, order, axis=1) >= MIN_SURPRISE).tolist()
    texts = []
    for i, (ranked, marks) in enumerate(zip(order.tolist(), notable, strict=True)):
        top = [j for j, mark in zip(ranked, marks, strict=True) if mark]
        pieces = ", ".join(f"{columns[j][0]} ({columns[j][2](i)})" for j in top or ranked)
        texts.append(pieces if top else f"unusual combination; closest: {pieces}")
    return texts
