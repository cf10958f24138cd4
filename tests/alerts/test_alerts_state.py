from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from datacanary.alerts import AlertDispatcher, KeyState, Severity, SqliteAlertState, StdoutSink
from datacanary.errors import StoreError
from datacanary.results import Verdict

AT = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)

RUN = textwrap.dedent(
    """
    import sys
    from datacanary.alerts import AlertDispatcher, StdoutSink
    from datacanary.results import Verdict

    value = float(sys.argv[2])
    verdict = Verdict.judge("row_count", value, 9800, 10400, score=9.0, detector="mad",
                            history_size=14, dataset="orders")
    report = AlertDispatcher([StdoutSink(to_stderr=True)], state_path=sys.argv[1]).dispatch(
        [verdict]
    )
    print(len(report.delivered), len(report.suppressed), [d.kind for d in report.delivered])
    """
)


def _check_run(state: Path, value: float) -> str:
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(state), str(value)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_alerts_state_survives_between_processes(tmp_path: Path) -> None:
    state = tmp_path / "nested" / "alert-state.sqlite"
    assert _check_run(state, 12) == "1 0 ['anomaly']"
    assert _check_run(state, 12) == "0 1 []"
    assert _check_run(state, 10_000) == "1 0 ['recovery']"


def test_alerts_state_sqlite_round_trip_and_prune(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    state = SqliteAlertState(path)
    state.put("slack", "orders:row_count", KeyState(True, True, Severity.CRITICAL, AT))
    state.put("slack", "orders:row:amount", KeyState(True, True, Severity.INFO, AT, False))
    state.put("email", "orders:row_count", KeyState(False, False, Severity.WARNING, None))
    state.close()
    reopened = SqliteAlertState(path)
    assert reopened.get("slack", "orders:row_count") == KeyState(True, True, Severity.CRITICAL, AT)
    assert reopened.get("slack", "nope") is None
    assert reopened.prune("slack", AT + timedelta(seconds=1)) == 1  # the row key only
    assert [k for _, k, _ in reopened.items()] == ["orders:row_count", "orders:row_count"]
    reopened.close()


def test_alerts_state_unusable_file_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.sqlite"
    bad.write_text("this is not a database, " * 100)
    with pytest.raises(StoreError, match=r"cannot use .* as the alert state file"):
        SqliteAlertState(bad)


def test_alerts_state_write_failure_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    dispatcher = AlertDispatcher([StdoutSink(stream=io.StringIO())], state_path=path)
    assert isinstance(dispatcher.state, SqliteAlertState)
    dispatcher.state.close()  # every later read and write fails
    v = Verdict.judge("row_count", 1, 10, 20, score=9, detector="z", history_size=5)
    report = dispatcher.dispatch([v])
    assert len(report.delivered) == 1
    assert not report.ok
    assert any("alert state could not be written" in n for n in report.notes)
