"""What a report holds: numbers, sentences and rendered images, ready to write as HTML.

Every section is a frozen dataclass of plain values, so a test (or a caller) can read the
numbers a page shows without parsing HTML; :meth:`Report.to_html` renders them.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "ColumnSummary",
    "DetectionSection",
    "HistorySection",
    "Image",
    "MetricHistory",
    "Overview",
    "Report",
    "RunChecks",
]


@dataclass(frozen=True)
class Image:
    """One rendered figure: PNG or SVG bytes and the text a screen reader says for it."""

    data: bytes
    alt: str
    mime: str = "image/png"

    @property
    def size(self) -> tuple[int, int] | None:
        """Pixel width and height of a PNG (read from its header); ``None`` for SVG."""
        if self.mime == "image/png" and self.data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", self.data[16:24])
            return int(width), int(height)
        return None

    def data_uri(self) -> str:
        """The image as a ``data:`` URI, for an ``<img src>`` that needs no network."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Overview:
    """The table at a glance.

    ``rows`` is the whole table's row count; ``sample_rows`` how many rows the plots,
    duplicates and outlier counts were computed on (equal to ``rows`` when not sampled).
    ``types`` maps each column to its kind (numeric, categorical, text, boolean, datetime).
    """

    rows: int
    columns: int
    types: Mapping[str, str]
    dtypes: Mapping[str, str]
    missing_cells: int
    memory_bytes: int | None
    duplicate_rows: int | None
    identifier_columns: Sequence[str]
    sample_rows: int
    memory_estimated: bool = False

    @property
    def sampled(self) -> bool:
        return self.sample_rows < self.rows

    @property
    def missing_fraction(self) -> float:
        cells = self.rows * self.columns
        return self.missing_cells / cells if cells else 0.0


@dataclass(frozen=True)
class ColumnSummary:
    """One column: its numbers beside its distribution.

    ``stats`` holds what the table profile measured over every row (null_count,
    null_fraction, distinct_count, min, max, mean, stddev, ...). ``flagged_rows`` counts the
    rows the row detector flagged whose explanation names this column (None when no
    detection ran): the page's one notion of an outlier.
    """

    name: str
    kind: str
    dtype: str
    stats: Mapping[str, Any]
    image: Image | None = None
    flagged_rows: int | None = None
    top_values: Sequence[tuple[str, int]] = ()
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class DetectionSection:
    """Row-level detection: how rows were scored, what was flagged and why.

    ``rule`` is the detector's flagging rule in one sentence (empty when it states none);
    ``flagged_by_column`` counts the flagged rows whose explanation names each column;
    ``top_rows_plot`` ranks the top rows and marks their values in each column they stand
    out on.
    """

    method: str
    scored_rows: int
    n_anomalies: int
    threshold: float
    features: Sequence[str]
    dropped_columns: Mapping[str, str]
    top_rows_plot: Image
    score_distribution: Image
    top_rows: Sequence[Mapping[str, Any]]
    top_columns: Sequence[str]
    label_column: str | None = None
    evaluation: Mapping[str, float] | None = None
    roc: Image | None = None
    pr: Image | None = None
    notes: Sequence[str] = ()
    rule: str = ""
    flagged_by_column: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RunChecks:
    """What ``datacanary check`` said about one recorded run: ``(status, sentence)`` pairs,
    schema changes and "cannot be computed" errors included."""

    observed_at: datetime
    verdicts: Sequence[tuple[str, str]]
    latest: bool = False


@dataclass(frozen=True)
class MetricHistory:
    """One stored metric replayed through a series detector."""

    metric: str
    column: str | None
    runs: int
    flagged: int
    latest: str
    image: Image | None
    flagged_runs: Sequence[str] = ()
    flat_value: float | None = None
    """The one value of a series that never moved and was never flagged (no plot then)."""

    @property
    def subject(self) -> str:
        return f"{self.metric} of {self.column}" if self.column else self.metric


@dataclass(frozen=True)
class HistorySection:
    """The monitor's metrics of one dataset, each with its expected band and flagged runs,
    and what each run's check said (``checks``: the newest run in full, earlier runs where
    something failed). ``left_out`` names stored series the newest run no longer measured."""

    dataset: str
    store: str
    detector: str
    metrics: Sequence[MetricHistory] = ()
    message: str = ""
    checks: Sequence[RunChecks] = ()
    left_out: Sequence[str] = ()


@dataclass(frozen=True)
class Report:
    """A data report: build it with :func:`~datacanary.report.build_report`, write it with
    :meth:`write` or :func:`~datacanary.report.write_report`."""

    title: str
    source: str
    created_at: datetime
    overview: Overview
    columns: Sequence[ColumnSummary]
    correlations: Image | None = None
    trends: Sequence[Image] = ()
    timestamp_column: str | None = None
    detection: DetectionSection | None = None
    history: HistorySection | None = None
    notes: Sequence[str] = field(default_factory=tuple)
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def images(self) -> list[Image]:
        """Every image on the page, in page order."""
        found = [c.image for c in self.columns if c.image is not None]
        if self.correlations is not None:
            found.append(self.correlations)
        found.extend(self.trends)
        if self.detection is not None:
            d = self.detection
            found.extend(i for i in (d.top_rows_plot, d.score_distribution, d.roc, d.pr) if i)
        if self.history is not None:
            found.extend(m.image for m in self.history.metrics if m.image is not None)
        return found

    def to_html(self) -> str:
        """The whole page: one self-contained HTML document, images inline."""
        from datacanary.report._html import render_html

        return render_html(self)

    def write(self, out: Path | str) -> Path:
        """Write the page to ``out`` (parent folders created) and return its path."""
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_html(), encoding="utf-8")
        return path
