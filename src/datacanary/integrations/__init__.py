"""Integrations: datacanary's checks inside the tools that run pipelines.

Each integration is a thin layer over :mod:`datacanary.series`, :mod:`datacanary.metrics`,
:mod:`datacanary.detectors` and :mod:`datacanary.alerts`; it does no detection of its own and
is imported only on purpose, so ``import datacanary`` never loads the tool it integrates.

* :mod:`datacanary.integrations.dagster` — asset checks that judge an asset's newest
  materialization against its own history, a row-level outlier check, table profiles as
  materialization metadata, and a sensor that routes failed checks to alert sinks
  (``pip install 'datacanary[dagster]'``).
"""

from __future__ import annotations

__all__: list[str] = []
