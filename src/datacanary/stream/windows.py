"""Window metrics: events per window, null rate per field, mean of numeric fields.

Events fall into tumbling windows by their timestamp (event time). A window closes when
every partition that is still delivering has moved past its end plus one window of
lateness; its metrics are then judged by one online series detector per metric, which
learns the value afterwards (:meth:`~datacanary.series.SeriesDetector.update`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from datacanary.results import Verdict

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from datacanary.series import SeriesDetector

__all__ = ["WindowMetrics", "WindowVerdicts"]

MAX_FIELDS = 100
"""Fields tracked for null rates and means; further new fields are ignored."""
MAX_OPEN_WINDOWS = 1000
"""Windows kept open at most; the oldest closes early beyond that."""


@dataclass
class _Window:
    events: int = 0  # every message, malformed ones too
    rows: int = 0  # the valid events whose fields are measured
    present: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowVerdicts:
    """The verdicts of one closed window."""

    start: datetime
    end: datetime
    events: int
    verdicts: list[Verdict]


class WindowMetrics:
    """Accumulate window metrics batch by batch and judge each window as it closes.

    Parameters
    ----------
    window_seconds
        Length of a tumbling window.
    make_detector
        Returns a fresh series detector; one per (metric, field).
    dataset
        Names the data in verdicts.
    ignore
        Fields never measured (an event id whose mean only grows).
    idle_seconds
        A partition that delivered nothing for this long (wall-clock) no longer holds
        windows open.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from datacanary.series import make_series_detector
    >>> metrics = WindowMetrics(60, lambda: make_series_detector("mad", min_history=3))
    >>> closed = []
    >>> for minute in range(10):  # 100 events a minute; 5 in minute 6
    ...     n = 5 if minute == 6 else 100
    ...     frame = pd.DataFrame({"amount": np.full(n, 10.0)})
    ...     stamps = np.full(n, minute * 60_000, dtype=np.int64)
    ...     closed += metrics.add(frame, stamps, newest={0: minute * 60_000})
    >>> len(closed)  # windows 1-7; the first one started part-way and is not judged
    7
    >>> [v.message for w in closed for v in w.verdicts if not v.passed]
    ['events 5 is below the expected 100–100 from the last 5 windows']
    """

    def __init__(
        self,
        window_seconds: float,
        make_detector: Callable[[], SeriesDetector],
        *,
        dataset: str | None = None,
        ignore: Iterable[str] = (),
        idle_seconds: float = 10.0,
    ) -> None:
        self.window_ms = max(1, round(window_seconds * 1000))
        self.make_detector = make_detector
        self.dataset = dataset
        self.ignore = set(ignore)
        self.idle_seconds = idle_seconds
        self.late_events = 0
        self.windows_closed = 0
        self._open: dict[int, _Window] = {}
        self._fields: list[str] = []
        self._numeric: set[str] = set()
        self._detectors: dict[tuple[str, str | None], SeriesDetector] = {}
        self._marks: dict[Hashable, tuple[int, float]] = {}  # partition -> (max ts, seen at)
        self._closed_before: int | None = None  # windows below this id are closed
        self._first: int | None = None  # the first window seen: partial, never judged

    def add(
        self,
        frame: pd.DataFrame,
        timestamps: np.ndarray[Any, Any],
        *,
        newest: Mapping[Any, int],
        assigned: Collection[Hashable] | None = None,
        counted: np.ndarray[Any, Any] | None = None,
    ) -> list[WindowVerdicts]:
        """Count a batch: ``frame`` rows with their millisecond ``timestamps``, and the
        newest timestamp of each partition the batch came from. ``assigned`` names every
        partition being read: one that has delivered nothing yet holds windows open until
        it has been idle ``idle_seconds``. ``counted`` holds the timestamps of every message
        of the batch, malformed ones too, for the events per window (default:
        ``timestamps``). Return the verdicts of the windows this batch closed (oldest
        first)."""
        import numpy as np

        now = time.monotonic()
        stamps = np.asarray(timestamps, dtype=np.int64)
        if assigned is not None:
            for partition in [p for p in self._marks if p not in assigned]:
                del self._marks[partition]  # revoked: another consumer reads it now
            for partition in assigned:
                self._marks.setdefault(partition, (-1, now))
        for partition, stamp in newest.items():
            mark = self._marks.get(partition)
            self._marks[partition] = (stamp if mark is None else max(stamp, mark[0]), now)
        every = stamps if counted is None else np.asarray(counted, dtype=np.int64)
        if len(every):
            ids, all_ids = stamps // self.window_ms, every // self.window_ms
            if self._first is None:
                self._first = int(all_ids.min())
            if self._closed_before is not None:
                late = all_ids < self._closed_before
                if late.any():
                    self.late_events += int(late.sum())
                    all_ids = all_ids[~late]
                    keep = ids >= self._closed_before
                    ids, frame = ids[keep], frame.iloc[np.flatnonzero(keep)]
            for window, n in zip(*np.unique(all_ids, return_counts=True), strict=True):
                self._open.setdefault(int(window), _Window()).events += int(n)
            self._accumulate(frame, ids)
        return self._close(now)

    def _accumulate(self, frame: pd.DataFrame, ids: np.ndarray[Any, Any]) -> None:
        import numpy as np
        import pandas as pd

        if not len(ids):
            return
        windows, inverse = np.unique(ids, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(windows))
        accs = [self._open.setdefault(int(w), _Window()) for w in windows]
        for acc, n in zip(accs, counts.tolist(), strict=True):
            acc.rows += n
        for name in frame.columns:
            name = str(name)
            if name in self.ignore:
                continue
            column = frame[name]
            if name not in self._fields:  # a new field, once it has a value
                if len(self._fields) >= MAX_FIELDS or not column.notna().any():
                    continue
                self._fields.append(name)
            present = np.bincount(
                inverse, weights=column.notna().to_numpy(dtype=float), minlength=len(windows)
            )
            for acc, p in zip(accs, present.tolist(), strict=True):
                acc.present[name] = acc.present.get(name, 0.0) + p
            dtype = column.dtype
            if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
                self._numeric.add(name)
                values = column.to_numpy(dtype=float, na_value=np.nan)
                finite = np.isfinite(values)
                sums = np.bincount(
                    inverse, weights=np.where(finite, values, 0.0), minlength=len(windows)
                )
                numbers = np.bincount(inverse, weights=finite, minlength=len(windows))
                for acc, s, c in zip(accs, sums.tolist(), numbers.tolist(), strict=True):
                    acc.sums[name] = acc.sums.get(name, 0.0) + s
                    acc.counts[name] = acc.counts.get(name, 0.0) + c

    def _watermark(self, now: float) -> int | None:
        active = [m for m, seen in self._marks.values() if now - seen <= self.idle_seconds]
        if not active:  # every partition idle: the newest event is the watermark
            active = [m for m, _ in self._marks.values()]
        mark = min(active) if active else -1
        return None if mark < 0 else mark

    def _close(self, now: float) -> list[WindowVerdicts]:
        mark = self._watermark(now)
        if mark is None or not self._open:
            return []
        # a window closes one window after its end: partitions may lag each other that much
        last_closed = mark // self.window_ms - 2
        ready = sorted(w for w in self._open if w <= last_closed)
        excess = len(self._open) - len(ready) - MAX_OPEN_WINDOWS
        if excess > 0:
            ready = sorted(self._open)[: len(ready) + excess]
        closed = [self._judge(w, self._open.pop(w)) for w in ready]
        if ready:
            self._closed_before = max(ready[-1] + 1, self._closed_before or 0)
        return [c for c in closed if c is not None]

    def _judge(self, window: int, acc: _Window) -> WindowVerdicts | None:
        start = datetime.fromtimestamp(window * self.window_ms / 1000, tz=timezone.utc)
        end = datetime.fromtimestamp((window + 1) * self.window_ms / 1000, tz=timezone.utc)
        if window == self._first:  # started part-way through: not a full window
            return None
        self.windows_closed += 1
        values: list[tuple[str, str | None, float]] = [("events", None, float(acc.events))]
        for name in self._fields:
            if acc.rows:
                values.append(("null_fraction", name, 1.0 - acc.present.get(name, 0.0) / acc.rows))
            if name in self._numeric and acc.counts.get(name):
                values.append(("mean", name, acc.sums[name] / acc.counts[name]))
        verdicts = []
        for metric, column, value in values:
            detector = self._detectors.get((metric, column))
            if detector is None:
                detector = self._detectors[(metric, column)] = self.make_detector()
            if math.isfinite(value):
                verdicts.append(
                    detector.update(
                        value,
                        end,
                        metric=metric,
                        column=column,
                        dataset=self.dataset,
                        unit="windows",
                    )
                )
        return WindowVerdicts(start, end, acc.events, verdicts)
