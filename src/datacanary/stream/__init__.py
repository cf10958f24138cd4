"""The stream processor: Kafka topics in, anomalies, dead letters and alerts out.

Consumes JSON objects from topics in a consumer group, in micro-batches. Per batch it

1. scores the rows with a row detector trained on the first ``train_on`` events of the
   stream (or loaded from a model file; refitted on a sliding window when asked);
2. adds the events to window metrics (events per window, null rate per field, mean of
   numeric fields), judged as each window closes by online :mod:`datacanary.series`
   detectors;
3. produces each anomaly to the anomalies topic (the original record, the score, the
   explanation and the reason) and sends alerts to the configured sinks; a malformed
   message goes to the dead-letter topic, unchanged, with the error in its headers;
4. commits the batch's offsets only once the broker has acknowledged those outputs, so a
   crash never loses an event (at-least-once).

>>> from datacanary.stream import StreamSettings
>>> StreamSettings.build(bootstrap_servers="127.0.0.1:9092", topics="orders", group="canary",
...                      anomalies_topic="orders.anomalies",
...                      dead_letter_topic="orders.dlq").train_on
3000

The source side is an interface (:class:`StreamSource`); see docs/stream.md for adding one.
Needs the ``kafka`` extra (aiokafka) for Kafka.
"""

from __future__ import annotations

from datacanary.stream.broker import find_tansu, local_broker
from datacanary.stream.demo import stream_demo
from datacanary.stream.model import StreamModel, load_model, save_model
from datacanary.stream.processor import ANOMALY_SCHEMA, StreamProcessor, StreamStats
from datacanary.stream.run import arun_stream, build_processor, run_stream
from datacanary.stream.settings import StreamSettings
from datacanary.stream.source import (
    KafkaOutput,
    KafkaSource,
    MemoryOutput,
    MemorySource,
    Message,
    Record,
    StreamOutput,
    StreamSource,
)

__all__ = [
    "ANOMALY_SCHEMA",
    "KafkaOutput",
    "KafkaSource",
    "MemoryOutput",
    "MemorySource",
    "Message",
    "Record",
    "StreamModel",
    "StreamOutput",
    "StreamProcessor",
    "StreamSettings",
    "StreamSource",
    "StreamStats",
    "arun_stream",
    "build_processor",
    "find_tansu",
    "load_model",
    "local_broker",
    "run_stream",
    "save_model",
    "stream_demo",
]
