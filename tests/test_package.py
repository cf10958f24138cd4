"""The public surface: `import datacanary` stays light and its __all__ is true."""

from __future__ import annotations

import subprocess
import sys

import datacanary


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert datacanary.__all__ == sorted(datacanary.__all__)
    for name in datacanary.__all__:
        assert getattr(datacanary, name) is not None


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, datacanary; "
        "print(','.join(m for m in ('numpy', 'pandas', 'sklearn', 'duckdb', 'matplotlib', "
        "'dagster', 'aiokafka') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == ""
