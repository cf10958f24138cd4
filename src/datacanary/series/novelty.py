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


class _SortedWindow:
    """The last ``window`` numbers added (all when ``window`` is None), kept sorted."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.arrived: deque[float] = deque()
        self.sorted: list[float] = []

    def add(self, x: float) -> None:
        self.arrived.append(x)
        bisect.insort(self.sorted, x)
        if self.window is not None and len(self.arrived) > self.window:
            del self.sorted[bisect.bisect_left(self.sorted, self.arrived.popleft())]

    def rarity(self, s: float) -> float:
        """``−ln p``, p the share of the numbers at least ``s`` (with one pseudo-count)."""
        at_least = len(self.sorted) - bisect.bisect_left(self.sorted, s)
        return -math.log((at_least + 1) / (len(self.sorted) + 1))


class NoveltyDetector(SeriesDetector):
    """Score how far a value is from every value seen before, calibrated per series.

    The detector keeps the values it has seen, sorted. For a new value it measures, on two
    scales (the values themselves, and a signed log ``±ln(1 + |x| / m)`` with ``m`` the
    median size of the first ``min_history`` values):

    * **novelty** ``s``: the distance to the nearest value seen before, as a fraction of the
      range the series has covered (the extreme ``trim`` share on each side left out, so one
      old spike does not blind it). A value among familiar ones scores near 0; a new level,
      a spike beyond anything seen or a value in a band the series never visited scores high.
    * **rarity** ``c = −ln p``: ``p`` is the share of the series' own past novelties that were
      at least as large (a conformal p-value). A noisy series, which meets new values all the
      time, needs a larger novelty to be rare than a clean one does.

    The two scales are combined by a geometric mean, ``√(c·s · c'·s')``, so a value must be
    new on both: a spike a little above the last record of a heavy-tailed count is new on
    the linear scale but not on the log one, and a wiggle near zero the other way round.
    The product is then

    * damped by **confidence** ``√min(1, n / settle)``: with few values seen, new ones are
      expected; the score grows to full weight once ``settle`` values are known;
    * divided by **alert fatigue** ``1 + fatigue · a``, where ``a`` counts the alerts raised
      so far, each one fading with a half-life of ``fatigue_half_life`` values: a series that
      keeps alerting needs ever stronger evidence, one that never alerted keeps full weight.

    ``score = √(c·s · c'·s') · confidence / ((1 + fatigue · a) · sensitivity · 0.02)``, so 1
    is the alert level. After an alert the detector stays quiet for ``cooldown`` values
    (scores 0), so one event alerts once rather than on every value of it.

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
        Values after an alert during which nothing alerts (default 100; 0 turns it off).
    fatigue
        How much each recent alert raises the bar (default 0.5; 0 turns it off).
    fatigue_half_life
        Values after which an alert counts half as much (default 4,000).

    Notes
    -----
    Each value costs a few binary searches and insertions into sorted lists of at most
    ``window`` values: 9–18 µs, so NAB's 365,558 values take 3.4–6.5 s of CPU. On NAB
    the defaults score 74.2 / 68.2 / 78.5 (standard / low FP / low FN; 74.6 / 68.9 / 78.7
    on the held-out half of the files, which was seen while tuning); see ``docs/nab.md``.

    Examples
    --------
    A series that alternates between levels 20–26 and 80–86, then a value at 50 (a level it
    never held) and one at 120 (beyond anything seen):

    >>> from datacanary.series.novelty import NoveltyDetector
    >>> detector = NoveltyDetector(min_history=100, settle=100)
    >>> for i in range(600):
    ...     detector.learn_one((20 if (i // 50) % 2 == 0 else 80) + i % 7)
    >>> detector.score_one(83.0), round(detector.score_one(50.0), 1)
    (0.0, 31.9)
    >>> detector.judge(50.0).message
    'value 50 is within the expected 19.16–87.05 but far from every value seen before (nearest: 26)'
    >>> detector.judge(120.0).message
    'value 120 is above the expected 19.16–87.05 from the last 600 runs'
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
        cooldown: int = 100,
        fatigue: float = 0.5,
        fatigue_half_life: int = 4000,
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
        self.fatigue = fatigue
        self.fatigue_half_life = fatigue_half_life

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"min_history": 10, "settle": 10, "cooldown": 0, "fatigue": 0.0}

    # -- state --------------------------------------------------------------------------

    def _validate(self) -> None:
        super()._validate()
        if not (isinstance(self.trim, (int, float)) and 0.0 <= self.trim < 0.5):
            raise ConfigError(f"trim must be a share in [0, 0.5); got {self.trim!r}")
        for name in ("settle", "cooldown"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0; got {value!r}")
        fatigue = self.fatigue
        number = isinstance(fatigue, (int, float)) and not isinstance(fatigue, bool)
        if not (number and math.isfinite(fatigue) and fatigue >= 0):
            raise ConfigError(f"fatigue must be a finite number >= 0; got {fatigue!r}")
        half_life = self.fatigue_half_life
        if not isinstance(half_life, int) or isinstance(half_life, bool) or half_life < 1:
            raise ConfigError(f"fatigue_half_life must be an integer >= 1; got {half_life!r}")
        if self.min_history < 2:
            raise ConfigError(f"min_history must be an integer >= 2; got {self.min_history!r}")

    def _reset(self) -> None:
        self._values = _SortedWindow(self.window)  # the values seen
        self._linear = _SortedWindow(self.window)  # their novelties on the linear scale
        self._log = _SortedWindow(self.window)  # ... and on the log scale
        self._sizes: list[float] = []  # |x| of the first values, sorted, until the scale is set
        self._log_unit = 1.0  # m in ±ln(1 + |x| / m)
        self._seen = 0  # values learned since the start (drives confidence and cooldown)
        self._last_alert = -(10**18)
        self._alerts = 0.0  # fading count of alerts, as of value number _alerts_at
        self._alerts_at = 0
        self._cache: tuple[float, int, float, float, float] | None = None  # x, seen, s, s', score

    def _size(self) -> int:
        return len(self._values.sorted)

    # -- scoring ------------------------------------------------------------------------

    def _to_log(self, x: float) -> float:
        return math.copysign(math.log1p(abs(x) / self._log_unit), x)

    def _novelties(self, x: float) -> tuple[float, float]:
        """Distance to the nearest value seen, as a share of the (trimmed) range, per scale."""
        values = self._values.sorted
        n = len(values)
        if n < 2:
            return 0.0, 0.0
        i = bisect.bisect_left(values, x)
        neighbours = [values[j] for j in (i - 1, i) if 0 <= j < n]
        cut = int(self.trim * (n - 1))
        low, high = values[cut], values[n - 1 - cut]
        gap = min(abs(x - v) for v in neighbours)
        to_log = self._to_log
        log_x = to_log(x)
        log_gap = min(abs(log_x - to_log(v)) for v in neighbours)
        return _share(gap, high - low), _share(log_gap, to_log(high) - to_log(low))

    def _confidence(self) -> float:
        return math.sqrt(min(1.0, self._seen / self.settle)) if self.settle else 1.0

    def _fatigue(self) -> float:
        """The fading count of past alerts, as of now."""
        fade = 0.5 ** ((self._seen - self._alerts_at) / self.fatigue_half_life)
        return self._alerts * fade

    def _weight(self) -> float:
        level = float(self.sensitivity) * _UNIT
        return self._confidence() / (level * (1.0 + float(self.fatigue) * self._fatigue()))

    def _strength(self, s: float, s_log: float) -> float:
        """The score before the cooldown and the side are applied."""
        evidence = self._linear.rarity(s) * s * self._log.rarity(s_log) * s_log
        return math.sqrt(evidence) * self._weight()

    def _evaluate(self, x: float) -> tuple[float, float, float]:
        """``(novelty, log-scale novelty, score)`` of ``x`` now, cached per value."""
        cache = self._cache
        if cache is not None and cache[0] == x and cache[1] == self._seen:
            return cache[2], cache[3], cache[4]
        s, s_log = self._novelties(x)
        score = 0.0
        if len(self._values.sorted) >= self.min_history:
            quiet = self._seen - self._last_alert <= self.cooldown
            if not quiet and self._on_side(x):
                score = self._strength(s, s_log)
        self._cache = (x, self._seen, s, s_log, score)
        return s, s_log, score

    def _on_side(self, x: float) -> bool:
        if self.direction == "both":
            return True
        median = self._values.sorted[len(self._values.sorted) // 2]
        return x > median if self.direction == "up" else x < median

    def _score(self, x: float, band: Band) -> float:
        return self._evaluate(x)[2]

    def score_one(
        self, value: float, at: datetime | None = None, *, metric: str = "value"
    ) -> float:
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
        return self._evaluate(x)[2]

    # -- learning -----------------------------------------------------------------------

    def _learn(self, value: float, at: datetime | None) -> None:
        s, s_log, score = self._evaluate(value)
        self._note_alert(score)
        if len(self._values.sorted) >= 2:
            self._linear.add(s)
            self._log.add(s_log)
        self._insert(value)

    def _skip(self, value: float, at: datetime | None) -> None:
        self._note_alert(self._evaluate(value)[2])
        self._seen += 1  # an alert left out of the baseline still counts as time passing
        self._cache = None

    def _note_alert(self, score: float) -> None:
        if score >= 1.0:
            self._alerts = self._fatigue() + 1.0
            self._alerts_at = self._seen
            self._last_alert = self._seen

    def _readmit(self, values: list[tuple[float, datetime | None]]) -> None:
        for value, _ in values:
            self._insert(value, count=False)

    def _insert(self, value: float, *, count: bool = True) -> None:
        if len(self._sizes) < self.min_history:
            # the log scale's unit: the median size of the first values, then fixed
            bisect.insort(self._sizes, abs(value))
            median = self._sizes[len(self._sizes) // 2]
            self._log_unit = median if median > 0.0 else 1.0
        self._values.add(value)
        if count:
            self._seen += 1
        self._cache = None

    # -- the band and the verdict ---------------------------------------------------------

    def _nearest(self, x: float) -> float:
        values = self._values.sorted
        i = bisect.bisect_left(values, x)
        if i == 0:
            return values[0]
        if i == len(values):
            return values[-1]
        below, above = values[i - 1], values[i]
        return below if x - below <= above - x else above

    def _margin(self, edge: float, step: float) -> float:
        """The smallest distance beyond ``edge`` (outwards: the sign of ``step``) that alerts.

        Beyond the values seen, both novelties and so the strength grow with the distance;
        double the distance until it alerts, then bisect.
        """

        def alerts(distance: float) -> bool:
            return self._strength(*self._novelties(edge + math.copysign(distance, step))) >= 1.0

        if self._weight() <= 0.0:
            return math.inf
        if alerts(abs(step) * 1e-12):
            return 0.0  # any departure alerts (a series that never moved): no margin to show
        far = abs(step)
        for _ in range(64):
            if alerts(far):
                break
            far *= 2.0
        else:
            return math.inf
        near = 0.0
        for _ in range(60):
            middle = (near + far) / 2.0
            if middle in (near, far):
                break
            if alerts(middle):
                far = middle
            else:
                near = middle
        return far

    def _band(self, at: datetime | None) -> Band | None:
        if len(self._values.sorted) < self.min_history:
            return None
        values = self._values.sorted
        low, high = values[0], values[-1]
        step = max(high - low, abs(high), 1.0) * 1e-3
        return (
            values[len(values) // 2],
            low - self._margin(low, -step),
            high + self._margin(high, step),
        )

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


def _share(gap: float, span: float) -> float:
    """``gap`` as a share of ``span``; any gap is a whole share of a range of zero width."""
    if span > 0.0:
        return gap / span
    return 0.0 if gap == 0.0 else 1.0
