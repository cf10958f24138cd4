"""The ``novelty`` series detector: values unlike any seen before, calibrated per series."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from datacanary.errors import ConfigError, InputError
from datacanary.results import Status
from datacanary.series.novelty import NoveltyDetector
from datacanary.series.registry import make_series_detector


def two_levels(n: int = 600, seed: int = 0) -> list[float]:
    """Alternates between a band around 20 and one around 80, every 50 values."""
    rng = np.random.default_rng(seed)
    base = np.where((np.arange(n) // 50) % 2 == 0, 20.0, 80.0)
    return (base + rng.normal(0.0, 1.0, n)).tolist()


def trained(values: list[float], **params: Any) -> NoveltyDetector:
    detector = NoveltyDetector(**{"min_history": 100, "settle": 100, **params})
    for v in values:
        detector.learn_one(v)
    return detector


def test_novelty_scores_unseen_levels_high_and_familiar_values_low() -> None:
    detector = trained(two_levels())
    familiar = [detector.score_one(v) for v in (19.5, 20.3, 79.8, 81.0)]
    assert max(familiar) < 0.5
    assert detector.score_one(50.0) > 10  # a level the series only ever crossed
    assert detector.score_one(120.0) > detector.score_one(95.0) > 1  # beyond anything seen


def test_novelty_is_quiet_until_min_history() -> None:
    detector = NoveltyDetector(min_history=100)
    for v in two_levels(99):
        assert detector.score_one(v + 1000) == 0.0
        detector.learn_one(v)
    assert detector.judge(5000.0).status is Status.INSUFFICIENT_HISTORY
    detector.learn_one(20.0)
    assert detector.score_one(5000.0) > 0


def test_novelty_calibrates_per_series_a_noisy_series_needs_a_larger_jump() -> None:
    rng = np.random.default_rng(1)
    # the same range (0-100): the clean series repeats five levels, the noisy one fills it,
    # so new values were common in its past and a small step beyond its top is not rare
    clean = trained((rng.integers(0, 5, 2000) * 25.0).tolist(), settle=2000)
    noisy_values = rng.uniform(0, 100, 2000).tolist()
    noisy = trained(noisy_values, settle=2000)
    top = max(noisy_values)
    assert clean.score_one(100.5) > 2 * noisy.score_one(top + 0.5)
    # a jump beyond anything either has seen is the rarest event for both
    assert clean.score_one(130.0) == pytest.approx(noisy.score_one(top + 30.0), rel=0.05)


def test_novelty_cooldown_alerts_once_per_event() -> None:
    detector = trained(two_levels(), cooldown=20)
    alerts = []
    for i in range(30):
        value = 140.0 + 3 * i  # a ramp to new heights: novel at every step
        alerts.append(detector.score_one(value) >= 1.0)
        detector.learn_one(value)
    assert alerts[0] and not any(alerts[1:21])
    # the ramp's own steps are now familiar novelties: further steps are not rare
    assert not any(alerts[21:])
    assert detector.score_one(500.0) >= 1.0  # a new event after the cooldown alerts
    without = trained(two_levels(), cooldown=0)
    assert without.score_one(140.0) >= 1.0
    without.learn_one(140.0)
    assert without.score_one(200.0) >= 1.0


def test_novelty_confidence_grows_with_history() -> None:
    values = two_levels(600)
    early = trained(values, settle=2400)
    settled = trained(values, settle=600)
    assert early.score_one(50.0) == pytest.approx(settled.score_one(50.0) * math.sqrt(600 / 2400))


def test_novelty_band_edges_match_the_alert_level() -> None:
    detector = trained(two_levels(), cooldown=0)
    low, high = detector.expected()  # type: ignore[misc]
    step = 1e-6 * (high - low)
    assert detector.score_one(high + step) >= 1.0 > detector.score_one(high - step)
    assert detector.score_one(low - step) >= 1.0 > detector.score_one(low + step)
    assert detector.judge(high + step).status is Status.ANOMALY


def test_novelty_verdicts_say_why() -> None:
    detector = trained(two_levels(), cooldown=5)
    inside = detector.judge(50.0, metric="latency_ms")
    assert inside.status is Status.ANOMALY
    assert "is within the expected" in inside.message
    nearest = float(inside.message.rsplit("nearest: ", 1)[1].rstrip(")"))
    assert 20 < nearest < 30 or 70 < nearest < 80
    assert detector.judge(20.1).status is Status.PASSED
    detector.update(50.0)  # an alert: the detector pauses
    paused = detector.judge(200.0)
    assert paused.status is Status.PASSED
    assert paused.message.endswith("(alerts are paused after the last one)")


def test_novelty_floors_apply_to_the_distance_from_the_nearest_value() -> None:
    detector = trained(two_levels(), cooldown=0, abs_floor=40.0)
    assert detector.score_one(50.0) > 1.0
    assert detector.judge(50.0).status is Status.PASSED  # 50 is within 40 of a familiar value
    assert detector.judge(130.0).status is Status.ANOMALY


def test_novelty_direction_limits_the_side() -> None:
    up = trained(two_levels(), direction="up", cooldown=0)
    down = trained(two_levels(), direction="down", cooldown=0)
    assert up.score_one(150.0) > 1.0 and up.score_one(-50.0) == 0.0
    assert down.score_one(-50.0) > 1.0 and down.score_one(150.0) == 0.0
    assert up.expected()[0] is None and down.expected()[1] is None  # type: ignore[index]


def test_novelty_window_forgets_old_values() -> None:
    old_level = [5.0 + 0.01 * (i % 10) for i in range(300)]
    new_level = [50.0 + 0.01 * (i % 10) for i in range(300)]
    forgetful = trained(old_level + new_level, window=300, cooldown=0)
    remembers = trained(old_level + new_level, window=None, cooldown=0)
    assert forgetful.history_size == 300 and remembers.history_size == 600
    assert forgetful.score_one(5.0) > 1.0  # the old level is new again
    assert remembers.score_one(5.0) == 0.0


def test_novelty_update_leaves_anomalies_out_of_the_baseline() -> None:
    detector = trained(two_levels(), cooldown=0)
    size = detector.history_size
    assert detector.update(300.0).status is Status.ANOMALY
    assert detector.history_size == size
    assert detector.score_one(300.0) >= 1.0  # still novel: it was not learned


def test_novelty_rejects_bad_values_and_parameters() -> None:
    detector = trained(two_levels(200))
    with pytest.raises(InputError, match="finite number"):
        detector.score_one(float("nan"))
    assert detector.judge(float("inf")).status is Status.ERROR
    with pytest.raises(ConfigError, match=r"trim must be a share in \[0, 0.5\); got 0.7"):
        make_series_detector("novelty", trim=0.7)
    with pytest.raises(ConfigError, match="cooldown must be an integer >= 0; got -1"):
        make_series_detector("novelty", cooldown=-1)
    with pytest.raises(ConfigError, match="min_history must be an integer >= 2"):
        make_series_detector("novelty", min_history=1)


def test_novelty_is_registered_and_clones() -> None:
    detector = make_series_detector("novelty", cooldown=10)
    assert isinstance(detector, NoveltyDetector)
    assert detector.get_params()["cooldown"] == 10
    twin = detector.clone()
    assert twin.get_params() == detector.get_params() and twin is not detector


def test_novelty_scores_a_long_stream_quickly() -> None:
    detector = NoveltyDetector()
    rng = np.random.default_rng(2)
    values = rng.normal(size=20_000).tolist()
    scores = []
    for v in values:
        scores.append(detector.score_one(v))
        detector.learn_one(v)
    assert detector.history_size == 20_000
    assert sum(s >= 1.0 for s in scores) < 20  # Gaussian noise: a handful of alerts at most


def test_novelty_alert_fatigue_raises_the_bar_and_fades() -> None:
    half_life = 200
    tired = trained(two_levels(), cooldown=0, fatigue=0.5, fatigue_half_life=half_life)
    fresh = trained(two_levels(), cooldown=0, fatigue=0.0)
    assert tired.score_one(300.0) == pytest.approx(fresh.score_one(300.0))  # no alert yet
    for detector in (tired, fresh):
        assert detector.score_one(300.0) >= 1.0
        detector.learn_one(300.0)  # an alert
        for v in two_levels(100, seed=3):  # 100 familiar values later
            detector.learn_one(v)
    fade = 0.5 ** (101 / half_life)  # the alert's weight now
    assert tired.score_one(400.0) == pytest.approx(fresh.score_one(400.0) / (1 + 0.5 * fade))
    _, high = tired.expected()  # type: ignore[misc]
    assert high > fresh.expected()[1]  # type: ignore[index]  # a tired detector's band is wider


def test_novelty_is_invariant_to_the_unit_of_the_series() -> None:
    rng = np.random.default_rng(4)
    values = rng.lognormal(1.0, 1.0, 1500).tolist()  # a heavy-tailed count
    grams = trained(values, cooldown=0)
    tonnes = trained([v * 1e-6 for v in values], cooldown=0)
    for probe in (0.01, 3.0, max(values) * 1.3, max(values) * 4):
        assert tonnes.score_one(probe * 1e-6) == pytest.approx(grams.score_one(probe), rel=1e-6)


def test_novelty_must_be_new_on_both_the_linear_and_the_log_scale() -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(2.0, 1.2, 3000).tolist()
    detector = trained(values, cooldown=0, settle=1000)
    top, bottom = max(values), min(values)
    # 2 % above the record is far on neither scale; 3x the record is far on both
    assert detector.score_one(top * 1.02) < 1.0 <= detector.score_one(top * 3)
    # below the smallest value: the log scale sees a larger step than the linear one, whose
    # range the rare large values stretch; new on one scale only, it does not alert
    assert detector.score_one(bottom / 2) < 1.0
    s, s_log = detector._novelties(bottom / 2)
    assert s_log > 3 * s


def test_novelty_rejects_bad_fatigue_parameters() -> None:
    with pytest.raises(ConfigError, match="fatigue must be a finite number >= 0; got -1"):
        make_series_detector("novelty", fatigue=-1)
    with pytest.raises(ConfigError, match="fatigue must be a finite number >= 0; got inf"):
        make_series_detector("novelty", fatigue=float("inf"))
    with pytest.raises(ConfigError, match="fatigue_half_life must be an integer >= 1; got 0"):
        make_series_detector("novelty", fatigue_half_life=0)
