from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from datacanary.alerts import (
    Alert,
    AlertDispatcher,
    MemoryAlertState,
    PostgresAlertState,
    Severity,
    SqliteAlertState,
    StdoutSink,
    build_sink,
)
from datacanary.alerts._dedup import Decision
from datacanary.errors import ConfigError
from datacanary.results import CheckResult, Verdict


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def failing(value: float = 12) -> Verdict:
    return Verdict.judge("row_count", value, 9800, 10400, score=9.0, detector="mad",
                         history_size=14, dataset="orders")  # fmt: skip


def passing() -> Verdict:
    return failing(10_000)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def make(clock: Clock, **kw: object) -> tuple[AlertDispatcher, io.StringIO]:
    out = io.StringIO()
    sink = StdoutSink(format="json", stream=out)
    return AlertDispatcher([sink], cooldown="1h", clock=clock, **kw), out  # type: ignore[arg-type]


def test_alerts_dedup_fail_twice_pages_once_pass_recovers_fail_after_cooldown_pages() -> None:
    clock = Clock()
    dispatcher, out = make(clock)

    first = dispatcher.dispatch([failing()])
    clock.advance(minutes=10)
    second = dispatcher.dispatch([failing()])
    assert [d.kind for d in first.delivered] == ["anomaly"]
    assert second.delivered == [] and second.suppressed[0].key == "orders:row_count"
    assert second.suppressed[0].reason == "paged 10 min ago; cooldown 1 h"

    clock.advance(minutes=10)
    recovered = dispatcher.dispatch([passing()])
    again_passing = dispatcher.dispatch([passing()])
    assert [d.kind for d in recovered.delivered] == ["recovery"]
    assert again_passing.delivered == [] and again_passing.suppressed == []

    clock.advance(hours=1)
    fails_again = dispatcher.dispatch([failing()])
    assert [d.kind for d in fails_again.delivered] == ["anomaly"]
    sent = lines(out)
    assert [m["kind"] for m in sent] == ["anomaly", "recovery", "anomaly"]
    assert sent[1]["title"] == "RESOLVED · orders · row_count"
    assert sent[1]["severity"] == "warning"


def test_alerts_dedup_still_failing_after_cooldown_reminds() -> None:
    clock = Clock()
    dispatcher, out = make(clock)
    dispatcher.dispatch([failing()])
    clock.advance(minutes=61)
    assert [d.kind for d in dispatcher.dispatch([failing()]).delivered] == ["anomaly"]
    assert len(lines(out)) == 2


def test_alerts_dedup_flapping_within_cooldown_waits_and_clears_silently() -> None:
    clock = Clock()
    dispatcher, out = make(clock)
    dispatcher.dispatch([failing()])
    clock.advance(minutes=5)
    dispatcher.dispatch([passing()])  # recovery sent
    clock.advance(minutes=5)
    flap = dispatcher.dispatch([failing()])
    assert flap.delivered == [] and len(flap.suppressed) == 1
    clock.advance(minutes=5)
    quiet = dispatcher.dispatch([passing()])  # never announced: no second recovery
    assert quiet.delivered == []
    assert [m["kind"] for m in lines(out)] == ["anomaly", "recovery"]


def test_alerts_dedup_escalation_pages_within_cooldown() -> None:
    clock = Clock()
    dispatcher, out = make(clock)
    dispatcher.dispatch([Alert.from_verdict(failing(), severity="warning")])
    clock.advance(minutes=1)
    report = dispatcher.dispatch([Alert.from_verdict(failing(), severity="critical")])
    assert [d.kind for d in report.delivered] == ["anomaly"]
    clock.advance(minutes=1)
    dispatcher.dispatch([passing()])
    assert [m["severity"] for m in lines(out)] == ["warning", "critical", "critical"]


def test_alerts_dedup_min_severity_routes_and_recovery_follows_the_page() -> None:
    clock = Clock()
    pager_out, log_out = io.StringIO(), io.StringIO()
    pager = StdoutSink(name="pager", stream=pager_out, min_severity=Severity.CRITICAL)
    everything = StdoutSink(name="log", stream=log_out)
    dispatcher = AlertDispatcher([pager, everything], clock=clock)
    dispatcher.dispatch([Alert.from_verdict(failing(), severity="warning")])
    dispatcher.dispatch([passing()])
    assert pager_out.getvalue() == ""
    assert len(log_out.getvalue().splitlines()) == 2


