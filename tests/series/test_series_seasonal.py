"""The ``seasonal`` series detector: same weekday, hour of day or day of month."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from datacanary.errors import ConfigError
from datacanary.results import Status
from datacanary.series import MADDetector, SeasonalDetector

DAYS = [datetime(2024, 1, 1) + timedelta(days=i) for i in range(70)]  # from a Monday


def weekly(seed: int = 0) -> list[float]:
    """Weekdays about 10,000 rows, weekends about 4,000."""
    noise = np.random.default_rng(seed).normal(0, 100, len(DAYS))
    return [
        float(round((10_000 if d.weekday() < 5 else 4_000) + x))
        for d, x in zip(DAYS, noise, strict=True)
    ]


def injected() -> list[float]:
    values = weekly()
    values[35] = 4_100.0  # Monday 5 February looks like a weekend
    values[41] = 9_900.0  # Sunday 11 February looks like a weekday
    return values


def test_seasonal_replay_flags_days_that_look_like_the_other_kind_of_day() -> None:
    detector = SeasonalDetector()
    verdicts = [
        detector.update(v, t, metric="row_count") for v, t in zip(injected(), DAYS, strict=True)
    ]
    assert [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY] == [35, 41]
    assert verdicts[35].message == (
        "row_count 4,100 is below the expected 9,701–10,325 from the last 5 runs on Mondays"
    )
    assert verdicts[41].message == (
        "row_count 9,900 is above the expected 3,558–4,416 from the last 5 runs on Sundays"
    )
    assert verdicts[14].message == (
        "row_count 9,875: insufficient history (2 of 3 runs on Mondays) to judge"
    )


def test_seasonal_beats_a_plain_band_on_a_weekly_pattern() -> None:
    plain = MADDetector()
    flags = [plain.update(v).status is Status.ANOMALY for v in weekly()]
    assert sum(flags) > 10  # every weekend looks anomalous to a detector without seasons
    seasonal = SeasonalDetector().fit(weekly(), DAYS)
    assert seasonal.judge(4_050.0, datetime(2024, 3, 10)).status is Status.PASSED  # a Sunday
    assert seasonal.judge(4_050.0, datetime(2024, 3, 11)).status is Status.ANOMALY  # a Monday


def test_seasonal_hour_of_day_and_auto_period() -> None:
    hours = [datetime(2024, 1, 1) + timedelta(hours=i) for i in range(24 * 6)]
    values = [
        100.0 + (50.0 if 9 <= t.hour < 18 else 0.0) + (i // 24) % 3 for i, t in enumerate(hours)
    ]
    for period in ("hour", "auto"):
        detector = SeasonalDetector(period=period).fit(values, hours)
        at = datetime(2024, 1, 7, 14)
        verdict = detector.judge(101.0, at, metric="events")
        assert verdict.status is Status.ANOMALY
        assert verdict.message.endswith("from the last 6 runs at 14:00")
        assert detector.judge(101.0, datetime(2024, 1, 7, 3)).status is Status.PASSED


def test_seasonal_day_of_month() -> None:
    months = [datetime(2023, m, d) for m in range(1, 13) for d in (1, 15)]
    values = [500.0 if t.day == 1 else 100.0 for t in months]  # month-start loads are big
    detector = SeasonalDetector(period="day_of_month").fit(values, months)
    verdict = detector.judge(100.0, datetime(2024, 1, 1), metric="rows")
    assert verdict.status is Status.ANOMALY
    assert verdict.message == (
        "rows 100 is below the expected 500–500 from the last 8 runs on day 1 of the month"
    )


def test_seasonal_needs_timestamps_and_says_so() -> None:
    detector = SeasonalDetector()
    with pytest.raises(ConfigError, match="seasonal detector needs a datetime for every value"):
        detector.learn_one(5.0)
    with pytest.raises(ConfigError, match="or times= to fit"):
        detector.fit([1.0, 2.0])
    with pytest.raises(ConfigError, match="period must be 'weekday', 'hour', 'day_of_month'"):
        SeasonalDetector(period="week").judge(1.0, DAYS[0])


def test_seasonal_a_lasting_shift_moves_every_bucket() -> None:
    values = weekly()[:42] + [v * 1.3 for v in weekly(1)[42:]]  # +30 % from 12 February
    detector = SeasonalDetector()
    verdicts = [detector.update(v, t) for v, t in zip(values, DAYS, strict=True)]
    flagged = [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY]
    assert flagged[:7] == list(range(42, 49))  # a week of alerts...
    assert all(i < 56 for i in flagged)  # ...then the new level is the baseline
