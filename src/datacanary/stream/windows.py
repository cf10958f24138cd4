"""Window metrics: events per window, null rate per field, mean of numeric fields.

Events fall into tumbling windows by their timestamp (event time). A window closes when
every partition that is still delivering has moved past its end plus one window of
lateness; its metrics are then judged by one online series detector per metric, which
learns the value afterwards (:meth:`~datacanary.series.SeriesDetector.update`).

The accumulators are kept per partition, so a partition's open windows can be saved and
moved to another processor (:meth:`WindowMetrics.snapshot`, :meth:`WindowMetrics.restore`);
a window is judged over the partitions this processor reads, its *scope*. Each scope has
its own detectors: after a rebalance a processor reading other partitions judges a new
series (quiet until it has ``min_history`` windows), never the old one against a level
it no longer sees. Every value a detector learns is also kept in :attr:`~WindowMetrics.learned`
for the state file, and :func:`replay` rebuilds the detectors from such values.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from datacanary.results import Verdict

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from datacanary.series import SeriesDetector

__all__ = ["WindowMetrics", "WindowVerdicts", "scope_name"]

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "rows": self.rows,
            "present": self.present,
            "sums": self.sums,
            "counts": self.counts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Window:
        return cls(
            int(data.get("events", 0)),
            int(data.get("rows", 0)),
            {str(k): float(v) for k, v in dict(data.get("present", {})).items()},
            {str(k): float(v) for k, v in dict(data.get("sums", {})).items()},
            {str(k): float(v) for k, v in dict(data.get("counts", {})).items()},
        )

    def add(self, other: _Window) -> None:
        self.events += other.events
        self.rows += other.rows
        for mine, theirs in (
            (self.present, other.present),
            (self.sums, other.sums),
            (self.counts, other.counts),
        ):
            for name, value in theirs.items():
                mine[name] = mine.get(name, 0.0) + value


@dataclass(frozen=True)
class WindowVerdicts:
    """The verdicts of one closed window."""

    start: datetime
    end: datetime
    events: int
    verdicts: list[Verdict]


def scope_name(partitions: Iterable[Hashable]) -> str:
    """How the state names a set of partitions: ``topic:partition`` sorted, comma-joined.

    >>> scope_name([("orders", 2), ("orders", 0)])
    'orders:0,orders:2'
    """
    names = []
    for partition in partitions:
        if isinstance(partition, tuple) and len(partition) == 2:
            names.append((str(partition[0]), int(partition[1])))
        else:
            names.append((str(partition), -1))
    return ",".join(f"{t}:{p}" if p >= 0 else t for t, p in sorted(names))


_DEFAULT = ("", 0)  # the partition of rows added without one


class WindowMetrics:
    """Accumulate window metrics batch by batch and judge each window as it closes.

    Parameters
    ----------
    window_seconds
        Length of a tumbling window.
    make_detector
        Returns a fresh series detector; one per (scope, metric, field).
    dataset
        Names the data in verdicts.
    ignore
        Fields never measured (an event id whose mean only grows).
    idle_seconds
        A partition that delivered nothing for this long (wall-clock) no longer holds
        windows open.
    history
        Returns the values learned earlier for a scope, as (metric, column, window end in
        ms, value), oldest first: the detectors of a scope replay them when first needed.

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
        history: Callable[[str], Sequence[tuple[str, str | None, int, float]]] | None = None,
    ) -> None:
        self.window_ms = max(1, round(window_seconds * 1000))
        self.make_detector = make_detector
        self.dataset = dataset
        self.ignore = set(ignore)
        self.idle_seconds = idle_seconds
        self.history = history
        self.late_events = 0
        self.windows_closed = 0
        self.learned: list[tuple[str, str, str | None, int, float]] = []
        """(scope, metric, column, window end in ms, value) learned since the last drain."""
        self._open: dict[Hashable, dict[int, _Window]] = {}  # partition -> window -> acc
        self._fields: list[str] = []
        self._numeric: set[str] = set()
        self._scopes: dict[str, dict[tuple[str, str | None], SeriesDetector]] = {}
        self._marks: dict[Hashable, tuple[int, float]] = {}  # partition -> (max ts, seen at)
        self._closed_before: dict[Hashable, int] = {}  # per partition: below this, judged
        self._closed_until: int | None = None  # windows below this id are closed here
        self._first: dict[Hashable, int] = {}  # each partition's first window: partial
        self._marked_at = time.monotonic()  # when the watermarks last moved

    # -- feeding -------------------------------------------------------------------------

    def add(
        self,
        frame: pd.DataFrame,
        timestamps: np.ndarray[Any, Any],
        *,
        newest: Mapping[Any, int],
        assigned: Collection[Hashable] | None = None,
        counted: np.ndarray[Any, Any] | None = None,
        partition: Hashable | None = None,
        measured: np.ndarray[Any, Any] | None = None,
    ) -> list[WindowVerdicts]:
        """Count a batch of one partition: ``frame`` rows with their millisecond
        ``timestamps``, and the newest timestamp of each partition the batch came from.
        ``assigned`` names every partition being read: one that has delivered nothing yet
        holds windows open until it has been idle ``idle_seconds``. ``counted`` holds the
        timestamps of every message of the batch, malformed ones too, for the events per
        window (default: ``timestamps``). ``partition`` is the rows' partition (default:
        the only key of ``newest``); ``measured`` marks the rows whose numbers count in the
        window means (default: all). Return the verdicts of the windows this batch closed
        (oldest first)."""
        self.mark(newest, assigned)
        if partition is None:
            partition = next(iter(newest)) if len(newest) == 1 else _DEFAULT
        self.ingest(partition, frame, timestamps, counted=counted, measured=measured)
        return self.close()

    def mark(self, newest: Mapping[Any, int], assigned: Collection[Hashable] | None = None) -> None:
        """Move the partitions' watermarks: ``newest`` event time per partition; partitions
        no longer ``assigned`` are dropped (see :meth:`drop`)."""
        now = self._marked_at = time.monotonic()
        if assigned is not None:
            for partition in [p for p in self._marks if p not in assigned]:
                self.drop(partition)  # revoked: another consumer reads it now
            for partition in assigned:
                self._marks.setdefault(partition, (-1, now))
        for partition, stamp in newest.items():
            mark = self._marks.get(partition)
            self._marks[partition] = (stamp if mark is None else max(stamp, mark[0]), now)

    def ingest(
        self,
        partition: Hashable,
        frame: pd.DataFrame,
        timestamps: np.ndarray[Any, Any],
        *,
        counted: np.ndarray[Any, Any] | None = None,
        measured: np.ndarray[Any, Any] | None = None,
    ) -> None:
        """Add one partition's rows (see :meth:`add`) without closing windows."""
        import numpy as np

        stamps = np.asarray(timestamps, dtype=np.int64)
        every = stamps if counted is None else np.asarray(counted, dtype=np.int64)
        if not len(every):
            return
        ids, all_ids = stamps // self.window_ms, every // self.window_ms
        if partition not in self._first:
            self._first[partition] = int(all_ids.min())
        closed_before = self._closed_before.get(partition, self._closed_until)
        if closed_before is not None:
            late = all_ids < closed_before
            if late.any():
                self.late_events += int(late.sum())
                all_ids = all_ids[~late]
                keep = ids >= closed_before
                ids, frame = ids[keep], frame.iloc[np.flatnonzero(keep)]
                if measured is not None:
                    measured = np.asarray(measured, dtype=bool)[keep]
        windows = self._open.setdefault(partition, {})
        for window, n in zip(*np.unique(all_ids, return_counts=True), strict=True):
            windows.setdefault(int(window), _Window()).events += int(n)
        self._accumulate(windows, frame, ids, measured)

    def _accumulate(
        self,
        open_windows: dict[int, _Window],
        frame: pd.DataFrame,
        ids: np.ndarray[Any, Any],
        measured: np.ndarray[Any, Any] | None,
    ) -> None:
        import numpy as np
        import pandas as pd

        if not len(ids):
            return
        windows, inverse = np.unique(ids, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(windows))
        accs = [open_windows.setdefault(int(w), _Window()) for w in windows]
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
                if measured is not None:
                    finite &= measured
                sums = np.bincount(
                    inverse, weights=np.where(finite, values, 0.0), minlength=len(windows)
                )
                numbers = np.bincount(inverse, weights=finite, minlength=len(windows))
                for acc, s, c in zip(accs, sums.tolist(), numbers.tolist(), strict=True):
                    acc.sums[name] = acc.sums.get(name, 0.0) + s
                    acc.counts[name] = acc.counts.get(name, 0.0) + c

    # -- partitions moving in and out ------------------------------------------------------

    def drop(self, partition: Hashable) -> None:
        """Forget ``partition`` (revoked): its open windows leave with it (they are in the
        state file as of its last batch, for its next owner)."""
        self._marks.pop(partition, None)
        self._open.pop(partition, None)
        self._closed_before.pop(partition, None)
        self._first.pop(partition, None)

    def snapshot(
        self, partition: Hashable
    ) -> tuple[int | None, int | None, dict[int, dict[str, Any]], int | None]:
        """``partition``'s share of the state: (closed before, first window, open windows,
        newest event time)."""
        windows = {w: acc.to_dict() for w, acc in self._open.get(partition, {}).items()}
        closed = self._closed_before.get(partition, self._closed_until)
        mark = self._marks.get(partition, (-1, 0.0))[0]
        return closed, self._first.get(partition), windows, (mark if mark >= 0 else None)

    def restore(
        self,
        partition: Hashable,
        closed_before: int | None,
        first: int | None,
        windows: Mapping[int, Mapping[str, Any]],
        newest: int | None = None,
    ) -> None:
        """Take ``partition`` over with its saved windows (from :meth:`snapshot`). Windows
        this processor has already judged are dropped, their events counted as late."""
        self._open.pop(partition, None)
        if newest is not None:  # its watermark: a partition read to its end holds nothing open
            mark = self._marks.get(partition, (-1, 0.0))[0]
            self._marks[partition] = (max(int(newest), mark), time.monotonic())
        if first is not None:
            self._first[partition] = int(first)
        if closed_before is not None:
            self._closed_before[partition] = max(int(closed_before), self._closed_until or 0)
        elif self._closed_until is not None:
            self._closed_before[partition] = self._closed_until
        floor = self._closed_before.get(partition)
        restored = self._open.setdefault(partition, {})
        for window, data in windows.items():
            acc = _Window.from_dict(data)
            if floor is not None and int(window) < floor:
                self.late_events += acc.events
                continue
            restored[int(window)] = acc
            for name in (*acc.present, *acc.sums):
                known = name in self._fields or name in self.ignore
                if not known and len(self._fields) < MAX_FIELDS:
                    self._fields.append(name)
            self._numeric.update(acc.counts)

    def drain_learned(self) -> list[tuple[str, str, str | None, int, float]]:
        """The values learned since the last call (for the state file)."""
        learned, self.learned = self.learned, []
        return learned

    # -- closing -------------------------------------------------------------------------

    def _watermark(self, now: float) -> int | None:
        active = [m for m, seen in self._marks.values() if now - seen <= self.idle_seconds]
        if not active:  # every partition idle: the newest event is the watermark
            active = [m for m, _ in self._marks.values()]
        mark = min(active) if active else -1
        return None if mark < 0 else mark

    def close(self) -> list[WindowVerdicts]:
        """Judge the windows every partition has moved past; return their verdicts."""
        mark = self._watermark(self._marked_at)
        ids = sorted({w for windows in self._open.values() for w in windows})
        if mark is None or not ids:
            return []
        # a window closes one window after its end: partitions may lag each other that much
        last_closed = mark // self.window_ms - 2
        ready = [w for w in ids if w <= last_closed]
        excess = len(ids) - len(ready) - MAX_OPEN_WINDOWS
        if excess > 0:
            ready = ids[: len(ready) + excess]
        if not ready:
            return []
        scope = scope_name(self._marks)
        closed = []
        for window in ready:
            total, partial = _Window(), False
            for partition, windows in self._open.items():
                acc = windows.pop(window, None)
                if acc is not None:
                    total.add(acc)
                    partial = partial or self._first.get(partition) == window
            if not partial:
                closed.append(self._judge(scope, window, total))
        until = ready[-1] + 1
        self._closed_until = max(until, self._closed_until or 0)
        for partition in {*self._marks, *self._open}:
            self._closed_before[partition] = max(until, self._closed_before.get(partition, 0))
        return closed

    def _detectors(self, scope: str) -> dict[tuple[str, str | None], SeriesDetector]:
        detectors = self._scopes.get(scope)
        if detectors is None:
            detectors = self._scopes[scope] = {}
            if self.history is not None:
                replay(detectors, self.history(scope), self.make_detector, self.dataset)
        return detectors

    def _judge(self, scope: str, window: int, acc: _Window) -> WindowVerdicts:
        start = datetime.fromtimestamp(window * self.window_ms / 1000, tz=timezone.utc)
        end_ms = (window + 1) * self.window_ms
        end = datetime.fromtimestamp(end_ms / 1000, tz=timezone.utc)
        self.windows_closed += 1
        values: list[tuple[str, str | None, float]] = [("events", None, float(acc.events))]
        for name in self._fields:
            if acc.rows:
                values.append(("null_fraction", name, 1.0 - acc.present.get(name, 0.0) / acc.rows))
            if name in self._numeric and acc.counts.get(name):
                values.append(("mean", name, acc.sums[name] / acc.counts[name]))
        detectors = self._detectors(scope)
        verdicts = []
        for metric, column, value in values:
            detector = detectors.get((metric, column))
            if detector is None:
                detector = detectors[(metric, column)] = self.make_detector()
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
                self.learned.append((scope, metric, column, end_ms, value))
        return WindowVerdicts(start, end, acc.events, verdicts)


def replay(
    detectors: dict[tuple[str, str | None], SeriesDetector],
    values: Iterable[tuple[str, str | None, int, float]],
    make_detector: Callable[[], SeriesDetector],
    dataset: str | None = None,
) -> None:
    """Feed saved (metric, column, window end in ms, value) to ``detectors`` as the live
    windows did, so they continue where they left off."""
    for metric, column, end_ms, value in values:
        detector = detectors.get((metric, column))
        if detector is None:
            detector = detectors[(metric, column)] = make_detector()
        at = datetime.fromtimestamp(end_ms / 1000, tz=timezone.utc)
        detector.update(value, at, metric=metric, column=column, dataset=dataset, unit="windows")
