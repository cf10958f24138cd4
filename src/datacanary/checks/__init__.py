"""Monitors: a source, its metrics, a store and series detectors, composed into verdicts.

>>> from datacanary.checks import MonitorConfig
>>> config = MonitorConfig.model_validate(
...     {"datasets": [{"name": "orders", "source": "orders.parquet",
...                    "metrics": ["row_count", {"null_fraction": {"columns": ["email"]}}]}]})
>>> [(m.name, m.columns) for m in config.datasets[0].metrics]
[('row_count', None), ('null_fraction', ['email'])]
"""

from __future__ import annotations

from datacanary.checks.config import (
    DatasetMonitor,
    DetectorSpec,
    MetricSpec,
    MonitorConfig,
    load_monitor,
)
from datacanary.checks.run import replay_history, run_monitor

__all__ = [
    "DatasetMonitor",
    "DetectorSpec",
    "MetricSpec",
    "MonitorConfig",
    "load_monitor",
    "replay_history",
    "run_monitor",
]
