"""The ``change`` series detector: bounds on the relative change from the previous run."""

from __future__ import annotations

import pytest

from datacanary.errors import ConfigError
from datacanary.results import Status
from datacanary.series import ChangeDetector


def test_change_band_is_the_allowed_rise_and_fall_in_value_units() -> None:
    detector = ChangeDetector(max_increase=0.2, max_decrease=0.1).fit([900.0, 1000.0])
    assert detector.expected() == (900.0, 1200.0)
    assert detector.judge(1200.0).status is Status.PASSED
    verdict = detector.judge(1300.0, metric="row_count")
    assert verdict.status is Status.ANOMALY
    assert verdict.message == "row_count 1,300 is above the expected 900–1,200 from the last 1 run"
    assert verdict.score == pytest.approx(1.5)  # 300 above the centre, half-width 200


def test_change_replay_compares_each_run_with_the_last_good_one() -> None:
    values = [1000.0, 1100.0, 1050.0, 300.0, 1020.0, 1080.0, 2000.0, 1100.0]
    detector = ChangeDetector()
    verdicts = [detector.update(v, metric="rows") for v in values]
    flagged = [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY]
    assert flagged == [3, 6]
    assert verdicts[0].message == "rows 1,000: insufficient history (0 of 1 run) to judge"
    # 300 stayed out of the baseline, so 1,020 is compared with 1,050
    assert verdicts[4].message == "rows 1,020 is within the expected 525–1,575 from the last 1 run"


def test_change_sensitivity_scales_both_bounds_and_window_uses_a_median() -> None:
    assert ChangeDetector(sensitivity=2.0).fit([100.0]).expected() == (0.0, 200.0)
    detector = ChangeDetector(window=3, min_history=3).fit([100.0, 300.0, 120.0])
    assert detector.expected() == (60.0, 180.0)  # around the median, 120


def test_change_from_zero_any_other_value_is_anomalous_with_a_finite_score() -> None:
    detector = ChangeDetector().fit([0.0])
    assert detector.judge(0.0).status is Status.PASSED
    verdict = detector.judge(3.0)
    assert verdict.status is Status.ANOMALY
    assert 1.0 < verdict.score < float("inf")


def test_change_negative_previous_values_use_their_magnitude() -> None:
    assert ChangeDetector().fit([-100.0]).expected() == (-150.0, -50.0)


def test_change_rejects_negative_bounds() -> None:
    with pytest.raises(ConfigError, match=r"max_decrease must be a finite number >= 0; got -0\.1"):
        ChangeDetector(max_decrease=-0.1).fit([1.0])
