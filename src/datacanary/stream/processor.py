"""The stream processor: micro-batches in; anomalies, dead letters and alerts out.

Per batch: decode the JSON objects (the rest go to the dead-letter topic), score the rows
with the row detector, add the events to the window metrics and judge the windows that
closed, produce every anomaly to the anomalies topic, wait until the broker acknowledges
all of it, write the batch's state (open windows, what the detectors learned, the alerts it
raised) to the state file, and only then commit the batch's offsets (at-least-once). Alerts
go to the sinks from a background task, so a sink that hangs never holds the stream up.

A message too large to forward is cut to its head and digest (:mod:`~datacanary.stream.poison`),
or recorded as skipped; it never stops the partition.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from datacanary.results import Status, format_number
from datacanary.stream.decode import decode_frame
from datacanary.stream.poison import (
    cut_dead_letter,
    message_size,
    record_summary,
    sha256,
)
from datacanary.stream.rows import RowScorer, Scored, flagged_positions
from datacanary.stream.source import Message, StreamOutput, StreamSource
from datacanary.stream.state import PartitionState, Skipped, StateWrite, StreamState
from datacanary.stream.windows import WindowMetrics, WindowVerdicts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from datacanary.alerts import Alert, AlertDispatcher, DeliveryReport
    from datacanary.stream.settings import StreamSettings

__all__ = ["ANOMALY_SCHEMA", "StreamProcessor", "StreamStats"]

log = logging.getLogger("datacanary.stream")

ANOMALY_SCHEMA = "datacanary.stream.anomaly/1"
"""Version tag of the JSON written to the anomalies topic."""
ERROR_HEADER = "datacanary.error"
"""Kafka header of a dead letter that says why the message was rejected."""
_TOO_BIG = ValueError("larger than the output's limit")
_MAX_QUEUED_ALERTS = 10_000
_ALERT_DRAIN_SECONDS = 10.0  # at shutdown, how long queued alerts may take to go out


@dataclass
class StreamStats:
    """What a run of the stream processor did; updated live while it runs."""

    consumed: int = 0
    scored: int = 0
    row_anomalies: int = 0
    metric_anomalies: int = 0
    dead_letters: int = 0
    produced: int = 0
    windows: int = 0
    late_events: int = 0
    batches: int = 0
    commits: int = 0
    commit_failures: int = 0
    refits: int = 0
    alerts_delivered: int = 0
    alerts_suppressed: int = 0
    alerts_failed: int = 0
    alerts_dropped: int = 0
    uncommitted: int = 0
    cut: int = 0
    skipped: int = 0
    resumed_partitions: int = 0
    resumed_alerts: int = 0
    model: str = ""
    stopped_by: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def anomalies(self) -> int:
        """Row and window-metric anomalies together."""
        return self.row_anomalies + self.metric_anomalies

    @property
    def events_per_second(self) -> float:
        """Messages consumed per second of the run."""
        return self.consumed / self.seconds if self.seconds > 0 else 0.0

    def note(self, problem: str) -> None:
        """Remember ``problem`` (once; the last 20 kept)."""
        if problem not in self.problems:
            self.problems.append(problem)
            del self.problems[:-20]

    def summary(self) -> str:
        """One line for a terminal or a log.

        >>> StreamStats(consumed=12000, row_anomalies=11, dead_letters=3, seconds=2.0,
        ...             stopped_by="max-messages").summary()
        '12,000 events in 2 s (6,000/s): 11 anomalies (11 rows, 0 windows), 3 dead letters; stopped by max-messages'
        """  # noqa: E501
        text = (
            f"{format_number(self.consumed)} events in {format_number(round(self.seconds, 1))} s "
            f"({format_number(round(self.events_per_second))}/s): "
            f"{format_number(self.anomalies)} anomalies ({format_number(self.row_anomalies)} "
            f"rows, {format_number(self.metric_anomalies)} windows), "
            f"{format_number(self.dead_letters)} dead letters"
        )
        if self.skipped:
            text += f", {format_number(self.skipped)} skipped (too large to forward)"
        if self.alerts_delivered or self.alerts_failed:
            text += f", {self.alerts_delivered} alerts sent, {self.alerts_failed} failed"
        if self.uncommitted:
            text += f", {format_number(self.uncommitted)} events left uncommitted"
        return text + (f"; stopped by {self.stopped_by}" if self.stopped_by else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``--format json``)."""
        data = asdict(self)
        data["anomalies"] = self.anomalies
        data["events_per_second"] = round(self.events_per_second, 1)
        return data


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _partitions(messages: Sequence[Message]) -> tuple[np.ndarray[Any, Any], list[str]]:
    """A code per message for its (topic, partition): ``topic index << 32 | partition``."""
    import numpy as np

    codes = np.array([m.partition for m in messages], dtype=np.int64)
    names = sorted({m.topic for m in messages})
    if len(names) > 1:
        index = {name: i for i, name in enumerate(names)}
        codes += np.array([index[m.topic] for m in messages], dtype=np.int64) << 32
    return codes, names


