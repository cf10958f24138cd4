"""Where events come from and where results go: two small interfaces, Kafka behind both.

The processor only talks to a :class:`StreamSource` (poll a batch of messages, commit the
ones whose outputs are acknowledged) and a :class:`StreamOutput` (send, then flush until
acknowledged). Kafka implements both with aiokafka; another source (AWS Kinesis, a file
tail) implements :class:`StreamSource` and leaves the scoring untouched (docs/stream.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from datacanary.errors import DeliveryError, MissingDependencyError
from datacanary.stream.poison import KAFKA_DEFAULT_LIMIT, is_size_error, message_size

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

__all__ = [
    "Assigned",
    "KafkaOutput",
    "KafkaSource",
    "MemoryOutput",
    "MemorySource",
    "Message",
    "Record",
    "StreamOutput",
    "StreamSource",
    "kafka_available",
]

log = logging.getLogger("datacanary.stream")

Partition = tuple[str, int]
Headers = Sequence[tuple[str, bytes]]
Assigned = Callable[
    [list[Partition], dict[Partition, "int | None"]], Awaitable[dict[Partition, int]]
]
"""Called when partitions are assigned, with their committed offsets (None: none yet);
returns the offsets to read from instead (partitions whose saved state is ahead)."""
Revoked = Callable[[list[Partition]], Awaitable[None]]
"""Called before partitions are taken away (a rebalance): finish and commit what is held."""
Rescue = Callable[[str, "bytes | None", "bytes | None", Headers, BaseException], Any]
"""Called for an output refused as too large: returns ``(value, key, headers)`` to send
instead, or None to give up (then ``on_skipped`` is called with the same arguments)."""


class Message(Protocol):
    """One message as a source delivers it (aiokafka's ``ConsumerRecord`` is one).

    ``partition`` is the unit of ordering (a Kafka partition, a Kinesis shard); ``offset``
    orders messages within it; ``timestamp`` is milliseconds since the epoch (event time).
    """

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class Record:
    """A plain :class:`Message`, for sources other than aiokafka and for tests."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


class StreamSource(Protocol):
    """A stream of messages with checkpoints: what the processor reads from.

    ``commit(messages)`` means "every message delivered so far on the partitions of
    ``messages``, up to and including these, is done": after a crash, reading resumes after
    the last commit, so a message is processed at least once.
    """

    async def start(self) -> None:
        """Connect (and join the consumer group)."""

    async def poll(self, max_records: int, timeout: float) -> list[Message]:
        """Up to ``max_records`` messages, waiting at most ``timeout`` seconds for the first."""

    async def commit(self, messages: Sequence[Message]) -> bool:
        """Checkpoint ``messages``; False when the checkpoint could not be written."""

    def assignment(self) -> Collection[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this consumer reads now."""

    async def stop(self) -> None:
        """Leave the group and disconnect; uncommitted messages are delivered again later."""


class StreamOutput(Protocol):
    """Where anomalies and dead letters are written: send, then flush until acknowledged."""

    async def start(self) -> None:
        """Connect."""

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Queue one message for ``topic``."""

    def flush(self) -> Awaitable[int]:
        """An awaitable that waits until everything sent before this call is acknowledged
        and returns how many messages that was (messages sent later are not waited for).

        Raises :class:`~datacanary.errors.DeliveryError` when a message was not accepted.
        """

    async def stop(self) -> None:
        """Flush and disconnect."""


class MemorySource:
    """A :class:`StreamSource` over messages in memory: one partition per (topic,
    partition) of the messages, committed positions kept in :attr:`committed`.

    For tests, benchmarks without a broker, and as the smallest example of a source. Given
    the ``committed`` offsets of an earlier run, it resumes there, as a consumer group does.

    Examples
    --------
    >>> import asyncio
    >>> source = MemorySource([Record("t", 0, i, 0, b"{}") for i in range(5)])
    >>> batch = asyncio.run(source.poll(3, 0.1))
    >>> asyncio.run(source.commit(batch)), source.committed
    (True, {('t', 0): 3})
    >>> again = MemorySource(source.messages, committed=source.committed)
    >>> asyncio.run(again.start()); [m.offset for m in asyncio.run(again.poll(9, 0.1))]
    [3, 4]
    """

    def __init__(
        self, messages: Sequence[Message], *, committed: Mapping[Partition, int] | None = None
    ) -> None:
        self.messages = list(messages)
        self.position = 0
        self.committed: dict[Partition, int] = dict(committed or {})
        self._partitions = {(m.topic, m.partition) for m in self.messages}
        self._pending: list[Message] = self.messages
        self._assigned: Assigned | None = None

    def on_rebalance(
        self, *, assigned: Assigned | None = None, revoked: Revoked | None = None
    ) -> None:
        """Call ``assigned`` when the source starts (its partitions never move)."""
        self._assigned = assigned

    async def start(self) -> None:
        self.position = 0
        start = dict(self.committed)
        if self._assigned is not None:
            parts = sorted(self._partitions)
            start.update(await self._assigned(parts, {p: self.committed.get(p) for p in parts}))
        self._pending = [
            m for m in self.messages if m.offset >= start.get((m.topic, m.partition), 0)
        ]

    async def poll(self, max_records: int, timeout: float) -> list[Message]:
        batch = self._pending[self.position : self.position + max_records]
        self.position += len(batch)
        return batch

    async def commit(self, messages: Sequence[Message]) -> bool:
        for message in messages:
            key = (message.topic, message.partition)
            self.committed[key] = max(self.committed.get(key, 0), message.offset + 1)
        return True

    def assignment(self) -> Collection[tuple[str, int]]:
        return self._partitions

    async def stop(self) -> None:
        pass


class MemoryOutput:
    """A :class:`StreamOutput` that keeps what is sent, per topic, in :attr:`topics`.

    ``max_message_bytes`` plays a broker's limit: a larger message is refused when flushed
    (rescued or skipped as by :class:`KafkaOutput`).
    """

    def __init__(self, *, max_message_bytes: int | None = None) -> None:
        self.topics: dict[str, list[Record]] = {}
        self.max_message_bytes = max_message_bytes
        self.rescue: Rescue | None = None
        self.on_skipped: Rescue | None = None
        self._unflushed: list[tuple[str, bytes | None, bytes | None, Headers]] = []

    async def start(self) -> None:
        pass

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        self._unflushed.append((topic, value, key, tuple(headers)))

    def flush(self) -> Awaitable[int]:
        pending, self._unflushed = self._unflushed, []
        count = 0
        for topic, value, key, headers in pending:
            limit = self.max_message_bytes
            if limit is not None and message_size(value, key, headers) > limit:
                error = _TooLarge(f"{message_size(value, key, headers)} bytes > {limit}")
                again = (
                    None if self.rescue is None else self.rescue(topic, value, key, headers, error)
                )
                if again is None or message_size(*again) > limit:
                    if self.on_skipped is not None:
                        self.on_skipped(topic, value, key, headers, error)
                    continue
                value, key, headers = again
            messages = self.topics.setdefault(topic, [])
            messages.append(Record(topic, 0, len(messages), 0, value, key, tuple(headers)))
            count += 1
        return _done(count)

    async def stop(self) -> None:
        pass


class _TooLarge(Exception):
    """What :class:`MemoryOutput` raises, as a broker would, for a message over its limit."""

    errno = 10


async def _done(value: int) -> int:
    return value


def kafka_available() -> bool:
    """True when aiokafka (the ``kafka`` extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("aiokafka") is not None


def _require_aiokafka() -> None:
    if not kafka_available():
        raise MissingDependencyError.for_extra("kafka", "The Kafka stream processor and sources")


class KafkaSource:
    """A :class:`StreamSource` over Kafka topics in a consumer group (aiokafka).

    Offsets are committed explicitly (``enable_auto_commit=False``) and only by
    :meth:`commit`, so nothing counts as read until its outputs are acknowledged.

    Parameters
    ----------
    bootstrap_servers
        ``HOST:PORT[,HOST:PORT]``.
    topics
        The topics to read.
    group
        The consumer group id.
    start_from
        ``earliest`` or ``latest``: where a group without committed offsets starts.
    session_timeout
        Seconds without a heartbeat after which the group moves this consumer's partitions.
    client_id
        How the broker's logs name this client.
    options
        Any other ``AIOKafkaConsumer`` argument (security settings, timeouts).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        group: str,
        *,
        start_from: str = "earliest",
        session_timeout: float = 10.0,
        client_id: str = "datacanary-stream",
        **options: Any,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.group = group
        self.start_from = start_from
        self.session_timeout = session_timeout
        self.client_id = client_id
        self.options = options
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned: Assigned | None = None
        self._revoked: Revoked | None = None

    def on_rebalance(
        self, *, assigned: Assigned | None = None, revoked: Revoked | None = None
    ) -> None:
        """Call ``assigned`` whenever the group gives this consumer partitions (and seek
        where it says), ``revoked`` before it takes them away."""
        self._assigned, self._revoked = assigned, revoked

    async def start(self) -> None:
        _require_aiokafka()
        from aiokafka import AIOKafkaConsumer

        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "group_id": self.group,
            "client_id": self.client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": self.start_from,
            "max_partition_fetch_bytes": 8 << 20,
            "fetch_max_bytes": 64 << 20,
            "session_timeout_ms": int(self.session_timeout * 1000),
            "heartbeat_interval_ms": max(100, int(self.session_timeout * 250)),
            **self.options,
        }
        self._consumer = AIOKafkaConsumer(**settings)
        self._consumer.subscribe(self.topics, listener=self._listener())
        try:
            await self._consumer.start()
        except Exception as error:
            await self._consumer.stop()
            self._consumer = None
            raise DeliveryError(
                f"cannot reach the Kafka broker at {self.bootstrap_servers}: {error}; check "
                "--bootstrap-servers and that the broker is running"
            ) from error

    async def poll(self, max_records: int, timeout: float) -> list[Message]:
        consumer = self._started()
        batches = await consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        if len(batches) == 1:
            return list(next(iter(batches.values())))
        return [message for messages in batches.values() for message in messages]

    async def commit(self, messages: Sequence[Message]) -> bool:
        from aiokafka import TopicPartition
        from aiokafka.errors import KafkaError

        consumer = self._started()
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            key = (message.topic, message.partition)
            if message.offset > last.get(key, -1):
                last[key] = message.offset
        assigned = consumer.assignment()
        positions = {
            tp: offset + 1
            for (topic, partition), offset in last.items()
            if (tp := TopicPartition(topic, partition)) in assigned
        }
        if not positions:
            return not messages
        try:
            await consumer.commit(positions)
        except KafkaError as error:  # a rebalance moved the partitions: they are read again
            log.warning(
                "could not commit offsets (%s); the new owner of those partitions reads them "
                "again (at-least-once)",
                error,
            )
            return False
        return True

    def assignment(self) -> Collection[tuple[str, int]]:
        if self._consumer is None:
            return set()
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    async def stop(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()

    def _listener(self) -> Any:
        from aiokafka import ConsumerRebalanceListener

        source = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                if source._revoked is not None and revoked:
                    await source._revoked(sorted((tp.topic, tp.partition) for tp in revoked))

            async def on_partitions_assigned(self, assigned: Any) -> None:
                if source._assigned is None or not assigned or source._consumer is None:
                    return
                consumer = source._consumer
                tps = sorted(assigned)
                committed = {}
                for tp in tps:
                    committed[(tp.topic, tp.partition)] = await consumer.committed(tp)
                seeks = await source._assigned([(t.topic, t.partition) for t in tps], committed)
                for tp in tps:
                    offset = seeks.get((tp.topic, tp.partition))
                    if offset is not None:
                        consumer.seek(tp, offset)

        return Listener()

    def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("KafkaSource.start() must be awaited before polling")
        return self._consumer


class KafkaOutput:
    """A :class:`StreamOutput` producing to Kafka, acknowledged by all in-sync replicas.

    A message the producer or the broker refuses as too large is not a delivery failure:
    ``rescue`` (set by the processor) gives a smaller one to send instead, and a message
    that cannot be made to fit goes to ``on_skipped``; the rest of the batch is unaffected.

    Parameters
    ----------
    bootstrap_servers
        ``HOST:PORT[,HOST:PORT]``.
    client_id
        How the broker's logs name this client.
    options
        Any other ``AIOKafkaProducer`` argument (``max_request_size``: the largest message
        sent, 1 MiB by default).
    """

    def __init__(
        self, bootstrap_servers: str, *, client_id: str = "datacanary-stream", **options: Any
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.options = options
        self.max_message_bytes = int(options.get("max_request_size", KAFKA_DEFAULT_LIMIT))
        self.rescue: Rescue | None = None
        self.on_skipped: Rescue | None = None
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[tuple[str, Any, tuple[bytes | None, bytes | None, Headers]]] = []

    async def start(self) -> None:
        _require_aiokafka()
        from aiokafka import AIOKafkaProducer

        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "acks": "all",
            "linger_ms": 5,
            "max_batch_size": 1 << 20,
            "request_timeout_ms": 30_000,
            **self.options,
        }
        self._producer = AIOKafkaProducer(**settings)
        try:
            await self._producer.start()
        except Exception as error:
            await self._producer.stop()
            self._producer = None
            raise DeliveryError(
                f"cannot reach the Kafka broker at {self.bootstrap_servers}: {error}; check "
                "--bootstrap-servers and that the broker is running"
            ) from error

    async def topic_limits(self, topics: Sequence[str], timeout: float = 3.0) -> None:
        """Lower :attr:`max_message_bytes` to the ``max.message.bytes`` of ``topics`` where
        the broker says one (best effort: a broker that does not answer leaves it)."""
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        try:
            await asyncio.wait_for(admin.start(), timeout)
            resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
            answers = await asyncio.wait_for(admin.describe_configs(resources), timeout)
            for answer in answers:
                for resource in answer.resources:
                    for entry in resource[4]:
                        if entry[0] == "max.message.bytes" and str(entry[1]).isdigit():
                            self.max_message_bytes = min(self.max_message_bytes, int(entry[1]))
        except Exception as error:
            log.debug("could not read the topics' max.message.bytes: %r", error)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaOutput.start() must be awaited before sending")
        try:
            future = await self._producer.send(
                topic, value, key=key, headers=list(headers) if headers else None
            )
        except Exception as error:
            if not is_size_error(error):
                raise
            replacement = self._replacement(topic, value, key, headers, error)
            if replacement is None:
                return
            value, key, headers = replacement
            future = await self._producer.send(
                topic, value, key=key, headers=list(headers) if headers else None
            )
        self._pending.append((topic, future, (value, key, headers)))

    def _replacement(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: Headers,
        error: BaseException,
    ) -> tuple[bytes | None, bytes | None, Headers] | None:
        """The smaller message ``rescue`` offers for one refused as too large, if it is
        small enough; else tell ``on_skipped`` and return None."""
        offered = None if self.rescue is None else self.rescue(topic, value, key, headers, error)
        if offered is not None and message_size(*offered) < min(
            self.max_message_bytes, message_size(value, key, headers)
        ):
            return offered
        if self.on_skipped is not None:
            self.on_skipped(topic, value, key, headers, error)
        return None

    def flush(self) -> Awaitable[int]:
        pending, self._pending = self._pending, []
        return self._acknowledged(pending)

    async def _acknowledged(
        self, pending: list[tuple[str, Any, tuple[bytes | None, bytes | None, Headers]]]
    ) -> int:
        if not pending:
            return 0
        results = await asyncio.gather(*(f for _, f, _ in pending), return_exceptions=True)
        failed = []
        done = 0
        for (topic, _, message), result in zip(pending, results, strict=True):
            if not isinstance(result, BaseException):
                done += 1
            elif is_size_error(result):  # the broker's limit is below the producer's
                done += await self._resend(topic, message, result)
            else:
                failed.append((topic, result))
        if failed:
            topic, error = failed[0]
            raise DeliveryError(
                f"{len(failed)} of {len(pending)} output messages were not acknowledged "
                f"(first: topic {topic!r}: {error!r}); their input was not committed and is "
                "read again after a restart"
            )
        return done

    async def _resend(
        self,
        topic: str,
        message: tuple[bytes | None, bytes | None, Headers],
        error: BaseException,
    ) -> int:
        """Send the rescue of a message the broker refused as too large; 1 if acknowledged."""
        assert self._producer is not None
        value, key, headers = message
        size = message_size(value, key, headers)
        self.max_message_bytes = min(self.max_message_bytes, max(4096, size - 1))
        replacement = self._replacement(topic, value, key, headers, error)
        if replacement is None:
            return 0
        small, small_key, small_headers = replacement
        try:
            future = await self._producer.send(
                topic, small, key=small_key, headers=list(small_headers) or None
            )
            await future
        except Exception as again:
            if not is_size_error(again):
                raise
            if self.on_skipped is not None:
                self.on_skipped(topic, value, key, headers, again)
            return 0
        return 1

    async def stop(self) -> None:
        if self._producer is not None:
            producer = self._producer
            try:
                await self.flush()
            finally:
                self._producer = None
                await producer.stop()
