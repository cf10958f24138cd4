"""Shared checks every registered series detector must pass (River's test_estimators style).

Each detector is built with ``make_series_detector(name, **cls._unit_test_params())`` and fed
daily runs with timestamps, so detectors that need ``at`` (seasonal) take part too.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from datacanary.errors import ConfigError, InputError
from datacanary.results import Status
from datacanary.series import SeriesDetector, available_series_detectors, make_series_detector
from datacanary.series.registry import detector_class

NAMES = available_series_detectors()
BASE_PARAMS = {
    "direction",
    "sensitivity",
    "min_history",
    "window",
    "abs_floor",
    "rel_floor",
    "exclude_anomalies",
}


def days(n: int) -> list[datetime]:
    return [datetime(2024, 1, 1) + timedelta(days=i) for i in range(n)]


def noisy(n: int, seed: int = 0, level: float = 10_000.0) -> list[float]:
    return (level + np.random.default_rng(seed).normal(0.0, 100.0, n)).tolist()


def build(name: str, **params: object) -> SeriesDetector:
    return make_series_detector(name, **{**detector_class(name)._unit_test_params(), **params})


def warmed(name: str, n: int = 60, **params: object) -> SeriesDetector:
    return build(name, **params).fit(noisy(n), days(n))


@pytest.mark.parametrize("name", NAMES)
def test_contract_registry_builds_the_named_class(name: str) -> None:
    detector = build(name)
    assert isinstance(detector, SeriesDetector)
    assert detector.name == name
    assert set(detector.get_params()) >= BASE_PARAMS


@pytest.mark.parametrize("name", NAMES)
def test_contract_clone_is_fresh_with_the_same_params(name: str) -> None:
    detector = warmed(name)
    twin = detector.clone()
    assert twin is not detector
    assert type(twin) is type(detector)
    assert twin.get_params() == detector.get_params()
    assert twin.history_size == 0
    assert detector.history_size > 0


@pytest.mark.parametrize("name", NAMES)
def test_contract_too_little_history_is_its_own_outcome(name: str) -> None:
    detector = build(name)
    verdict = detector.judge(10_000.0, days(1)[0], metric="row_count")
    assert verdict.status is Status.INSUFFICIENT_HISTORY
    assert verdict.passed
    assert verdict.score == 0.0
    assert "insufficient history (0 of " in verdict.message
    assert verdict.message.startswith("row_count 10,000: ")
    assert detector.expected(days(1)[0]) is None
    assert detector.score_one(1e9, days(1)[0]) == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_contract_judging_does_not_learn_and_update_does(name: str) -> None:
    detector = warmed(name)
    at = days(61)[-1]
    size = detector.history_size
    band = detector.expected(at)
    detector.judge(10_050.0, at)
    detector.score_one(10_050.0, at)
    assert detector.history_size == size
    assert detector.expected(at) == band
    verdict = detector.update(10_020.0, at)
    assert verdict.status is Status.PASSED
    assert detector.history_size in (size + 1, detector.window)


@pytest.mark.parametrize("name", NAMES)
def test_contract_a_spike_is_flagged_scored_above_one_and_kept_out(name: str) -> None:
    detector = warmed(name)
    at = days(61)[-1]
    size = detector.history_size
    verdict = detector.update(40_000.0, at, metric="row_count", dataset="orders")
    assert verdict.status is Status.ANOMALY
    assert not verdict.passed
    assert verdict.score > 1.0
    assert math.isfinite(verdict.score)
    assert verdict.message.startswith("row_count 40,000 is ")
    assert verdict.detector == name
    assert verdict.params == detector.get_params()
    assert verdict.dataset == "orders" and verdict.observed_at == at
    # kept out of the baseline: the band did not stretch towards it, and it is still anomalous
    band = detector.expected(at)
    assert band is not None and band[1] is not None and band[1] < 20_000.0
    assert detector.judge(40_000.0, at).status is Status.ANOMALY
    assert detector.history_size <= size + 1  # ets steps its season on with the forecast


@pytest.mark.parametrize("name", NAMES)
def test_contract_without_exclusion_the_spike_is_learned(name: str) -> None:
    detector = warmed(name, exclude_anomalies=False)
    size = detector.history_size
    assert detector.update(40_000.0, days(61)[-1]).status is Status.ANOMALY
    assert detector.history_size in (size + 1, detector.window)


@pytest.mark.parametrize("name", NAMES)
def test_contract_score_is_nonnegative_and_grows_with_distance(name: str) -> None:
    detector = warmed(name)
    at = days(61)[-1]
    scores = [detector.score_one(v, at) for v in (10_000.0, 12_000.0, 20_000.0, 80_000.0)]
    assert all(s >= 0.0 and math.isfinite(s) for s in scores)
    assert scores[1] <= scores[2] <= scores[3]
    assert scores[3] > 1.0


@pytest.mark.parametrize("name", NAMES)
def test_contract_direction_ignores_the_other_side(name: str) -> None:
    at = days(61)[-1]
    up = warmed(name, direction="up")
    assert up.judge(0.0, at).status is Status.PASSED
    assert up.score_one(0.0, at) == 0.0
    assert up.judge(40_000.0, at).status is Status.ANOMALY
    down = warmed(name, direction="down")
    assert down.judge(40_000.0, at).status is Status.PASSED
    assert down.judge(0.0, at).status is Status.ANOMALY
    band = up.expected(at)
    assert band is not None and band[0] is None and band[1] is not None
    band = down.expected(at)
    assert band is not None and band[0] is not None and band[1] is None


@pytest.mark.parametrize("name", NAMES)
def test_contract_floors_silence_small_changes(name: str) -> None:
    at = days(61)[-1]
    detector = warmed(name, abs_floor=50_000.0)
    verdict = detector.judge(40_000.0, at, metric="row_count")
    assert verdict.status is Status.PASSED
    assert verdict.message.endswith("under the alerting floor of 50,000")
    assert "expected" not in verdict.message  # a pass reads as a pass
    detector = warmed(name, rel_floor=5.0)  # 500 % of the centre
    assert detector.judge(40_000.0, at).status is Status.PASSED
    assert detector.judge(400_000.0, at).status is Status.ANOMALY


@pytest.mark.parametrize("name", NAMES)
def test_contract_constant_history_does_not_divide_by_zero(name: str) -> None:
    n = 60
    detector = build(name).fit([500.0] * n, days(n))
    at = days(n + 1)[-1]
    same = detector.judge(500.0, at)
    assert same.status is Status.PASSED
    other = detector.judge(1_700.0, at)
    assert other.status is Status.ANOMALY
    assert math.isfinite(other.score) and other.score > 1.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "12"])
def test_contract_bad_values_are_error_verdicts_and_never_learned(name: str, bad: object) -> None:
    detector = warmed(name)
    size = detector.history_size
    verdict = detector.update(bad, days(61)[-1], metric="row_count")  # type: ignore[arg-type]
    assert verdict.status is Status.ERROR
    assert not verdict.passed
    assert verdict.message.startswith("row_count is ")
    assert "cannot be judged" in verdict.message
    assert detector.history_size == size
    if isinstance(bad, str):
        return
    with pytest.raises(InputError, match="needs a finite number"):
        detector.learn_one(bad, days(61)[-1])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs a finite number"):
        detector.score_one(bad, days(61)[-1])  # type: ignore[arg-type]
    assert detector.history_size == size


@pytest.mark.parametrize("name", NAMES)
def test_contract_fit_replays_update_and_starts_afresh(name: str) -> None:
    values, times = noisy(60), days(60)
    values[40] = 90_000.0  # a past incident
    replayed = build(name)
    verdicts = [replayed.update(v, t) for v, t in zip(values, times, strict=True)]
    fitted = build(name)
    assert fitted.fit(values, times) is fitted
    at = days(61)[-1]
    assert fitted.expected(at) == replayed.expected(at)
    assert fitted.history_size == replayed.history_size
    assert verdicts[40].status is Status.ANOMALY
    fitted.fit(values, times)  # again: the same state, not twice the history
    assert fitted.expected(at) == replayed.expected(at)


@pytest.mark.parametrize("name", NAMES)
def test_contract_fit_checks_times_match_values(name: str) -> None:
    with pytest.raises(InputError, match="fit got 3 values but 2 times"):
        build(name).fit([1.0, 2.0, 3.0], days(2))


@pytest.mark.parametrize("name", NAMES)
def test_contract_verdicts_are_json_ready(name: str) -> None:
    detector = warmed(name)
    record = detector.update(40_000.0, days(61)[-1], metric="row_count").to_dict()
    text = json.dumps(record)
    assert json.loads(text)["status"] == "anomaly"
    assert json.loads(text)["params"] == json.loads(json.dumps(detector.get_params()))


@pytest.mark.parametrize("name", NAMES)
def test_contract_bad_parameters_fail_when_built(name: str) -> None:
    with pytest.raises(ConfigError, match="direction must be 'both', 'up' or 'down'; got 'upward'"):
        build(name, direction="upward")
    with pytest.raises(ConfigError, match="sensitivity must be"):
        build(name, sensitivity=-1)
    with pytest.raises(ConfigError, match=f"series detector '{name}' has no parameter 'k'"):
        build(name, k=3)
