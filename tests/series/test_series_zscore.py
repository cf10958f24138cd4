"""The ``zscore`` series detector: the classic mean ± k·stdev rule."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from datacanary.results import Status
from datacanary.series import ZScoreDetector

BASE = [round(10_000 + x) for x in np.random.default_rng(42).normal(0, 100, 50)]


def test_zscore_replay_flags_exactly_the_injected_runs_with_their_sentences() -> None:
    values = [float(v) for v in BASE]
    values[20], values[30], values[31], values[40] = 13_000.0, 0.0, 0.0, 10_900.0
    detector = ZScoreDetector()
    verdicts = [detector.update(v, metric="row_count") for v in values]
    assert [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY] == [20, 30, 31, 40]
    assert verdicts[20].message == (
        "row_count 13,000 is above the expected 9,736–10,258 from the last 20 runs"
    )
    assert verdicts[31].message == (
        "row_count 0 is below the expected 9,766–10,239 from the last 29 runs"
    )


def test_zscore_band_is_exactly_mean_plus_minus_k_stdev_of_the_window() -> None:
    history = [float(v) for v in BASE[:25]]
    detector = ZScoreDetector(sensitivity=2.5, window=20).fit(history)
    mean, stdev = statistics.mean(history[-20:]), statistics.stdev(history[-20:])
    low, high = detector.expected()  # type: ignore[misc]
    assert low == pytest.approx(mean - 2.5 * stdev)
    assert high == pytest.approx(mean + 2.5 * stdev)
    assert detector.score_one(mean + 5 * stdev) == pytest.approx(2.0)  # two half-widths


def test_zscore_the_value_under_test_is_not_in_its_own_baseline() -> None:
    detector = ZScoreDetector(min_history=3).fit([10.0, 10.0, 10.0])
    verdict = detector.judge(11.0)  # in its own baseline, 11 would widen the band to pass
    assert verdict.status is Status.ANOMALY
    assert verdict.expected_low == verdict.expected_high == 10.0


def test_zscore_single_value_history_has_zero_stdev() -> None:
    detector = ZScoreDetector(min_history=1).fit([7.0])
    assert detector.expected() == (7.0, 7.0)
    assert detector.judge(7.0).status is Status.PASSED
    assert detector.judge(7.5).status is Status.ANOMALY
