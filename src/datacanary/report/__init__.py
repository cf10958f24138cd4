"""Reports: plots of anomalies and one self-contained HTML page per table.

* :func:`build_report` profiles a table where it lives (one pushed-down query), samples rows
  for the pictures, scores them with a row detector and, given a history store, replays
  each stored metric with its expected band; it returns a :class:`Report` whose sections
  hold the numbers and the rendered figures.
* :func:`write_report` writes one HTML file with every image inline: it opens offline.
* :mod:`datacanary.report.plots` draws single figures (``top_rows_figure``, ``series_plot``,
  ``history_figure``...) for the CLI and for notebooks.

Sign convention: an anomaly score is higher for a more anomalous row, in every plot.
"""

from __future__ import annotations

from datacanary.report._build import build_report, write_report
from datacanary.report._model import (
    ColumnSummary,
    DetectionSection,
    HistorySection,
    Image,
    MetricHistory,
    Overview,
    Report,
    RunChecks,
)

__all__ = [
    "ColumnSummary",
    "DetectionSection",
    "HistorySection",
    "Image",
    "MetricHistory",
    "Overview",
    "Report",
    "RunChecks",
    "build_report",
    "write_report",
]
