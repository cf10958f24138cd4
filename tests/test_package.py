"""The public surface: `import datacanary` stays light and its __all__ is true."""

from __future__ import annotations

import subprocess
import sys

import datacanary


def test_all_is_sorted_and_every_name_is_the_object_it_names() -> None:
    from datacanary import errors

    assert datacanary.__all__ == sorted(datacanary.__all__)
    for name in datacanary.__all__:
        if name == "__version__":
            assert datacanary.__version__ == "0.1.0"
            continue
        value = getattr(datacanary, name)
        assert value.__name__ == name, name  # not some other object under that name
    # every error a user can catch is importable from the top
    assert set(errors.__all__) <= set(datacanary.__all__)
    # the names the package docstring cites exist
    for cited in ("score_table", "profile"):
        assert f":func:`{cited}`" in (datacanary.__doc__ or "") and cited in datacanary.__all__


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
