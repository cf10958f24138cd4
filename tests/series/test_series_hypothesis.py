"""Property tests for every registered series detector: any finite, missing or huge input.

Constant series, NaN, a single point and values up to 1e300 must never raise, never divide
by zero, and always give a verdict whose numbers and status agree.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datacanary.results import Status, Verdict
from datacanary.series import SeriesDetector, available_series_detectors, make_series_detector
from datacanary.series.registry import detector_class

NAMES = available_series_detectors()
START = datetime(2024, 1, 1)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)
maybe_bad = st.one_of(finite, st.just(math.nan), st.just(math.inf), st.none())


def build(name: str, **params: object) -> SeriesDetector:
    return make_series_detector(name, **{**detector_class(name)._unit_test_params(), **params})


def check(verdict: Verdict) -> None:
    assert verdict.status in Status
    assert verdict.message
    assert math.isfinite(verdict.score) and verdict.score >= 0.0
    if verdict.status is Status.ERROR:
        return
    if verdict.status is Status.ANOMALY:
        assert verdict.score >= 1.0  # outside the band: at least one half-width away
    low, high = verdict.expected_low, verdict.expected_high
    if low is not None and high is not None:
        assert low <= high
    if verdict.status is Status.PASSED and verdict.value is not None:
        # passed means inside the band, or outside it but under a floor, or the value that
        # completes a move to a new level (each said in the sentence)
        outside = (low is not None and verdict.value < low) or (
            high is not None and verdict.value > high
        )
        said = ("floor", "paused", "re-baselined", "new normal")
        assert not outside or any(word in verdict.message for word in said)


@SETTINGS
@given(name=st.sampled_from(NAMES), values=st.lists(maybe_bad, max_size=40))
def test_hypothesis_any_series_gives_consistent_verdicts(
    name: str, values: list[float | None]
) -> None:
    detector = build(name)
    for i, value in enumerate(values):
        at = START + timedelta(days=i)
        verdict = detector.update(value, at, metric="m")
        check(verdict)
        bad = value is None or not math.isfinite(value)
        assert (verdict.status is Status.ERROR) == bad
    at = START + timedelta(days=len(values))
    band = detector.expected(at)
    assert band is None or all(b is None or not math.isnan(b) for b in band)


@SETTINGS
@given(
    name=st.sampled_from(NAMES),
    constant=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    n=st.integers(min_value=0, max_value=40),
)
def test_hypothesis_constant_series_passes_itself_and_flags_a_jump(
    name: str, constant: float, n: int
) -> None:
    detector = build(name)
    detector.fit([constant] * n, [START + timedelta(days=i) for i in range(n)])
    at = START + timedelta(days=n)
    same = detector.judge(constant, at)
    check(same)
    if same.status is Status.INSUFFICIENT_HISTORY:
        assert same.score == 0.0
        return
    assert same.status is Status.PASSED
    jump = constant + 3 * max(1.0, abs(constant))  # 300 %: beyond every detector's band
    other = detector.judge(jump, at)
    check(other)
    assert other.status is Status.ANOMALY
    assert 1.0 < other.score < math.inf


@SETTINGS
@given(name=st.sampled_from(NAMES), first=finite, second=maybe_bad)
def test_hypothesis_one_point_then_anything(name: str, first: float, second: object) -> None:
    detector = build(name)
    detector.update(first, START)
    verdict = detector.judge(second, START + timedelta(days=1))  # type: ignore[arg-type]
    check(verdict)
    if detector.min_history > 1:
        assert verdict.status in (Status.INSUFFICIENT_HISTORY, Status.ERROR)
