"""The stream processor: micro-batches in; anomalies, dead letters and alerts out.

Per batch: decode the JSON objects (the rest go to the dead-letter topic), score the rows
with the row detector, add the events to the window metrics and judge the windows that
closed, produce every anomaly to the anomalies topic, wait until the broker acknowledges
all of it, and only then commit the batch's offsets (at-least-once). Alerts go to the sinks
from a background task, so a sink that hangs never holds the stream up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from datacanary.results import Status, format_number
from datacanary.stream.decode import decode_frame
from datacanary.stream.rows import RowScorer, Scored, flagged_positions
from datacanary.stream.source import Message, StreamOutput, StreamSource
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

    def __init__(self, dispatcher: AlertDispatcher, stats: StreamStats) -> None:
        self.dispatcher = dispatcher
        self.stats = stats
        self._queue: list[Alert] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._work())

    def put(self, alerts: Sequence[Alert]) -> None:
        self._queue.extend(alerts)
        excess = len(self._queue) - _MAX_QUEUED_ALERTS
        if excess > 0:
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
                self._account(await self.dispatcher.adispatch(batch))
            elif self._closing:
                return

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
    ) -> None:
        self.settings = settings
        self.source = source
        self.output = output
        self.scorer = scorer
        self.windows = windows
        self.stats = StreamStats()
        self._pump = None if dispatcher is None else _AlertPump(dispatcher, self.stats)
        self._alerts: list[Alert] = []
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
        await self.output.start()
        try:
            await self.source.start()
        except BaseException:
            await self.output.stop()
            raise
        if self._pump is not None:
            self._pump.start()
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
        commit = await asyncio.to_thread(self._compute, messages, self.source.assignment())
        outputs, self._outputs = self._outputs, []
        send = self.output.send
        for topic, value, key, headers in outputs:
            await send(topic, value, key=key, headers=headers)
        if self._alerts and self._pump is not None:
            self._pump.put(self._alerts)
        self._alerts = []
        acknowledged = self.output.flush()  # this batch's outputs, not the next one's
        await self.settle()  # the previous batch commits first: offsets move forward only
        self._settling = asyncio.ensure_future(self._commit_when(acknowledged, commit))

    async def settle(self) -> None:
        """Wait until the last batch's outputs are acknowledged and its offsets committed.

        Batch *k* is committed while batch *k + 1* is being computed, so the wait for the
        broker's acknowledgements overlaps the work; still nothing is committed before its
        outputs are acknowledged. Raises what producing or committing raised.
        """
        if self._settling is not None:
            settling, self._settling = self._settling, None
            await settling

    async def _commit_when(self, acknowledged: Awaitable[int], commit: Sequence[Message]) -> None:
        self.stats.produced += await acknowledged
        if commit:
            if await self.source.commit(_frontier(commit)):
                self.stats.commits += 1
            else:
                self.stats.commit_failures += 1

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
            kept = self._score(frame, good) if good else []
            if len(kept) < len(good):
                frame, good = frame.iloc[kept], [good[i] for i in kept]
            self._measure(messages, frame, good, assigned)
            return messages
        # training: hold everything (window metrics too) until the detector is fitted
        if good:
            self._hold(frame, good, messages)
        else:
            self._held_messages.extend(messages)
        trained = self._train_if_ready()
        if trained is None:
            return []
        held, frame, good = trained
        self._measure(held, frame, good, assigned)
        return held

    def _measure(
        self,
        messages: Sequence[Message],
        frame: pd.DataFrame,
        measured: Sequence[Message],
        assigned: Collection[tuple[str, int]],
    ) -> None:
        """Add the events to the window metrics (every message counts as an event; the
        fields of the ``measured`` rows, in ``frame``, are measured); judge closed windows."""
        stamps, newest = _event_times(messages)
        fields = stamps if len(measured) == len(messages) else _event_times(measured)[0]
        closed = self.windows.add(frame, fields, newest=newest, assigned=assigned, counted=stamps)
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

    def _train_if_ready(self) -> tuple[list[Message], pd.DataFrame, list[Message]] | None:
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
        held, good = self._held_messages, self._held_good
        self._held_messages, self._held_frames, self._held_good = [], [], []
        kept = self._score(frame, good)
        if len(kept) < len(good):
            frame, good = frame.iloc[kept], [good[i] for i in kept]
        return held, frame, good

    def _detector_params(self) -> dict[str, Any]:
        return {
            "method": self.settings.method,
            "contamination": self.settings.contamination,
            "random_state": 0,
        }

    def _score(self, frame: pd.DataFrame, good: list[Message]) -> list[int]:
        """Score ``frame`` (row ``i`` came from message ``good[i]``); produce anomalies and
        dead letters; return the positions of the rows that were scored."""
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
        if len(positions):
            assert scored.scores is not None
            explanations = scored.scores.explanations
            where = {p: i for i, p in enumerate(scored.positions)}
            threshold = _finite(scored.scores.threshold)
            method = scored.scores.method
            for position, score in zip(positions.tolist(), scores.tolist(), strict=True):
                row = kept[position]
                explanation = str(explanations[where[position]] or "")
                record = json.loads(good[row].value or b"")  # the original, not the cast row
                self._row_anomaly(good[row], record, score, threshold, explanation, method)
        if scored.errors:
            return [kept[p] for p in scored.positions]
        return kept

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
        self._alerts.append(alert)

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
                self._alerts.append(Alert.from_verdict(verdict, dataset=self._dataset))

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
        value = message.value
        if value is None and message.key is None:
            value = b""  # Kafka needs a key or a value; the headers say what happened
        self._send(self.settings.dead_letter_topic, value, key=message.key, headers=headers)
        self.stats.dead_letters += 1
