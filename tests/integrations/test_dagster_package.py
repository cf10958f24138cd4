"""The Dagster integration's surface: exports, laziness, and the missing-extra message."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("dagster")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_dagster_all_is_sorted_and_public() -> None:
    import datacanary.integrations.dagster as integration

    assert integration.__all__ == sorted(integration.__all__)
    public = {n for n in vars(integration) if not n.startswith("_")} - {"annotations", "dagster"}
    assert set(integration.__all__) == public


def test_dagster_is_loaded_only_when_the_integration_is_imported() -> None:
    proc = _python(
        "import sys, datacanary, datacanary.integrations; print('dagster' in sys.modules)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_dagster_missing_extra_names_the_install_command() -> None:
    proc = _python(
        "import sys; sys.modules['dagster'] = None\n"
        "from datacanary.errors import MissingDependencyError\n"
        "try:\n"
        "    import datacanary.integrations.dagster\n"
        "except MissingDependencyError as error:\n"
        "    print(error)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "Dagster asset checks need the 'dagster' extra: pip install 'datacanary[dagster]'"
    )
