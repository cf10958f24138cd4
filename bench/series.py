"""Precision and recall of the series detectors on seeded series with injected anomalies.

Each scenario generates daily series (180 runs, seeded) with known anomalous windows; every
detector replays each series through ``update`` (past anomalies excluded, as in production)
and we count:

* recall: injected events with at least one alert inside their window / events;
* precision: alerts inside an event window / all alerts (an alert after a level shift's
  first week, or on a clean series, is a false alarm);
* false alarms per 1,000 judged runs on the series without anomalies.

    .venv/bin/python bench/series.py                 # print the tables
    .venv/bin/python bench/series.py --write         # and rewrite them in docs/series.md
    .venv/bin/python bench/series.py --series 4 --detectors "mad;zscore (sensitivity=4)"
"""

from __future__ import annotations

import argparse
import ast
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from datacanary.results import Status
from datacanary.series import make_series_detector

N_RUNS = 180
LEVEL = 10_000.0
SIGMA = 200.0  # 2 % noise
START = datetime(2024, 1, 1)  # a Monday
DOCS = Path(__file__).resolve().parents[1] / "docs" / "series.md"
BEGIN, END = "<!-- bench:series:begin -->", "<!-- bench:series:end -->"

# each "name" or "name (param=value, ...)" as the tables show it
DETECTORS = [
    "mad",
    "zscore",
    "seasonal",
    "change",
    "ets",
    "ets (seasonal_periods=7)",
    "mad (exclude_anomalies=False)",
    "zscore (exclude_anomalies=False)",
]


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"ets (seasonal_periods=7)"`` -> ``("ets", {"seasonal_periods": 7})``."""
    name, _, rest = spec.partition("(")
    params: dict[str, Any] = {}
    for item in rest.rstrip(") ").split(","):
        if item.strip():
            key, _, value = item.partition("=")
            params[key.strip()] = ast.literal_eval(value.strip())
    return name.strip(), params


@dataclass
class Series:
    values: np.ndarray
    events: list[tuple[int, int]] = field(default_factory=list)  # inclusive windows

    @property
    def times(self) -> list[datetime]:
        return [START + timedelta(days=i) for i in range(len(self.values))]


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Gaussian noise for half the series, heavier-tailed (Student t, 5 dof) for the rest."""
    if rng.random() < 0.5:
        return rng.normal(0.0, SIGMA, n)
    return rng.standard_t(5, n) * SIGMA * np.sqrt(3 / 5)


def _weekly(n: int) -> np.ndarray:
    weekend = np.array([(START + timedelta(days=i)).weekday() >= 5 for i in range(n)])
    return np.where(weekend, 0.4, 1.0)


def _positions(rng: np.random.Generator, k: int, low: int = 45, gap: int = 15) -> list[int]:
    while True:
        picks = sorted(rng.choice(np.arange(low, N_RUNS - 5), size=k, replace=False).tolist())
        if all(b - a >= gap for a, b in itertools.pairwise(picks)):
            return picks


def spikes(rng: np.random.Generator) -> Series:
    """Three one-run spikes or dips of 5–10 σ."""
    values = LEVEL + _noise(rng, N_RUNS)
    events = []
    for i in _positions(rng, 3):
        values[i] += rng.choice([-1, 1]) * rng.uniform(5, 10) * SIGMA
        events.append((i, i))
    return Series(values, events)


def drops_to_zero(rng: np.random.Generator) -> Series:
    """Two outages: the metric is 0 for 1–3 runs."""
    values = LEVEL + _noise(rng, N_RUNS)
    events = []
    for i in _positions(rng, 2, gap=25):
        length = int(rng.integers(1, 4))
        values[i : i + length] = 0.0
        events.append((i, i + length - 1))
    return Series(values, events)


def level_shift(rng: np.random.Generator) -> Series:
    """One lasting shift of 6–12 σ; alerts in its first week count, later ones are noise."""
    values = LEVEL + _noise(rng, N_RUNS)
    start = int(rng.integers(60, 120))
    values[start:] += rng.choice([-1, 1]) * rng.uniform(6, 12) * SIGMA
    return Series(values, [(start, start + 6)])


def slow_drift(rng: np.random.Generator) -> Series:
    """A ramp of 15 σ over 40 runs that stays; any alert during the ramp or the week after."""
    values = LEVEL + _noise(rng, N_RUNS)
    start = int(rng.integers(50, 100))
    ramp = np.clip((np.arange(N_RUNS) - start) / 40, 0, 1) * 15 * SIGMA
    values += rng.choice([-1, 1]) * ramp
    return Series(values, [(start, start + 47)])


def seasonal(rng: np.random.Generator) -> Series:
    """Weekdays 10,000, weekends 4,000; three runs that look like the other kind of day."""
    values = LEVEL * _weekly(N_RUNS) + _noise(rng, N_RUNS)
    events = []
    for i in _positions(rng, 3):
        weekend = (START + timedelta(days=i)).weekday() >= 5
        values[i] = LEVEL * (1.0 if weekend else 0.4) + rng.normal(0, SIGMA)
        events.append((i, i))
    return Series(values, events)


def trend_seasonal(rng: np.random.Generator) -> Series:
    """Growth of 0.3 %/run and a ±15 % weekly pattern; three spikes or dips of 6–10 σ."""
    t = np.arange(N_RUNS)
    week = 1 + 0.15 * np.sin(2 * np.pi * t / 7)
    values = LEVEL * (1 + 0.003 * t) * week + _noise(rng, N_RUNS)
    events = []
    for i in _positions(rng, 3):
        values[i] += rng.choice([-1, 1]) * rng.uniform(6, 10) * SIGMA
        events.append((i, i))
    return Series(values, events)


