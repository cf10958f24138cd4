from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_broker import kafka_bootstrap  # noqa: F401


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test runs in its own folder, so the default state file
    (``.datacanary/stream-state.sqlite``) never leaks from one test into another."""
    monkeypatch.chdir(tmp_path)
    yield
