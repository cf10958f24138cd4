from __future__ import annotations

import numpy as np
import pandas as pd

from datacanary.series import make_series_detector
from datacanary.stream.windows import WindowMetrics

MINUTE = 60_000


def _metrics(**options: object) -> WindowMetrics:
    return WindowMetrics(
        60, lambda: make_series_detector("mad", min_history=5), dataset="orders", **options
    )


def _minute(minute: int, n: int = 100, email_missing: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(minute)
    emails = np.where(rng.random(n) < email_missing, None, "a@example.com")
    return pd.DataFrame(
        {"id": np.arange(n), "amount": rng.normal(40, 2, n), "email": emails},
    )


def _feed(metrics: WindowMetrics, minutes: range, **incident: dict[int, object]) -> list:
    closed = []
    for minute in minutes:
        n = int(incident.get("outage", {}).get(minute, 100))  # type: ignore[union-attr]
        missing = float(incident.get("missing", {}).get(minute, 0.0))  # type: ignore[union-attr]
        frame = _minute(minute, n, missing)
        stamps = minute * MINUTE + np.arange(n) * (MINUTE // n)
        closed += metrics.add(frame, stamps, newest={("orders", 0): int(stamps.max())})
    return closed


def test_stream_windows_flag_an_outage_and_a_null_spike_and_nothing_else() -> None:
    metrics = _metrics(ignore=["id"])
    closed = _feed(metrics, range(20), outage={12: 15}, missing={15: 0.6})

    anomalies = [(w.start.minute, v.message) for w in closed for v in w.verdicts if not v.passed]
    assert anomalies == [
        (12, "events 15 is below the expected 100–100 from the last 11 windows"),
        (15, anomalies[1][1]),
    ]
    assert anomalies[1][1].startswith("null_fraction of email 0.6")
    assert {v.column for w in closed for v in w.verdicts} == {None, "amount", "email"}  # no id
    assert closed[0].start.minute == 1  # minute 0 started before the processor: not judged
    assert metrics.windows_closed == 17  # 1-17; 18 and 19 wait out one window of lateness


def test_stream_windows_wait_for_a_lagging_partition_and_count_late_events() -> None:
    metrics = _metrics()
    frame = _minute(0, 10)
    ahead = np.full(10, 5 * MINUTE)
    behind = np.full(10, 1 * MINUTE)
    assigned = [("t", 0), ("t", 1)]

    # partition 1 has delivered nothing yet: no window may close
    assert metrics.add(frame, ahead, newest={("t", 0): 5 * MINUTE}, assigned=assigned) == []
    # partition 1 is at minute 1: minutes up to -1 could close; nothing does
    assert metrics.add(frame, behind, newest={("t", 1): MINUTE}, assigned=assigned) == []
    # partition 1 catches up to minute 5: minute 1 closes (the first window: not judged)
    metrics.add(frame, ahead, newest={("t", 1): 5 * MINUTE}, assigned=assigned)
    assert metrics.late_events == 0
    late = metrics.add(frame, behind, newest={("t", 1): 5 * MINUTE}, assigned=assigned)
    assert late == [] and metrics.late_events == 10


def test_stream_windows_stop_waiting_for_an_idle_partition() -> None:
    metrics = _metrics(idle_seconds=0.0)
    frame = _minute(0, 10)
    for minute in (1, 2, 3, 4):
        closed = metrics.add(
            frame,
            np.full(10, minute * MINUTE),
            newest={("t", 0): minute * MINUTE},
            assigned=[("t", 0), ("t", 1)],  # partition 1 never delivers anything
        )
    assert [w.start.minute for w in closed] == [2]  # minute 1 was first; 2 closes at 4


def test_stream_windows_take_the_novelty_detector_unchanged() -> None:
    # the NAB detector judges window metrics like any series detector
    metrics = WindowMetrics(
        60,
        lambda: make_series_detector("novelty", min_history=30, settle=30),
        dataset="orders",
        ignore=["id"],
    )
    closed = _feed(metrics, range(80), outage={60: 15}, missing={70: 0.6})
    flagged = {
        (w.start.hour * 60 + w.start.minute, v.metric, v.column): v.message
        for w in closed
        for v in w.verdicts
        if not v.passed
    }
    assert flagged[(60, "events", None)].startswith("events 15 is below the expected 100–100")
    assert flagged[(70, "null_fraction", "email")].startswith(
        "null_fraction of email 0.62 is above the expected 0–0"
    )
    # besides the two incidents, only a new high of a window mean while history was short
    assert set(flagged) - {(60, "events", None), (70, "null_fraction", "email")} == {
        (35, "mean", "amount")
    }