def clean(rng: np.random.Generator) -> Series:
    """Noise only."""
    return Series(LEVEL + _noise(rng, N_RUNS))


def clean_weekly(rng: np.random.Generator) -> Series:
    """The weekly pattern only."""
    return Series(LEVEL * _weekly(N_RUNS) + _noise(rng, N_RUNS))


FLAT = ("spikes", "drops to zero", "level shift", "slow drift")  # no season, no trend
SCENARIOS: dict[str, Callable[[np.random.Generator], Series]] = {
    "spikes": spikes,
    "drops to zero": drops_to_zero,
    "level shift": level_shift,
    "slow drift": slow_drift,
    "weekly season": seasonal,
    "trend + season": trend_seasonal,
    "clean": clean,
    "clean weekly": clean_weekly,
}


@dataclass
class Tally:
    events: int = 0
    found: int = 0
    alerts: int = 0
    true_alerts: int = 0
    judged: int = 0
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def replay(name: str, params: dict[str, Any], series: Series) -> Tally:
    detector = make_series_detector(name, **params)
    started = time.perf_counter()
    flags = []
    judged = 0
    for value, at in zip(series.values.tolist(), series.times, strict=True):
        verdict = detector.update(value, at)
        judged += verdict.status is not Status.INSUFFICIENT_HISTORY
        flags.append(verdict.status is Status.ANOMALY)
    seconds = time.perf_counter() - started
    inside = np.zeros(len(flags), dtype=bool)
    for a, b in series.events:
        inside[a : b + 1] = True
    flagged = np.array(flags)
    return Tally(
        events=len(series.events),
        found=sum(bool(flagged[a : b + 1].any()) for a, b in series.events),
        alerts=int(flagged.sum()),
        true_alerts=int((flagged & inside).sum()),
        judged=judged,
        seconds=seconds,
    )


def _cell(t: Tally, clean_scenario: bool) -> str:
    if clean_scenario:
        return f"{1000 * t.alerts / max(t.judged, 1):.1f}"
    if not t.alerts:
        return f"– / {t.found / t.events:.2f}"
    precision = t.true_alerts / t.alerts
    return f"{precision:.2f} / {t.found / t.events:.2f}"


def run(n_series: int, detectors: list[str], seed: int, scenarios: list[str]) -> str:
    tallies: dict[tuple[str, str], Tally] = {}
    for s_index, (scenario, make) in enumerate(SCENARIOS.items()):
        if scenario not in scenarios:
            continue
        rng = np.random.default_rng([seed, s_index])
        all_series = [make(rng) for _ in range(n_series)]
        for label in detectors:
            name, params = parse_spec(label)
            total = Tally()
            for series in all_series:
                total.add(replay(name, params, series))
            tallies[label, scenario] = total

    anomalous = [s for s in scenarios if not s.startswith("clean")]
    flat = [s for s in anomalous if s in FLAT]
    clean_ones = [s for s in scenarios if s.startswith("clean")]
    lines = [
        f"Seed {seed}, {n_series} series of {N_RUNS} daily runs per scenario. Each cell is "
        "precision / recall; the summaries pool the alerts and events of their scenarios.",
        "",
        "| detector | " + " | ".join(anomalous) + " | flat series: P / R / F1 | all: P / R / F1 |",
        "| --- | " + " | ".join("---" for _ in anomalous) + " | --- | --- |",
    ]
    for label in detectors:
        cells = [_cell(tallies[label, s], False) for s in anomalous]
        cells += [_summary([tallies[label, s] for s in group]) for group in (flat, anomalous)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if clean_ones:
        lines += [
            "",
            "False alarms per 1,000 judged runs on series without anomalies, and the time to "
            "replay one 180-run series (`update` on every run):",
            "",
            "| detector | " + " | ".join(clean_ones) + " | ms per series |",
            "| --- | " + " | ".join("---" for _ in clean_ones) + " | --- |",
        ]
        for label in detectors:
            cells = [_cell(tallies[label, s], True) for s in clean_ones]
            seconds = sum(tallies[label, s].seconds for s in scenarios)
            ms = 1000 * seconds / (n_series * len(scenarios))
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {ms:.0f} |")
    return "\n".join(lines)


def _summary(tallies: list[Tally]) -> str:
    if not tallies:
        return "–"
    total = Tally()
    for t in tallies:
        total.add(t)
    p = total.true_alerts / total.alerts if total.alerts else 0.0
    r = total.found / total.events if total.events else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"{p:.2f} / {r:.2f} / **{f1:.2f}**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=20, help="series per scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--detectors",
        default=";".join(DETECTORS),
        help='";"-separated, e.g. "mad;mad (sensitivity=4, window=60)"',
    )
    parser.add_argument("--write", action="store_true", help=f"rewrite the tables in {DOCS}")
    parser.add_argument("--scenarios", default=";".join(SCENARIOS), help='";"-separated')
    args = parser.parse_args()
    labels = [d.strip() for d in args.detectors.split(";") if d.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(";") if s.strip()]
    table = run(args.series, labels, args.seed, scenarios)
    print(table)
    if args.write:
        text = DOCS.read_text(encoding="utf-8")
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOCS.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
