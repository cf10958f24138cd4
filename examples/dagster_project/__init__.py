"""An example Dagster project monitored by datacanary (see README.md beside this file).

Load it from the repository root::

    DAGSTER_HOME=$(mktemp -d) .venv/bin/dagster dev -m examples.dagster_project
"""

from __future__ import annotations

from .definitions import defs

__all__ = ["defs"]
