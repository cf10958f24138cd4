"""``seasonal``: compare a value with the same weekday, hour of day or day of month."""

from __future__ import annotations

import itertools
import statistics
from collections import deque
from datetime import datetime

from datacanary.errors import ConfigError
from datacanary.series.base import Band, SeriesDetector, _mover, widened

__all__ = ["SeasonalDetector"]

_PERIODS = ("weekday", "hour", "day_of_month", "auto")
_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


class SeasonalDetector(SeriesDetector):
    """Expect the median of the same bucket (weekday, hour, day of month) ± a pooled scale.

    Each value goes into the bucket of its timestamp. The band's centre is the median of the
    last ``window`` values of the bucket of the value under test; its half-width is
    ``sensitivity`` × a robust scale (1.4826 · median) of the leave-one-out errors
    ``|v − median(rest of v's bucket)|`` pooled over all buckets, so the scale is stable after
    a few weeks even though each bucket holds only a few values. ``min_history`` and
    ``window`` count values *per bucket*. Every value needs a timestamp (``at``);
    buckets use the timestamp's own clock (its time zone, if any).

    Parameters
    ----------
    period
        ``"weekday"``, ``"hour"`` (hour of day), ``"day_of_month"`` or ``"auto"`` (default):
        ``"hour"`` when runs are less than a day apart (median spacing), else ``"weekday"``.
    min_history, window
        Per bucket; defaults 3 and 8 (three to eight weeks of Mondays).

    Other parameters are those of :class:`~datacanary.series.SeriesDetector`.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from datacanary.series import SeasonalDetector
    >>> days = [datetime(2024, 1, 1) + timedelta(days=i) for i in range(28)]  # from a Monday
    >>> rows = [1000 + (i % 3) * 10 if d.weekday() < 5 else 200 + (i % 2) * 5
    ...         for i, d in enumerate(days)]
    >>> detector = SeasonalDetector().fit(rows, days)
    >>> detector.expected(datetime(2024, 1, 29))  # a Monday
    (946.3..., 1063.6...)
    >>> detector.update(210, datetime(2024, 1, 29), metric="row_count").message
    'row_count 210 is below the expected 946.32–1,064 from the last 4 runs on Mondays'
    >>> detector.update(210, datetime(2024, 2, 3)).status.value  # a Saturday
    'passed'
    """

    name = "seasonal"

    def __init__(
        self,
        *,
        direction: str = "both",
        sensitivity: float = 3.0,
        min_history: int = 3,
        window: int | None = 8,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        exclude_anomalies: bool = True,
        period: str = "auto",
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
        self.period = period

    def _validate(self) -> None:
        super()._validate()
        if self.period not in _PERIODS:
            raise ConfigError(
                f"period must be 'weekday', 'hour', 'day_of_month' or 'auto'; got {self.period!r}"
            )

    @classmethod
    def _unit_test_params(cls) -> dict[str, object]:
        return {"period": "weekday"}

    def _reset(self) -> None:
        most = None if self.window is None else 31 * self.window  # 31 buckets at most
        self._history: deque[tuple[datetime, float]] = deque(maxlen=most)

    def _learn(self, value: float, at: datetime | None) -> None:
        self._history.append((self._stamp(at), value))

    def _size(self) -> int:
        return len(self._history)

    def _baseline_size(self, at: datetime | None) -> int:
        return self._size() if at is None else len(self._buckets().get(self._key(at), []))

    def _band(self, at: datetime | None) -> Band | None:
        buckets = self._buckets()
        own = buckets.get(self._key(self._stamp(at)), [])
        if len(own) < self.min_history:
            return None
        errors = [
            abs(v - statistics.median(bucket[:i] + bucket[i + 1 :]))
            for bucket in buckets.values()
            if len(bucket) > 1
            for i, v in enumerate(bucket)
        ]
        scale = 1.4826 * statistics.median(errors) if errors else 0.0
        if scale == 0.0 and errors:
            scale = 1.2533 * sum(errors) / len(errors)
        centre = statistics.median(own)
        half = widened(self.sensitivity, max(len(errors), 2), efficiency=0.37) * scale
        return centre, centre - half, centre + half

    def _moved(self, values: list[tuple[float, datetime | None]]) -> None:
        # move every bucket by the typical ratio (or difference) of the new values to theirs
        buckets = self._buckets()
        pairs = [
            (v, statistics.median(buckets[key]))
            for v, at in values
            if (key := self._key(self._stamp(at))) in buckets
        ]
        if pairs:
            new, centres = [v for v, _ in pairs], [c for _, c in pairs]
            move = _mover(new, centres, (v for _, v in self._history))
            self._history = deque(
                ((t, move(v)) for t, v in self._history), maxlen=self._history.maxlen
            )
        for value, at in values:
            self._learn(value, at)

    def _unit(self, unit: str, at: datetime | None) -> str:
        if at is None:
            return unit
        period = self._resolved_period()
        if period == "weekday":
            return f"{unit} on {_WEEKDAYS[at.weekday()]}"
        if period == "hour":
            return f"{unit} at {at.hour:02d}:00"
        return f"{unit} on day {at.day} of the month"

    # -- buckets ------------------------------------------------------------------------

    def _stamp(self, at: datetime | None) -> datetime:
        if not isinstance(at, datetime):
            raise ConfigError(
                f"the seasonal detector needs a datetime for every value; got at={at!r}: "
                "pass at=<datetime> to learn_one/judge/update, or times= to fit"
            )
        return at

    def _resolved_period(self) -> str:
        if self.period != "auto":
            return self.period
        stamps = [t for t, _ in list(self._history)[-50:]]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
        return "hour" if gaps and statistics.median(gaps) < 86400 else "weekday"

    def _key(self, at: datetime, period: str | None = None) -> int:
        period = period or self._resolved_period()
        return at.weekday() if period == "weekday" else at.hour if period == "hour" else at.day

    def _buckets(self) -> dict[int, list[float]]:
        period = self._resolved_period()
        buckets: dict[int, list[float]] = {}
        for t, v in self._history:
            buckets.setdefault(self._key(t, period), []).append(v)
        if self.window is not None:
            buckets = {k: b[-self.window :] for k, b in buckets.items()}
        return buckets