def _frontier(messages: Sequence[Message]) -> list[Message]:
    """The last message of each partition: committing it commits everything before it."""
    import numpy as np

    if len(messages) < 2:
        return list(messages)
    codes, _ = _partitions(messages)
    offsets = np.array([m.offset for m in messages], dtype=np.int64)
    order = np.lexsort((offsets, codes))  # by partition, then offset
    ends = np.append(codes[order][1:] != codes[order][:-1], True)
    return [messages[i] for i in order[ends].tolist()]


def _event_times(
    messages: Sequence[Message],
) -> tuple[np.ndarray[Any, Any], dict[tuple[str, int], int]]:
    """Each message's event time (ms; now when it has none) and the newest per partition."""
    import numpy as np

    stamps = np.array([m.timestamp for m in messages], dtype=np.float64)
    now_ms = time.time() * 1000
    stamps = np.where(np.isfinite(stamps) & (stamps > 0), stamps, now_ms).astype(np.int64)
    codes, names = _partitions(messages)
    keys, inverse = np.unique(codes, return_inverse=True)
    newest_ms = np.full(len(keys), np.iinfo(np.int64).min)
    np.maximum.at(newest_ms, inverse, stamps)
    newest = {
        (names[int(k >> 32)], int(k & 0xFFFFFFFF)): int(ms)
        for k, ms in zip(keys.tolist(), newest_ms.tolist(), strict=True)
    }
    return stamps, newest


def _utc(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc)


