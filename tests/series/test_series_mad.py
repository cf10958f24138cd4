"""The ``mad`` series detector: replayed histories with injected anomalies."""

from __future__ import annotations

import numpy as np
import pytest

from datacanary.results import Status
from datacanary.series import MADDetector
from datacanary.series.mad import robust_centre_scale

# 50 daily row counts around 10,000 (seeded), with a spike, a two-run outage and a jump
BASE = [round(10_000 + x) for x in np.random.default_rng(42).normal(0, 100, 50)]


def injected() -> list[float]:
    values = [float(v) for v in BASE]
    values[20], values[30], values[31], values[40] = 13_000.0, 0.0, 0.0, 10_900.0
    return values


def test_mad_replay_flags_exactly_the_injected_runs_with_their_sentences() -> None:
    detector = MADDetector()
    verdicts = [detector.update(v, metric="row_count", dataset="orders") for v in injected()]
    assert [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY] == [20, 30, 31, 40]
    assert [v.status for v in verdicts[:7]] == [Status.INSUFFICIENT_HISTORY] * 7
    assert verdicts[6].message == "row_count 10,013: insufficient history (6 of 7 runs) to judge"
    assert verdicts[20].message == (
        "row_count 13,000 is above the expected 9,502–10,518 from the last 20 runs"
    )
    assert verdicts[30].message == (
        "row_count 0 is below the expected 9,679–10,347 from the last 29 runs"
    )
    assert verdicts[40].message == (
        "row_count 10,900 is above the expected 9,669–10,336 from the last 30 runs"
    )
    assert verdicts[30].score == pytest.approx(30.0, abs=0.05)
    assert detector.history_size == 30


def test_mad_short_histories_get_a_wider_band() -> None:
    detector = MADDetector()
    widths = []
    for i, v in enumerate(BASE[:30]):
        detector.learn_one(v)
        if i + 1 >= 7:
            low, high = detector.expected()  # type: ignore[misc]
            widths.append(high - low)
    assert widths[0] > 3 * widths[-1]  # 7 values: a band about four times as wide as 30


def test_mad_one_bad_run_in_the_history_hardly_moves_the_band() -> None:
    clean = MADDetector(exclude_anomalies=False).fit(BASE[:30])
    dirty = MADDetector(exclude_anomalies=False).fit([*BASE[:29], 90_000.0])
    (lo1, hi1), (lo2, hi2) = clean.expected(), dirty.expected()  # type: ignore[misc]
    assert abs(lo1 - lo2) < 100 and abs(hi1 - hi2) < 100


def test_mad_falls_back_when_most_values_are_equal() -> None:
    detector = MADDetector()
    for v in [5.0] * 20 + [6.0] * 5:
        detector.learn_one(v)
    low, high = detector.expected()  # type: ignore[misc]
    assert low < 5.0 < high  # MAD is 0, the mean absolute deviation is not
    assert detector.judge(6.0).status is Status.PASSED
    assert detector.judge(9.0).status is Status.ANOMALY


def test_mad_robust_centre_scale_is_a_standard_deviation_for_normal_data() -> None:
    values = np.random.default_rng(0).normal(50.0, 4.0, 20_000).tolist()
    centre, scale = robust_centre_scale(values)
    assert centre == pytest.approx(50.0, abs=0.1)
    assert scale == pytest.approx(4.0, rel=0.03)
    assert robust_centre_scale([3.0, 3.0, 3.0]) == (3.0, 0.0)


def test_mad_window_keeps_only_the_last_values() -> None:
    detector = MADDetector(window=10).fit(range(100))
    assert detector.history_size == 10
    low, high = detector.expected()  # type: ignore[misc]
    assert low < 94.5 < high and low > 50
