"""From a real table (mixed types, nulls, ids) to the float matrix a detector needs.

:class:`TableEncoder` learns one plan per input column at ``fit`` and applies it at
``transform``:

========================  =====================================================================
input column              features
========================  =====================================================================
numeric                   ``(x - median) / robust scale`` (1.4826 x MAD, with fallbacks);
                          ±inf and huge values clipped to ±1e6 robust units
boolean                   0 / 1
categorical, <= 10 values one 0/1 column per value seen in training (``country=DE``); an unseen
                          value sets none of them
categorical, > 10 values  frequency encoding: ``-log`` (share of training rows with the value),
                          robust-scaled and floored at 0 (only rarer than typical counts);
                          unseen values count as rarer than any seen
datetime                  the timestamp (seconds, robust-scaled); the hour of the day and the
                          weekday on a circle (``:hour_sin``, ``:hour_cos``, ...) once the rows
                          span 2 and 14 days; for each later datetime column its gap to the
                          first one (``shipped_at-ordered_at``, seconds, robust-scaled)
timedelta                 seconds, as numeric
========================  =====================================================================

Missing values: a numeric, boolean or datetime column with nulls in training gets a 0/1
``<column>:missing`` indicator and its nulls are imputed with the median (the mode for
booleans); in a categorical column a null is a value of its own, ``(missing)``.

Columns left out, each with its reason in ``dropped_columns_``:

* ``all null`` -- no value to learn from;
* ``identifier-like: 100% unique`` -- strings that are (nearly, >= 95% with 20+ rows) all
  distinct, or integers that are all distinct and either named like an id (``id``,
  ``order_id``, ``customerId``, ``uuid``, ``key``, ``number``...) or sequential (20+ rows, 90% of
  sorted gaps equal to 1). An id makes every row unique and would drown the signal. Naming a
  column in ``columns`` keeps it anyway;
* ``constant`` -- one value and no nulls, so it cannot tell rows apart (kept only if nothing
  else is left, then every row scores the same).

Objects are typed by their values: all numbers (or numeric strings) -> numeric, all booleans
-> boolean, all dates or ISO-8601 strings -> datetime, anything else -> categorical (``str``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from numbers import Number
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from datacanary.detectors._robust import robust_center_scale
from datacanary.errors import ColumnNotFoundError, ConfigError, InputError, NotEnoughDataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CLIP", "TableEncoder", "to_frame"]

CLIP = 1e6
"""Encoded values are clipped to ±CLIP (robust units): infinities stay extreme but finite."""
MISSING = "(missing)"
"""The category a null becomes in a categorical column."""
_ID_MIN_ROWS = 20
_ID_UNIQUE_SHARE = 0.95
_ID_NAME = re.compile(
    r"(^|[_\W])(id|ids|uuid|guid|key|pk|number|no|nr)$|[a-z0-9](Id|ID|Uuid|UUID|Key)$",
    re.IGNORECASE,
)
_ID_NAME_CAMEL = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Key)$")
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_PERIODS = {":hour": 24, ":weekday": 7}
_CYCLES = {":hour": 2.0, ":weekday": 14.0}
"""Hour / weekday features need the training rows to span this many days; before that they
would only repeat the timestamp (one day of orders: the hour *is* the time)."""
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- input --------------------------------------------------------------------------------
def to_frame(data: Any) -> pd.DataFrame:
    """A pandas DataFrame with string column names from pandas, polars, pyarrow or numpy data.

    A 2-D numpy array's columns are named ``x0, x1, ...`` (scikit-learn's convention).

    >>> import numpy as np
    >>> list(to_frame(np.zeros((2, 3))).columns)
    ['x0', 'x1', 'x2']
    """
    import pandas as pd

    module = type(data).__module__.split(".")[0]
    if module == "scipy" and hasattr(data, "toarray"):
        raise InputError(
            "sparse input is not supported; pass a dense table (X.toarray()) or a DataFrame"
        )
    if not isinstance(data, (pd.DataFrame, pd.Series, np.ndarray, dict, list, tuple)) and (
        module not in ("polars", "pyarrow") and hasattr(data, "__array__")
    ):
        data = np.asarray(data)
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame()
    elif module == "polars":
        if hasattr(data, "collect"):  # LazyFrame
            data = data.collect()
        frame = data.to_pandas() if hasattr(data, "to_pandas") else data.to_frame().to_pandas()
    elif module == "pyarrow":
        frame = data.to_pandas()
    elif isinstance(data, np.ndarray):
        if data.dtype.names:  # structured array
            frame = pd.DataFrame(data)
        elif data.ndim != 2:
            raise InputError(
                f"expected a 2-D table (rows x columns); got an array of shape {data.shape}. "
                "Reshape your data, e.g. X.reshape(-1, 1) for a single column"
            )
        else:
            frame = pd.DataFrame(data, columns=[f"x{i}" for i in range(data.shape[1])])
    elif isinstance(data, (dict, list, tuple)):
        try:
            frame = pd.DataFrame(data)
        except (ValueError, TypeError) as error:
            raise InputError(f"cannot read the data as a table: {error}") from None
        if isinstance(frame.columns, pd.RangeIndex):
            frame.columns = [f"x{i}" for i in range(frame.shape[1])]
    else:
        raise InputError(
            "expected a pandas, polars or pyarrow table or a 2-D numpy array; "
            f"got {type(data).__name__}"
        )
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate column names {', '.join(map(repr, repeated))}; rename them")
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame


# -- column plans -------------------------------------------------------------------------
@dataclass
class _Plan:
    """What ``fit`` learned about one input column, and how to encode it."""

    column: str
    kind: str  # numeric | bool | onehot | frequency | datetime
    features: list[str] = field(default_factory=list)
    missing_share: float = 0.0
    indicator: bool = False
    center: float = 0.0
    scale: float = 1.0
    fill: float = 0.0  # bool: the mode
    levels: list[str] = field(default_factory=list)  # onehot
    shares: dict[str, float] = field(default_factory=dict)  # categorical / bool value shares
    unseen_share: float = 0.0
    rarity_center: float = 0.0  # frequency encoding
    rarity_scale: float = 1.0
    parts: dict[str, tuple[float, float]] = field(default_factory=dict)  # datetime part -> c, s
    cycles: list[str] = field(default_factory=list)  # datetime: ":hour" / ":weekday" encoded
    part_shares: dict[str, dict[int, float]] = field(default_factory=dict)
    base: str | None = None  # datetime: the first datetime column, for the gap feature
    gap: tuple[float, float] = (0.0, 1.0)
    n_rows: int = 0


def _kind(values: pd.Series) -> str:
    """numeric | bool | datetime | categorical, from the dtype or, for objects, the values."""
    import pandas as pd
    from pandas.api import types

    if types.is_bool_dtype(values.dtype):
        return "bool"
    if types.is_datetime64_any_dtype(values.dtype):
        return "datetime"
    if types.is_timedelta64_dtype(values.dtype):
        return "timedelta"
    if types.is_complex_dtype(values.dtype):
        raise InputError(
            f"Complex data not supported: column {values.name!r} holds complex numbers; "
            "convert it to real numbers (e.g. its abs()) or exclude it"
        )
    if types.is_numeric_dtype(values.dtype):
        return "numeric"
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "categorical"
    present = values.dropna()
    if len(present) == 0:
        return "categorical"
    sample = present.iloc[:: max(1, len(present) // 1000)]  # type check on <= ~1000 values
    if all(isinstance(v, (bool, np.bool_)) for v in sample) and all(
        isinstance(v, (bool, np.bool_)) for v in present
    ):
        return "bool"
    if all(isinstance(v, date) for v in sample) and all(isinstance(v, date) for v in present):
        return "datetime"
    if all(isinstance(v, str) and _ISO_DATE.match(v) for v in sample) and all(
        isinstance(v, str) and _ISO_DATE.match(v) for v in present
    ):
        return "datetime"
    if all(
        isinstance(v, (Number, str)) and not isinstance(v, (bool, np.bool_, complex))
        for v in sample
    ):
        converted = pd.to_numeric(present, errors="coerce")
        if not converted.isna().any():
            return "numeric"
    return "categorical"


def _bool_float(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return 1.0 if value.strip().lower() == "true" else 0.0
    if isinstance(value, Number) and not isinstance(value, complex) and value in (0, 1):
        return float(value)  # type: ignore[arg-type]
    return np.nan


def _floats(values: pd.Series, kind: str) -> np.ndarray:
    """The column as float64 with NaN for nulls and unreadable values."""
    import pandas as pd
    from pandas.api import types

    if kind == "timedelta" and types.is_timedelta64_dtype(values.dtype):
        seconds = values.dt.total_seconds()
        return np.asarray(seconds.to_numpy(dtype=np.float64, na_value=np.nan), np.float64)
    if kind == "bool":
        if types.is_bool_dtype(values.dtype):
            return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), np.float64)
        return np.fromiter((_bool_float(v) for v in values), np.float64, count=len(values))
    if types.is_numeric_dtype(values.dtype) and not types.is_complex_dtype(values.dtype):
        converted = values
    else:
        if values.dtype == object:  # unhashable or odd objects cannot be numbers
            values = values.map(lambda v: v if isinstance(v, (Number, str)) else None)
        try:
            converted = pd.to_numeric(values, errors="coerce")
        except (TypeError, ValueError):
            return np.full(len(values), np.nan)
    return np.asarray(converted.to_numpy(dtype=np.float64, na_value=np.nan), np.float64)


def _datetimes(values: pd.Series) -> pd.Series:
    """The column as datetime64 (timezone-aware columns keep their wall clock)."""
    import pandas as pd
    from pandas.api import types

    if types.is_datetime64_any_dtype(values.dtype):
        return values
    if values.dropna().map(lambda v: isinstance(v, str)).all():
        return pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    return pd.to_datetime(values, errors="coerce", utc=True)


def _datetime_parts(values: pd.Series) -> dict[str, np.ndarray]:
    import pandas as pd

    stamps = _datetimes(values)
    zero = pd.Timestamp(0, tz=stamps.dt.tz) if stamps.dt.tz is not None else pd.Timestamp(0)
    seconds = ((stamps - zero) / pd.Timedelta(seconds=1)).to_numpy(np.float64, na_value=np.nan)
    hours = (stamps.dt.hour + stamps.dt.minute / 60.0).to_numpy(np.float64, na_value=np.nan)
    weekdays = stamps.dt.day_of_week.to_numpy(np.float64, na_value=np.nan)
    return {"": seconds, ":hour": hours, ":weekday": weekdays}


def gap_seconds(plan: _Plan, frame: pd.DataFrame) -> np.ndarray:
    """Seconds from the plan's base datetime column to its own column (NaN if either is null)."""
    assert plan.base is not None
    return _datetime_parts(frame[plan.column])[""] - _datetime_parts(frame[plan.base])[""]


