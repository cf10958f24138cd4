"""A Kafka topic: the alert's JSON as the value, the alert key as the message key."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from datacanary.alerts._models import Alert
from datacanary.alerts._sinks.base import AlertSink
from datacanary.alerts._sinks.http import json_body
from datacanary.errors import MissingDependencyError

__all__ = ["KafkaSink"]


@dataclass(kw_only=True, eq=False)
class KafkaSink(AlertSink):
    """Produce alerts to ``topic`` with aiokafka (the ``kafka`` extra).

    The producer starts on the first :meth:`send` and stops in :meth:`aclose`; a message
    is delivered once the broker acknowledges it (``acks="all"``).
    """

    name: str = "kafka"
    bootstrap_servers: str
    topic: str
    client_id: str = "datacanary-alerts"
    _producer: Any = field(default=None, init=False, repr=False)

    async def _start(self) -> Any:
        try:
            from aiokafka import AIOKafkaProducer
            from aiokafka.errors import KafkaConnectionError
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise MissingDependencyError.for_extra("kafka", "Kafka alert sinks") from None
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            request_timeout_ms=max(1000, int(self.timeout * 1000)),
        )
        try:
            await producer.start()
        except BaseException as error:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 1.0)
            if isinstance(error, KafkaConnectionError):
                raise ConnectionError(
                    f"cannot reach the Kafka brokers at {self.bootstrap_servers}"
                ) from None
            raise
        return producer

    async def send(self, alert: Alert) -> None:
        """Produce one message and wait for the broker's acknowledgement."""
        if self._producer is None:
            self._producer = await self._start()
        await self._producer.send_and_wait(
            self.topic, json_body(alert.to_dict()), key=alert.key.encode()
        )

    async def aclose(self) -> None:
        """Flush and stop the producer (bounded by ``timeout``)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self.timeout)
