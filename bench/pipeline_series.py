"""Series detectors on realistic daily pipeline metrics, labelled, judged day by day on the past.

A seeded generator (:func:`generate`) writes ~48 daily metric series per seed, ~230 runs each,
of the kinds a data team monitors: weekly row counts with a trend and weekend dips, flat
counts, null fractions near 0 (some exactly 0 for months), low-volume Poisson counts (mean 3
or 20), a legitimate level shift, holiday dips, mean metrics and distinct counts. About four
incidents per series are injected after the first month, apart from each other: an outage (0
for 1–4 days), a spike (×3 for a day), a stale value (yesterday's value repeated exactly for 3
days) and a null-fraction jump (0.2–0.6 for 1–3 days). Legitimate changes (a permanent level
shift of ×1.15–×2 and its first 14 days, holiday days and the day after, the first 14 days
of a column that starts to have the odd null) are labelled ``legit``, not incidents, so the
false alerts they cause can be told apart.

:func:`evaluate` gives every series a fresh judge and passes every day through
``update(value, at, metric=...)`` in order: the judge sees only the past, then learns the
day, exactly as a monitor runs. An incident counts as detected if any of its days is flagged;
every flagged day that is not an incident day is a false alert.

Peer rules, written here (they are not part of datacanary): :func:`trailing_mean_3sigma`
(Elementary's default) and :func:`relative_change` (Deequ's rate-of-change check).

    .venv/bin/python bench/pipeline_series.py                     # seeds 0 1 2, every detector
    .venv/bin/python bench/pipeline_series.py --seeds 0 --detectors mad seasonal trailing_3sigma
    .venv/bin/python bench/pipeline_series.py --write             # and rewrite its section of
                                                                  # docs/benchmarks.md

Importable with ``bench/`` at the *end* of ``sys.path`` (at its front, ``bench/profile.py``
would shadow the standard library's ``profile``)::

    sys.path.append("bench")
    from pipeline_series import evaluate, generate
    result = evaluate(lambda: make_series_detector("seasonal"), generate(0))
    result.recall, result.false_alerts_per_100, result.by_kind["weekly_rows"].recall
"""

from __future__ import annotations

import argparse
import ast
import functools
import itertools
import math
import re
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "KINDS",
    "LEGIT_SETTLE_DAYS",
    "PEERS",
    "Judge",
    "JudgeFactory",
    "PipelineSeries",
    "RelativeChange",
    "Result",
    "RuleVerdict",
    "Tally",
    "TrailingMeanSigma",
    "datacanary_factory",
    "evaluate",
    "generate",
    "relative_change",
    "replay",
    "trailing_mean_3sigma",
]

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## Pipeline series (`bench/pipeline_series.py`)"

START = datetime(2024, 6, 3, 6, 0, tzinfo=timezone.utc)  # a Monday, 06:00 UTC
FIRST_INCIDENT = 30  # no incident before this day: some history first
INCIDENT_GAP = 18  # days between the starts of two incidents of one series, at least
LEGIT_SETTLE_DAYS = 14  # days on and after a legitimate level shift labelled ``legit``

# series per kind, for one seed (48 in all)
KINDS: dict[str, int] = {
    "weekly_rows": 12,
    "flat_rows": 6,
    "null_fraction": 8,
    "small_counts": 6,
    "level_shift": 5,
    "holiday": 4,
    "mean": 4,
    "distinct": 3,
}

# calendar days on which a holiday series runs low (US and European holidays in the range)
HOLIDAYS = (
    date(2024, 7, 4),
    date(2024, 8, 15),
    date(2024, 9, 2),
    date(2024, 11, 28),
    date(2024, 11, 29),
    date(2024, 12, 24),
    date(2024, 12, 25),
    date(2024, 12, 26),
    date(2024, 12, 31),
    date(2025, 1, 1),
)


# ------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class PipelineSeries:
    """One labelled daily metric series.

    ``incident[i]`` is 0 on a normal day, else the id (> 0) of the incident that day belongs
    to; ``incident_kind[id]`` says what it was (``"outage"``, ``"spike"``, ``"stale"``,
    ``"null_jump"``). ``legit[i]`` marks days on or just after a legitimate change (a holiday
    and the day after it; the first :data:`LEGIT_SETTLE_DAYS` days of a lasting level shift
    or of the odd null in a column that had none): an alert there is still false, but
    understandable. ``notes`` says how the series was made ("×1.60 on day 122", "sparse").
    """

    name: str
    kind: str
    metric: str
    times: list[datetime]
    values: list[float]
    incident: list[int]
    incident_kind: dict[int, str]
    legit: list[bool]
    notes: str = ""

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class _Draft:
    """A series being built: the clean values, then incidents written over them."""

    kind: str
    metric: str
    values: np.ndarray
    menu: dict[str, float]  # incident kind -> weight
    rows: np.ndarray | None = None  # the table's row count, where the metric depends on it
    legit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    blocked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    integer: bool = False
    notes: str = ""


