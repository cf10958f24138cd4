"""``auto``: the default series detector; it finds the metric's pattern and kind itself."""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from datacanary.errors import ConfigError
from datacanary.results import Status, Verdict, band_text, format_number
from datacanary.series.base import (
    Band,
    SeriesDetector,
    _check_number,
    _is_int,
    metric_domain,
    widened,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["AutoSeriesDetector"]

_PERIODS = ("auto", "weekday", "hour", "none")
_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_DAY = 86_400.0
_LEVEL_RUNS = 7  # the level of a continuous metric: the median of its last 7 runs
_COUNT_LEVEL_RUNS = 28  # the level of a small count: the mean of its last 28 runs
_COUNT_MEAN = 30.0  # integer metrics with a mean up to this use a count model
_SEASON_GAIN = 0.85  # a period is used when it cuts the mean one-step error by 15 %
_COUNT_SEASON_GAIN = 0.95  # ... or the mean squared error of a count by 5 % (noise dominates)
_EFFICIENCY = 0.37  # of the error scale, for the widening of short histories
_ENVELOPE = 2.0  # a log-scale band ends at half the smallest / twice the largest value learned
_MAX_WIDENING = 2.0  # a short history widens k at most this much: a t quantile at the 5σ
# tail with ~2 degrees of freedom is ~200σ, a band no value can leave (exp of it on a log scale)
_LONGEST_RUN = 7  # runs of low counts are tested up to this length
_MAX_LOG = 700.0  # exp() of more overflows
_ULPS = 1e-12  # a log-scale band is widened by this share, for the rounding of exp(log(x))


@dataclass(frozen=True)
class _State:
    """What the learned history says, computed once per change of the history."""

    scale: str  # "log", "linear" or "count": how values are compared
    kind: str | None  # the candidate period: "weekday", "hour" or None
    period: int  # runs per season of the candidate (0: none)
    flat: float  # the level without a season, on the compared scale
    level: float  # the deseasonalised level (candidate seasonal model)
    profile: dict[int, float]  # bucket -> seasonal effect (empty: no seasonal model yet)
    use_season: bool  # the seasonal model predicts better, so the band uses it
    spread: float  # the band's half-width on the compared scale (continuous scales)
    dispersion: float  # variance / mean of a count (1: Poisson)
    errors: int  # one-step errors the spread rests on
    size: int
    decided: bool = True  # False while a candidate period has too few runs to be judged
    seen: tuple[float, float] = (-math.inf, math.inf)  # smallest and largest value learned

    @property
    def season(self) -> str | None:
        return self.kind if self.use_season else None


@dataclass(frozen=True)
class _Fit:
    """The model for the next value at one timestamp."""

    state: _State
    key: int | None
    centre: float  # on the value scale
    low: float
    high: float
    centre_t: float  # on the compared scale


@dataclass
class _Run:
    """One judged run, kept for the tests that look at several runs in a row."""

    value: float
    at: datetime | None
    learned: bool
    side: int  # +1 above its centre, -1 below, 0 on it
    flag: str | None  # "up", "down" or "stale" when it was anomalous
    fit: _Fit | None
    accepted: bool = False  # part of a move taken as the new normal


@dataclass(frozen=True)
class _Look:
    """The run-level evidence about a value, computed by ``judge`` for ``update``."""

    flag: str | None = None
    score: float = 0.0
    message: str | None = None
    moved: bool = False  # accepting this value re-baselines the series
    offset: float = 0.0  # by how much the history moves, on the compared scale
    zero: bool = False  # the new level is 0: start afresh rather than move
    steady: bool = False  # the value a stay was accepted at, still there: it passes
    model: dict[str, Any] | None = None


class AutoSeriesDetector(SeriesDetector):
    """Find the metric's pattern and kind, then judge each value by the rule that fits it.

    What it works out from the history itself, every run:

    * **Scale.** Counts with a small mean (non-negative integers, mean up to 30, at least
      Poisson-like spread, e.g. errors per day) get a count model: a Poisson or, when the
      one-step errors are overdispersed, a negative binomial prediction interval (scipy)
      at the two-sided rate ``error_rate``. Positive metrics (row counts, means of amounts)
      are compared on a log scale, so seasons, trends and bands are proportional; anything
      else on its own scale.
    * **Season.** With timestamps, the runs' spacing gives the candidate period: weekdays
      for daily runs, hours of the day for hourly (or finer) runs, bucketed by local time in
      ``timezone`` (``zoneinfo``, so DST moves the buckets with the clock). The seasonal
      effects are the median deviation of each bucket from a rolling one-season median; the
      period is used only if it cuts the robust scale of the one-step prediction errors by
      15 % against the model without it. Without timestamps there is no season.
    * **Level.** The median of the last 7 runs (deseasonalised), the mean of the last 28 for
      counts, so slow trends and wander are followed.
    * **Band.** ``centre ± k·s``: ``s`` is a robust scale (1.4826·median ``|e|``) of the
      one-step prediction errors ``e`` the model actually made (honest for trends, wander and
      short histories), ``k`` is ``sensitivity`` widened to a Student-t quantile for the
      number of errors (:func:`~datacanary.series.base.widened`): wide on a new series,
      ``sensitivity`` after a few months. Every band is clipped to the metric's domain
      (:func:`~datacanary.series.base.metric_domain`).

    And what it tests beyond the band:

    * **Runs of low counts.** ``k`` runs in a row at or below ``m`` have probability
      ``∏ P(X_i <= m)`` under the count model; below ``error_rate / 2`` they alert, so a
      3-day outage (zeros) of a mean-3 count is seen although one 0 is unremarkable.
    * **Stale values.** A value repeated exactly for ``stale_after`` runs or more alerts when
      the history makes it unlikely: the chance of a repeat is estimated from the history
      (for a value the series often takes, like 0, from its own repeats), and ``p^(r−1)``
      for ``r`` equal runs must fall below ``error_rate``.
    * **A new level.** Anomalies stay out of the baseline. When the last ``shift_after`` runs
      all sit on one side of their expected value and at least half of them alerted, the
      series has moved: the history is moved by the median change (keeping its season and
      spread), the runs are learned, and the verdict passes and says so ("row_count moved to
      a new level on 2026-03-02; re-baselined"). Weekends inside the band do not break it,
      as they broke the "7 in a row" rule. A drop to exactly 0 is an outage, not a new level,
      until it has lasted ``3·shift_after`` runs; a stale value is accepted the same way.

    Parameters
    ----------
    sensitivity
        ``k`` of the band, in robust standard deviations of the one-step errors (default 5,
        chosen on ``bench/pipeline_series.py``; see ``docs/series.md``).
    min_history
        Runs before anything is judged (default 7); bands are wide at first.
    window
        Runs the model rests on (default 112: 16 weeks of daily runs).
    period
        ``"auto"`` (default: weekdays for daily runs, hours for hourly or finer ones, used only
        if they help), ``"weekday"``, ``"hour"`` or ``"none"``.
    timezone
        IANA time zone name (``"Europe/Berlin"``) for the seasonal buckets; naive timestamps
        are read as UTC. ``None`` (default): the timestamps' own clock.
    shift_after
        Runs after which a lasting move is the new normal (default 5).
    stale_after
        Equal runs in a row before a repeat can alert (default 3; 0 turns the test off).
    error_rate
        Two-sided false-alarm rate per run of the exact tests: count intervals, runs of low
        counts, stale values (default 0.002).
    count_model
        Use the count model for small counts (default True).

    ``direction``, ``abs_floor``, ``rel_floor`` and ``exclude_anomalies`` are those of
    :class:`~datacanary.series.SeriesDetector`; runs of low counts are tested unless
    ``direction="up"``, stale values in every direction.

    Examples
    --------
    Daily row counts with quiet weekends: a Saturday is judged against Saturdays.

    >>> from datetime import datetime, timedelta
    >>> from datacanary.series import AutoSeriesDetector
    >>> days = [datetime(2026, 1, 5) + timedelta(days=i) for i in range(56)]  # from a Monday
    >>> rows = [(10_000 if d.weekday() < 5 else 4_000) + 37 * (i % 5) for i, d in enumerate(days)]
    >>> detector = AutoSeriesDetector().fit(rows, days)
    >>> verdict = detector.update(4_050, datetime(2026, 3, 7), metric="row_count")  # a Saturday
    >>> verdict.status.value, verdict.model["season"]
    ('passed', 'weekday')
    >>> print(detector.update(1_204, datetime(2026, 3, 9), metric="row_count").message)
    row_count 1,204 is below the expected 8,953–11,170 from the last 57 runs
    (weekly pattern, Mondays)

    A count of about 3 a day that stops (0 for three days):

    >>> import numpy as np
    >>> counts = np.random.default_rng(1).poisson(3, 60).tolist()
    >>> detector = AutoSeriesDetector().fit(counts)
    >>> [detector.update(0, metric="null_count").status.value for _ in range(3)]
    ['passed', 'passed', 'anomaly']
    """

    name = "auto"

    def __init__(
        self,
        *,
        direction: str = "both",
        sensitivity: float = 5.0,
        min_history: int = 7,
        window: int | None = 112,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        exclude_anomalies: bool = True,
        period: str = "auto",
        timezone: str | None = None,
        shift_after: int = 5,
        stale_after: int = 3,
        error_rate: float = 0.002,
        count_model: bool = True,
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
        self.timezone = timezone
        self.shift_after = shift_after
        self.stale_after = stale_after
        self.error_rate = error_rate
        self.count_model = count_model

    # -- parameters and state -------------------------------------------------------------

    def _validate(self) -> None:
        super()._validate()
        if self.period not in _PERIODS:
            raise ConfigError(
                f"period must be 'auto', 'weekday', 'hour' or 'none'; got {self.period!r}"
            )
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(str(self.timezone))
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"timezone must be an IANA time zone name such as 'Europe/Berlin' or "
                    f"None; got {self.timezone!r}"
                ) from None
        if not _is_int(self.shift_after) or self.shift_after < 2:
            raise ConfigError(f"shift_after must be an integer >= 2; got {self.shift_after!r}")
        if not _is_int(self.stale_after) or self.stale_after < 0 or self.stale_after == 1:
            raise ConfigError(
                f"stale_after must be 0 (off) or an integer >= 2; got {self.stale_after!r}"
            )
        _check_number("error_rate", self.error_rate, low=0.0, low_open=True)
        if self.error_rate >= 1.0:
            raise ConfigError(f"error_rate must be a number in (0, 1); got {self.error_rate!r}")
        if not isinstance(self.count_model, bool):
            raise ConfigError(f"count_model must be True or False; got {self.count_model!r}")
        if self.window is None:
            raise ConfigError("window must be an integer >= min_history for auto; got None")

    def _reset(self) -> None:
        most = self.window
        self._x: deque[float] = deque(maxlen=most)
        self._keys: deque[tuple[int, int] | None] = deque(maxlen=most)  # local (weekday, hour)
        self._stamps: deque[float | None] = deque(maxlen=most)
        self._learned: deque[bool] = deque(maxlen=most)  # False: an anomaly, kept out
        # what each model predicted for every run: (x, flat, seasonal, learned)
        self._errors: deque[tuple[float, float, float, float]] = deque(maxlen=most)
        self._runs: deque[_Run] = deque(maxlen=3 * int(self.shift_after) + _LONGEST_RUN)
        self._version = 0
        self._cached_state: tuple[int, _State | None] = (-1, None)
        self._cached_fit: tuple[tuple[int, datetime | None], _Fit | None] = ((-1, None), None)
        self._last_look: tuple[int, int, float, datetime | None, _Look] | None = None
        self._staying: tuple[float, str] | None = None  # a stay being judged: (value, since)
        self._stayed: tuple[float, str] | None = None  # the stay accepted last
        self._zone: Any = None
        self._metric = "value"  # the name judged last: its domain decides if counts apply
        if self.timezone is not None:
            from zoneinfo import ZoneInfo

            self._zone = ZoneInfo(str(self.timezone))

    def _size(self) -> int:
        return len(self._x)

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {}

    # -- time -----------------------------------------------------------------------------

    def _local(self, at: datetime) -> datetime:
        if self._zone is None:
            return at
        aware = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
        return aware.astimezone(self._zone)

    @staticmethod
    def _seconds(at: datetime) -> float:
        aware = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
        return aware.timestamp()

    def _key_pair(self, at: datetime | None) -> tuple[int, int] | None:
        if not isinstance(at, datetime):
            return None
        local = self._local(at)
        return local.weekday(), local.hour

    def _spacing(self) -> float | None:
        """The median spacing of the last runs, in seconds (None without timestamps)."""
        stamps = [s for s in list(self._stamps)[-50:] if s is not None]
        if len(stamps) < 2:
            return None
        gaps = sorted(b - a for a, b in itertools.pairwise(stamps))
        return float(gaps[len(gaps) // 2])

    def _candidate(self) -> tuple[str, int] | None:
        """The period to try: ``("weekday", runs per week)`` or ``("hour", runs per day)``."""
        if self.period == "none":
            return None
        gap = self._spacing()
        if gap is None or gap <= 0.0:
            return None
        kind = self.period
        if kind == "auto":
            kind = "hour" if gap <= 3 * 3600 else "weekday" if 0.8 * _DAY <= gap <= 2 * _DAY else ""
        if kind == "weekday":
            runs = round(7 * _DAY / gap)
        elif kind == "hour":
            runs = round(_DAY / gap)
        else:
            return None
        return (kind, runs) if runs >= 2 else None

    # -- the model ------------------------------------------------------------------------

    def _state(self) -> _State | None:
        version, state = self._cached_state
        if version != self._version:
            state = self._compute_state()
            self._cached_state = (self._version, state)
        return state

    def _compute_state(self) -> _State | None:
        import numpy as np

        with np.errstate(all="ignore"):  # values near 1e308 overflow to inf, never NaN bands
            return self._state_of_history()

    def _state_of_history(self) -> _State | None:
        import numpy as np

        n = len(self._x)
        if n == 0:
            return None
        x = np.fromiter(self._x, dtype=float, count=n)
        learned = np.fromiter(self._learned, dtype=bool, count=n)
        if not learned.any():
            learned[:] = True
        scale = self._scale_of(x[learned])
        t = _forward(scale, x)
        count = scale == "count"
        stat = np.mean if count else np.median
        runs = min(int(learned.sum()), _COUNT_LEVEL_RUNS if count else _LEVEL_RUNS)
        flat = float(stat(t[learned][-runs:]))
        kind, period, level, profile = None, 0, flat, {}
        candidate = self._candidate()
        if candidate is not None:
            kind, period = candidate
            if n >= 2 * period + 1:
                # every run, anomalies too: a median per bucket shrugs off a few incidents,
                # and a weekend left out before the week was known must count
                index = 0 if kind == "weekday" else 1
                keys = np.array([-1 if k is None else k[index] for k in self._keys])
                profile = _profile(t, keys, period, stat)
                if profile:
                    effects = np.array([profile.get(int(k), 0.0) for k in keys])
                    level = float(stat((t - effects)[learned][-max(runs, period) :]))
        # the one-step errors each model made, on the compared scale
        errors = np.array(self._errors, dtype=float).reshape(-1, 4)
        with np.errstate(all="ignore"):
            observed = _forward(scale, errors[:, 0])
            e_flat = observed - _forward(scale, errors[:, 1])
            e_season = observed - _forward(scale, errors[:, 2])
        both = np.isfinite(e_flat) & np.isfinite(e_season)
        gain = _COUNT_SEASON_GAIN if count else _SEASON_GAIN
        decided = kind is None or bool(profile and int(both.sum()) >= max(period, 7))
        use_season = bool(
            decided and profile and _loss(e_season[both], count) < gain * _loss(e_flat[both], count)
        )
        chosen = e_season if use_season else e_flat
        keep = np.isfinite(chosen) & (errors[:, 3] > 0.0)  # the scale: learned runs only
        used = chosen[keep]
        m = len(used)
        dispersion, spread = 1.0, 0.0
        if count:
            predicted = errors[keep, 2 if use_season else 1]
            pearson = used**2 / np.maximum(predicted, 0.5)
            dispersion = max(1.0, (float(np.sum(pearson)) + 2.0) / (m + 2.0))
        elif m:
            k = min(
                widened(float(self.sensitivity), max(m, 2), efficiency=_EFFICIENCY),
                _MAX_WIDENING * float(self.sensitivity),
            )
            spread = _spread_of(used, False) * k
        return _State(
            scale,
            kind,
            period,
            flat,
            level,
            profile,
            use_season,
            spread,
            dispersion,
            m,
            n,
            decided,
            (float(np.min(x[learned])), float(np.max(x[learned]))),
        )

    def _scale_of(self, x: np.ndarray[Any, Any]) -> str:
        import numpy as np

        low, high = float(np.min(x)), float(np.max(x))
        counts = self.count_model and metric_domain(self._metric).high is None
        if counts and low >= 0.0 and bool(np.all(x == np.floor(x))):
            recent = x[-_COUNT_LEVEL_RUNS:]
            mean = float(np.mean(recent)) if high <= 1e6 else math.inf
            if mean <= _COUNT_MEAN:
                spread = float(np.var(recent)) if len(recent) > 1 else mean
                if mean == 0.0 or spread >= 0.5 * mean:  # at least Poisson-like spread
                    return "count"
        if low > 1e-100 and high < 1e100:
            return "log"
        return "linear"

    def _key_of(self, state: _State, at: datetime | None) -> int | None:
        """The bucket of ``at`` under the candidate period (None: no period, no timestamp)."""
        pair = self._key_pair(at)
        if pair is None or state.kind is None:
            return None
        return pair[0] if state.kind == "weekday" else pair[1]

    def _seasonal(self, state: _State, key: int | None) -> float:
        """The candidate seasonal model's prediction for bucket ``key`` (NaN: none)."""
        if key is None or key not in state.profile:
            return math.nan
        return state.level + state.profile[key]

    def _fit(self, at: datetime | None) -> _Fit | None:
        cache_key = (self._version, at)
        if self._cached_fit[0] == cache_key:
            return self._cached_fit[1]
        fit = self._compute_fit(at)
        self._cached_fit = (cache_key, fit)
        return fit

    def _compute_fit(self, at: datetime | None) -> _Fit | None:
        if len(self._x) < self.min_history:
            return None
        state = self._state()
        if state is None:
            return None
        key = self._key_of(state, at)
        centre_t = state.flat
        if state.use_season:
            seasonal = self._seasonal(state, key)
            centre_t = centre_t if math.isnan(seasonal) else seasonal
        if state.scale == "count":
            lam = max(centre_t, 0.5 / (state.size + 1))
            low, high = _count_band(lam, state.dispersion, float(self.error_rate) / 2)
            return _Fit(state, key, lam, low, high, lam)
        centre = _back(state.scale, centre_t)
        low = _back(state.scale, centre_t - state.spread)
        high = _back(state.scale, centre_t + state.spread)
        if state.scale == "log":  # exp(log(x)) is x only to a few ulps
            low, high = low * (1.0 - _ULPS), high * (1.0 + _ULPS)
            # a short or noisy history gives a wide band: never wider than the values seen
            # allow (a row count that halves below its smallest value is news)
            low = max(low, state.seen[0] / _ENVELOPE)
            high = min(high, state.seen[1] * _ENVELOPE)
        return _Fit(state, key, centre, min(low, centre), max(high, centre), centre_t)

    def _band(self, at: datetime | None) -> Band | None:
        fit = self._fit(at)
        return None if fit is None else (fit.centre, fit.low, fit.high)

    # -- learning -------------------------------------------------------------------------

    def _learn(self, value: float, at: datetime | None) -> None:
        self._observe(value, at, learned=True)

    def _observe(self, value: float, at: datetime | None, *, learned: bool) -> None:
        """Keep a run; only ``learned`` ones move the level, the scale and the repeats."""
        state = self._state()
        if state is not None:  # what each model predicted for it: the one-step errors
            seasonal = self._seasonal(state, self._key_of(state, at))
            flat = _back(state.scale, state.flat)
            self._errors.append(
                (value, flat, _back(state.scale, seasonal), 1.0 if learned else 0.0)
            )
        self._x.append(value)
        self._keys.append(self._key_pair(at))
        self._stamps.append(self._seconds(at) if isinstance(at, datetime) else None)
        self._learned.append(learned)
        self._version += 1

    # -- judging --------------------------------------------------------------------------

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
        """Judge ``value`` against its band, and the last runs with it: a run of low counts,
        a stale value, or a new level that is now the normal. Learns nothing.

        :meth:`score_one` and :meth:`expected` give the band's score and band only.
        """
        self._ensure_ready()
        if metric != self._metric:
            self._metric = metric
            self._version += 1  # the domain may change the model (no count model for a share)
        verdict = super().judge(value, at, metric=metric, column=column, dataset=dataset, unit=unit)
        self._last_look = None
        if verdict.status not in (Status.PASSED, Status.ANOMALY):
            return verdict
        fit = self._fit(at)
        if fit is None:  # pragma: no cover - judged verdicts always have a band
            return verdict
        x = float(value)
        look = self._look(x, at, fit, verdict, Verdict.subject(metric, column))
        self._last_look = (self._version, len(self._runs), x, at, look)
        model = {**self._describe(fit), **(look.model or {})}
        if look.message is None:
            return replace(verdict, model=model)
        if look.steady:
            return replace(verdict, status=Status.PASSED, message=look.message, model=model)
        if look.moved:
            low, high = self._moved_band(fit, look, metric)
            return replace(
                verdict,
                status=Status.PASSED,
                message=look.message,
                expected_low=None if self.direction == "up" else low,
                expected_high=None if self.direction == "down" else high,
                model=model,
            )
        return replace(
            verdict,
            status=Status.ANOMALY,
            score=max(verdict.score, look.score),
            message=look.message,
            model=model,
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
        """Judge ``value``, then learn it unless it is anomalous (and ``exclude_anomalies``);
        a value that completes a move to a new level re-baselines the history."""
        verdict = self.judge(value, at, metric=metric, column=column, dataset=dataset, unit=unit)
        if verdict.status is Status.ERROR:
            return verdict
        x = float(value)
        fit = self._fit(at) if verdict.status is not Status.INSUFFICIENT_HISTORY else None
        look = _Look()
        last = self._last_look
        if last is not None and last[:4] == (self._version, len(self._runs), x, at):
            look = last[4]
        side = 0 if fit is None else (x > fit.centre) - (x < fit.centre)
        if look.moved:
            self._rebaseline(look, x, at)
            self._runs.append(_Run(x, at, True, 0, None, fit, accepted=True))
            self._stayed = self._staying if look.flag == "stale" else None
            return verdict
        anomalous = verdict.status is Status.ANOMALY
        learn = not anomalous or not self.exclude_anomalies
        self._observe(x, at, learned=learn)
        flag = (look.flag or ("up" if side > 0 else "down")) if anomalous else None
        self._runs.append(_Run(x, at, learn, side, flag, fit))
        return verdict

    def _look(
        self, x: float, at: datetime | None, fit: _Fit, verdict: Verdict, subject: str
    ) -> _Look:
        """What the last runs and this value say together."""
        alpha = float(self.error_rate)
        flag: str | None = None
        score, message, extra = 0.0, None, {}
        if self._stayed is not None and self._stayed[0] == x and self._equal_run(x) == 0:
            message = (
                f"{subject} {format_number(x)} is where it has stayed since {self._stayed[1]} "
                "(accepted as the new normal)"
            )
            return _Look(None, 0.0, message, steady=True)
        if verdict.status is Status.ANOMALY:
            flag = "up" if x > fit.centre else "down"
        distance = abs(x - fit.centre)
        clears = distance > self.abs_floor and distance > self.rel_floor * abs(fit.centre)
        if (  # runs of low counts, where one 0 is unremarkable
            flag is None
            and fit.state.scale == "count"
            and fit.low <= 0.0
            and self.direction != "up"
            and x < fit.centre
            and clears
        ):
            p, length, top = self._low_run(x, fit)
            if p < alpha / 2:
                flag, score = "down", math.log(p) / math.log(alpha / 2)
                message = (
                    f"{subject} {format_number(x)} is the {_ordinal(length)} run in a row at or "
                    f"below {format_number(top)}: unlikely (p = {p:.2g}) for counts expected "
                    f"at {band_text(verdict.expected_low, verdict.expected_high)} from the "
                    f"last {verdict.history_size} runs"
                )
                extra = {"low_run": length, "p_value": p}
        if flag is None and self.stale_after:
            repeats = self._equal_run(x)
            # a stale alarm starts when the run reaches stale_after, and goes on while it lasts
            # (a run learned as normal does not turn stale later)
            going = repeats > self.stale_after and self._runs[-1].flag is not None
            if repeats == self.stale_after or going:
                repeat = self._repeat_chance(x)
                if fit.state.scale == "count":  # a count repeats as often as it takes a value
                    repeat = max(repeat, _count_pmf(x, fit.centre, fit.state.dispersion))
                chance = repeat ** (repeats - 1)
                if chance < alpha:
                    flag, score = "stale", math.log(max(chance, 1e-300)) / math.log(alpha)
                    message = (
                        f"{subject} {format_number(x)} is the same value for the "
                        f"{_ordinal(repeats)} run in a row, which its last "
                        f"{len(self._x)} runs make unlikely (p = {chance:.2g}): is the "
                        "upstream stale?"
                    )
                    extra = {"stale_runs": repeats, "p_value": chance}
        if flag is None or not self.exclude_anomalies:
            return _Look(flag, score, message, model=extra)
        accepted = self._accept(x, at, fit, flag, subject)
        if accepted is not None:
            return accepted
        return _Look(flag, score, message, model=extra)

    def _low_run(self, x: float, fit: _Fit) -> tuple[float, int, float]:
        """The least likely run of low counts ending with ``x``: ``(p, length, its top)``."""
        best = (1.0, 1, x)
        values = [x]
        fits = [fit]
        for run in reversed(list(self._runs)[-(_LONGEST_RUN - 1) :]):
            if run.value >= fit.centre:
                break
            values.append(run.value)
            usable = run.fit is not None and run.fit.state.scale == "count"
            fits.append(run.fit if usable and run.fit is not None else fit)
            top = max(values)
            p = math.prod(_count_cdf(top, f.centre, f.state.dispersion) for f in fits)
            if p < best[0]:
                best = (p, len(values), top)
        return best

    def _equal_run(self, x: float) -> int:
        """Runs in a row equal to ``x``, counting ``x`` (0 when the run was accepted as the
        new normal: a value that stays is no longer news)."""
        count = 1
        for run in reversed(self._runs):
            if run.value != x:
                break
            if run.accepted:
                return 0
            count += 1
        return count

    def _repeat_chance(self, x: float) -> float:
        """The chance that a run repeats the previous one exactly, from the history: for a
        value the series often takes, its own repeats; else the repeats of the others."""
        import numpy as np

        h = np.array([v for v, kept in zip(self._x, self._learned, strict=True) if kept])
        end = len(h)
        while end and h[end - 1] == x:  # the run under test is not its own evidence
            end -= 1
        h = h[:end]
        if len(h) < 2:
            return 1.0
        values, counts = np.unique(h, return_counts=True)
        frequent = values[counts >= max(2, 0.1 * len(h))]
        first, same = h[:-1], h[1:] == h[:-1]
        pairs = first == x if x in frequent else ~np.isin(first, frequent)
        return (float(np.sum(same & pairs)) + 0.5) / (float(np.sum(pairs)) + 1.0)

    def _accept(
        self, x: float, at: datetime | None, fit: _Fit, flag: str, subject: str
    ) -> _Look | None:
        """A look that re-baselines, when the last runs say the series moved; else None."""
        import numpy as np

        runs = list(self._runs)
        scale = fit.state.scale
        need = int(self.shift_after)
        recent = runs[len(runs) - (need - 1) :]
        stays = len(recent) == need - 1 and all(r.value == x and r.flag for r in recent)
        if stays and x != 0.0:  # one value that alerted every run (stale, or off its band)
            since = self._when(self._run_start(x), len(recent))
            self._staying = (x, since)
            return _Look(
                "stale",
                0.0,
                f"{subject} has stayed at {format_number(x)} since {since}; re-baselined",
                moved=True,
                model={"moved_on": _iso(recent[0].at)},
            )
        if flag == "stale":
            return None
        if not fit.state.decided:  # the hours of a day not yet learned are not a new level
            return None
        side = 1 if flag == "up" else -1
        fresh = x == 0.0 or (scale == "log" and x <= 0.0)
        need = int(self.shift_after) * (3 if fresh else 1)
        recent = runs[len(runs) - (need - 1) :]
        if len(recent) < need - 1 or any(r.side != side or r.fit is None for r in recent):
            return None
        if sum(r.flag == flag for r in recent) + 1 < need - 1:  # all but one beyond the band
            return None
        if fresh and any(r.value != x for r in recent):
            return None
        fresh = fresh or (scale == "log" and any(r.value <= 0.0 for r in recent))
        changes = [_t(scale, r.value) - r.fit.centre_t for r in recent if r.fit is not None]
        changes.append(_t(scale, x) - fit.centre_t)
        offset = 0.0 if fresh else float(np.median(changes))
        first = next((r for r in recent if r.flag == flag), None)
        start = first.at if first is not None else at
        ago = len(recent) - recent.index(first) if first is not None else 0
        return _Look(
            flag,
            0.0,
            f"{subject} moved to a new level on {self._when(start, ago)}; re-baselined",
            moved=True,
            offset=offset,
            zero=fresh,
            model={"moved_on": _iso(start)},
        )

    def _run_start(self, x: float) -> datetime | None:
        """When the run of runs equal to ``x`` began."""
        start = None
        for run in reversed(self._runs):
            if run.value != x:
                break
            start = run.at
        return start

    def _when(self, at: datetime | None, ago: int) -> str:
        if at is None:
            return f"the run {ago} runs ago" if ago != 1 else "the previous run"
        gap = self._spacing()
        if gap is not None and gap >= 0.8 * _DAY:
            return self._local(at).date().isoformat()
        return self._local(at).isoformat(sep=" ", timespec="minutes")

    def _moved_band(self, fit: _Fit, look: _Look, metric: str) -> tuple[float, float]:
        """The band after the move, for the verdict that makes it."""
        if look.zero:
            return 0.0, 0.0
        state = fit.state
        band: Band
        if state.scale == "count":
            lam = max(fit.centre + look.offset, 0.5 / (state.size + 1))
            low, high = _count_band(lam, state.dispersion, float(self.error_rate) / 2)
            band = (lam, low, high)
        else:
            centre_t = fit.centre_t + look.offset
            band = (
                _back(state.scale, centre_t),
                _back(state.scale, centre_t - state.spread),
                _back(state.scale, centre_t + state.spread),
            )
        _, low, high = metric_domain(metric).clip(band)
        return low, high

    def _rebaseline(self, look: _Look, x: float, at: datetime | None) -> None:
        """Move the history to the new level and learn the runs of the move."""
        runs = list(self._runs)
        need = int(self.shift_after) * (3 if look.zero and look.flag != "stale" else 1)
        recent = runs[len(runs) - (need - 1) :]
        state = self._state()
        scale = "linear" if state is None else state.scale
        buffers = (self._x, self._keys, self._stamps, self._learned, self._errors)
        for _ in recent:  # each run left one entry: take the move's runs out, then relearn
            for buffer in buffers:
                if buffer:
                    buffer.pop()
        if look.zero:
            for buffer in buffers:
                buffer.clear()
        elif look.offset:
            move = _shifter(scale, look.offset)
            self._x = deque((move(v) for v in self._x), maxlen=self._x.maxlen)
            self._errors = deque(
                ((move(a), move(b), move(c), kept) for a, b, c, kept in self._errors),
                maxlen=self._errors.maxlen,
            )
        self._version += 1
        for run in recent:
            self._learn(run.value, run.at)
            run.learned, run.flag, run.accepted = True, None, True
        self._learn(x, at)

    # -- words ----------------------------------------------------------------------------

    def _describe(self, fit: _Fit) -> dict[str, Any]:
        """What the detector found, for ``Verdict.model``."""
        state = fit.state
        count = None
        if state.scale == "count":
            count = "poisson" if state.dispersion <= 1.05 else "negative_binomial"
        return {
            "scale": state.scale,
            "season": state.season or "none",
            "period_runs": state.period if state.season else None,
            "count_model": count,
            "dispersion": round(state.dispersion, 3) if count else None,
            "errors": state.errors,
        }

    def _unit(self, unit: str, at: datetime | None) -> str:
        fit = self._fit(at)
        if fit is None:
            return unit
        parts = []
        if fit.state.season == "weekday" and isinstance(at, datetime):
            parts.append(f"weekly pattern, {_WEEKDAYS[self._local(at).weekday()]}")
        elif fit.state.season == "hour" and isinstance(at, datetime):
            parts.append(f"daily pattern, {self._local(at).hour:02d}:00")
        if fit.state.scale == "count":
            poisson = fit.state.dispersion <= 1.05
            parts.append("Poisson counts" if poisson else "negative binomial counts")
        return f"{unit} ({'; '.join(parts)})" if parts else unit


# -- helpers ------------------------------------------------------------------------------


def _forward(scale: str, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import numpy as np

    if scale == "log":
        with np.errstate(all="ignore"):
            return np.log(x)
    return x


def _t(scale: str, x: float) -> float:
    if scale == "log":
        return math.log(x) if x > 0.0 else -math.inf
    return x


def _back(scale: str, t: float) -> float:
    if scale == "log":
        return math.exp(min(t, _MAX_LOG)) if t == t else t
    return t


def _shifter(scale: str, offset: float) -> Callable[[float], float]:
    if scale == "log":
        factor = math.exp(offset)
        return lambda v: v * factor
    if scale == "count":
        return lambda v: max(0.0, float(round(v + offset))) if v == v else v
    return lambda v: v + offset


def _spread_of(errors: np.ndarray[Any, Any], count: bool) -> float:
    """A robust scale of one-step errors (the root mean square for counts)."""
    import numpy as np

    if not len(errors):
        return 0.0
    if count:
        return float(np.sqrt(np.mean(errors**2)))
    # the larger of two normal-consistent scales: 1.4826·median |e| (robust) and 1.2533·mean
    # |e| without the largest 5 % (it sees errors that only 2 runs in 7 make, a weekend the
    # model does not know yet, and heavy tails)
    return max(1.4826 * float(np.median(np.abs(errors))), 1.2533 * _loss(errors))


def _loss(errors: np.ndarray[Any, Any], count: bool = False) -> float:
    """How well a model predicted: the mean absolute (squared, for counts) one-step error,
    its largest 5 % left out (incidents). Not a median: a season that only weekends show is
    2 runs in 7."""
    import numpy as np

    size = np.sort(errors**2 if count else np.abs(errors))
    return float(np.mean(size[: max(1, int(np.ceil(0.95 * len(size))))]))


def _profile(
    t: np.ndarray[Any, Any], keys: np.ndarray[Any, Any], period: int, stat: Any
) -> dict[int, float]:
    """Each bucket's typical deviation from a rolling one-season ``stat`` (median or mean)."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    n = len(t)
    finite = np.isfinite(t)
    if not finite.all():  # log(0) of an outage: left out, not -inf
        t = np.where(finite, t, np.nan)
        stat = np.nanmean if stat is np.mean else np.nanmedian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window: NaN, skipped
        reference = stat(sliding_window_view(t, period), axis=1)
        index = np.clip(np.arange(n) - period // 2, 0, n - period)
        deviation = t - reference[index]
    groups: dict[int, list[float]] = {}
    for bucket, d in zip(keys.tolist(), deviation.tolist(), strict=True):
        if bucket >= 0 and math.isfinite(d):
            groups.setdefault(bucket, []).append(d)
    middle = statistics.median if stat in (np.median, np.nanmedian) else statistics.fmean
    return {b: float(middle(g)) for b, g in groups.items() if len(g) >= 2}


def _pmf_terms(mean: float, dispersion: float) -> Iterator[float]:
    """P(X = 0), P(X = 1), ... of a Poisson (``dispersion <= 1``) or a negative binomial
    count with this mean and the variance ``dispersion · mean``."""
    k = 0
    if dispersion <= 1.0 + 1e-9:
        term = math.exp(-mean)
        while True:
            yield term
            k += 1
            term *= mean / k
    r, q = mean / (dispersion - 1.0), 1.0 - 1.0 / dispersion
    term = math.exp(-r * math.log(dispersion))
    while True:
        yield term
        term *= (k + r) / (k + 1) * q
        k += 1


def _count_cdf(x: float, mean: float, dispersion: float) -> float:
    """P(X <= x) under the count model."""
    if x < 0:
        return 0.0
    total = 0.0
    for k, term in enumerate(_pmf_terms(mean, dispersion)):
        total += term
        if k >= x or k > 100_000:
            break
    return min(total, 1.0)


def _count_pmf(x: float, mean: float, dispersion: float) -> float:
    """P(X = x) under the count model."""
    if x < 0 or x != int(x):
        return 0.0
    for k, term in enumerate(_pmf_terms(mean, dispersion)):
        if k >= x or k > 100_000:
            return term
    return 0.0  # pragma: no cover


def _count_band(mean: float, dispersion: float, alpha: float) -> tuple[float, float]:
    """``(low, high)``: values below ``low`` have ``P(X <= x) < alpha``, values above
    ``high`` have ``P(X >= x) < alpha`` (scipy's ``ppf(alpha)`` and ``isf(alpha)``)."""
    total, low = 0.0, -1.0
    for k, term in enumerate(_pmf_terms(mean, dispersion)):
        total += term
        if low < 0.0 and total >= alpha:
            low = float(k)
        if 1.0 - total < alpha or k > 100_000:
            return max(low, 0.0), float(k)
    raise AssertionError("unreachable")  # pragma: no cover


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
