"""The default series detector, ``auto``: seasons, new levels, counts, stale values, domains."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from datacanary.errors import ConfigError
from datacanary.results import Status, Verdict
from datacanary.series import AutoSeriesDetector, available_series_detectors, make_series_detector
from datacanary.series.auto import _count_band
from datacanary.series.base import MAX_SCORE
from datacanary.series.registry import detector_class

START = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)  # a Monday


def days(n: int, start: datetime = START) -> list[datetime]:
    return [start + timedelta(days=i) for i in range(n)]


def weekly_rows(n: int, seed: int = 0, level: float = 20_000.0) -> list[float]:
    """Daily row counts: weekends at 35 %, 4 % multiplicative noise, a slow trend."""
    rng = np.random.default_rng(seed)
    factors = [1.0 if d.weekday() < 5 else 0.35 for d in days(n)]
    trend = np.exp(0.001 * np.arange(n))
    return [
        float(round(level * f * t * math.exp(rng.normal(0, 0.04))))
        for f, t in zip(factors, trend, strict=True)
    ]


def replay(
    detector: AutoSeriesDetector,
    values: list[float],
    times: list[datetime] | None = None,
    metric: str = "row_count",
) -> list[Verdict]:
    stamps: list[datetime | None] = [None] * len(values) if times is None else list(times)
    return [detector.update(v, t, metric=metric) for v, t in zip(values, stamps, strict=True)]


def flagged(verdicts: list[Verdict]) -> list[int]:
    return [i for i, v in enumerate(verdicts) if v.status is Status.ANOMALY]


def test_auto_is_the_default_and_takes_min_history_like_the_dagster_check() -> None:
    detector = make_series_detector(min_history=3)
    assert isinstance(detector, AutoSeriesDetector)
    statuses = [v.status for v in replay(detector, [100.0, 104.0, 98.0, 101.0])]
    assert statuses[:3] == [Status.INSUFFICIENT_HISTORY] * 3
    assert statuses[3] is Status.PASSED


def test_auto_weekly_series_stays_quiet_and_says_its_pattern() -> None:
    values = weekly_rows(200)
    verdicts = replay(AutoSeriesDetector(), values, days(200))
    assert flagged(verdicts) == []
    last = verdicts[-1]
    assert last.model["season"] == "weekday"
    assert last.model["period_runs"] == 7
    assert last.message.endswith(f"(weekly pattern, {days(200)[-1]:%A}s)")
    # a weekday that looks like a weekend is not
    detector = AutoSeriesDetector().fit(values, days(200))
    monday = days(204)[-1]
    assert monday.weekday() == 0
    assert detector.judge(0.35 * values[-7], monday, metric="row_count").status is Status.ANOMALY


def test_auto_bands_on_a_short_history_are_wide_but_readable() -> None:
    # a t quantile at the 5σ tail with ~2 degrees of freedom is ~200σ: exp() of it gave
    # bands such as 1.3e-84–3e+90 on a new monitor; a band now ends at half the smallest and
    # twice the largest value learned (weekends are 35 % of weekdays here: at most 11.4x)
    rows = weekly_rows(60, seed=3)
    detector = AutoSeriesDetector()
    for i, (value, at) in enumerate(zip(rows, days(60), strict=True)):
        verdict = detector.update(value, at, metric="row_count")
        if i < detector.min_history:
            continue
        assert verdict.expected_low is not None and verdict.expected_high is not None
        assert verdict.status is Status.PASSED, (i, verdict.message)
        learned = rows[: i + 1]
        assert verdict.expected_low >= min(learned) / 2 * (1 - 1e-9), (i, verdict.message)
        assert verdict.expected_high <= max(learned) * 2 * (1 + 1e-9), (i, verdict.message)


def test_auto_a_partial_load_on_a_new_monitor_is_caught() -> None:
    # the demo's case: 21 daily loads of ~2,000 rows (weekends 15 % lower), then 719
    rows = [r / 10 * (0.85 / 0.35 if d.weekday() >= 5 else 1.0)
            for r, d in zip(weekly_rows(21, seed=5), days(21), strict=True)]  # fmt: skip
    detector = AutoSeriesDetector().fit(rows, days(21))
    verdict = detector.judge(0.36 * rows[-7], days(22)[-1], metric="row_count")
    assert verdict.status is Status.ANOMALY, verdict.message


def test_auto_does_not_take_an_unlearned_daily_pattern_for_new_levels() -> None:
    # before the hours of a day are learned, busy hours alert; they must not re-baseline
    # the history, or the pattern is never learned
    times, values = hourly_berlin(datetime(2026, 3, 2, tzinfo=timezone.utc), 24 * 8, seed=2)
    verdicts = replay(AutoSeriesDetector(timezone="Europe/Berlin"), values, times)
    assert not any("re-baselined" in v.message for v in verdicts)
    assert not [i for i in flagged(verdicts) if i >= 24 * 4]


def test_auto_without_timestamps_works_without_a_season() -> None:
    rng = np.random.default_rng(4)
    values = (1_000 + rng.normal(0, 20, 80)).tolist()
    detector = AutoSeriesDetector().fit(values)
    verdict = detector.judge(1_010.0, metric="mean")
    assert verdict.status is Status.PASSED
    assert verdict.model["season"] == "none"
    assert detector.judge(2_000.0, metric="mean").status is Status.ANOMALY


def test_auto_accepts_a_level_shift_on_a_weekly_series_and_says_so() -> None:
    n, at = 220, 120
    values = weekly_rows(n, seed=1)
    values[at:] = [round(v * 1.6) for v in values[at:]]
    times = days(n)
    verdicts = replay(AutoSeriesDetector(shift_after=5), values, times)
    alerts = flagged(verdicts)
    assert alerts and alerts[0] >= at  # quiet before the shift
    assert len(alerts) <= 5  # a few alerts, not "up to 86 of 100 days"
    moved = [v for v in verdicts if "re-baselined" in v.message]
    assert len(moved) == 1
    first = times[alerts[0]].date().isoformat()
    assert moved[0].message == f"row_count moved to a new level on {first}; re-baselined"
    assert moved[0].status is Status.PASSED
    assert moved[0].model["moved_on"] == times[alerts[0]].isoformat()
    assert not flagged(verdicts[at + 14 :])  # the new level is the normal


def test_auto_a_short_outage_is_not_a_new_level() -> None:
    values = weekly_rows(120, seed=2)
    values[80:84] = [0.0] * 4  # four days of nothing
    verdicts = replay(AutoSeriesDetector(), values, days(120))
    assert flagged(verdicts) == [80, 81, 82, 83]  # every day of it, nothing after


def test_auto_catches_a_three_day_outage_of_a_mean_three_count() -> None:
    counts = np.random.default_rng(1).poisson(3, 120).astype(float).tolist()
    detector = AutoSeriesDetector().fit(counts)
    one = detector.judge(0.0, metric="null_count")
    assert one.status is Status.PASSED  # one 0 is unremarkable for Poisson(3)
    assert one.model["count_model"] in ("poisson", "negative_binomial")
    assert one.expected_low == 0.0 and one.expected_high is not None and one.expected_high < 12
    verdicts = [detector.update(0.0, metric="null_count") for _ in range(3)]
    assert [v.status for v in verdicts][:2] == [Status.PASSED, Status.PASSED]
    assert verdicts[2].status is Status.ANOMALY
    assert verdicts[2].message.startswith("null_count 0 is the 3rd run in a row at or below 0")
    assert verdicts[2].score >= 1.0


def test_auto_count_bands_match_scipy() -> None:
    from scipy import stats

    for mean, alpha in [(3.0, 0.001), (0.2, 0.01), (17.5, 0.0005)]:
        low, high = _count_band(mean, 1.0, alpha)
        assert low == stats.poisson.ppf(alpha, mean)
        assert high == stats.poisson.isf(alpha, mean)
    mean, dispersion, alpha = 6.0, 2.5, 0.001
    r, p = mean / (dispersion - 1.0), 1.0 / dispersion
    low, high = _count_band(mean, dispersion, alpha)
    assert low == stats.nbinom.ppf(alpha, r, p)
    assert high == stats.nbinom.isf(alpha, r, p)


def test_auto_flags_a_stale_value_it_never_repeated() -> None:
    values = weekly_rows(100, seed=3)
    values[58:61] = [values[57]] * 3  # Tuesday's value again on Wednesday to Friday
    verdicts = replay(AutoSeriesDetector(), values, days(100))
    assert flagged(verdicts) == [59, 60]  # the 3rd and 4th equal runs
    assert verdicts[59].message.startswith(
        f"row_count {values[57]:,.0f} is the same value for the 3rd run in a row"
    )
    assert verdicts[59].message.endswith("is the upstream stale?")
    assert verdicts[59].model["stale_runs"] == 3


def test_auto_stale_null_fraction_is_flagged_but_a_usual_zero_is_not() -> None:
    rng = np.random.default_rng(5)
    fractions = np.clip(0.02 + rng.normal(0, 0.002, 80), 0, 1).round(6).tolist()
    detector = AutoSeriesDetector()
    replay(detector, fractions + [fractions[-1]] * 2, metric="null_fraction")
    assert detector.judge(fractions[-1], metric="null_fraction").status is Status.ANOMALY
    mostly_zero = [0.0 if i % 4 else 0.001 for i in range(80)]  # 0 repeats all the time
    detector = AutoSeriesDetector()
    verdicts = replay(detector, mostly_zero + [0.0] * 6, metric="null_fraction")
    assert flagged(verdicts) == []


@pytest.mark.parametrize("name", ["auto", "mad", "zscore", "seasonal"])
def test_bands_are_clipped_to_the_metric_domain(name: str) -> None:
    params = detector_class(name)._unit_test_params()
    rng = np.random.default_rng(6)
    near_zero = rng.poisson(2, 60).astype(float) * rng.choice([0, 10], 60)  # spiky, small
    at = days(61)[-1]
    detector = make_series_detector(name, **params).fit(near_zero.tolist(), days(60))
    low, _ = detector.expected(at, metric="row_count")  # type: ignore[misc]
    assert low is not None and low >= 0.0
    verdict = detector.judge(3.0, at, metric="row_count")
    assert verdict.expected_low is not None and verdict.expected_low >= 0.0
    shares = np.clip(rng.normal(0.5, 0.3, 60), 0, 1).tolist()
    detector = make_series_detector(name, **params).fit(shares, days(60))
    verdict = detector.judge(0.5, at, metric="null_fraction")
    assert verdict.expected_low is not None and verdict.expected_high is not None
    assert 0.0 <= verdict.expected_low <= verdict.expected_high <= 1.0


@pytest.mark.parametrize("name", ["auto", "mad", "zscore", "seasonal"])
def test_first_null_after_months_of_zeros_does_not_page(name: str) -> None:
    params = detector_class(name)._unit_test_params()
    detector = make_series_detector(name, **params).fit([0.0] * 150, days(150))
    at = days(151)[-1]
    first = detector.judge(0.0004, at, metric="null_fraction")  # one null in 2,500 rows
    assert first.status is Status.PASSED
    assert first.expected_low == 0.0 and first.expected_high == pytest.approx(0.005)
    assert detector.judge(0.3, at, metric="null_fraction").status is Status.ANOMALY


def test_auto_first_null_count_after_months_of_zeros_does_not_page() -> None:
    detector = AutoSeriesDetector().fit([0.0] * 150)
    assert detector.judge(1.0, metric="null_count").status is Status.PASSED
    assert detector.judge(40.0, metric="null_count").status is Status.ANOMALY


@pytest.mark.parametrize("name", available_series_detectors())
def test_a_huge_deviation_from_a_zero_spread_scores_at_most_a_million(name: str) -> None:
    params = detector_class(name)._unit_test_params()
    detector = make_series_detector(name, **params).fit([500.0] * 60, days(60))
    at = days(61)[-1]
    verdict = detector.judge(685_863_874_347.0, at, metric="mean")
    assert verdict.status is Status.ANOMALY
    assert 1.0 < verdict.score <= MAX_SCORE == 1e6


def hourly_berlin(start: datetime, hours: int, seed: int) -> tuple[list[datetime], list[float]]:
    """Hourly counts, busy 9:00–17:59 Berlin time; timestamps in UTC."""
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    rng = np.random.default_rng(seed)
    times = [start + timedelta(hours=h) for h in range(hours)]
    values = [
        float(
            round(
                (1_000 if 9 <= t.astimezone(berlin).hour < 18 else 100)
                * math.exp(rng.normal(0, 0.03))
            )
        )
        for t in times
    ]
    return times, values


def test_auto_buckets_by_local_time_so_dst_keeps_the_pattern() -> None:
    # Berlin moves to summer time on 2026-03-29 (02:00 -> 03:00 local, 01:00 UTC)
    start = datetime(2026, 3, 23, tzinfo=timezone.utc)
    times, values = hourly_berlin(start, 24 * 10, seed=7)
    local = AutoSeriesDetector(timezone="Europe/Berlin")
    verdicts = replay(local, values, times)
    after = [i for i, t in enumerate(times) if t >= datetime(2026, 3, 29, 1, tzinfo=timezone.utc)]
    assert not [i for i in flagged(verdicts) if i in after]
    nine = datetime(2026, 4, 2, 7, tzinfo=timezone.utc)  # 09:00 in Berlin, summer time
    verdict = local.judge(1_000.0, nine, metric="events")
    assert verdict.status is Status.PASSED
    assert verdict.model["season"] == "hour"
    assert verdict.message.endswith("(daily pattern, 09:00)")
    assert local.judge(100.0, nine, metric="events").status is Status.ANOMALY
    # on UTC hours, the hour that turned busy with DST alerts
    utc = AutoSeriesDetector()
    assert [i for i in flagged(replay(utc, values, times)) if i in after]


def test_auto_weekday_buckets_follow_the_local_date() -> None:
    # daily runs at 23:30 UTC are the next morning in Tokyo: Tokyo's weekend is quiet
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    times = [
        datetime(2026, 1, 4, 23, 30, tzinfo=timezone.utc) + timedelta(days=i) for i in range(90)
    ]
    rng = np.random.default_rng(8)
    values = [
        float(
            round(
                (5_000 if t.astimezone(tokyo).weekday() < 5 else 1_000)
                * math.exp(rng.normal(0, 0.03))
            )
        )
        for t in times
    ]
    detector = AutoSeriesDetector(timezone="Asia/Tokyo")
    assert flagged(replay(detector, values, times)) == []
    saturday = datetime(2026, 4, 3, 23, 30, tzinfo=timezone.utc)  # Saturday morning in Tokyo
    verdict = detector.judge(1_000.0, saturday, metric="row_count")
    assert verdict.status is Status.PASSED
    assert verdict.message.endswith("(weekly pattern, Saturdays)")


def test_auto_judges_minute_windows_of_a_stream() -> None:
    rng = np.random.default_rng(9)
    minutes = [datetime(2026, 1, 5, tzinfo=timezone.utc) + timedelta(minutes=i) for i in range(300)]
    detector = make_series_detector(min_history=3)
    verdicts = [
        detector.update(float(rng.poisson(200)), m, metric="events", unit="windows")
        for m in minutes
    ]
    assert flagged(verdicts) == []
    drop = detector.update(5.0, minutes[-1] + timedelta(minutes=1), metric="events", unit="windows")
    assert drop.status is Status.ANOMALY
    assert drop.message.startswith("events 5 is below the expected ")
    assert drop.message.endswith(" from the last 112 windows")


def test_auto_verdicts_carry_params_and_what_it_found() -> None:
    detector = AutoSeriesDetector().fit(weekly_rows(60), days(60))
    verdict = detector.update(30_000.0, days(61)[-1], metric="row_count")
    assert verdict.params == detector.get_params()
    found = json.loads(json.dumps(verdict.to_dict()))["model"]
    assert found["season"] == "weekday" and found["scale"] == "log"
    assert found["count_model"] is None and found["errors"] > 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "weekly"}, "period must be 'auto', 'weekday', 'hour' or 'none'; got 'weekly'"),
        ({"timezone": "Mars/Olympus"}, "timezone must be an IANA time zone name"),
        ({"shift_after": 1}, "shift_after must be an integer >= 2; got 1"),
        ({"stale_after": 1}, r"stale_after must be 0 \(off\) or an integer >= 2; got 1"),
        ({"error_rate": 1.5}, r"error_rate must be a number in \(0, 1\); got 1.5"),
        ({"window": None}, "window must be an integer >= min_history for auto; got None"),
        ({"count_model": "yes"}, "count_model must be True or False; got 'yes'"),
    ],
)
def test_auto_bad_parameters_are_named_with_the_fix(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_series_detector("auto", **params)


def test_auto_a_value_that_stays_is_accepted_after_shift_after_runs() -> None:
    values = weekly_rows(80, seed=10)
    frozen = values[57]  # a Tuesday's count, then the table stops changing
    values[58:] = [frozen] * 22
    verdicts = replay(AutoSeriesDetector(shift_after=5), values, days(80))
    alerts = flagged(verdicts)
    assert alerts and alerts[0] == 59  # the 3rd equal run
    accepted = [i for i, v in enumerate(verdicts) if "re-baselined" in v.message]
    assert len(accepted) == 1
    assert verdicts[accepted[0]].message.startswith(f"row_count has stayed at {frozen:,.0f} since")
    assert not [i for i in alerts if i > accepted[0]]  # and then it is quiet, saying why
    assert verdicts[-1].status is Status.PASSED
    assert verdicts[-1].message.startswith(f"row_count {frozen:,.0f} is where it has stayed")
    assert verdicts[-1].message.endswith("(accepted as the new normal)")