class _AlertPump:
    """Deliver alerts from a background task: the stream never waits on a sink."""

    def __init__(
        self, dispatcher: AlertDispatcher, stats: StreamStats, state: StreamState | None
    ) -> None:
        self.dispatcher = dispatcher
        self.stats = stats
        self.state = state
        self._queue: list[tuple[str, Alert]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._work())

    def put(self, alerts: Sequence[tuple[str, Alert]]) -> None:
        """Queue (outbox id, alert) pairs for delivery."""
        self._queue.extend(alerts)
        excess = len(self._queue) - _MAX_QUEUED_ALERTS
        if excess > 0:
            self._done([id_ for id_, _ in self._queue[:excess]])
            del self._queue[:excess]
            self.stats.alerts_dropped += excess
            self.stats.note(
                f"{self.stats.alerts_dropped} alerts dropped: the sinks could not keep up "
                "(every anomaly is still on the anomalies topic)"
            )
        if alerts:
            self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._queue:
                batch, self._queue = self._queue, []
                self._account(await self.dispatcher.adispatch([a for _, a in batch]))
                await asyncio.to_thread(self._done, [id_ for id_, _ in batch])
            elif self._closing:
                return

    def _done(self, ids: list[str]) -> None:
        """The dispatcher has handled these outbox alerts (sent, suppressed or failed)."""
        if self.state is not None and ids:
            try:
                self.state.delivered(ids)
            except Exception as error:
                self.stats.note(f"the alert outbox could not be updated ({error})")

    def _account(self, report: DeliveryReport) -> None:
        self.stats.alerts_delivered += len(report.delivered)
        self.stats.alerts_suppressed += len(report.suppressed)
        self.stats.alerts_failed += len(report.failed)
        if report.failed or report.notes:
            self.stats.note(report.summary())

    async def close(self, timeout: float) -> None:
        """Deliver what is queued, waiting at most ``timeout`` seconds, then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            if self._queue:
                self.stats.alerts_failed += len(self._queue)
                self.stats.note(
                    f"{len(self._queue)} alerts not delivered: the sinks did not finish within "
                    f"{timeout:g} s of shutdown"
                )


class StreamProcessor:
    """Read a :class:`StreamSource`, judge rows and windows, write a :class:`StreamOutput`.

    Kafka-free at its core: :func:`~datacanary.stream.run_stream` builds the Kafka source
    and output from :class:`StreamSettings`; tests and other sources pass their own.

    Parameters
    ----------
    settings
        Topics, limits and detector options.
    source, output
        Where messages come from, and where anomalies and dead letters go.
    scorer
        The row scorer: fitted (a loaded model) or not (trained on the first
        ``settings.train_on`` valid events).
    windows
        The window metrics.
    dispatcher
        Alert sinks; None: no alerts (the anomalies topic still gets everything).
    """

    def __init__(
        self,
        settings: StreamSettings,
        source: StreamSource,
        output: StreamOutput,
        *,
        scorer: RowScorer,
        windows: WindowMetrics,
        dispatcher: AlertDispatcher | None = None,
        state: StreamState | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.output = output
        self.scorer = scorer
        self.windows = windows
        self.state = state
        self.stats = StreamStats()
        self._pump = None if dispatcher is None else _AlertPump(dispatcher, self.stats, state)
        self._alerts: list[tuple[str, Alert]] = []
        self._after: dict[tuple[str, int], int | None] = {}  # next offset, per partition
        self._restore: dict[tuple[str, int], PartitionState] = {}  # to apply before a batch
        self._skipped: list[Skipped] = []  # poison messages refused since the last write
        self._change = StateWrite()  # what the batch being computed changes
        self._busy = False  # a batch is being computed or sent
        self._idle = asyncio.Event()
        self._refits_saved = 0
        if hasattr(source, "on_rebalance"):  # optional: sources whose partitions move
            source.on_rebalance(assigned=self._assigned, revoked=self._revoked)
        if hasattr(output, "rescue"):  # optional: outputs with a size limit
            hooks: Any = output
            hooks.rescue, hooks.on_skipped = self._rescue, self._on_skipped
        self._settling: asyncio.Future[None] | None = None  # the last batch's ack and commit
        self._outputs: list[
            tuple[str, bytes | None, bytes | None, Sequence[tuple[str, bytes]]]
        ] = []
        self._held_messages: list[Message] = []  # consumed, not yet scored (training)
        self._held_frames: list[pd.DataFrame] = []
        self._held_good: list[Message] = []
        self._dataset = settings.dataset_name
        if scorer.fitted:
            rows = 0 if scorer.training is None else len(scorer.training)
            self.stats.model = f"loaded ({rows} training rows)"
        else:
            self.stats.model = f"training (0 of {settings.train_on})"

    # -- the loop --------------------------------------------------------------------------

    async def run(
        self,
        stop: asyncio.Event | None = None,
        *,
        on_batch: Callable[[StreamStats], None] | None = None,
    ) -> StreamStats:
        """Process batches until ``stop`` is set or a limit is reached; return the stats.

        Raises :class:`~datacanary.errors.DeliveryError` when outputs are not acknowledged
        (the batch is then not committed, and is read again after a restart).
        """
        settings = self.settings
        stop = stop or asyncio.Event()
        started = time.monotonic()
        deadline = None if settings.max_seconds is None else started + settings.max_seconds
        outbox: list[tuple[str, Alert]] = []
        if self.state is not None:
            self.restore_model()
            outbox = self.state.outbox()  # raised before a crash, perhaps never sent
            self.stats.resumed_alerts = len(outbox)
        await self.output.start()
        try:
            limits = getattr(self.output, "topic_limits", None)
            if limits is not None:
                outputs = [settings.dead_letter_topic, settings.anomalies_topic]
                await limits(
                    [*outputs, *([settings.scores_topic] if settings.scores_topic else [])]
                )
            await self.source.start()
        except BaseException:
            await self.output.stop()
            raise
        if self._pump is not None:
            self._pump.start()
            self._pump.put(outbox)
        failed = True
        try:
            while True:
                if stop.is_set():
                    self.stats.stopped_by = "signal"
                    break
                wanted = settings.batch_size
                if settings.max_messages is not None:
                    wanted = min(wanted, settings.max_messages - self.stats.consumed)
                    if wanted <= 0:
                        self.stats.stopped_by = "max-messages"
                        break
                timeout = settings.poll_timeout
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.stats.stopped_by = "max-seconds"
                        break
                    timeout = min(timeout, left)
                if self._settling is not None and self._settling.done():
                    await self.settle()  # raises if the last batch's outputs failed
                messages = await self.source.poll(wanted, timeout)
                if messages:
                    await self.process(messages)
                self.stats.seconds = time.monotonic() - started
                if on_batch is not None:
                    on_batch(self.stats)
            await self.settle()
            failed = False
        finally:
            if self._settling is not None:  # failing: what is not acknowledged stays uncommitted
                self._settling.cancel()
                await asyncio.gather(self._settling, return_exceptions=True)
            self.stats.uncommitted = len(self._held_messages)
            if self._pump is not None:
                await self._pump.close(timeout=0.5 if failed else _ALERT_DRAIN_SECONDS)
            try:
                await self.source.stop()
            finally:
                await self.output.stop()
            self.stats.seconds = time.monotonic() - started
        if self._held_messages:
            self.stats.note(
                f"the run ended before the row detector was trained "
                f"({len(self._held_good)} of {settings.train_on} events); those "
                f"{len(self._held_messages)} messages were not committed and are read again "
                "next time"
            )
        return self.stats

    async def process(self, messages: Sequence[Message]) -> None:
        """Handle one batch: outputs produced and acknowledged, then offsets committed.

        The computing (decode, score, window metrics) runs on a worker thread, so the event
        loop keeps fetching, acknowledging and heartbeating meanwhile.
        """
        self._busy = True
        self._idle.clear()
        try:
            assigned = self.source.assignment()
            self._apply_restored(assigned)
            commit = await asyncio.to_thread(self._compute, messages, assigned)
            outputs, self._outputs = self._outputs, []
            change, self._change = self._change, StateWrite()
            # alerts go to the outbox (and the sinks) only when there are sinks
            change.outbox, self._alerts = (self._alerts if self._pump else []), []
            send = self.output.send
            for topic, value, key, headers in outputs:
                await send(topic, value, key=key, headers=headers)
            acknowledged = self.output.flush()  # this batch's outputs, not the next one's
            await self.settle()  # the previous batch commits first: offsets move forward only
            self._settling = asyncio.ensure_future(self._commit_when(acknowledged, commit, change))
        finally:
            self._busy = False
            self._idle.set()

    async def settle(self) -> None:
        """Wait until the last batch's outputs are acknowledged and its offsets committed.

        Batch *k* is committed while batch *k + 1* is being computed, so the wait for the
        broker's acknowledgements overlaps the work; still nothing is committed before its
        outputs are acknowledged. Raises what producing or committing raised.
        """
        if self._settling is not None:
            settling, self._settling = self._settling, None
            await settling

    async def _commit_when(
        self, acknowledged: Awaitable[int], commit: Sequence[Message], change: StateWrite
    ) -> None:
        """Outputs acknowledged, then the state written, then the offsets committed, then
        the alerts handed to the sinks (they are in the state's outbox by then)."""
        self.stats.produced += await acknowledged
        change.skipped, self._skipped = self._skipped, []
        if self.state is not None and change:
            assigned = set(self.source.assignment())
            change.partitions = {p: s for p, s in change.partitions.items() if p in assigned}
            await asyncio.to_thread(self.state.write, change)
        if commit:
            if await self.source.commit(_frontier(commit)):
                self.stats.commits += 1
            else:
                self.stats.commit_failures += 1
        if change.outbox and self._pump is not None:
            self._pump.put(change.outbox)

    # -- state: restarts and rebalances ----------------------------------------------------

    async def _assigned(
        self, partitions: list[tuple[str, int]], committed: dict[tuple[str, int], int | None]
    ) -> dict[tuple[str, int], int]:
        """Partitions given to this processor: pick up their saved state where it matches
        the committed offsets; return where to read from when the state is ahead."""
        saved = {}
        if self.state is not None:
            saved = await asyncio.to_thread(self.state.resume, partitions, committed)
        seeks: dict[tuple[str, int], int] = {}
        for partition in partitions:
            self._after[partition] = committed.get(partition)
            restored = saved.get(partition)
            if restored is None:
                continue
            self._restore[partition] = restored
            self._after[partition] = restored.after
            if committed.get(partition) != restored.after:
                seeks[partition] = restored.after  # died between state write and commit
        self.stats.resumed_partitions += len(saved)
        log.info(
            "partitions assigned: %s (%d resumed from the state file)",
            ", ".join(f"{t}:{p}" for t, p in partitions), len(saved),
        )  # fmt: skip
        return seeks

    async def _revoked(self, partitions: list[tuple[str, int]]) -> None:
        """Before partitions move to another processor: let the batch in hand finish, and
        its state and offsets be written, so the next owner starts where this one ended."""

        async def finish() -> None:
            while self._busy:
                await self._idle.wait()
            await self.settle()

        try:  # bounded: a rebalance must never wait forever on this processor
            await asyncio.wait_for(finish(), timeout=self.settings.session_timeout * 3)
        except Exception as error:
            self.stats.note(f"the last batch before a rebalance was not committed ({error!r})")
        for partition in partitions:
            self._after.pop(partition, None)
            self._restore.pop(partition, None)

    def _apply_restored(self, assigned: Collection[tuple[str, int]]) -> None:
        restore, self._restore = self._restore, {}
        for partition, saved in restore.items():
            if partition in assigned:
                self.windows.restore(
                    partition, saved.closed_before, saved.first, saved.windows, saved.newest
                )

    def _snapshot(self, committed: Sequence[Message]) -> None:
        """Record in the pending state write where each partition stands after this batch."""
        if self.state is None:
            return
        ends: dict[tuple[str, int], int] = {}
        for message in _frontier(committed) if committed else []:
            ends[(message.topic, message.partition)] = message.offset + 1
        for partition, after in {**self._after, **ends}.items():
            if after is None:
                continue
            before = self._after.get(partition)
            closed, first, windows, newest = self.windows.snapshot(partition)
            self._change.partitions[partition] = PartitionState(
                before if partition in ends else after, after, closed, first, windows, newest
            )
        self._after.update(ends)
        self._change.history.extend(self.windows.drain_learned())

    def restore_model(self) -> bool:
        """Load the row model saved in the state file, if it was trained with the same
        detector options; True when one was loaded."""
        if self.state is None or self.scorer.fitted:
            return False
        saved = self.state.model()
        if saved is None or saved[0] != json.loads(json.dumps(self._detector_params())):
            return False
        from datacanary.stream.model import read_model_bytes

        model = read_model_bytes(saved[1], where=f"the state file {str(self.state.path)!r}")
        self.scorer.fit(model.training.reset_index(drop=True), schema=model.schema)
        rows = len(model.training)
        self.stats.model = f"restored from the state file ({rows} training rows)"
        if self.settings.save_model is not None:
            from datacanary.stream.model import save_model

            save_model(self.settings.save_model, model)
            self.stats.model += f", saved to {self.settings.save_model}"
        return True

    def _save_model(self) -> None:
        if self.state is None or self.scorer.training is None:
            return
        from datacanary.stream.model import StreamModel, model_bytes

        model = StreamModel(self.scorer.training, self.scorer.schema, self._detector_params())
        self.state.save_model(self._detector_params(), model_bytes(model))
        self._refits_saved = self.scorer.refits

    # -- poison messages -------------------------------------------------------------------

    def _limit(self) -> int | None:
        limit = getattr(self.output, "max_message_bytes", None)
        return None if limit is None else int(limit)

    def _rescue(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        error: BaseException,
    ) -> tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]] | None:
        """A smaller message for one refused as too large: a dead letter cut to its head;
        an anomaly whose record is replaced by a summary. None: nothing smaller to send."""
        limit = self._limit() or message_size(value, key, headers) - 1
        if topic == self.settings.dead_letter_topic:
            reason = (
                f"the message ({len(value or b''):,} bytes) is larger than the output takes "
                f"({limit:,} bytes: the producer's max_request_size or the broker's limit); "
                "its first bytes and its sha256 are kept"
            )
            listed = [(n, v) for n, v in headers if n != "datacanary.cut"]
            small_key = key if key is None or len(key) <= 1024 else sha256(key).encode()
            cut, cut_headers = cut_dead_letter(
                value, small_key, [*listed, ("datacanary.cut", reason.encode())], limit=limit
            )
            self.stats.cut += 1
            return cut, small_key, cut_headers
        if value and value[:1] == b"{":
            try:
                payload = json.loads(value)
            except ValueError:
                return None
            if isinstance(payload, dict) and isinstance(payload.get("record"), dict):
                payload["record"] = record_summary(json.dumps(payload["record"]).encode())
                payload["reason"] = str(payload.get("reason", ""))[:1000]
                self.stats.cut += 1
                return json.dumps(payload, default=str).encode(), key, headers
        return None

    def _on_skipped(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        error: BaseException,
    ) -> None:
        """A message that could not be sent even cut down: log it, count it, and record it
        (with the offset of the input it came from) in the state file."""
        fields = {n: v for n, v in headers if n.startswith("datacanary.")}
        source = fields.get("datacanary.topic", b"").decode() or "?"
        partition = int(fields.get("datacanary.partition", b"-1") or -1)
        offset = int(fields.get("datacanary.offset", b"-1") or -1)
        size = int(fields.get("datacanary.size", b"") or len(value or b""))  # of the original
        digest = fields.get("datacanary.sha256", b"").decode() or sha256(value)
        reason = f"could not be written to {topic!r}: {error}"
        self.stats.skipped += 1
        self._skipped.append(Skipped(source, partition, offset, size, digest, reason))
        log.warning(
            "skipped the message at %s[%d] offset %d (%d bytes): it %s",
            source, partition, offset, size, reason,
        )  # fmt: skip
        self.stats.note(
            f"{self.stats.skipped} messages skipped: too large for {topic!r} even cut down "
            "(recorded with their offsets in the state file)"
        )

    def _compute(
        self, messages: Sequence[Message], assigned: Collection[tuple[str, int]]
    ) -> Sequence[Message]:
        """Decode, score and measure one batch; queue its outputs; return what may be
        committed once they are acknowledged."""

        stats = self.stats
        stats.batches += 1
        stats.consumed += len(messages)
        decoded = decode_frame(messages)
        for index, error in decoded.errors:
            self._dead_letter(messages[index], error)
        good = list(messages) if not decoded.errors else [messages[i] for i in decoded.good]
        frame = decoded.frame
        if self.scorer.fitted:
            kept, flagged = self._score(frame, good) if good else ([], set())
            measured = self._unflagged(kept, flagged)
            if len(kept) < len(good):
                frame, good = frame.iloc[kept], [good[i] for i in kept]
            self._measure(messages, frame, good, assigned, measured)
            self._snapshot(messages)
            return messages
        # training: hold everything (window metrics too) until the detector is fitted
        if good:
            self._hold(frame, good, messages)
        else:
            self._held_messages.extend(messages)
        trained = self._train_if_ready()
        if trained is None:
            return []
        held, frame, good, measured = trained
        self._measure(held, frame, good, assigned, measured)
        self._snapshot(held)
        return held

    @staticmethod
    def _unflagged(kept: list[int], flagged: set[int]) -> np.ndarray[Any, Any] | None:
        """Which scored rows count in the window means: all but the flagged ones (each is
        already reported as a row anomaly; one amount ×80 would also move a window's mean)."""
        import numpy as np

        if not flagged:
            return None
        return np.array([k not in flagged for k in kept], dtype=bool)

    def _measure(
        self,
        messages: Sequence[Message],
        frame: pd.DataFrame,
        good: Sequence[Message],
        assigned: Collection[tuple[str, int]],
        measured: np.ndarray[Any, Any] | None = None,
    ) -> None:
        """Add the events to the window metrics, partition by partition (every message
        counts as an event; the fields of the ``good`` rows, in ``frame``, are measured,
        and the numbers of the ``measured`` ones); judge the windows that closed."""
        import numpy as np

        stamps, newest = _event_times(messages)
        fields = stamps if len(good) == len(messages) else _event_times(good)[0]
        self.windows.mark(newest, assigned)
        codes, names = _partitions(messages)
        row_codes = codes if len(good) == len(messages) else _partitions(good)[0]
        for code in np.unique(codes).tolist():
            partition = (names[code >> 32], code & 0xFFFFFFFF)
            every = codes == code
            rows = every if row_codes is codes else row_codes == code
            if rows.all():
                part, mask = frame, measured
            else:
                where = np.flatnonzero(rows)
                part = frame.iloc[where]
                mask = None if measured is None else measured[where]
            self.windows.ingest(partition, part, fields[rows], counted=stamps[every], measured=mask)
        closed = self.windows.close()
        self.stats.late_events = self.windows.late_events
        for window in closed:
            self._judged(window)

    # -- rows ------------------------------------------------------------------------------

    def _hold(
        self,
        frame: pd.DataFrame,
        good: list[Message],
        messages: Sequence[Message],
    ) -> None:
        self._held_frames.append(frame)
        self._held_good.extend(good)
        self._held_messages.extend(messages)
        self.stats.model = f"training ({min(len(self._held_good), self.settings.train_on)} of "
        self.stats.model += f"{self.settings.train_on})"

    def _train_if_ready(
        self,
    ) -> tuple[list[Message], pd.DataFrame, list[Message], np.ndarray[Any, Any] | None] | None:
        """Fit on the first ``train_on`` held events once there are enough; then score
        everything held. Return the held messages (to commit), and the frame and messages of
        the rows that were scored (to measure); None while still training."""
        import pandas as pd

        train_on = self.settings.train_on
        if len(self._held_good) < train_on:
            return None
        frame = pd.concat(self._held_frames, ignore_index=True)
        self.scorer.fit(frame.iloc[:train_on].reset_index(drop=True))
        self.stats.model = f"trained on the first {train_on} events"
        if self.settings.save_model is not None:
            from datacanary.stream.model import StreamModel, save_model

            assert self.scorer.training is not None
            save_model(
                self.settings.save_model,
                StreamModel(self.scorer.training, self.scorer.schema, self._detector_params()),
            )
            self.stats.model += f", saved to {self.settings.save_model}"
        self._save_model()
        held, good = self._held_messages, self._held_good
        self._held_messages, self._held_frames, self._held_good = [], [], []
        kept, flagged = self._score(frame, good)
        measured = self._unflagged(kept, flagged)
        if len(kept) < len(good):
            frame, good = frame.iloc[kept], [good[i] for i in kept]
        return held, frame, good, measured

    def _detector_params(self) -> dict[str, Any]:
        return {
            "method": self.settings.method,
            "contamination": self.settings.contamination,
            "random_state": 0,
        }

    def _score(self, frame: pd.DataFrame, good: list[Message]) -> tuple[list[int], set[int]]:
        """Score ``frame`` (row ``i`` came from message ``good[i]``); produce anomalies and
        dead letters; return the positions of the rows that were scored, and of those the
        flagged ones."""
        scorer = self.scorer
        typed, errors = scorer.prepare(frame)
        if errors:
            for position, error in sorted(errors.items()):
                self._dead_letter(good[position], error)
            kept = [i for i in range(len(good)) if i not in errors]
            typed = typed.iloc[kept].reset_index(drop=True)
        else:
            kept = list(range(len(good)))
        refits = scorer.refits
        scored = scorer.score(typed)
        self.stats.refits += scorer.refits - refits
        if scorer.refits != self._refits_saved:
            self._save_model()
        for position, error in sorted(scored.errors.items()):
            self._dead_letter(good[kept[position]], error)
        self.stats.scored += len(scored.positions)
        if self.settings.scores_topic is not None and scored.scores is not None:
            rows = [kept[p] for p in scored.positions]
            id_field = self.settings.id_field
            ids = (
                frame[id_field].to_numpy()[rows].tolist()
                if id_field is not None and id_field in frame.columns
                else [None] * len(rows)
            )
            self._all_scores(scored, [good[r] for r in rows], ids)
        positions, scores = flagged_positions(scored)
        flagged = {kept[p] for p in positions.tolist()}
        if len(positions):
            assert scored.scores is not None
            explanations = scored.scores.explanations
            where = {p: i for i, p in enumerate(scored.positions)}
            threshold = _finite(scored.scores.threshold)
            method = scored.scores.method
            limit = self._limit()
            for position, score in zip(positions.tolist(), scores.tolist(), strict=True):
                row = kept[position]
                explanation = str(explanations[where[position]] or "")
                value = good[row].value or b""
                record = json.loads(value)  # the original, not the cast row
                if limit is not None and len(value) > limit // 2:  # too large to copy whole
                    record = record_summary(value)
                self._row_anomaly(good[row], record, score, threshold, explanation, method)
        if scored.errors:
            return [kept[p] for p in scored.positions], flagged
        return kept, flagged

    def _all_scores(self, scored: Scored, messages: list[Message], ids: list[Any]) -> None:
        """One small JSON message per scored event on the scores topic."""
        assert scored.scores is not None and self.settings.scores_topic is not None
        topic, send, dumps = self.settings.scores_topic, self._send, json.dumps
        flags = scored.scores.is_anomaly
        rows = zip(messages, ids, scored.scores.scores, flags, strict=True)
        for message, id_, score, flag in rows:
            if isinstance(id_, float) and not math.isfinite(id_):
                id_ = None
            value = (
                f'{{"id": {dumps(id_, default=str)}, "score": {dumps(_finite(score))}, '
                f'"anomaly": {"true" if flag else "false"}, "topic": {dumps(message.topic)}, '
                f'"partition": {message.partition}, "offset": {message.offset}}}'
            )
            send(topic, value.encode(), key=message.key)

    def _row_anomaly(
        self,
        message: Message,
        record: dict[str, Any],
        score: float,
        threshold: float | None,
        explanation: str,
        method: str,
    ) -> None:
        from datacanary.alerts import Alert

        # the alert key names the columns ("amount,quantity"), not their magnitudes, so a
        # burst of rows that stand out for the same reason pages once per cooldown
        alert = Alert.from_row(
            self._dataset,
            record,
            score,
            explanation,
            threshold=threshold,
            detector=method,
            observed_at=_utc(message.timestamp) if message.timestamp else None,
        )
        payload = {
            "schema": ANOMALY_SCHEMA,
            "kind": "row",
            "dataset": self._dataset,
            "record": record,
            "score": _finite(score),
            "threshold": threshold,
            "explanation": explanation,
            "reason": alert.sentence,
            "detector": method,
            "source": {
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "timestamp": message.timestamp,
            },
        }
        id_field = self.settings.id_field
        key = message.key
        if id_field is not None and record.get(id_field) is not None:
            key = str(record[id_field]).encode()
        self._send(
            self.settings.anomalies_topic, json.dumps(payload, default=str).encode(), key=key
        )
        self.stats.row_anomalies += 1
        self._alerts.append((uuid.uuid4().hex, alert))

    # -- windows ---------------------------------------------------------------------------

    def _judged(self, window: WindowVerdicts) -> None:
        from datacanary.alerts import Alert

        self.stats.windows += 1
        for verdict in window.verdicts:
            if verdict.status is Status.ANOMALY:
                payload = {
                    "schema": ANOMALY_SCHEMA,
                    "kind": "metric",
                    "reason": verdict.message,
                    "window": {
                        "start": window.start.isoformat(),
                        "end": window.end.isoformat(),
                        "events": window.events,
                    },
                    **verdict.to_dict(),
                }
                key = f"{verdict.metric}:{verdict.column or ''}".encode()
                self._send(self.settings.anomalies_topic, json.dumps(payload).encode(), key=key)
                self.stats.metric_anomalies += 1
            if verdict.status in (Status.ANOMALY, Status.PASSED):
                alert = Alert.from_verdict(verdict, dataset=self._dataset)
                self._alerts.append((uuid.uuid4().hex, alert))

    def _send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        self._outputs.append((topic, value, key, headers))

    # -- dead letters ----------------------------------------------------------------------

    def _dead_letter(self, message: Message, error: str) -> None:
        """Send ``message`` unchanged to the dead-letter topic, the error in its headers
        (a tombstone without a key goes as an empty value)."""
        headers = [
            *(message.headers or ()),
            (ERROR_HEADER, error.encode()),
            ("datacanary.topic", message.topic.encode()),
            ("datacanary.partition", str(message.partition).encode()),
            ("datacanary.offset", str(message.offset).encode()),
            ("datacanary.timestamp", str(message.timestamp).encode()),
        ]
        value, key = message.value, message.key
        if value is None and key is None:
            value = b""  # Kafka needs a key or a value; the headers say what happened
        limit = self._limit()
        if limit is not None and message_size(value, key, headers) > limit:
            rescued = self._rescue(self.settings.dead_letter_topic, value, key, headers, _TOO_BIG)
            assert rescued is not None
            value, key, headers = rescued[0], rescued[1], list(rescued[2])
        self._send(self.settings.dead_letter_topic, value, key=key, headers=headers)
        self.stats.dead_letters += 1
