"""The example project loads in a real Dagster webserver, and GraphQL lists its checks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dagster")
pytest.importorskip("dagster_webserver")
httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 150  # webserver and code server on a loaded 2-core machine

QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking description } }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """``dagster-webserver -m examples.dagster_project`` on a loopback port; its base URL."""
    port = _free_port()
    binary = Path(sys.executable).parent / "dagster-webserver"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    log = (tmp_path / "webserver.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "-h", "127.0.0.1", "-p", str(port), "-m", "examples.dagster_project"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the code server goes with it
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _query_when_loaded(url: str, log: Path) -> dict[str, Any]:
    """Poll until the code location has loaded (or failed); return the GraphQL answer."""
    deadline = time.monotonic() + STARTUP_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        try:
            response = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=10)
            if response.status_code == 200:
                last = response.json()
                entries = last["data"]["workspaceOrError"].get("locationEntries") or []
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    return dict(last)
        except httpx.TransportError:
            pass
        time.sleep(1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    pytest.fail(f"the webserver did not load the example in {STARTUP_SECONDS} s: {last}\n{tail}")


@pytest.mark.slow  # the webserver and its code server take 15-60 s to start
def test_dagster_webserver_loads_the_example_and_lists_its_checks(
    webserver: str, tmp_path: Path
) -> None:
    answer = _query_when_loaded(webserver, tmp_path / "webserver.log")
    assert "errors" not in answer
    [location] = answer["data"]["workspaceOrError"]["locationEntries"]
    assert location["locationOrLoadError"]["__typename"] == "RepositoryLocation", location
    checks = {
        "/".join(node["assetKey"]["path"]): {
            check["name"]: check for check in node["assetChecksOrError"]["checks"]
        }
        for node in answer["data"]["assetNodes"]
    }
    assert set(checks) == {"raw_orders", "orders", "daily_revenue"}
    assert set(checks["raw_orders"]) == {
        "row_count_anomaly",
        "null_fraction_customer_email_anomaly",
        "row_outliers",
    }
    assert set(checks["daily_revenue"]) == {"revenue_anomaly"}
    assert checks["raw_orders"]["row_count_anomaly"]["blocking"] is True
    assert checks["daily_revenue"]["revenue_anomaly"]["blocking"] is False
    assert checks["raw_orders"]["row_count_anomaly"]["description"].startswith(
        "datacanary: the newest `dagster/row_count` is judged against the partitions before it"
    )
