"""The base of every series detector: one value at a time, a band, a score and a verdict.

A subclass says how its baseline learns (``_learn``) and what band it expects next
(``_band``); this class turns that into directions, floors, scores, verdicts and the
exclusion of anomalies from the baseline, so every detector behaves the same way. It also
clips every band to what the metric can be (:func:`metric_domain`): a fraction stays in
[0, 1], a count at or above 0.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import statistics
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from datacanary.errors import ConfigError, InputError
from datacanary.results import Status, Verdict, format_number

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "MAX_SCORE",
    "Band",
    "MetricDomain",
    "SeriesDetector",
    "WindowSeriesDetector",
    "metric_domain",
    "widened",
]

Band = tuple[float, float, float]
"""``(centre, low, high)`` with ``low <= centre <= high``, before ``direction`` is applied."""

MAX_SCORE = 1e6
"""Scores are capped here, so a value off a constant history still scores a readable number."""

ZERO_WIDTH_UNIT = 1e-6
"""Off a zero-width band, the score counts distance in millionths of ``max(1, |centre|)``."""

_DIRECTIONS = ("both", "up", "down")


class SeriesDetector(ABC):
    """Judge each new value of a metric against the metric's own history.

    River-like: :meth:`learn_one` adds a value to the baseline, :meth:`score_one` and
    :meth:`judge` look at a value without learning it, :meth:`update` judges and then learns
    (leaving anomalies out of the baseline), and :meth:`fit` replays a stored history through
    :meth:`update`. One object therefore serves a stored history and a live stream.

    Parameters
    ----------
    direction
        ``"both"``, ``"up"`` (only values above the band are anomalous) or ``"down"``.
        The band of the ignored side is reported as unbounded (``None``).
    sensitivity
        Half-width multiplier of the band; each detector documents its meaning (``k`` in
        ``centre ± k·scale`` for ``mad`` and ``zscore``). Smaller alerts more.
    min_history
        Values the baseline needs before anything is judged; until then a verdict has the
        status ``insufficient_history`` and :meth:`score_one` returns 0.
    window
        The baseline keeps only the last ``window`` values (``None``: all of them).
    abs_floor, rel_floor
        A value outside the band is anomalous only if ``|value − centre|`` also exceeds
        ``abs_floor`` and ``rel_floor·|centre|``, so 10 → 12 rows on a tiny table does not alert.
    exclude_anomalies
        :meth:`update` keeps anomalous values out of the baseline, so one incident does not
        widen the band and hide the next. If ``max(min_history, 7)`` values in a row are
        anomalous on the same side, the series is taken to have moved (a lasting level
        shift): the baseline moves by the shift (each detector says how) and takes those
        values in, so a legitimate change alerts a few times, not forever.

    Notes
    -----
    **Score.** The distance from the band's centre in units of the band's half-width on that
    side: 0 at the centre, 1 on the edge, above 1 outside, 0 on a side that ``direction``
    ignores and while the history is too short. Comparable across detectors and independent of
    ``sensitivity`` in meaning ("how many bands away"). Off a zero-width band (a constant
    history) the score is ``1 + distance / (1e-6·max(1, |centre|))``: large, finite, still
    ordered by distance (a change of one part in a million scores 2). Scores are capped at
    :data:`MAX_SCORE`.

    **Domain.** Every band is clipped to what the metric can be, by its name
    (:func:`metric_domain`): fractions to [0, 1] with a minimum half-width of 0.005, so a
    null fraction that was 0 for months does not page on its first null; counts, lengths
    and standard deviations to at least 0.

    **Bad values.** :meth:`judge` and :meth:`update` turn a missing, NaN or infinite value into
    a verdict with the status ``error`` and learn nothing; :meth:`learn_one` and
    :meth:`score_one` raise :class:`~datacanary.errors.InputError` for it.

    **Subclasses** implement ``_reset`` (empty state), ``_learn``, ``_band`` and
    ``_size``; optionally ``_validate``, ``_baseline_size``, ``_needed``, ``_unit``,
    ``_skip``, ``_moved`` and ``_readmit``. :class:`WindowSeriesDetector` keeps a baseline
    of the last ``window`` values for them. Constructors only store their arguments
    (``get_params`` reads them back by the names in the ``__init__`` signature); validation
    happens on first use, or at once in :func:`~datacanary.series.make_series_detector`.
    """

    name: ClassVar[str]
    _streak: list[tuple[float, datetime | None]]  # anomalies in a row, left out so far

    def __init__(
        self,
        *,
        direction: str = "both",
        sensitivity: float = 3.0,
        min_history: int = 7,
        window: int | None = 30,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        exclude_anomalies: bool = True,
    ) -> None:
        self.direction = direction
        self.sensitivity = sensitivity
        self.min_history = min_history
        self.window = window
        self.abs_floor = abs_floor
        self.rel_floor = rel_floor
        self.exclude_anomalies = exclude_anomalies
        self._ready = False

    # -- what a subclass provides -------------------------------------------------------

    @abstractmethod
    def _reset(self) -> None:
        """Create the empty learned state (called once the parameters are valid)."""

    @abstractmethod
    def _learn(self, value: float, at: datetime | None) -> None:
        """Add a finite value to the baseline."""

    @abstractmethod
    def _band(self, at: datetime | None) -> Band | None:
        """The two-sided band for the next value, or None while the history is too short."""

    @abstractmethod
    def _size(self) -> int:
        """Values in the current baseline."""

    def _baseline_size(self, at: datetime | None) -> int:
        """Values the band for a value at ``at`` rests on (the verdict's history size)."""
        return self._size()

    def _needed(self) -> int:
        """History the band needs, for the "insufficient history" sentence."""
        return int(self.min_history)

    def _moved_after(self) -> int:
        """Anomalies in a row on one side after which the series is taken to have moved."""
        return max(int(self.min_history), 7)

    def _unit(self, unit: str, at: datetime | None) -> str:
        """How a sentence names the runs of the baseline ("runs", "runs on Mondays")."""
        return unit

    def _skip(self, value: float, at: datetime | None) -> None:  # noqa: B027 (optional hook)
        """Called for an anomalous value left out of the baseline (default: nothing)."""

    def _moved(self, values: list[tuple[float, datetime | None]]) -> None:
        """The series moved: adapt the baseline to ``values``, the anomalies in a row (oldest
        first; all but the newest went through ``_skip``). Default: ``_readmit`` the skipped
        ones, then learn the newest."""
        self._readmit(values[:-1])
        self._learn(*values[-1])

    def _readmit(self, values: list[tuple[float, datetime | None]]) -> None:
        """Admit values that went through ``_skip`` (default: learn them)."""
        for value, at in values:
            self._learn(value, at)

    def _validate(self) -> None:
        """Check the parameters; a subclass extends this with its own."""
        if self.direction not in _DIRECTIONS:
            raise ConfigError(f"direction must be 'both', 'up' or 'down'; got {self.direction!r}")
        _check_number("sensitivity", self.sensitivity, low=0.0, low_open=True)
        _check_number("abs_floor", self.abs_floor, low=0.0)
        _check_number("rel_floor", self.rel_floor, low=0.0)
        if not _is_int(self.min_history) or self.min_history < 1:
            raise ConfigError(f"min_history must be an integer >= 1; got {self.min_history!r}")
        if self.window is not None and (not _is_int(self.window) or self.window < self.min_history):
            raise ConfigError(
                f"window must be None or an integer >= min_history ({self.min_history}); "
                f"got {self.window!r}"
            )
        if not isinstance(self.exclude_anomalies, bool):
            raise ConfigError(
                f"exclude_anomalies must be True or False; got {self.exclude_anomalies!r}"
            )

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Parameters the shared contract tests use (River's convention)."""
        return {}

    # -- the public API -----------------------------------------------------------------

    def learn_one(self, value: float, at: datetime | None = None) -> None:
        """Add ``value`` to the baseline without judging it.

        Raises :class:`~datacanary.errors.InputError` for a missing or non-finite value.
        """
        self._ensure_ready()
        self._learn(_finite(value, "learn_one"), at)

    def expected(
        self, at: datetime | None = None, *, metric: str = "value"
    ) -> tuple[float | None, float | None] | None:
        """The band ``(low, high)`` for the next value; None while the history is too short.

        A side that ``direction`` ignores is None (unbounded). ``metric`` names the metric,
        so the band is clipped to what it can be (:func:`metric_domain`).
        """
        self._ensure_ready()
        band = self._domain_band(at, metric)
        return None if band is None else self._sides(band)

    def score_one(
        self, value: float, at: datetime | None = None, *, metric: str = "value"
    ) -> float:
        """How anomalous ``value`` would be (higher = more anomalous, >= 0); learns nothing.

        0.0 while the history is too short. Raises
        :class:`~datacanary.errors.InputError` for a missing or non-finite value.
        """
        self._ensure_ready()
        x = _finite(value, "score_one")
        band = self._domain_band(at, metric)
        return 0.0 if band is None else self._score(x, band)

    def judge(
        self,
        value: float,
        at: datetime | None = None,
        *,
        metric: str = "value",
        column: str | None = None,
        dataset: str | None = None,
        unit: str = "runs",
    ) -> Verdict:
        """Judge ``value`` against the baseline, without learning it.

        Returns a :class:`~datacanary.results.Verdict`: ``passed``/``anomaly`` with the
        band, ``insufficient_history`` while the baseline is shorter than ``min_history``,
        or ``error`` when the value is missing or not a finite number.
        """
        self._ensure_ready()
        x = _as_finite(value)
        if x is None:
            return Verdict.error(
                metric,
                f"{Verdict.subject(metric, column)} is {_describe(value)}, so it cannot be "
                "judged; check that the metric was computed for this run",
                detector=self.name,
                column=column,
                dataset=dataset,
                observed_at=at,
            )
        band = self._domain_band(at, metric)
        size = self._baseline_size(at)
        if (self._needed() if band is None else size) == 1 and unit.endswith("s"):
            unit = unit[:-1]  # "from the last 1 run", "(0 of 1 run)"
        common: dict[str, Any] = {
            "detector": self.name,
            "history_size": size,
            "params": self.get_params(),
            "column": column,
            "dataset": dataset,
            "observed_at": at,
            "unit": self._unit(unit, at),
        }
        if band is None:
            return Verdict.insufficient(metric, x, min_history=self._needed(), **common)
        low, high = self._sides(band)
        outside = (low is not None and x < low) or (high is not None and x > high)
        distance = abs(x - band[0])
        anomalous = (
            outside and distance > self.abs_floor and distance > self.rel_floor * abs(band[0])
        )
        return Verdict.judge(
            metric,
            x,
            low,
            high,
            score=self._score(x, band),
            anomalous=anomalous,
            centre=band[0],
            abs_floor=float(self.abs_floor),
            rel_floor=float(self.rel_floor),
            **common,
        )

    def update(
        self,
        value: float,
        at: datetime | None = None,
        *,
        metric: str = "value",
        column: str | None = None,
        dataset: str | None = None,
        unit: str = "runs",
    ) -> Verdict:
        """Judge ``value``, then learn it, unless it is anomalous and ``exclude_anomalies``.

        A value that cannot be judged (``error``) is not learned.
        """
        verdict = self.judge(value, at, metric=metric, column=column, dataset=dataset, unit=unit)
        if verdict.status is Status.ERROR:
            return verdict
        x = float(value)
        if verdict.status is not Status.ANOMALY or not self.exclude_anomalies:
            self._streak, self._streak_side, self._streak_len = [], 0, 0
            self._learn(x, at)
            return verdict
        side = 1 if verdict.expected_high is not None and x > verdict.expected_high else -1
        if side != self._streak_side:
            self._streak, self._streak_side, self._streak_len = [], side, 0
        self._streak_len += 1
        if self._streak_len < self._moved_after():
            self._streak.append((x, at))
            self._skip(x, at)
        elif self._streak_len == self._moved_after():  # enough in a row: the series moved
            self._moved([*self._streak, (x, at)])
            self._streak = []
        else:  # still beyond the moved baseline: learn, so it catches up
            self._learn(x, at)
        return verdict

    def fit(self, values: Iterable[float], times: Iterable[datetime] | None = None) -> Self:
        """Start afresh and replay a stored history through :meth:`update`.

        Past anomalies are left out of the baseline exactly as they would have been live;
        missing and non-finite values are skipped. ``times`` (optional) pairs a timestamp with
        each value. Returns ``self``.
        """
        values = list(values)
        stamps: list[datetime | None] = [None] * len(values) if times is None else list(times)
        if len(stamps) != len(values):
            raise InputError(
                f"fit got {len(values)} values but {len(stamps)} times; "
                "pass one timestamp per value or none"
            )
        self._ready = False
        self._ensure_ready()
        for value, at in zip(values, stamps, strict=True):
            self.update(value, at)
        return self

    @property
    def history_size(self) -> int:
        """Values in the current baseline."""
        self._ensure_ready()
        return self._size()

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, by the names in the ``__init__`` signature."""
        return {name: getattr(self, name) for name in _param_names(type(self))}

    def clone(self) -> SeriesDetector:
        """A fresh, unfitted detector with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- shared machinery ---------------------------------------------------------------

    def _ensure_ready(self) -> None:
        if not self._ready:
            self._validate()
            self._reset()
            self._streak = []
            self._streak_side = 0
            self._streak_len = 0
            self._ready = True

    def _domain_band(self, at: datetime | None, metric: str) -> Band | None:
        """``_band(at)`` clipped to what ``metric`` can be."""
        band = self._band(at)
        return None if band is None else metric_domain(metric).clip(band)

    def _sides(self, band: Band) -> tuple[float | None, float | None]:
        _, low, high = band
        return (
            None if self.direction == "up" else low,
            None if self.direction == "down" else high,
        )

    def _score(self, x: float, band: Band) -> float:
        centre, low, high = band
        if x == centre:
            return 0.0
        up = x > centre
        if (up and self.direction == "down") or (not up and self.direction == "up"):
            return 0.0
        width = high - centre if up else centre - low
        distance = abs(x - centre)
        if width > 0.0:
            score = distance / width if math.isfinite(width) else 0.0
        else:  # a zero-width band (a constant history): past the edge, by how far
            score = 1.0 + distance / (ZERO_WIDTH_UNIT * max(1.0, abs(centre)))
        return score if score < MAX_SCORE else MAX_SCORE


class WindowSeriesDetector(SeriesDetector):
    """A detector whose baseline is the last ``window`` values, in order (``self._values``).

    A subclass only writes ``_band``. When the series moves (see ``exclude_anomalies``), the
    window moves to the new level at once, keeping the shape it learned: every value is
    multiplied by ``median(the anomalies in a row) / centre`` when all values are positive
    (counts and sizes grow in proportion, spread included), or shifted by the difference.
    """

    def _reset(self) -> None:
        self._values: deque[float] = deque(maxlen=self.window)

    def _learn(self, value: float, at: datetime | None) -> None:
        self._values.append(value)

    def _size(self) -> int:
        return len(self._values)

    def _moved(self, values: list[tuple[float, datetime | None]]) -> None:
        band = self._band(None)
        if band is not None:
            move = _mover([v for v, _ in values], [band[0]] * len(values), self._values)
            self._values = deque(map(move, self._values), maxlen=self.window)
        for value, at in values:
            self._learn(value, at)


@dataclass(frozen=True)
class MetricDomain:
    """What values a metric can take: bounds, whether it counts, and a minimum half-width.

    ``clip`` widens a band to at least ``min_half_width`` on each side of its centre, then
    clips centre and edges into ``[low, high]`` (a None bound is open).
    """

    low: float | None = None
    high: float | None = None
    integer: bool = False
    min_half_width: float = 0.0

    def clip(self, band: Band) -> Band:
        """``band`` within the domain.

        >>> metric_domain("null_fraction").clip((0.0, 0.0, 0.0))
        (0.0, 0.0, 0.005)
        >>> metric_domain("row_count").clip((30.0, -7.5, 69.5))
        (30.0, 0.0, 69.5)
        """
        centre, low, high = band
        w = self.min_half_width
        if w > 0.0:
            low, high = min(low, centre - w), max(high, centre + w)
        if self.low is not None:
            centre, low, high = max(centre, self.low), max(low, self.low), max(high, self.low)
        if self.high is not None:
            centre, low, high = min(centre, self.high), min(low, self.high), min(high, self.high)
        return centre, low, high


_FRACTION = MetricDomain(low=0.0, high=1.0, min_half_width=0.005)
_COUNT = MetricDomain(low=0.0, integer=True)
_NON_NEGATIVE = MetricDomain(low=0.0)
_ANY = MetricDomain()
_COUNTS = frozenset(
    {"row_count", "column_count", "events", "rows", "count", "min_length", "max_length"}
)
_NON_NEGATIVES = frozenset({"stddev", "mean_length", "freshness_seconds", "variance"})


def metric_domain(metric: str) -> MetricDomain:
    """The domain of a metric, by its name; every series detector clips its bands to it.

    * fractions (``null_fraction``, any ``*_fraction`` or ``*_ratio``): [0, 1], with a
      minimum half-width of 0.005 (half a percentage point), so a null fraction that was 0
      for months does not page on its first null;
    * counts (``row_count``, any ``*_count``, ``events``, lengths): integers >= 0;
    * ``stddev``, ``mean_length``, ``freshness_seconds``: >= 0;
    * anything else (``mean``, ``min``, ``max``, ``value``): unbounded.

    >>> metric_domain("null_fraction")
    MetricDomain(low=0.0, high=1.0, integer=False, min_half_width=0.005)
    >>> metric_domain("distinct_count").low, metric_domain("mean").low
    (0.0, None)
    """
    name = str(metric).lower()
    if name in ("fraction", "ratio") or name.endswith(("_fraction", "_ratio")):
        return _FRACTION
    if name in _COUNTS or name.endswith("_count"):
        return _COUNT
    if name in _NON_NEGATIVES:
        return _NON_NEGATIVE
    return _ANY


@functools.cache
def _param_names(cls: type) -> tuple[str, ...]:
    """The keyword-only parameters of ``cls.__init__`` (read once per class: every verdict
    carries them)."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    return tuple(
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind is p.KEYWORD_ONLY
    )


def _mover(
    new: list[float], centres: list[float], baseline: Iterable[float]
) -> Callable[[float], float]:
    """How to move a baseline to where ``new`` values are, given the centres they missed:
    a typical ratio when everything is positive, else a typical difference."""
    if all(c > 0.0 for c in centres) and all(v > 0.0 for v in (*new, *baseline)):
        ratio = statistics.median(v / c for v, c in zip(new, centres, strict=True))
        return lambda v: v * ratio
    offset = statistics.median(v - c for v, c in zip(new, centres, strict=True))
    return lambda v: v + offset


def widened(k: float, n: int, *, efficiency: float, centre_variance: float = 0.0) -> float:
    """The half-width multiplier of a prediction interval from ``n`` values.

    A band of ``k`` standard deviations alerts on 0.27 % of normal values (``k=3``) only
    if the centre and the scale were known exactly. Estimated from ``n`` values they are
    uncertain, and a short history alerts far more often. This widens ``k`` to the Student-t
    quantile with the same tail probability, with ``efficiency·(n − 1)`` degrees of freedom
    (1 for the standard deviation, 0.37 for the MAD), times ``sqrt(1 + centre_variance / n)``
    for the error of the centre (1 for a mean, π/2 for a median; 0 when the scale already
    comes from prediction errors). It tends to ``k`` as ``n`` grows.

    >>> round(widened(3, 30, efficiency=1.0, centre_variance=1.0), 2)
    3.33
    >>> round(widened(3, 7, efficiency=0.37, centre_variance=math.pi / 2), 1)
    16.9
    >>> round(widened(3, 1000, efficiency=0.37), 2)
    3.03
    """
    dof = round(max(efficiency * (n - 1), 1.0), 2)
    return k * _t_ratio(float(k), dof) * math.sqrt(1.0 + centre_variance / n)


@functools.lru_cache(maxsize=4096)
def _t_ratio(k: float, dof: float) -> float:
    from scipy.stats import norm, t

    ratio = float(t.isf(norm.sf(k), dof)) / k
    return ratio if math.isfinite(ratio) and ratio >= 1.0 else 1.0


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_number(name: str, value: object, *, low: float, low_open: bool = False) -> None:
    x = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None
    if x is None or not math.isfinite(x) or (x <= low if low_open else x < low):
        bound = f"> {format_number(low)}" if low_open else f">= {format_number(low)}"
        raise ConfigError(f"{name} must be a finite number {bound}; got {value!r}")


def _as_finite(value: object) -> float | None:
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _describe(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, numbers.Real):
        return format_number(float(value))
    return f"{value!r}, not a number"


def _finite(value: object, where: str) -> float:
    x = _as_finite(value)
    if x is None:
        raise InputError(
            f"{where} needs a finite number; got {value!r} "
            "(judge() and update() turn such values into an 'error' verdict instead)"
        )
    return x