def test_alerts_dedup_same_key_twice_in_one_batch_sends_once() -> None:
    dispatcher, out = make(Clock())
    report = dispatcher.dispatch([failing(), failing(13)])
    assert len(report.delivered) == 1 and len(report.suppressed) == 1
    assert len(lines(out)) == 1


def test_alerts_dedup_rows_rate_limit_per_key_and_never_recover() -> None:
    clock = Clock()
    dispatcher, out = make(clock)
    rows = [Alert.from_row("orders", {"id": i, "amount": 1e7 + i}, 0.9, "amount") for i in range(5)]
    other = Alert.from_row("orders", {"id": 9, "country": "XX"}, 0.8, "country")
    report = dispatcher.dispatch([*rows, other])
    assert sorted(d.key for d in report.delivered) == ["orders:row:amount", "orders:row:country"]
    assert len(report.suppressed) == 4
    clock.advance(hours=2)
    later = dispatcher.dispatch(rows[:1])
    assert [d.key for d in later.delivered] == ["orders:row:amount"]
    assert len(lines(out)) == 3


def test_alerts_dedup_state_forgets_what_no_longer_matters() -> None:
    clock = Clock()
    state = MemoryAlertState()
    out = io.StringIO()
    dispatcher = AlertDispatcher([StdoutSink(stream=out)], state=state, cooldown="1h", clock=clock)
    dispatcher.dispatch([failing(), Alert.from_row("orders", {"id": 1}, 0.9, "id")])
    assert len(list(state.items())) == 2
    clock.advance(hours=2)
    dispatcher.dispatch([])
    assert [key for _, key, _ in state.items()] == ["orders:row_count"]  # waits for recovery


def test_alerts_dispatch_works_from_inside_a_running_event_loop() -> None:
    dispatcher, out = make(Clock())

    async def notebook_cell() -> int:
        return len(dispatcher.dispatch([failing()]).delivered)  # sync call, loop running

    assert asyncio.run(notebook_cell()) == 1
    assert len(lines(out)) == 1


def test_alerts_dispatcher_rejects_bad_definitions() -> None:
    with pytest.raises(ConfigError, match=r"distinct names; \['stdout'\] appear more than once"):
        AlertDispatcher([StdoutSink(), StdoutSink()])
    with pytest.raises(ConfigError, match="needs timeout > 0 and retries >= 0"):
        AlertDispatcher([StdoutSink(retries=-1)])
    with pytest.raises(ConfigError, match="time_limit must be a positive number of seconds"):
        AlertDispatcher([], time_limit=0)
    with pytest.raises(TypeError, match="dispatch takes Alert, Verdict or CheckResult"):
        AlertDispatcher([]).dispatch(["row_count is low"])  # type: ignore[list-item]


def test_alerts_check_results_dispatch_anomalies_and_skip_insufficient_history(
    caplog: pytest.LogCaptureFixture,
) -> None:
    low = Verdict.judge("row_count", 12, 9800, 10400, score=9.0, detector="mad", history_size=14)
    young = Verdict.insufficient("null_fraction", 0.2, detector="mad", history_size=1,
                                 min_history=5, column="email")  # fmt: skip
    result = CheckResult("orders", [low, young], run_id="r1", observed_at=Clock().now)
    dispatcher = AlertDispatcher([build_sink({"type": "log", "logger": "test.alerts"})])
    with caplog.at_level(logging.INFO, logger="test.alerts"):
        report = dispatcher.dispatch([result])
    assert [d.key for d in report.delivered] == ["orders:row_count"]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("[WARNING · orders · row_count] row_count 12 is below")
    assert record.alert["key"] == "orders:row_count"  # type: ignore[attr-defined]


# -- claims: of several runners seeing one failure, exactly one delivers ------------------------


def _states(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], Any]:
    """A factory of state objects that share one memory (as runners do)."""
    if kind == "sqlite":
        return lambda: SqliteAlertState(tmp_path / "alert-state.sqlite")
    url = str(request.getfixturevalue("fresh_postgres_url"))
    return lambda: PostgresAlertState(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_alerts_dedup_simultaneous_dispatchers_page_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    new_state = _states(kind, tmp_path, request)
    clock = Clock()
    outs = [io.StringIO() for _ in range(8)]
    dispatchers = [
        AlertDispatcher([StdoutSink(format="json", stream=o)], state=new_state(), clock=clock)
        for o in outs
    ]
    barrier = threading.Barrier(8)

    def run(dispatcher: AlertDispatcher) -> Any:
        barrier.wait()
        return dispatcher.dispatch([failing()])

    with ThreadPoolExecutor(8) as pool:
        reports = list(pool.map(run, dispatchers))
    assert sum(len(r.delivered) for r in reports) == 1
    assert sum(len(o.getvalue().splitlines()) for o in outs) == 1
    reasons = sorted({s.reason for r in reports for s in r.suppressed})
    assert set(reasons) <= {"being delivered by another runner", "paged 0 s ago; cooldown 1 d"}
    assert sum(len(r.suppressed) for r in reports) == 7
    # the winner marked it delivered and let go: a later runner is suppressed by the cooldown
    later = AlertDispatcher([StdoutSink(stream=io.StringIO())], state=new_state(), clock=clock)
    assert [s.reason for s in later.dispatch([failing()]).suppressed] == [
        "paged 0 s ago; cooldown 1 d"
    ]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_alerts_dedup_a_crashed_claim_is_taken_over_after_its_timeout(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    new_state = _states(kind, tmp_path, request)
    clock = Clock()
    crashed = new_state()
    decision = crashed.claim(
        "stdout",
        "orders:row_count",
        lambda previous: Decision("send", Alert.from_verdict(failing()), None),
        now=clock(),
        token="crashed-runner",
        ttl=timedelta(seconds=60),
    )
    assert decision is not None and decision.action == "send"  # then it dies, claim held
    dispatcher, out = make(clock, state=new_state(), claim_timeout=60)
    blocked = dispatcher.dispatch([failing()])
    assert [s.reason for s in blocked.suppressed] == ["being delivered by another runner"]
    assert out.getvalue() == ""
    clock.advance(seconds=61)
    taken = dispatcher.dispatch([failing()])
    assert len(taken.delivered) == 1 and len(lines(out)) == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_alerts_dedup_a_claim_of_a_killed_process_on_this_host_is_retaken_at_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # a stream processor SIGKILLed between claiming and delivering must not swallow the page
    # of the processor restarted after it: its claim names a process that no longer runs
    import socket
    import subprocess
    import sys

    from datacanary.alerts._dedup import claim_token

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    new_state = _states(kind, tmp_path, request)
    clock = Clock()
    for token, retaken in (
        (f"{socket.gethostname()}:{int(dead.stdout)}:x", True),  # gone: retaken now
        (claim_token(), False),  # this process still runs: its claim is respected
    ):
        new_state().claim(
            "stdout",
            f"orders:row_count:{retaken}",
            lambda previous: Decision("send", Alert.from_verdict(failing()), None),
            now=clock(),
            token=token,
            ttl=timedelta(seconds=60),
        )
    dispatcher, out = make(clock, state=new_state(), claim_timeout=60)
    for retaken in (True, False):
        alert = Alert.from_verdict(failing())
        alert = dataclasses.replace(alert, key=f"orders:row_count:{retaken}")
        report = dispatcher.dispatch([alert])
        assert len(report.delivered) == (1 if retaken else 0), retaken
    assert len(lines(out)) == 1  # the one page the killed runner never sent


def test_alerts_dedup_a_failed_delivery_releases_its_claim(tmp_path: Path) -> None:
    clock = Clock()
    state_path = tmp_path / "alert-state.sqlite"
    down = build_sink({"type": "webhook", "url": "http://127.0.0.1:9/hook", "retries": 0})
    failed = AlertDispatcher([down], state_path=state_path, clock=clock, time_limit=5)
    report = failed.dispatch([failing()])
    assert len(report.failed) == 1 and report.delivered == []
    out = io.StringIO()
    up = StdoutSink(stream=out)
    up.name = down.name  # the same sink, back up
    retry = AlertDispatcher([up], state_path=state_path, clock=clock)
    assert len(retry.dispatch([failing()]).delivered) == 1  # not blocked by a stale claim


def test_alerts_dedup_a_state_file_from_before_claims_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "alert-state.json"  # an old file, named as datacanary 0.x named it
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE alert_state (sink TEXT NOT NULL, key TEXT NOT NULL, firing INTEGER "
            "NOT NULL, notified INTEGER NOT NULL, severity TEXT NOT NULL, last_sent_at TEXT, "
            "resolvable INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (sink, key))"
        )
        db.execute(
            "INSERT INTO alert_state VALUES ('stdout', 'orders:row_count', 1, 1, 'warning', "
            "'2024-05-01T05:30:00.000000+00:00', 1)"
        )
    db.close()
    dispatcher, _ = make(Clock(), state_path=path)
    assert [s.reason for s in dispatcher.dispatch([failing()]).suppressed] == [
        "paged 30 min ago; cooldown 1 h"
    ]
