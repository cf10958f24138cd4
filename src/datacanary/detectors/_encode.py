"""From a real table (mixed types, nulls, ids) to the float matrix a detector needs.

:class:`TableEncoder` learns one plan per input column at ``fit``, plus the relations the
table keeps between its columns, and applies them at ``transform``. Every feature is in
*robust units*: deviations from the training rows' median in 1.4826 x MAD, and, for an event
the training rows almost never show (a null, a value beyond a bound, a broken relation), a
jump of ``-log`` of its smoothed training share, ``log((n + 1) / (count + 1))`` -- 5.7 for 15
rows in 5,000, 8.5 for none.

========================  =====================================================================
input column              features
========================  =====================================================================
numeric                   ``(x - median) / robust scale`` (1.4826 x MAD, with fallbacks);
                          ±inf and huge values clipped to ±1e6 robust units. A *point mass*
                          (one value on at least half the rows: a discount that is 0 on 70 %)
                          encodes as 0, and the other values as their distance from it in
                          the robust scale of the other values, plus the jump for leaving the
                          mass. A *bound* the column keeps (below: a value held by >= 1 % (and 5) of
                          rows with at most 0.5 % of rows under it, e.g. quantity >= 1, or the
                          sign, >= 0; above likewise) adds the jump to values beyond it
boolean                   0 / 1
categorical, <= 10 values one 0/1 column per value seen in training (``country=DE``); an unseen
                          value sets none of them
categorical, > 10 values  rarity ``-log`` (share of training rows whose value is at most as
                          common); an unseen value counts as rare as the values seen once (the
                          Good-Turing estimate), or as ``0.5 / n`` when every value repeats
datetime                  the timestamp (seconds, robust-scaled); the hour of the day and the
                          weekday on a circle (``:hour_sin``, ``:hour_cos``, ...) once the rows
                          span 2 and 14 days
timedelta                 seconds, as numeric
========================  =====================================================================

Derived features (``relations_``), each attributed to one input column:

* **durations** between datetime columns (``shipped_at-created_at``, seconds, encoded as a
  numeric column with its bounds): for each pair whose order holds on >= 99.5 % of the rows
  (later minus earlier, so shipping before ordering crosses the bound 0), and each later
  column's gap to the first; at most 10 pairs;
* **products** ``c ~ a x b`` (``amount:quantity*unit_price``) and **ratios** ``c ~ k x a``
  (``tax:0.19*net``) that hold within 0.5 % on at least half of the rows where they say
  something (factors not 0 or ±1, at least 20 such rows and 20 different predictions), among
  at most 40 numeric columns; at most 5 of each. The feature is the relative residual
  ``(c - prediction) / |prediction|``, 0 where it holds (a point mass, encoded as above).

Missing values are information, not guilt. A numeric, boolean or datetime column with nulls
in training gets a ``<column>:missing`` indicator worth the jump of its null share (1.2 for a
column null on 30 % of rows, 3.0 on 5 %) and its value feature takes the median (0); a null
in a column never null in training takes the "never seen" jump, ``log(n + 1)``, in the
column's own feature (an indicator per never-null column would add a constant feature to
every clean table). In a categorical column a null is a value of its own, ``(missing)``.

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

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from numbers import Number
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from datacanary.detectors._robust import MASS_SHARE, point_mass, robust_center_scale
from datacanary.errors import ColumnNotFoundError, ConfigError, InputError, NotEnoughDataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CLIP", "TableEncoder", "jump", "to_frame"]

CLIP = 1e6
"""Encoded values are clipped to ±CLIP (robust units): infinities stay extreme but finite."""
MISSING = "(missing)"
"""The category a null becomes in a categorical column."""
TOLERANCE = 0.005
"""Share of training rows that may lie beyond a learned bound or break an order (outliers)."""
PILE = 0.01
"""A bound that is not the sign is a value held by at least this share of the rows (and 5)."""
RTOL = 0.005
"""A product or ratio holds on a row when the relative residual is at most this."""
MAX_PAIRS = 10
MAX_RELATIONS = 5
MAX_RELATION_COLUMNS = 40
_RELATION_SAMPLE = 2000
_MIN_ROWS = 20
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


def jump(count: int, n: int) -> float:
    """Robust units an event seen on ``count`` of ``n`` training rows weighs: ``-log`` share.

    The share is smoothed, ``(count + 1) / (n + 1)``, so an event never seen weighs
    ``log(n + 1)`` and one seen on every row 0.

    >>> round(jump(15, 5000), 2), round(jump(0, 5000), 2), jump(10, 10)
    (5.75, 8.52, 0.0)
    """
    return math.log((n + 1) / (count + 1))


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


# -- column types ---------------------------------------------------------------------------
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


# -- how a number becomes robust units ----------------------------------------------------
@dataclass
class _Scale:
    """A number's encoding: robust z, an optional point mass, optional bounds (module doc)."""

    center: float = 0.0
    scale: float = 1.0
    mass: float | None = None  # a value on >= half the rows; center/scale: the other values'
    off_share: float = 0.0
    mass_jump: float = 0.0
    floor: float | None = None
    below_share: float = 0.0  # training rows under the floor (the outliers it tolerated)
    floor_jump: float = 0.0
    ceiling: float | None = None
    above_share: float = 0.0
    ceiling_jump: float = 0.0
    shift: float = 0.0  # added to the encoding of a mass off 0 (see fit)

    @classmethod
    def fit(cls, x: np.ndarray, *, bounds: bool = True, tolerance: float = 0.0) -> _Scale:
        """Learn from ``x`` (NaN for nulls; infinities ignored).

        ``tolerance``: the smallest scale of the values off a point mass; with it, a column
        that is constant in training still judges a new value (a relation that always held).
        """
        finite = x[np.isfinite(x)]
        n = len(finite)
        plan = cls()
        found = point_mass(finite)
        if found is None and tolerance and n and not _varies(finite):
            found = float(finite[0]), 0.0
        if found is not None and found[1] == 0.0:
            plan.mass, plan.mass_jump = found[0], jump(0, n)
            plan.center, plan.scale = found[0], tolerance
        elif found is not None:
            plan.mass, plan.off_share = found
            rest = finite[finite != plan.mass]
            plan.mass_jump = jump(len(rest), n)
            if tolerance and len(rest) < _MIN_ROWS:  # a few breaks: they do not set the scale
                plan.center, plan.scale = plan.mass, tolerance
            elif _varies(rest):
                center, scale = robust_center_scale(rest[:, None])
                plan.center, plan.scale = float(center[0]), float(scale[0])
            else:  # two values: the other one is one unit away
                plan.center, plan.scale = float(rest[0]), abs(float(rest[0]) - plan.mass)
            plan.scale = max(plan.scale, tolerance)
        elif n:
            center, scale = robust_center_scale(finite[:, None])
            plan.center, plan.scale = float(center[0]), float(scale[0])
            if np.count_nonzero(finite == plan.center) >= MASS_SHARE * n:
                # a mass off 0 (a floor, a dominant level): departures from it are the
                # signal, so it keeps the MAD fallbacks; shifted so that only a zero mass
                # encodes as 0, which mad and zscore judge as zero-inflated
                plan.shift = (plan.center - float(np.mean(finite))) / plan.scale
        if bounds and n >= _MIN_ROWS:
            plan._learn_bounds(finite)
        return plan

    def _learn_bounds(self, finite: np.ndarray) -> None:
        n = len(finite)
        allowed = TOLERANCE * n
        values, counts = np.unique(finite, return_counts=True)
        below = np.cumsum(counts) - counts  # rows strictly under each value
        above = n - np.cumsum(counts)

        def pile(beyond: np.ndarray) -> np.ndarray:
            return (beyond <= allowed) & (counts >= max(PILE * n, 5)) & (beyond <= counts / 4)

        negative = int(np.count_nonzero(finite < 0))
        floors = [float(v) for v in values[pile(below)][-1:]]  # the highest such pile
        floors += [0.0] if negative <= allowed else []  # the sign
        if floors:
            self.floor = max(floors)
            count = int(np.count_nonzero(finite < self.floor))
            self.below_share, self.floor_jump = count / n, jump(count, n)
        positive = int(np.count_nonzero(finite > 0))
        ceilings = [float(v) for v in values[pile(above)][:1]]  # the lowest such pile
        ceilings += [0.0] if positive <= allowed else []
        if ceilings:
            self.ceiling = min(ceilings)
            count = int(np.count_nonzero(finite > self.ceiling))
            self.above_share, self.ceiling_jump = count / n, jump(count, n)

    def z(self, x: np.ndarray) -> np.ndarray:
        """Plain robust z (for a point mass: among the other values)."""
        return (x - self.center) / self.scale

    def encode(self, x: np.ndarray) -> np.ndarray:
        """The feature: robust units, with the point mass and the bound jumps (NaN stays)."""
        if self.mass is None:
            z = self.z(x) + self.shift
        else:
            away = (x - self.mass) / self.scale
            z = np.where(x == self.mass, 0.0, np.sign(away) * (self.mass_jump + np.abs(away)))
        if self.floor is not None:
            z = np.where(x < self.floor, z - self.floor_jump, z)
        if self.ceiling is not None:
            z = np.where(x > self.ceiling, z + self.ceiling_jump, z)
        return np.clip(z, -CLIP, CLIP)

    def beyond(self, x: np.ndarray) -> np.ndarray:
        """-1 under the floor, +1 over the ceiling, 0 inside (NaN counts as inside)."""
        out = np.zeros(len(x), dtype=np.int8)
        with np.errstate(invalid="ignore"):
            if self.floor is not None:
                out[x < self.floor] = -1
            if self.ceiling is not None:
                out[x > self.ceiling] = 1
        return out


# -- column plans: one per kind --------------------------------------------------------------
@dataclass
class _Column:
    """What every input column's plan knows: its name, features and nulls."""

    column: str
    n_rows: int
    features: list[str] = field(default_factory=list)
    missing_share: float = 0.0
    null_weight: float = 0.0  # the ``:missing`` indicator's value; 0: never null in training

    @property
    def never_null(self) -> float:
        """What a null becomes in the value feature of a column never null in training."""
        return jump(0, self.n_rows)

    def _nulls(self, value: np.ndarray, missing: np.ndarray, fill: float) -> list[np.ndarray]:
        """The value feature with nulls filled, and the indicator when there is one."""
        if self.null_weight:
            return [np.where(missing, fill, value), missing * self.null_weight]
        return [np.where(missing, self.never_null, value)]


@dataclass
class _NumericPlan(_Column):
    """A number (or timedelta, in seconds)."""

    values: _Scale = field(default_factory=_Scale)
    integer: bool = False
    kind: str = "numeric"

    def numbers(self, frame: pd.DataFrame) -> np.ndarray:
        return _floats(frame[self.column], "timedelta")

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        x = self.numbers(frame)
        missing = np.isnan(x)
        out = self._nulls(self.values.encode(x), missing, 0.0)
        return out if self.column in self.features else out[1:]


@dataclass
class _BoolPlan(_Column):
    """True / false."""

    shares: dict[str, float] = field(default_factory=dict)
    fill: float = 0.0  # the mode
    kind: str = "bool"

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        x = _floats(frame[self.column], "bool")
        missing = np.isnan(x)
        out = self._nulls(x, missing, self.fill)
        return out if self.column in self.features else out[1:]


@dataclass
class _CategoryPlan(_Column):
    """Strings and anything else: one-hot (``onehot``) or rarity (``frequency``)."""

    kind: str = "onehot"
    shares: dict[str, float] = field(default_factory=dict)
    levels: list[str] = field(default_factory=list)
    tails: dict[str, float] = field(default_factory=dict)  # share of rows at most as common
    unseen_tail: float = 1.0

    def rarity(self, keys: np.ndarray) -> np.ndarray:
        import pandas as pd

        tails = pd.Series(keys).map(self.tails).to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(-np.log(np.where(np.isnan(tails), self.unseen_tail, tails)))

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        import pandas as pd

        keys = _categories(frame[self.column])
        if self.kind == "frequency":
            return [np.clip(self.rarity(keys), 0.0, CLIP)]
        codes = pd.Index(self.levels).get_indexer(pd.Index(keys))
        onehot = np.zeros((len(keys), len(self.levels)))
        seen = codes >= 0
        onehot[np.flatnonzero(seen), codes[seen]] = 1.0
        return [onehot]


@dataclass
class _DatetimePlan(_Column):
    """A timestamp: its seconds, and the hour / weekday once the rows span enough days."""

    seconds: _Scale | None = None
    cycles: list[str] = field(default_factory=list)  # ":hour" / ":weekday" encoded
    part_shares: dict[str, dict[int, float]] = field(default_factory=dict)
    kind: str = "datetime"

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        parts = _datetime_parts(frame[self.column])
        missing = np.isnan(parts[""])
        out: list[np.ndarray] = []
        if self.seconds is not None:
            out.append(self.seconds.encode(parts[""]))
        for suffix in self.cycles:
            angle = 2 * np.pi * parts[suffix] / _PERIODS[suffix]
            out += [np.where(missing, 0.0, np.sin(angle)), np.where(missing, 0.0, np.cos(angle))]
        if self.null_weight:
            if self.seconds is not None:
                out[0] = np.where(missing, 0.0, out[0])
            out.append(missing * self.null_weight)
        elif self.seconds is not None:
            out[0] = np.where(missing, self.never_null, out[0])
        return out


_Plan: TypeAlias = "_NumericPlan | _BoolPlan | _CategoryPlan | _DatetimePlan"


# -- relations between columns ---------------------------------------------------------------
@dataclass
class _DurationPlan:
    """``column - base`` in seconds: a later datetime column's time after an earlier one."""

    column: str
    base: str
    features: list[str]
    values: _Scale
    ordered: bool  # the order held on >= 1 - TOLERANCE of the rows
    kind: str = "duration"

    def seconds(self, frame: pd.DataFrame) -> np.ndarray:
        return _datetime_parts(frame[self.column])[""] - _datetime_parts(frame[self.base])[""]

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        return [np.nan_to_num(self.values.encode(self.seconds(frame)), nan=0.0)]


@dataclass
class _ProductPlan:
    """``column ~ left x right`` (``factor`` 1), or ``column ~ factor x left`` (no ``right``)."""

    column: str
    left: str
    right: str | None
    factor: float
    features: list[str]
    holds: float  # share of informative training rows where it held
    residual: _Scale = field(default_factory=_Scale)
    kind: str = "product"

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The prediction and the target's value."""
        left = _floats(frame[self.left], "timedelta")
        right = _floats(frame[self.right], "timedelta") if self.right else np.ones(len(left))
        return self.factor * left * right, _floats(frame[self.column], "timedelta")

    def residuals(self, frame: pd.DataFrame) -> np.ndarray:
        predicted, actual = self.predict(frame)
        return _relative_residual(actual, predicted)

    def encode(self, frame: pd.DataFrame) -> list[np.ndarray]:
        return [np.nan_to_num(self.residual.encode(self.residuals(frame)), nan=0.0)]


_Relation: TypeAlias = "_DurationPlan | _ProductPlan"


def _relative_residual(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``(actual - predicted) / |predicted|``, 0 within :data:`RTOL`; NaN where unknown."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        size = np.abs(predicted)
        residual = (actual - predicted) / np.where(size > 0, size, np.nan)
        residual = np.where((size == 0) & np.isfinite(actual), np.sign(actual) * CLIP, residual)
        residual = np.where(actual == predicted, 0.0, residual)
        return np.where(np.abs(residual) <= RTOL, 0.0, residual)


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
        Names of the output columns, e.g. ``amount``, ``amount:missing``, ``country=DE``,
        ``shipped_at-created_at``, ``amount:quantity*unit_price``.
    source_columns_ : dict of str to str
        Output column -> the input column it comes from (a relation: its target column).
    dropped_columns_ : dict of str to str
        Input column left out -> why (``"all null"``, ``"constant"``,
        ``"identifier-like: 100% unique"``).
    columns_ : list of str
        Input columns used, in input order.
    plans_ : list
        One plan per input column used (``plan.kind``: numeric, bool, onehot, frequency or
        datetime).
    relations_ : list
        The derived features' plans (``kind``: duration or product; a ratio is a product with
        one factor and a constant).
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
           [ 0.  ,  1.04,  1.  ,  0.  ]])
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
        """Learn the column plans and relations from ``X`` (pandas, polars, pyarrow or numpy)."""
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
        self.plans_ = plans
        self.relations_: list[_Relation] = [*_durations(frame, plans), *_products(frame, plans)]
        self.columns_ = [p.column for p in plans]
        everything: list[_Plan | _Relation] = [*plans, *self.relations_]
        self.feature_names_ = [f for p in everything for f in p.features]
        self.source_columns_ = {f: p.column for p in everything for f in p.features}
        self.dropped_columns_ = {c: dropped[c] for c in names if c in dropped}
        return self

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
        if kind in ("numeric", "timedelta", "bool"):
            x = _floats(values, kind)
            missing = np.isnan(x)
            present = x[~missing]
            plan: _Plan
            if kind == "bool":
                true_share = float(present.mean()) if len(present) else 0.0
                share = float(missing.mean())
                plan = _BoolPlan(column=name, n_rows=n, missing_share=share)
                plan.shares = {
                    "true": true_share * (1 - share),
                    "false": (1 - true_share) * (1 - share),
                }
                plan.fill = 1.0 if true_share >= 0.5 else 0.0
            else:
                plan = _NumericPlan(column=name, n_rows=n, missing_share=float(missing.mean()))
                plan.values = _Scale.fit(x)
                whole = present[np.isfinite(present)]
                plan.integer = bool(np.all(whole == np.round(whole)))
            if _varies(present) or keep_constant:
                plan.features.append(name)
            self._indicator(plan, missing)
            return plan
        if kind == "datetime":
            parts = _datetime_parts(values)
            missing = np.isnan(parts[""])
            stamps = _DatetimePlan(column=name, n_rows=n, missing_share=float(missing.mean()))
            seconds = parts[""][~missing]
            if _varies(seconds) or keep_constant:
                stamps.seconds = _Scale.fit(parts[""], bounds=False)
                stamps.features.append(name)
            span_days = float(np.ptp(seconds)) / 86400.0 if len(seconds) else 0.0
            for suffix, min_days in _CYCLES.items():
                present = parts[suffix][~missing]
                if span_days >= min_days and _varies(present):
                    stamps.cycles.append(suffix)
                    stamps.features += [f"{name}{suffix}_sin", f"{name}{suffix}_cos"]
                    whole = np.floor(present).astype(int)
                    counts = np.bincount(whole, minlength=_PERIODS[suffix])
                    stamps.part_shares[suffix] = {i: c / n for i, c in enumerate(counts)}
            self._indicator(stamps, missing)
            return stamps
        keys = _categories(values)
        uniques, counts = np.unique(keys, return_counts=True)
        category = _CategoryPlan(
            column=name, n_rows=n, missing_share=float(np.mean(keys == MISSING))
        )
        category.shares = {str(k): c / n for k, c in zip(uniques, counts, strict=True)}
        ordered = np.sort(counts)
        at_most = np.cumsum(ordered)[np.searchsorted(ordered, counts, side="right") - 1]
        category.tails = {str(k): t / n for k, t in zip(uniques, at_most, strict=True)}
        category.unseen_tail = max(float(counts[counts == 1].sum()), 0.5) / n  # Good-Turing
        if len(uniques) <= 1 and not keep_constant:
            return category
        if len(uniques) <= self.max_onehot:
            category.levels = sorted(category.shares)
            category.features = [f"{name}={level}" for level in category.levels]
        else:
            category.kind = "frequency"
            category.features = [f"{name}:rarity"]
        return category

    @staticmethod
    def _indicator(plan: _Column, missing: np.ndarray) -> None:
        if missing.any():
            plan.null_weight = jump(int(missing.sum()), len(missing))
            plan.features.append(f"{plan.column}:missing")

    # -- transform ------------------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """Encode the rows of ``X`` with the plans learned at ``fit``: a float64 matrix."""
        check_is_fitted(self, "plans_")
        frame = self._frame(X)
        blocks: list[np.ndarray] = []
        with np.errstate(over="ignore", invalid="ignore"):  # huge values are clipped
            for plan in [*self.plans_, *self.relations_]:
                blocks += plan.encode(frame)
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
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise ColumnNotFoundError.from_missing(missing, list(frame.columns))
        return frame

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


# -- finding the relations ------------------------------------------------------------------
def _durations(frame: pd.DataFrame, plans: Sequence[_Plan]) -> list[_DurationPlan]:
    """Pairs of datetime columns whose order holds, and each one's gap to the first."""
    stamps = [p.column for p in plans if isinstance(p, _DatetimePlan)]
    seconds = {c: _datetime_parts(frame[c])[""] for c in stamps}
    found: list[_DurationPlan] = []
    for i, first in enumerate(stamps):
        for second in stamps[i + 1 :]:
            gap = seconds[second] - seconds[first]
            present = gap[~np.isnan(gap)]
            if not _varies(present) or len(found) >= MAX_PAIRS:
                continue
            allowed = TOLERANCE * len(present)
            later, earlier, ordered = second, first, True
            if np.count_nonzero(present < 0) > allowed:
                if np.count_nonzero(present > 0) <= allowed:
                    later, earlier, gap = first, second, -gap
                elif i == 0:
                    ordered = False
                else:
                    continue
            found.append(
                _DurationPlan(
                    column=later,
                    base=earlier,
                    features=[f"{later}-{earlier}"],
                    values=_Scale.fit(gap),
                    ordered=ordered,
                )
            )
    return found


def _products(frame: pd.DataFrame, plans: Sequence[_Plan]) -> list[_ProductPlan]:
    """``c ~ a x b`` and ``c ~ k x a`` relations among the numeric columns (module docstring)."""
    numeric = [p for p in plans if isinstance(p, _NumericPlan) and p.column in p.features]
    numeric = numeric[:MAX_RELATION_COLUMNS]
    if len(numeric) < 2 or frame.shape[0] < _MIN_ROWS:
        return []
    rows = np.unique(np.linspace(0, frame.shape[0] - 1, _RELATION_SAMPLE).astype(int))
    sample = frame.iloc[rows]
    V = np.column_stack([p.numbers(sample) for p in numeric])
    V[~np.isfinite(V)] = np.nan
    m, k = V.shape
    enough = max(_MIN_ROWS, 0.05 * m)
    known = ~np.isnan(V) & (V != 0)
    factor_ok = known & (np.abs(V) != 1)
    found: list[tuple[float, int, int, int | None, float]] = []  # holds, c, a, b, k
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for a in range(k):
            for b in range(a + 1, k):
                base = factor_ok[:, a] & factor_ok[:, b]
                if k < 3 or base.sum() < enough:
                    continue
                predicted = V[:, a] * V[:, b]
                ok = base[:, None] & known
                ok[:, [a, b]] = False
                holds = ok & (np.abs(V - predicted[:, None]) <= RTOL * np.abs(predicted[:, None]))
                counts, held = ok.sum(axis=0), holds.sum(axis=0)
                for c in np.flatnonzero((counts >= enough) & (held >= 0.5 * counts)):
                    if len(np.unique(predicted[holds[:, c]])) >= _MIN_ROWS:
                        found.append((float(held[c] / counts[c]), int(c), a, b, 1.0))
        for a in range(k):
            ratios = V / V[:, [a]]
            ok = known & known[:, [a]]
            ok[:, a] = False
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a column with no such row
                factors = np.nanmedian(np.where(ok, ratios, np.nan), axis=0)
            predicted = V[:, [a]] * factors
            holds = ok & (np.abs(V - predicted) <= RTOL * np.abs(predicted))
            counts, held = ok.sum(axis=0), holds.sum(axis=0)
            for c in np.flatnonzero((counts >= enough) & (held >= 0.5 * counts)):
                if len(np.unique(V[holds[:, c], a])) >= _MIN_ROWS:
                    found.append((float(held[c] / counts[c]), int(c), a, None, float(factors[c])))
    chosen: list[_ProductPlan] = []
    targets: set[int] = set()
    pairs: set[frozenset[int]] = set()
    for share, ti, li, ri, factor in sorted(found, key=lambda f: (-f[0], f[3] is None)):
        pair = frozenset((li, ti))
        if ti in targets or (ri is None and pair in pairs):
            continue
        kind_count = sum(1 for p in chosen if (p.right is None) == (ri is None))
        if kind_count >= MAX_RELATIONS:
            continue
        target, left = numeric[ti].column, numeric[li].column
        right = numeric[ri].column if ri is not None else None
        name = f"{target}:{left}*{right}" if right else f"{target}:{factor:.4g}*{left}"
        plan = _ProductPlan(
            column=target,
            left=left,
            right=right,
            factor=factor,
            features=[name],
            holds=float(share),
        )
        plan.residual = _Scale.fit(plan.residuals(frame), bounds=False, tolerance=RTOL)
        chosen.append(plan)
        targets.add(ti)
        pairs.add(pair)
    return chosen