def _varies(values: np.ndarray) -> bool:
    """More than one distinct value (NaN-free input)."""
    return len(values) > 1 and bool(np.any(values != values[0]))


def _categories(values: pd.Series) -> np.ndarray:
    """Each value as a string key; nulls become :data:`MISSING`."""
    keys = values.astype(str).to_numpy(dtype=object)
    keys[values.isna().to_numpy()] = MISSING
    return keys


def _share_text(share: float) -> str:
    if share < 0.001:
        return "<0.1%"
    return f"{100 * share:.1f}%" if share < 0.1 else f"{100 * share:.0f}%"


def _identifier_reason(name: str, values: pd.Series, kind: str) -> str | None:
    import pandas as pd

    if kind not in ("numeric", "categorical"):
        return None
    named = bool(_ID_NAME.search(name) or _ID_NAME_CAMEL.search(name))
    if kind == "categorical":
        present = values.dropna()
        n = len(present)
        if n < 2:
            return None
        unique = len(pd.unique(_categories(present)))
        share = unique / n
        if (named and unique == n) or (n >= _ID_MIN_ROWS and share >= _ID_UNIQUE_SHARE):
            return f"identifier-like: {share:.0%} unique"
        return None
    numbers = _floats(values, "numeric")
    numbers = numbers[~np.isnan(numbers)]
    n = len(numbers)
    if n < 2 or not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
        return None  # ids are whole numbers: measures with fractions end here, cheaply
    ordered = np.sort(numbers)
    gaps = np.diff(ordered)
    if np.any(gaps == 0):
        return None  # a repeated value: not an id
    sequential = n >= _ID_MIN_ROWS and float(np.mean(gaps == 1)) >= 0.9
    if named or sequential:
        return "identifier-like: 100% unique"
    return None


# -- the encoder --------------------------------------------------------------------------
class TableEncoder(TransformerMixin, BaseEstimator):
    """Encode a table of mixed columns as a float matrix (see the module docstring).

    Parameters
    ----------
    columns : list of str or None, default=None
        Input columns to use (all by default). Named columns are kept even if identifier-like.
    exclude : list of str or None, default=None
        Input columns to leave out.
    max_onehot : int, default=10
        Categorical columns with at most this many values (null included) are one-hot encoded,
        others frequency-encoded.

    Attributes
    ----------
    feature_names_ : list of str
        Names of the output columns, e.g. ``amount``, ``amount:missing``, ``country=DE``.
    source_columns_ : dict of str to str
        Output column -> the input column it comes from.
    dropped_columns_ : dict of str to str
        Input column left out -> why (``"all null"``, ``"constant"``,
        ``"identifier-like: 100% unique"``).
    columns_ : list of str
        Input columns used, in input order.
    n_features_in_ : int
        Number of input columns seen at ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "order_id": range(1, 31),
    ...     "amount": [10.0, 12.5, None] * 10,
    ...     "country": ["DE", "FR", "DE"] * 10,
    ...     "empty": [None] * 30,
    ... })
    >>> encoder = TableEncoder().fit(frame)
    >>> encoder.feature_names_
    ['amount', 'amount:missing', 'country=DE', 'country=FR']
    >>> encoder.dropped_columns_
    {'order_id': 'identifier-like: 100% unique', 'empty': 'all null'}
    >>> encoder.transform(frame)[:3].round(2)
    array([[-0.67,  0.  ,  1.  ,  0.  ],
           [ 0.67,  0.  ,  0.  ,  1.  ],
           [ 0.  ,  1.  ,  1.  ,  0.  ]])
    """

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        max_onehot: int = 10,
    ) -> None:
        self.columns = columns
        self.exclude = exclude
        self.max_onehot = max_onehot

    # -- fit ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> TableEncoder:
        """Learn each column's plan from the table ``X`` (pandas, polars, pyarrow or numpy)."""
        if not isinstance(self.max_onehot, int) or self.max_onehot < 1:
            raise ConfigError(f"max_onehot must be a positive integer; got {self.max_onehot!r}")
        frame = to_frame(X)
        n_rows, n_cols = frame.shape
        if n_cols == 0:
            raise InputError(
                f"the table has 0 feature(s) (shape=({n_rows}, 0)) while a minimum of 1 is "
                "required; pass a table with at least one column"
            )
        if n_rows == 0:
            raise NotEnoughDataError(
                f"the table has 0 rows (n_samples=0, {n_cols} columns); pass at least one row"
            )
        self.n_features_in_ = n_cols
        names = self._selected(list(frame.columns))
        explicit = set(self.columns or ())
        plans: list[_Plan] = []
        constant: list[_Plan] = []
        dropped: dict[str, str] = {}
        for name in names:
            values = frame[name]
            if values.isna().all():
                dropped[name] = "all null"
                continue
            kind = _kind(values)
            reason = None if name in explicit else _identifier_reason(name, values, kind)
            if reason:
                dropped[name] = reason
                continue
            plan = self._plan(name, values, kind)
            if not plan.features:
                dropped[name] = "constant"
                constant.append(self._plan(name, values, kind, keep_constant=True))
                continue
            plans.append(plan)
        if not plans and constant:  # nothing varies: keep the constants, every row ties
            plans = constant
            for plan in constant:
                dropped.pop(plan.column)
        if not plans:
            why = "; ".join(f"{c}: {r}" for c, r in dropped.items()) or "no columns selected"
            raise InputError(
                f"no usable feature column ({why}); pass columns=[...] naming numeric, "
                "categorical, boolean or datetime columns"
            )
        order = {name: i for i, name in enumerate(names)}
        plans.sort(key=lambda p: order[p.column])
        self._add_gaps(frame, plans)
        self.plans_ = plans
        self.columns_ = [p.column for p in plans]
        self.feature_names_ = [f for p in plans for f in p.features]
        self.source_columns_ = {f: p.column for p in plans for f in p.features}
        self.dropped_columns_ = {c: dropped[c] for c in names if c in dropped}
        return self

    @staticmethod
    def _add_gaps(frame: pd.DataFrame, plans: list[_Plan]) -> None:
        """Each later datetime column also gets its gap to the first (``shipped_at-ordered_at``)."""
        stamps = [p for p in plans if p.kind == "datetime" and "" in p.parts]
        if len(stamps) < 2:
            return
        first = stamps[0]
        start = _datetime_parts(frame[first.column])[""]
        for plan in stamps[1:]:
            gap = _datetime_parts(frame[plan.column])[""] - start
            present = gap[~np.isnan(gap)]
            if _varies(present):
                center, scale = robust_center_scale(present[:, None])
                plan.base, plan.gap = first.column, (float(center[0]), float(scale[0]))
                at = len(plan.parts) + 2 * len(plan.cycles)  # after the time features
                plan.features.insert(at, f"{plan.column}-{first.column}")

    def _selected(self, available: list[str]) -> list[str]:
        for given in (self.columns, self.exclude):
            if given is None:
                continue
            if isinstance(given, str):
                raise ConfigError(
                    f"columns and exclude take a list of column names; got the string {given!r}"
                    f" (write [{given!r}])"
                )
            missing = [str(c) for c in given if str(c) not in available]
            if missing:
                raise ColumnNotFoundError.from_missing(missing, available)
        chosen = [str(c) for c in self.columns] if self.columns is not None else available
        excluded = {str(c) for c in self.exclude or ()}
        return [c for c in chosen if c not in excluded]

    def _plan(self, name: str, values: pd.Series, kind: str, keep_constant: bool = False) -> _Plan:
        n = len(values)
        missing = values.isna().to_numpy()
        plan = _Plan(column=name, kind=kind, n_rows=n, missing_share=float(missing.mean()))
        plan.unseen_share = 0.5 / n
        if kind in ("numeric", "timedelta", "bool"):
            x = _floats(values, kind)
            missing = np.isnan(x)
            plan.missing_share = float(missing.mean())
            present = x[~missing]
            if kind == "bool":
                plan.kind = "bool"
                true_share = float(present.mean()) if len(present) else 0.0
                plan.shares = {"true": true_share * (1 - plan.missing_share)}
                plan.shares["false"] = (1 - true_share) * (1 - plan.missing_share)
                plan.fill = 1.0 if true_share >= 0.5 else 0.0
                varies = _varies(present)
            else:
                plan.kind = "numeric"
                finite = np.where(np.isfinite(present), present, np.nan)[:, None]
                center, scale = robust_center_scale(finite)
                plan.center, plan.scale = float(center[0]), float(scale[0])
                varies = _varies(present)
            plan.indicator = bool(missing.any())
            if varies or keep_constant:
                plan.features.append(name)
            if plan.indicator:
                plan.features.append(f"{name}:missing")
            return plan
        if kind == "datetime":
            parts = _datetime_parts(values)
            missing = np.isnan(parts[""])
            plan.missing_share = float(missing.mean())
            seconds = parts[""][~missing]
            if _varies(seconds) or keep_constant:
                center, scale = robust_center_scale(seconds[:, None])
                plan.parts[""] = (float(center[0]), float(scale[0]))
                plan.features.append(name)
            span_days = float(np.ptp(seconds)) / 86400.0 if len(seconds) else 0.0
            for suffix, min_days in _CYCLES.items():
                present = parts[suffix][~missing]
                if span_days >= min_days and _varies(present):
                    plan.cycles.append(suffix)
                    plan.features += [f"{name}{suffix}_sin", f"{name}{suffix}_cos"]
                    whole = np.floor(present).astype(int)
                    counts = np.bincount(whole, minlength=_PERIODS[suffix])
                    plan.part_shares[suffix] = {i: c / n for i, c in enumerate(counts)}
            plan.indicator = bool(missing.any())
            if plan.indicator:
                plan.features.append(f"{name}:missing")
            return plan
        keys = _categories(values)
        uniques, counts = np.unique(keys, return_counts=True)
        plan.shares = {str(k): c / n for k, c in zip(uniques, counts, strict=True)}
        if len(uniques) <= 1 and not keep_constant:
            return plan
        if len(uniques) <= self.max_onehot:
            plan.kind = "onehot"
            plan.levels = sorted(plan.shares)
            plan.features = [f"{name}={level}" for level in plan.levels]
        else:
            plan.kind = "frequency"
            rarity = self._rarity(plan, keys)
            center, scale = robust_center_scale(rarity[:, None])
            plan.rarity_center, plan.rarity_scale = float(center[0]), float(scale[0])
            plan.features = [f"{name}:rarity"]
        return plan

    @staticmethod
    def _rarity(plan: _Plan, keys: np.ndarray) -> np.ndarray:
        import pandas as pd

        shares = pd.Series(keys).map(plan.shares).to_numpy(dtype=np.float64, na_value=np.nan)
        shares = np.where(np.isnan(shares), plan.unseen_share, shares)
        return np.asarray(-np.log(shares))

    # -- transform ------------------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """Encode the rows of ``X`` with the plans learned at ``fit``: a float64 matrix."""
        check_is_fitted(self, "plans_")
        frame = self._frame(X)
        with np.errstate(over="ignore", invalid="ignore"):  # huge values are clipped below
            blocks = [self._encode(plan, frame) for plan in self.plans_]
        matrix = np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))
        return np.asarray(matrix, dtype=np.float64)

    def _frame(self, X: Any) -> pd.DataFrame:
        frame = to_frame(X)
        positional = isinstance(X, (np.ndarray, list))  # columns named x0, x1, ... by position
        if positional and frame.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {frame.shape[1]} features, but TableEncoder is expecting "
                f"{self.n_features_in_} features as input"
            )
        needed = [*self.columns_, *(p.base for p in self.plans_ if p.base is not None)]
        missing = list(dict.fromkeys(c for c in needed if c not in frame.columns))
        if missing:
            raise ColumnNotFoundError.from_missing(missing, list(frame.columns))
        return frame

    def _encode(self, plan: _Plan, frame: pd.DataFrame) -> np.ndarray:
        values = frame[plan.column]
        n = len(values)
        out: list[np.ndarray] = []
        if plan.kind in ("numeric", "bool"):
            x = _floats(values, "bool" if plan.kind == "bool" else "timedelta")
            missing = np.isnan(x)
            if plan.column in plan.features:
                if plan.kind == "bool":
                    out.append(np.where(missing, plan.fill, x))
                else:
                    z = (x - plan.center) / plan.scale
                    out.append(np.clip(np.where(missing, 0.0, z), -CLIP, CLIP))
            if plan.indicator:
                out.append(missing.astype(np.float64))
        elif plan.kind == "datetime":
            parts = _datetime_parts(values)
            missing = np.isnan(parts[""])
            if "" in plan.parts:
                center, scale = plan.parts[""]
                z = (parts[""] - center) / scale
                out.append(np.clip(np.where(missing, 0.0, z), -CLIP, CLIP))
            for suffix in plan.cycles:
                angle = 2 * np.pi * parts[suffix] / _PERIODS[suffix]
                out += [
                    np.where(missing, 0.0, np.sin(angle)),
                    np.where(missing, 0.0, np.cos(angle)),
                ]
            if plan.base is not None:
                z = (gap_seconds(plan, frame) - plan.gap[0]) / plan.gap[1]
                out.append(np.clip(np.nan_to_num(z, nan=0.0), -CLIP, CLIP))
            if plan.indicator:
                out.append(missing.astype(np.float64))
        elif plan.kind == "onehot":
            import pandas as pd

            codes = pd.Index(plan.levels).get_indexer(pd.Index(_categories(values)))
            onehot = np.zeros((n, len(plan.levels)))
            seen = codes >= 0
            onehot[np.flatnonzero(seen), codes[seen]] = 1.0
            out.append(onehot)
        else:  # frequency
            rarity = self._rarity(plan, _categories(values))
            # one-sided: a value more common than the typical one is not unusual
            out.append(np.clip((rarity - plan.rarity_center) / plan.rarity_scale, 0.0, CLIP))
        return np.column_stack(out) if out else np.zeros((n, 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The output column names, :attr:`feature_names_`, as an array."""
        check_is_fitted(self, "plans_")
        return np.asarray(self.feature_names_, dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags
