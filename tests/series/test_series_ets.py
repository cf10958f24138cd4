"""The ``ets`` series detector: Holt-Winters through statsmodels, refitted lazily."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from datacanary.errors import ConfigError
from datacanary.results import Status
from datacanary.series import ETSDetector

DAYS = [datetime(2024, 1, 1) + timedelta(days=i) for i in range(70)]


def weekly(seed: int = 0) -> list[float]:
    noise = np.random.default_rng(seed).normal(0, 100, len(DAYS))
    return [
        float(round((10_000 if d.weekday() < 5 else 4_000) + x))
        for d, x in zip(DAYS, noise, strict=True)
    ]


class CountingETS(ETSDetector):
    """Counts the statsmodels fits."""

    fits = 0

    def _refit(self) -> None:
        self.fits += 1
        super()._refit()


def test_ets_weekly_replay_flags_the_injected_days() -> None:
    values = weekly()
    values[35], values[41] = 4_100.0, 9_900.0
    detector = ETSDetector(seasonal_periods=7)
    verdicts = [detector.update(v, metric="row_count") for v in values]
    assert [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY] == [35, 41]
    assert verdicts[13].message == "row_count 3,978: insufficient history (13 of 14 runs) to judge"
    assert verdicts[35].message == (
        "row_count 4,100 is below the expected 9,482–10,596 from the last 35 runs"
    )
    # the excluded Monday was replaced by its forecast, so the season stayed aligned
    assert verdicts[36].status is Status.PASSED and verdicts[40].status is Status.PASSED


def test_ets_follows_a_trend_that_a_flat_band_would_flag() -> None:
    rng = np.random.default_rng(1)
    growing = [1_000 + 25 * i + rng.normal(0, 10) for i in range(60)]
    detector = ETSDetector().fit(growing)
    low, high = detector.expected()  # type: ignore[misc]
    assert low < 1_000 + 25 * 60 < high
    assert detector.judge(1_000 + 25 * 60).status is Status.PASSED
    assert detector.judge(1_000 + 25 * 50).status is Status.ANOMALY  # the level of 10 runs ago


def test_ets_refits_every_n_values_and_not_on_repeated_questions() -> None:
    detector = CountingETS(refit_every=10)
    for v in weekly()[:60]:
        detector.update(v)
    # needs 10 values; fits at 10, 20, 30, 40, 50 (an alert or a move may add one)
    assert 5 <= detector.fits <= 7
    detector.expected()  # 10 values learned since the last fit: this refits once
    fits = detector.fits
    for _ in range(5):
        detector.expected()
        detector.judge(10_000.0)
    assert detector.fits == fits


def test_ets_constant_history_gives_a_zero_width_band() -> None:
    detector = ETSDetector().fit([42.0] * 20)
    assert detector.expected() == (42.0, 42.0)
    assert detector.judge(42.0).status is Status.PASSED
    assert detector.judge(43.0).status is Status.ANOMALY


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seasonal_periods": 1}, "seasonal_periods must be None or an integer >= 2; got 1"),
        ({"refit_every": 0}, "refit_every must be an integer >= 1; got 0"),
        ({"trend": "yes"}, "trend must be True or False; got 'yes'"),
        ({"seasonal_periods": 24, "window": 30}, "window must be at least 48"),
    ],
)
def test_ets_bad_parameters(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ETSDetector(**params).learn_one(1.0)  # type: ignore[arg-type]
