from __future__ import annotations

import subprocess
import sys
import types

import datacanary.alerts as alerts


def test_alerts_all_lists_exactly_the_public_names_sorted() -> None:
    public = {
        name
        for name, value in vars(alerts).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }  # fmt: skip
    assert set(alerts.__all__) == public
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    kind = {True: 0, False: 1}
    style = sorted(alerts.__all__, key=lambda n: (kind[n.isupper()], not n[0].isupper(), n))
    assert alerts.__all__ == style


def test_alerts_import_stays_light() -> None:
    code = (
        "import sys, datacanary.alerts; "
        "print(sorted(m for m in ('httpx', 'aiokafka', 'pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
