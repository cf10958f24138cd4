"""``novelty``: alert on values unlike any the series has produced before.

Built for streams (events per minute, latencies, counts per interval) and scored on the
Numenta Anomaly Benchmark (:mod:`datacanary.evaluate.nab`).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import replace
from datetime import datetime
from typing import Any

from datacanary.errors import ConfigError, InputError
from datacanary.results import Status, Verdict, format_number
from datacanary.series.base import Band, SeriesDetector

__all__ = ["NoveltyDetector"]

_UNIT = 0.02  # the alert level is sensitivity × this, in units of rarity × novelty


class NoveltyDetector(SeriesDetector):
    """Score how far a value is from every value seen before, calibrated per series.

    The detector keeps the values it has seen, sorted. For a new value it measures:

    * **novelty** ``s``: the distance to the nearest value seen before, as a fraction of the
      range the series has covered (the extreme ``trim`` share on each side left out, so one
      old spike does not blind it). A value among familiar ones scores near 0; a new level,
      a spike beyond anything seen or a value in a band the series never visited scores high.
    * **rarity** ``c = −ln p``: ``p`` is the share of the series' own past novelties that were
      at least as large (a conformal p-value). A noisy series, which meets new values all the
      time, needs a larger novelty to be rare than a clean one does.
    * **confidence** ``√min(1, n / settle)``: with few values seen, new ones are expected;
      the score grows to full weight once ``settle`` values are known.

    ``score = c · s · confidence / (sensitivity · 0.02)``, so 1 is the alert level. After an
    alert the detector stays quiet for ``cooldown`` values (scores 0), so one event alerts
    once rather than on every value of it.

    Parameters
    ----------
    direction, abs_floor, rel_floor, exclude_anomalies
        As for :class:`~datacanary.series.SeriesDetector`. ``direction="up"`` alerts only
        on values above the median of the history (``"down"``: below). The floors apply to the
        distance from the nearest familiar value.
    sensitivity
        Scales the alert level (default 3.0); smaller alerts more.
    min_history
        Values seen before anything is scored (default 150).
    window
        Remember only the last ``window`` values (default 20,000; ``None``: all).
    trim
        Share of the values left out at each end when measuring the range (default 0.001).
    settle
        Values after which a score has full weight (default 2,000).
    cooldown
        Values after an alert during which nothing alerts (default 50; 0 turns it off).

    Notes
    -----
    Each value costs two binary searches and two insertions into sorted lists of at most
    ``window`` values: about 6 µs, so NAB's 365,558 values take about 2 s of CPU. On NAB the
    defaults score 69.7 / 59.0 / 75.2 (standard / low FP / low FN; 66.8 / 55.7 / 72.8 on
    files not used to choose them); see ``docs/nab.md``.

    Examples
    --------
    A series that alternates between levels 20–26 and 80–86, then a value at 50 (a level it
    never held) and one at 120 (beyond anything seen):

    >>> from datacanary.series.novelty import NoveltyDetector
    >>> detector = NoveltyDetector(min_history=100, settle=100)
    >>> for i in range(600):
    ...     detector.learn_one((20 if (i // 50) % 2 == 0 else 80) + i % 7)
    >>> detector.score_one(83.0), round(detector.score_one(50.0), 1)
    (0.0, 30.4)
    >>> detector.judge(50.0).message
    'value 50 is within the expected 18.99–87.01 but far from every value seen before (nearest: 26)'
    >>> detector.judge(120.0).message
    'value 120 is above the expected 18.99–87.01 from the last 600 runs'
    """

    name = "novelty"

    def __init__(
        self,
        *,
        direction: str = "both",
        sensitivity: float = 3.0,
        min_history: int = 150,
        window: int | None = 20_000,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        exclude_anomalies: bool = True,
        trim: float = 0.001,
        settle: int = 2000,
        cooldown: int = 50,
    ) -> None:
        super().__init__(
            direction=direction,
            sensitivity=sensitivity,
            min_history=min_history,
            window=window,
            abs_floor=abs_floor,
            rel_floor=rel_floor,
            exclude_anomalies=exclude_anomalies,
        )
        self.trim = trim
        self.settle = settle
        self.cooldown = cooldown

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"min_history": 10, "settle": 10, "cooldown": 0}

    # -- state --------------------------------------------------------------------------

    def _validate(self) -> None:
        super()._validate()
        if not (isinstance(self.trim, (int, float)) and 0.0 <= self.trim < 0.5):
            raise ConfigError(f"trim must be a share in [0, 0.5); got {self.trim!r}")
        for name in ("settle", "cooldown"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0; got {value!r}")
        if self.min_history < 2:
            raise ConfigError(f"min_history must be an integer >= 2; got {self.min_history!r}")

    def _reset(self) -> None:
        self._arrived: deque[float] = deque()  # values in arrival order (for the window)
        self._sorted: list[float] = []  # the same values, sorted
        self._past: deque[float] = deque()  # novelties of learned values, in arrival order
        self._past_sorted: list[float] = []  # the same, sorted
        self._seen = 0  # values learned since the start (drives confidence and cooldown)
        self._last_alert = -(10**18)
        self._cache: tuple[float, int, float, float] | None = None  # value, seen, s, score

    def _size(self) -> int:
        return len(self._sorted)

    # -- scoring ------------------------------------------------------------------------

    def _range(self) -> float:
        values = self._sorted
        cut = int(self.trim * (len(values) - 1))
        return values[len(values) - 1 - cut] - values[cut]

    def _nearest(self, x: float) -> float:
        values = self._sorted
        i = bisect.bisect_left(values, x)
        if i == 0:
            return values[0]
        if i == len(values):
            return values[-1]
        below, above = values[i - 1], values[i]
        return below if x - below <= above - x else above

    def _novelty(self, x: float) -> float:
        """Distance to the nearest value seen, as a share of the (trimmed) range."""
        gap = abs(x - self._nearest(x))
        span = self._range()
        if span > 0.0:
            return gap / span
        return 0.0 if gap == 0.0 else 1.0

    def _rarity(self, s: float) -> float:
        """``−ln p``, p the share of past novelties at least ``s`` (with one pseudo-count)."""
        past = self._past_sorted
        at_least = len(past) - bisect.bisect_left(past, s)
        return -math.log((at_least + 1) / (len(past) + 1))

    def _confidence(self) -> float:
        return math.sqrt(min(1.0, self._seen / self.settle)) if self.settle else 1.0

    def _level(self) -> float:
        return float(self.sensitivity) * _UNIT

    def _evaluate(self, x: float) -> tuple[float, float]:
        """``(novelty, score)`` of ``x`` against the current state, cached per value."""
        cache = self._cache
        if cache is not None and cache[0] == x and cache[1] == self._seen:
            return cache[2], cache[3]
        if len(self._sorted) < self.min_history:
            s, score = (self._novelty(x) if len(self._sorted) >= 2 else 0.0), 0.0
        else:
            s = self._novelty(x)
            score = self._rarity(s) * s * self._confidence() / self._level()
            if self._seen - self._last_alert <= self.cooldown or not self._on_side(x):
                score = 0.0
        self._cache = (x, self._seen, s, score)
        return s, score

    def _on_side(self, x: float) -> bool:
        if self.direction == "both":
            return True
        median = self._sorted[len(self._sorted) // 2]
        return x > median if self.direction == "up" else x < median

    def _score(self, x: float, band: Band) -> float:
        return self._evaluate(x)[1]

    def score_one(self, value: float, at: datetime | None = None) -> float:
        """How novel ``value`` would be (1 = the alert level, 0 while history is short)."""
        self._ensure_ready()
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            raise InputError(
                f"score_one needs a finite number; got {value!r} "
                "(judge() and update() turn such values into an 'error' verdict instead)"
            )
        return self._evaluate(x)[1]

    # -- learning -----------------------------------------------------------------------

    def _learn(self, value: float, at: datetime | None) -> None:
        s, score = self._evaluate(value)
        if score >= 1.0:
            self._last_alert = self._seen
        if len(self._sorted) >= 2:
            self._past.append(s)
            bisect.insort(self._past_sorted, s)
        self._insert(value)

    def _skip(self, value: float, at: datetime | None) -> None:
        if self._evaluate(value)[1] >= 1.0:
            self._last_alert = self._seen
        self._seen += 1  # an alert left out of the baseline still counts as time passing
        self._cache = None

    def _readmit(self, values: list[tuple[float, datetime | None]]) -> None:
        for value, _ in values:
            self._insert(value, count=False)

    def _insert(self, value: float, *, count: bool = True) -> None:
        self._arrived.append(value)
        bisect.insort(self._sorted, value)
        if self.window is not None:
            while len(self._arrived) > self.window:
                old = self._arrived.popleft()
                del self._sorted[bisect.bisect_left(self._sorted, old)]
            while len(self._past) > self.window:
                old = self._past.popleft()
                del self._past_sorted[bisect.bisect_left(self._past_sorted, old)]
        if count:
            self._seen += 1
        self._cache = None

    # -- the band and the verdict ---------------------------------------------------------

    def _margin(self) -> float:
        """The smallest novelty that alerts, as a distance in the series' units."""
        span = self._range()
        weight = self._confidence() / self._level()
        if weight <= 0.0:
            return math.inf
        past = self._past_sorted
        n = len(past)
        # With k past novelties >= s, rarity is c_k; s alerts when s >= 1 / (c_k · weight).
        # The novelties with exactly k above lie in (past[n-k-1], past[n-k]]; search the
        # largest k whose interval still holds such an s (feasibility shrinks as k grows).
        best = 1.0 / (math.log(n + 1) * weight) if n else math.inf
        best = max(best, past[-1]) if n else best
        lo, hi = 1, n
        while lo <= hi:
            k = (lo + hi) // 2
            need = 1.0 / (-math.log((k + 1) / (n + 1)) * weight)
            top = past[n - k]
            floor = past[n - k - 1] if n - k - 1 >= 0 else 0.0
            if max(need, floor) <= top:
                best = min(best, max(need, floor))
                lo = k + 1
            else:
                hi = k - 1
        return best * span if span > 0.0 else 0.0

    def _band(self, at: datetime | None) -> Band | None:
        if len(self._sorted) < self.min_history:
            return None
        values = self._sorted
        margin = self._margin()
        return values[len(values) // 2], values[0] - margin, values[-1] + margin

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
        """Judge ``value``: anomalous when its score reaches 1 and it clears the floors.

        The band is the range of values seen, widened by the distance that alerts; a value
        inside it can still be novel (a level the series never held), and the sentence says so.
        """
        verdict = super().judge(value, at, metric=metric, column=column, dataset=dataset, unit=unit)
        if verdict.status not in (Status.PASSED, Status.ANOMALY):
            return verdict
        x = float(value)
        nearest = self._nearest(x)
        gap = abs(x - nearest)
        alert = (
            verdict.score >= 1.0 and gap > self.abs_floor and gap > self.rel_floor * abs(nearest)
        )
        if alert == (verdict.status is Status.ANOMALY):
            return verdict
        subject = Verdict.subject(metric, column)
        low, high = verdict.expected_low, verdict.expected_high
        band = f"{format_number(low)}–{format_number(high)}"
        if alert:
            message = (
                f"{subject} {format_number(x)} is within the expected {band} but far from every "
                f"value seen before (nearest: {format_number(nearest)})"
            )
            return replace(verdict, status=Status.ANOMALY, message=message)
        quiet = self._seen - self._last_alert <= self.cooldown
        reason = (
            "alerts are paused after the last one"
            if quiet
            else "the change is under the alerting floor"
        )
        where = "above" if high is not None and x > high else "below"
        message = (
            f"{subject} {format_number(x)} is {where} the expected {band} from the last "
            f"{verdict.history_size} {unit} ({reason})"
        )
        return replace(verdict, status=Status.PASSED, message=message)