def _times(n: int) -> list[datetime]:
    return [START + timedelta(days=i) for i in range(n)]


def _weekday(n: int) -> np.ndarray:
    return np.array([(START + timedelta(days=i)).weekday() for i in range(n)])


def _log_noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Multiplicative day-to-day noise on the log scale: an AR(1) wander plus independent
    day noise, heavier-tailed (Student t, 5 dof) on half the series."""
    if rng.random() < 0.5:
        day = rng.normal(0.0, sigma, n)
    else:
        day = rng.standard_t(5, n) * sigma * math.sqrt(3 / 5)
    phi = rng.uniform(0.5, 0.9)
    wander = np.zeros(n)
    step = rng.normal(0.0, 0.4 * sigma * math.sqrt(1 - phi**2), n)
    for i in range(1, n):
        wander[i] = phi * wander[i - 1] + step[i]
    return day + wander


def _weekly_profile(rng: np.random.Generator, n: int) -> np.ndarray:
    """A factor per day: weekdays near 1 (Monday sometimes higher, backlog), weekends lower."""
    saturday = rng.uniform(0.3, 0.9)
    sunday = float(np.clip(saturday * rng.uniform(0.8, 1.1), 0.25, 1.0))
    monday = rng.uniform(1.0, 1.12) if rng.random() < 0.5 else 1.0
    profile = np.array([monday, 1.0, 1.0, 1.0, rng.uniform(0.92, 1.02), saturday, sunday])
    profile[:5] *= rng.uniform(0.97, 1.03, 5)
    return np.asarray(profile[_weekday(n)], dtype=float)


def _volume(rng: np.random.Generator, n: int, *, weekly: bool) -> np.ndarray:
    """Daily row counts in the thousands to millions: level × trend × week × noise."""
    level = 10 ** rng.uniform(3.3, 6.3)
    growth = float(np.clip(rng.normal(0.0005, 0.0008), -0.0015, 0.0025))  # per day, log scale
    sigma = rng.uniform(0.02, 0.09)
    t = np.arange(n)
    log = np.log(level) + growth * t + _log_noise(rng, n, sigma)
    values = np.exp(log) * (_weekly_profile(rng, n) if weekly else 1.0)
    return np.asarray(rng.poisson(values), dtype=float)


ROW_MENU = {"outage": 0.37, "spike": 0.36, "stale": 0.27}


def _weekly_rows(rng: np.random.Generator, n: int) -> _Draft:
    return _Draft("weekly_rows", "row_count", _volume(rng, n, weekly=True), ROW_MENU, integer=True)


def _flat_rows(rng: np.random.Generator, n: int) -> _Draft:
    if rng.random() < 0.35:  # a dimension table that only grows: yesterday's rows plus new ones
        start = 10 ** rng.uniform(3.5, 6.0)
        added = rng.poisson(start * rng.uniform(0.0005, 0.003), n) + rng.poisson(25, n)
        values = np.floor(start) + np.cumsum(added).astype(float)
        return _Draft("flat_rows", "row_count", values, ROW_MENU, integer=True, notes="snapshot")
    return _Draft("flat_rows", "row_count", _volume(rng, n, weekly=False), ROW_MENU, integer=True)


NULL_STYLES = (
    "typical",
    "zero",
    "typical",
    "zero_then_rare",
    "typical",
    "sparse",
    "zero",
    "typical",
)


def _null_fraction(rng: np.random.Generator, n: int, style: str) -> _Draft:
    """nulls / rows, nulls binomial. ``typical``: a rate of 0.05–5 %; ``zero``: never a
    null; ``zero_then_rare``: exactly 0 for months, then the odd null (0.05–3 a day, the
    change labelled legit for its first days); ``sparse``: the odd null from the start."""
    rows = _volume(rng, n, weekly=rng.random() < 0.7)
    legit = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)
    rare = rng.uniform(0.05, 3.0) / max(float(rows.mean()), 1.0)
    menu = {"null_jump": 1.0}
    if style == "typical":
        rate = 10 ** rng.uniform(-3.3, -1.3) * np.exp(rng.normal(0, rng.uniform(0.05, 0.3), n))
        menu = {"null_jump": 0.7, "stale": 0.3}
    elif style == "zero_then_rare":
        rate = np.zeros(n)
        onset = int(rng.integers(60, 150))
        rate[onset:] = rare
        legit[onset : onset + LEGIT_SETTLE_DAYS] = True
        blocked[onset - 3 : onset + LEGIT_SETTLE_DAYS + 3] = True
    elif style == "sparse":
        rate = np.full(n, rare)
    else:
        rate = np.zeros(n)
    nulls = rng.binomial(rows.astype(np.int64), np.clip(rate, 0, 1))
    values = np.where(rows > 0, nulls / np.maximum(rows, 1), 0.0)
    return _Draft("null_fraction", "null_fraction", values, menu, rows, legit, blocked, notes=style)


def _small_counts(rng: np.random.Generator, n: int, mean: float) -> _Draft:
    lam = np.full(n, mean)
    if rng.random() < 0.5:
        lam = lam * np.where(_weekday(n) >= 5, rng.uniform(0.4, 0.8), 1.0)
    values = rng.poisson(lam).astype(float)
    metric = "row_count" if rng.random() < 0.5 else "null_count"
    menu = (
        {"outage": 0.5, "spike": 0.5} if mean < 10 else {"outage": 0.4, "spike": 0.3, "stale": 0.3}
    )
    return _Draft("small_counts", metric, values, menu, integer=True, notes=f"mean {mean:g}")


def _level_shift(rng: np.random.Generator, n: int) -> _Draft:
    draft = _weekly_rows(rng, n) if rng.random() < 0.7 else _flat_rows(rng, n)
    at = int(rng.integers(60, n - 60))
    factor = rng.uniform(1.15, 2.0)
    if rng.random() < 0.3:
        factor = 1 / factor
    values = draft.values.copy()
    values[at:] = np.round(values[at:] * factor)
    legit = np.zeros(n, dtype=bool)
    legit[at : at + LEGIT_SETTLE_DAYS] = True
    blocked = np.zeros(n, dtype=bool)
    blocked[max(at - 3, 0) : at + LEGIT_SETTLE_DAYS + 7] = True
    notes = f"×{factor:.2f} on day {at}"
    return _Draft("level_shift", "row_count", values, ROW_MENU, None, legit, blocked, True, notes)


def _holiday(rng: np.random.Generator, n: int) -> _Draft:
    values = _volume(rng, n, weekly=True)
    days = [(START + timedelta(days=i)).date() for i in range(n)]
    legit = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)
    for i, day in enumerate(days):
        if day in HOLIDAYS and rng.random() < 0.85:
            values[i] = np.round(values[i] * rng.uniform(0.15, 0.7))
            legit[i : i + 2] = True
            blocked[max(i - 3, 0) : i + 5] = True
    return _Draft("holiday", "row_count", values, ROW_MENU, None, legit, blocked, True)


def _mean(rng: np.random.Generator, n: int) -> _Draft:
    """The daily mean of a column: an order amount, a duration. Gaussian-ish around a level
    that drifts slowly, a small weekly effect, and occasional heavy days (big orders)."""
    level = rng.uniform(15, 250)
    t = np.arange(n)
    drift = rng.uniform(-0.0005, 0.001) * t
    week = 1 + rng.uniform(0.0, 0.06) * np.where(_weekday(n) >= 5, 1, 0) * rng.choice([-1, 1])
    sd = rng.uniform(0.01, 0.05)
    noise = rng.standard_t(6, n) * sd * math.sqrt(4 / 6)
    values = level * np.exp(drift) * week * (1 + noise)
    return _Draft(
        "mean", "mean", np.round(values, 4), {"spike": 0.35, "stale": 0.35, "outage": 0.3}
    )


def _distinct(rng: np.random.Generator, n: int) -> _Draft:
    rows = _volume(rng, n, weekly=True)
    share = rng.uniform(0.05, 0.3) * np.exp(rng.normal(0, 0.02, n))
    values = np.minimum(np.round(rows * share), rows)
    return _Draft("distinct", "distinct_count", values, ROW_MENU, rows=rows, integer=True)


def _draft(kind: str, index: int, rng: np.random.Generator, n: int) -> _Draft:
    if kind == "small_counts":
        return _small_counts(rng, n, 3.0 if index % 3 != 2 else 20.0)
    if kind == "null_fraction":
        return _null_fraction(rng, n, NULL_STYLES[index % len(NULL_STYLES)])
    makers: dict[str, Callable[[np.random.Generator, int], _Draft]] = {
        "weekly_rows": _weekly_rows,
        "flat_rows": _flat_rows,
        "level_shift": _level_shift,
        "holiday": _holiday,
        "mean": _mean,
        "distinct": _distinct,
    }
    return makers[kind](rng, n)


def _starts(rng: np.random.Generator, n: int, blocked: np.ndarray, k: int) -> list[int]:
    """``k`` incident start days after :data:`FIRST_INCIDENT`, apart, off ``blocked`` days."""
    free = [i for i in range(FIRST_INCIDENT, n - 6) if not blocked[i : i + 5].any()]
    k = min(k, len(free))
    for _ in range(200 if k else 0):
        picks = sorted(rng.choice(free, size=k, replace=False).tolist())
        if all(b - a >= INCIDENT_GAP for a, b in itertools.pairwise(picks)):
            return [int(p) for p in picks]
    return _starts(rng, n, blocked, k - 1) if k > 1 else []


def _inject(rng: np.random.Generator, d: _Draft, start: int, what: str) -> int:
    """Write one incident over the clean values; returns its length in days."""
    v = d.values
    if what == "outage":
        length = int(rng.integers(1, 5))
        v[start : start + length] = 0.0
    elif what == "spike":
        length = 1
        base = v[start]
        if d.kind == "small_counts":
            base = max(base, round(float(np.median(v[max(start - 14, 0) : start]))), 1.0)
        spiked = base * 3
        if d.rows is not None:  # a distinct count cannot exceed the rows
            spiked = min(spiked, d.rows[start])
        v[start] = round(spiked) if d.integer else spiked
    elif what == "stale":  # the upstream stopped: yesterday's value, exactly, for 3 days
        length = 3
        v[start : start + length] = v[start - 1]
    elif what == "null_jump":
        length = int(rng.integers(1, 4))
        rows = d.rows[start : start + length] if d.rows is not None else np.full(length, 1e4)
        jump = rng.binomial(rows.astype(np.int64), rng.uniform(0.2, 0.6)) / np.maximum(rows, 1)
        v[start : start + length] = jump
    else:  # pragma: no cover - a typo in a menu
        raise ValueError(f"unknown incident kind {what!r}")
    return length


def generate(seed: int) -> list[PipelineSeries]:
    """The labelled series of one seed (:data:`KINDS` gives how many of each kind).

    Deterministic: the same seed gives the same series (``numpy.random.default_rng``).
    """
    rng = np.random.default_rng(seed)
    out: list[PipelineSeries] = []
    for kind, count in KINDS.items():
        for index in range(count):
            n = int(rng.integers(224, 239))
            d = _draft(kind, index, rng, n)
            legit = d.legit if len(d.legit) else np.zeros(n, dtype=bool)
            blocked = d.blocked if len(d.blocked) else np.zeros(n, dtype=bool)
            incident = np.zeros(n, dtype=int)
            kinds: dict[int, str] = {}
            names, weights = zip(*d.menu.items(), strict=True)
            p = np.array(weights) / sum(weights)
            for number, start in enumerate(_starts(rng, n, blocked, int(rng.integers(3, 6))), 1):
                what = str(rng.choice(names, p=p))
                if what == "stale" and d.values[start - 1] == 0:
                    what = "outage" if "outage" in d.menu else "null_jump"
                length = _inject(rng, d, start, what)
                incident[start : start + length] = number
                kinds[number] = what
            out.append(
                PipelineSeries(
                    name=f"{kind}-{index:02d}",
                    kind=kind,
                    metric=d.metric,
                    times=_times(n),
                    values=[float(x) for x in d.values],
                    incident=[int(x) for x in incident],
                    incident_kind=kinds,
                    legit=[bool(x) for x in legit],
                    notes=d.notes,
                )
            )
    return out


# ------------------------------------------------------------------------------ judging


class Judge(Protocol):
    """A datacanary ``SeriesDetector`` or anything with the same ``update``: its result has
    ``.status.value`` in ``{"passed", "anomaly", "insufficient_history", "error"}``."""

    def update(
        self,
        value: float,
        at: datetime | None = ...,
        *,
        metric: str = ...,
        column: str | None = ...,
        dataset: str | None = ...,
    ) -> Any: ...


JudgeFactory = Callable[[], Judge]


@dataclass(frozen=True)
class _Status:
    value: str


@dataclass(frozen=True)
class RuleVerdict:
    """What a peer rule says about one value (``.status.value`` like a datacanary Verdict)."""

    status: _Status
    low: float | None = None
    high: float | None = None


PASSED, ANOMALY, INSUFFICIENT = (
    _Status("passed"),
    _Status("anomaly"),
    _Status("insufficient_history"),
)


class TrailingMeanSigma:
    """Elementary's default volume/column anomaly rule, for one metric.

    Flag ``x`` when ``|x − mean| > sensitivity · stdev`` of the last ``window`` values
    (sample standard deviation, as SQL's ``stddev``); "insufficient history" until ``window``
    values were seen. Like Elementary: every value is learned, flagged ones included
    (Elementary keeps detected anomalies in its training set unless a user excludes them by
    hand), and a zero standard deviation scores 0 (``when training_stddev = 0 then 0``), so a
    constant history never alerts. Unlike Elementary's SQL, whose window runs "N preceding and
    current row", the value under test is not part of its own baseline here: judged only on
    the past, like every other method in this benchmark.
    """

    def __init__(self, window: int = 14, sensitivity: float = 3.0) -> None:
        self.window = window
        self.sensitivity = sensitivity
        self._values: deque[float] = deque(maxlen=window)

    def update(self, value: float, at: datetime | None = None, **_: Any) -> RuleVerdict:
        if len(self._values) < self.window:
            verdict = RuleVerdict(INSUFFICIENT)
        else:
            mean = statistics.fmean(self._values)
            sd = statistics.stdev(self._values)
            low, high = mean - self.sensitivity * sd, mean + self.sensitivity * sd
            flagged = sd > 0 and abs(value - mean) > self.sensitivity * sd
            verdict = RuleVerdict(ANOMALY if flagged else PASSED, low, high)
        self._values.append(float(value))
        return verdict


class RelativeChange:
    """Deequ's ``RelativeRateOfChangeStrategy``: flag when ``|x / previous − 1| > threshold``.

    The ratio is computed in floating point as Deequ does: after a 0, a positive value is an
    infinite change (flagged) and another 0 is ``0/0`` (NaN, which no bound catches: passed).
    The first value has no previous one ("insufficient history"). Every value becomes the
    next one's previous, flagged or not.
    """

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._previous: float | None = None

    def update(self, value: float, at: datetime | None = None, **_: Any) -> RuleVerdict:
        prev, self._previous = self._previous, float(value)
        if prev is None:
            return RuleVerdict(INSUFFICIENT)
        # x / 0 is an infinite change (flagged); 0 / 0 is NaN, which no bound catches
        flagged = value != 0 if prev == 0 else abs(value / prev - 1) > self.threshold
        low, high = prev * (1 - self.threshold), prev * (1 + self.threshold)
        return RuleVerdict(ANOMALY if flagged else PASSED, min(low, high), max(low, high))


def trailing_mean_3sigma(window: int = 14) -> TrailingMeanSigma:
    """A fresh Elementary-style judge (a judge factory: call it with no argument)."""
    return TrailingMeanSigma(window=window, sensitivity=3.0)


def relative_change(threshold: float = 0.5) -> RelativeChange:
    """A fresh Deequ-style rate-of-change judge (a judge factory)."""
    return RelativeChange(threshold=threshold)


PEERS: dict[str, tuple[str, JudgeFactory]] = {
    "trailing_3sigma": ("trailing mean ± 3σ over 14 days (Elementary)", trailing_mean_3sigma),
    "relative_change": ("relative change > 50 % (Deequ)", relative_change),
}


def datacanary_factory(name: str, **params: Any) -> JudgeFactory:
    """``make_series_detector(name, **params)`` as a judge factory."""
    from datacanary.series import make_series_detector

    return functools.partial(make_series_detector, name, **params)


def replay(judge: Judge, series: PipelineSeries) -> list[str]:
    """The status of every day of ``series`` under ``judge`` (``update`` on each, in order)."""
    update = judge.update
    metric = series.metric
    return [
        str(update(value, at, metric=metric).status.value)
        for value, at in zip(series.values, series.times, strict=True)
    ]


@dataclass
class Tally:
    """Counts for a group of series; rates are properties."""

    series: int = 0
    days: int = 0
    insufficient: int = 0
    errors: int = 0
    incidents: int = 0
    detected: int = 0
    incident_days: int = 0
    flagged_incident_days: int = 0
    false_alerts: int = 0
    false_alerts_legit: int = 0
    legit_days: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def recall(self) -> float:
        """Incidents with at least one flagged day / incidents."""
        return self.detected / self.incidents if self.incidents else float("nan")

    @property
    def false_alerts_per_100(self) -> float:
        """Flagged days that are not incident days, per 100 series-days."""
        return 100 * self.false_alerts / self.days if self.days else float("nan")

    @property
    def false_alerts_legit_per_100(self) -> float:
        """The part of :attr:`false_alerts_per_100` on ``legit`` days."""
        return 100 * self.false_alerts_legit / self.days if self.days else float("nan")

    @property
    def false_alerts_other_per_100(self) -> float:
        """The part of :attr:`false_alerts_per_100` on ordinary days."""
        other = self.false_alerts - self.false_alerts_legit
        return 100 * other / self.days if self.days else float("nan")

    @property
    def insufficient_share(self) -> float:
        """Share of series-days judged "insufficient history"."""
        return self.insufficient / self.days if self.days else float("nan")

    @property
    def judged(self) -> int:
        """Series-days that got a passed/anomaly verdict."""
        return self.days - self.insufficient - self.errors


@dataclass
class Result:
    """One method over a list of series: overall, per series kind and per incident kind."""

    name: str
    overall: Tally
    by_kind: dict[str, Tally]
    by_incident_kind: dict[str, Tally]
    seconds: float
    failed: str | None = None  # why the method could not run, if it could not
    by_series: dict[str, Tally] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.overall.recall

    @property
    def false_alerts_per_100(self) -> float:
        return self.overall.false_alerts_per_100

    @property
    def false_alerts_legit_per_100(self) -> float:
        return self.overall.false_alerts_legit_per_100

    @property
    def insufficient_share(self) -> float:
        return self.overall.insufficient_share

    def summary(self) -> str:
        o = self.overall
        return (
            f"{self.name}: recall {o.recall:.2f} ({o.detected}/{o.incidents}), "
            f"{o.false_alerts_per_100:.2f} false alerts / 100 series-days "
            f"({o.false_alerts_legit_per_100:.2f} on legit days), "
            f"insufficient {100 * o.insufficient_share:.1f} %, {self.seconds:.1f} s"
        )


def _tally(series: PipelineSeries, statuses: Sequence[str]) -> tuple[Tally, dict[str, Tally]]:
    flagged = [s == "anomaly" for s in statuses]
    t = Tally(series=1, days=len(statuses))
    t.insufficient = sum(s == "insufficient_history" for s in statuses)
    t.errors = sum(s == "error" for s in statuses)
    t.legit_days = sum(series.legit)
    per_incident: dict[str, Tally] = {}
    hit: dict[int, bool] = {}
    for day, (f, number) in enumerate(zip(flagged, series.incident, strict=True)):
        if number:
            t.incident_days += 1
            t.flagged_incident_days += f
            hit[number] = hit.get(number, False) or f
        elif f:
            t.false_alerts += 1
            t.false_alerts_legit += series.legit[day]
    for number, found in hit.items():
        kind = series.incident_kind[number]
        k = per_incident.setdefault(kind, Tally())
        k.incidents += 1
        k.detected += found
    t.incidents = len(hit)
    t.detected = sum(hit.values())
    return t, per_incident


def evaluate(
    judge_factory: JudgeFactory,
    series_list: Iterable[PipelineSeries],
    *,
    name: str = "",
) -> Result:
    """Run a fresh ``judge_factory()`` over each series, day by day, and count.

    ``judge_factory`` returns a datacanary ``SeriesDetector`` (e.g.
    ``lambda: make_series_detector("seasonal")``) or any object whose
    ``update(value, at, *, metric=...)`` returns something with ``.status.value`` in
    ``{"passed", "anomaly", "insufficient_history", "error"}``. The wall time covers the
    judging only, not the generation.
    """
    overall = Tally()
    by_kind: dict[str, Tally] = {}
    by_incident: dict[str, Tally] = {}
    by_series: dict[str, Tally] = {}
    seconds = 0.0
    for series in series_list:
        judge = judge_factory()
        started = time.perf_counter()
        statuses = replay(judge, series)
        seconds += time.perf_counter() - started
        t, per_incident = _tally(series, statuses)
        overall.add(t)
        by_kind.setdefault(series.kind, Tally()).add(t)
        by_series[series.name] = t
        for kind, k in per_incident.items():
            by_incident.setdefault(kind, Tally()).add(k)
    return Result(name, overall, by_kind, by_incident, seconds, by_series=by_series)


# ------------------------------------------------------------------------------ the CLI


def _parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"mad (sensitivity=4)"`` -> ``("mad", {"sensitivity": 4})``."""
    name, _, rest = spec.partition("(")
    params: dict[str, Any] = {}
    for item in rest.rstrip(") ").split(","):
        if item.strip():
            key, _, value = item.partition("=")
            params[key.strip()] = ast.literal_eval(value.strip())
    return name.strip(), params


def _factory(spec: str) -> tuple[str, JudgeFactory]:
    name, params = _parse_spec(spec)
    if name == "default":  # whatever make_series_detector() returns with no name
        from datacanary.series import make_series_detector

        detector = make_series_detector(**params)
        return f"default: `{detector.name}`", functools.partial(make_series_detector, **params)
    if name in PEERS:
        label, make = PEERS[name]
        if params:
            return f"`{spec}` (peer rule)", functools.partial(make, **params)
        return label, make
    label = f"`{spec}`"
    factory = datacanary_factory(name, **params)
    factory()  # a bad name or parameter fails here, before any series is judged
    return label, factory


def default_methods() -> list[str]:
    from datacanary.series import available_series_detectors

    return ["default", *available_series_detectors(), *PEERS]


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def table(results: list[Result]) -> str:
    lines = [
        "| method | recall | false alerts / 100 series-days | of which on legit days "
        "| insufficient history | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.failed:
            lines.append(f"| {r.name} | – | – | – | – | failed: {r.failed} |")
            continue
        o = r.overall
        lines.append(
            f"| {r.name} | {_fmt(o.recall)} | {_fmt(o.false_alerts_per_100)} "
            f"| {_fmt(o.false_alerts_legit_per_100)} | {100 * o.insufficient_share:.1f} % "
            f"| {r.seconds:.1f} |"
        )
    return "\n".join(lines)


def breakdown(results: list[Result]) -> str:
    """Recall per incident kind and false alerts per 100 days per series kind."""
    ok = [r for r in results if not r.failed]
    if not ok:
        return ""
    incident_kinds = sorted({k for r in ok for k in r.by_incident_kind})
    series_kinds = [k for k in KINDS if any(k in r.by_kind for r in ok)]
    head = "| method | " + " | ".join(f"recall {k}" for k in incident_kinds)
    head += " | " + " | ".join(f"FA {k}" for k in series_kinds) + " |"
    sep = "|---|" + "---:|" * (len(incident_kinds) + len(series_kinds))
    lines = [head, sep]
    for r in ok:
        cells = [_fmt(r.by_incident_kind.get(k, Tally()).recall) for k in incident_kinds]
        cells += [_fmt(r.by_kind.get(k, Tally()).false_alerts_per_100, 1) for k in series_kinds]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(seeds: Sequence[int], specs: Sequence[str], *, quiet: bool = False) -> list[Result]:
    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr, flush=True)

    data = {seed: generate(seed) for seed in seeds}
    results: list[Result] = []
    for spec in specs:
        try:
            label, factory = _factory(spec)
        except Exception as exc:  # reported in the table; the others still run
            say(f"skipping {spec}: {type(exc).__name__}: {exc}")
            results.append(Result(f"`{spec}`", Tally(), {}, {}, 0.0, failed=_why(exc)))
            continue
        parts: list[Result] = []
        try:
            # one series of each kind first, untimed: lazy imports are not the method's time
            warm = {series.kind: series for series in reversed(data[seeds[0]])}
            evaluate(factory, warm.values())
            for seed in seeds:
                say(f"{label}: seed {seed} ({len(data[seed])} series)")
                parts.append(evaluate(factory, data[seed], name=label))
        except Exception as exc:
            say(f"{label} failed: {type(exc).__name__}: {exc}")
            results.append(Result(label, Tally(), {}, {}, 0.0, failed=_why(exc)))
            continue
        merged = _merge(label, parts)
        say("  " + merged.summary())
        results.append(merged)
    return results


def _why(exc: Exception) -> str:
    """One short line for the table: the error's type and the first line of its message."""
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return (text[:117] + "…" if len(text) > 118 else text).replace("|", "/")


def _merge(name: str, parts: list[Result]) -> Result:
    overall = Tally()
    by_kind: dict[str, Tally] = {}
    by_incident: dict[str, Tally] = {}
    for p in parts:
        overall.add(p.overall)
        for k, t in p.by_kind.items():
            by_kind.setdefault(k, Tally()).add(t)
        for k, t in p.by_incident_kind.items():
            by_incident.setdefault(k, Tally()).add(t)
    return Result(name, overall, by_kind, by_incident, sum(p.seconds for p in parts))


def _version() -> str:
    """Which datacanary was measured: the commit, and whether its code had local changes."""
    import subprocess

    import datacanary

    root = Path(__file__).resolve().parents[1]
    package = Path(datacanary.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "src"], check=False
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return ""
    if not package.is_relative_to(root):  # not this checkout's code: say nothing
        return ""
    return f"datacanary at `{commit}`" + (" with uncommitted changes" if dirty else "")


def describe(seeds: Sequence[int], results: list[Result], note: str | None = None) -> str:
    ok = next((r for r in results if not r.failed), None)
    o = ok.overall if ok else Tally()
    seeds_text = ", ".join(map(str, seeds))
    version = _version() if note is None else note
    return (
        f"Command: `python bench/pipeline_series.py --seeds {' '.join(map(str, seeds))} --write`"
        + (f" ({version}). " if version else ". ")
        + f"Seeds {seeds_text}: {o.series} series, {o.days:,} series-days, {o.incidents} "
        "incidents (outage: 0 for 1–4 days; spike ×3; stale: yesterday's value for 3 days; "
        "null-fraction jump to 0.2–0.6 for 1–3 days), placed after day 30. Each day is "
        "judged by `update` on its past only; an incident counts as found if any of its days "
        "is flagged, and every other flagged day is a false alert. *Legit days* are holidays "
        f"(and the day after) and the first {LEGIT_SETTLE_DAYS} days of a lasting level "
        "shift (×1.15–×2) or of the first nulls in a column that had none. Every "
        "datacanary detector runs with its defaults (`make_series_detector(name)`; "
        "*default* is `make_series_detector()`). The peer rules are written in the "
        "benchmark: Elementary's flags `|x − mean| > 3·stdev` of the previous 14 values, "
        "learns every value (flagged ones too, as Elementary keeps detected anomalies in its "
        "training set) and never flags off a zero stdev (its `training_stddev = 0 then 0`); "
        "Deequ's flags `|x / previous − 1| > 0.5`, where after a 0 a positive value is an "
        "infinite change (flagged) and another 0 is NaN (passed). Seconds: judging only, "
        "all seeds."
    )


def _wrap(text: str, width: int = 100) -> str:
    """Fill a paragraph to ``width`` without breaking inside a `code span`."""
    words = re.findall(r"(?:[^\s`]*`[^`]*`)+[^\s`]*|\S+", text)
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def write_section(text: str, path: Path = DOCS) -> None:
    """Replace (or append) this benchmark's section of ``docs/benchmarks.md``."""
    doc = path.read_text(encoding="utf-8")
    block = f"{SECTION}\n\n{text.strip()}\n"
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + block
    else:
        end = doc.find("\n## ", start + len(SECTION))
        tail = "" if end < 0 else doc[end:]
        doc = doc[:start] + block + tail
    path.write_text(doc, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--detectors",
        nargs="+",
        default=None,
        help="datacanary series detectors ('mad', 'mad (sensitivity=4)') and peer rules "
        f"({', '.join(PEERS)}); default: every available detector and both peers",
    )
    parser.add_argument("--write", action="store_true", help=f"rewrite its section of {DOCS}")
    parser.add_argument(
        "--note",
        default=None,
        help="what was measured, after the command (default: the commit, from git)",
    )
    args = parser.parse_args(argv)
    specs = args.detectors or default_methods()
    results = run(args.seeds, specs)
    text = "\n\n".join(
        [
            _wrap(describe(args.seeds, results, args.note)),
            table(results),
            "Recall per incident kind, and false alerts per 100 series-days per series kind:",
            breakdown(results),
        ]
    )
    print(text)
    if args.write:
        write_section(text)
        print(f"wrote {DOCS}", file=sys.stderr)


if __name__ == "__main__":
    main()
