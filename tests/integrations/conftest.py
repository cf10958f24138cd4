"""A Dagster instance in a temporary DAGSTER_HOME, shared by the Dagster tests.

Creating one costs seconds (its SQLite storages are migrated), so the tests share it and keep
apart by using their own asset names. Tests that read the whole event log (the alert sensor)
make their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def dagster_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    dg = pytest.importorskip("dagster")
    home = tmp_path_factory.mktemp("dagster_home")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance
