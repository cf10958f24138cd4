"""What every detector inherits from SeriesDetector: floors, direction, sentences, moves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datacanary.errors import ConfigError
from datacanary.results import Status
from datacanary.series import MADDetector, ZScoreDetector
from datacanary.series.base import MAX_SCORE, widened

NOISY = [float(round(10_000 + x)) for x in np.random.default_rng(3).normal(0, 100, 40)]


def test_base_absolute_floor_keeps_tiny_tables_quiet() -> None:
    detector = MADDetector(abs_floor=5).fit([10, 10, 11, 10, 10, 10, 10, 11, 10])
    verdict = detector.judge(13, metric="row_count", dataset="tiny")
    assert verdict.status is Status.PASSED
    assert verdict.message == (
        "row_count 13 is 3 above the usual 7.16–12.84, under the alerting floor of 5"
    )
    assert verdict.score > 1.0  # the score still says how far it is
    assert detector.judge(16).status is Status.ANOMALY


def test_base_relative_floor_is_a_share_of_the_centre() -> None:
    detector = MADDetector(rel_floor=0.10).fit(NOISY)
    verdict = detector.judge(10_900, metric="row_count")
    assert verdict.status is Status.PASSED  # 9 % off: under the floor, and it reads as a pass
    assert verdict.message == (
        "row_count 10,900 is 9.2 % above the usual 9,577–10,385, under the 10 % alerting floor"
    )
    assert detector.judge(11_200).status is Status.ANOMALY  # 12 % off
    assert detector.judge(8_700).status is Status.ANOMALY


def test_base_direction_up_reports_an_open_lower_side() -> None:
    detector = MADDetector(direction="up").fit(NOISY)
    low, high = detector.expected()  # type: ignore[misc]
    assert low is None and high is not None
    verdict = detector.judge(20_000, metric="row_count")
    assert verdict.message.startswith("row_count 20,000 is above the expected at most 10,")
    assert detector.judge(0).message.startswith("value 0 is within the expected at most 10,")


def test_base_score_is_one_on_the_edge_and_counts_half_widths() -> None:
    detector = ZScoreDetector().fit(NOISY)
    low, high = detector.expected()  # type: ignore[misc]
    centre = (low + high) / 2
    assert detector.score_one(centre) == 0.0
    assert detector.score_one(high) == pytest.approx(1.0)
    assert detector.score_one(low) == pytest.approx(1.0)
    assert detector.score_one(centre + 3 * (high - centre)) == pytest.approx(3.0)


def test_base_constant_history_scores_finitely_and_in_order() -> None:
    detector = MADDetector().fit([100.0] * 10)
    assert detector.score_one(100.0) == 0.0
    near, far = detector.score_one(100.001), detector.score_one(101.0)
    assert 1.0 < near < far < MAX_SCORE
    assert detector.score_one(1e300) == MAX_SCORE


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            None,
            "row_count is missing, so it cannot be judged; check that the metric was "
            "computed for this run",
        ),
        (
            math.nan,
            "row_count is NaN, so it cannot be judged; check that the metric was "
            "computed for this run",
        ),
        (
            math.inf,
            "row_count is ∞, so it cannot be judged; check that the metric was "
            "computed for this run",
        ),
        (
            "n/a",
            "row_count is 'n/a', not a number, so it cannot be judged; check that the "
            "metric was computed for this run",
        ),
    ],
)
def test_base_values_that_cannot_be_judged(value: object, message: str) -> None:
    verdict = MADDetector().fit(NOISY).update(value, metric="row_count")  # type: ignore[arg-type]
    assert verdict.status is Status.ERROR
    assert verdict.message == message
    assert verdict.detector == "mad"


def test_base_a_lasting_level_shift_alerts_for_a_week_then_becomes_the_baseline() -> None:
    values = NOISY[:30] + [v + 2_000 for v in NOISY[:30]]
    detector = MADDetector()
    verdicts = [detector.update(v, metric="row_count") for v in values]
    flagged = [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY]
    # a week of alerts, then the moved baseline; run 39 is the series' largest value (10,332)
    # moved up too, on the edge of the band as it was on the edge of the old one
    assert flagged == [30, 31, 32, 33, 34, 35, 36, 39]
    assert verdicts[36].message == (
        "row_count 11,798 is above the expected 9,712–10,243 from the last 30 runs"
    )
    low, high = detector.expected()  # type: ignore[misc]
    assert low < 12_000 < high


def test_base_short_outages_stay_out_of_the_baseline() -> None:
    values = NOISY[:30] + [0.0] * 6 + NOISY[30:]  # six runs of nothing: not a new normal
    detector = MADDetector()
    flags = [detector.update(v).status is Status.ANOMALY for v in values]
    assert flags[30:36] == [True] * 6
    assert not any(flags[36:])


def test_base_without_exclusion_anomalies_enter_the_baseline() -> None:
    detector = ZScoreDetector(exclude_anomalies=False).fit(NOISY[:20])
    detector.update(50_000.0)
    _low, high = detector.expected()  # type: ignore[misc]
    assert high > 30_000  # one spike blew the stdev up: why exclusion is the default


def test_base_widened_tends_to_k_and_grows_for_short_histories() -> None:
    assert widened(3, 100_000, efficiency=1.0) == pytest.approx(3.0, rel=1e-3)
    assert widened(3, 8, efficiency=1.0) > widened(3, 30, efficiency=1.0) > 3.0
    assert widened(3, 8, efficiency=0.37) > widened(3, 8, efficiency=1.0)
    assert math.isfinite(widened(40, 2, efficiency=0.37))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"direction": "upwards"}, "direction must be 'both', 'up' or 'down'; got 'upwards'"),
        ({"sensitivity": 0}, "sensitivity must be a finite number > 0; got 0"),
        ({"sensitivity": math.nan}, "sensitivity must be a finite number > 0; got nan"),
        ({"abs_floor": -1}, "abs_floor must be a finite number >= 0; got -1"),
        ({"rel_floor": "5%"}, "rel_floor must be a finite number >= 0; got '5%'"),
        ({"min_history": 0}, "min_history must be an integer >= 1; got 0"),
        ({"min_history": 2.5}, "min_history must be an integer >= 1; got 2.5"),
        ({"window": 3}, r"window must be None or an integer >= min_history \(7\); got 3"),
        ({"exclude_anomalies": "yes"}, "exclude_anomalies must be True or False; got 'yes'"),
    ],
)
def test_base_bad_parameters_are_named_with_the_fix(
    params: dict[str, object], message: str
) -> None:
    detector = MADDetector(**params)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        detector.judge(1.0)


def test_base_get_params_and_repr_round_trip() -> None:
    detector = MADDetector(sensitivity=4, window=None, rel_floor=0.02)
    params = detector.get_params()
    assert params == {
        "direction": "both",
        "sensitivity": 4,
        "min_history": 7,
        "window": None,
        "abs_floor": 0.0,
        "rel_floor": 0.02,
        "exclude_anomalies": True,
    }
    assert repr(detector).startswith("MADDetector(direction='both', sensitivity=4, ")
    assert MADDetector(**params).get_params() == params
