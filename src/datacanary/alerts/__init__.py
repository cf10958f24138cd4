"""Alert sinks: tell people when a metric or a row looks wrong, once, and when it recovers.

Build :class:`Alert` objects from verdicts (:meth:`Alert.from_verdict`) or anomalous rows
(:meth:`Alert.from_row`), make sinks from configuration (:func:`build_sink`) and hand both
to an :class:`AlertDispatcher`, which

* routes each alert to the sinks whose ``min_severity`` it reaches;
* de-duplicates per (sink, key) with a cooldown, and sends one recovery when a paged key
  passes again — state kept in a SQLite file between runs (``state_path``) or in
  PostgreSQL (:class:`PostgresAlertState`), claimed before delivery so that simultaneous
  runners page once;
* delivers to all sinks concurrently, retrying with exponential backoff and jitter, within
  one time limit; a sink that is down is reported in the :class:`DeliveryReport` and never
  stops a check, a stream or the other sinks.

Sinks: ``stdout``, ``log``, ``slack`` (incoming webhook, Block Kit), ``webhook`` (JSON POST,
optional HMAC-SHA256 signature), ``email`` (SMTP, STARTTLS and login), ``kafka`` (the
``kafka`` extra). Secrets come from environment variables named in the configuration.

>>> import io
>>> out = io.StringIO()
>>> dispatcher = AlertDispatcher([build_sink({"type": "stdout"})])
>>> dispatcher.sinks[0].stream = out
>>> alert = Alert.from_row("orders", {"id": 7, "amount": 1e7}, 0.91, "amount")
>>> dispatcher.dispatch([alert]).delivered
[Delivered(sink='stdout', key='orders:row:amount', kind='anomaly', attempts=1)]
>>> print(out.getvalue())
[WARNING · orders · row] orders row {id=7, amount=10,000,000} scored 0.91; stands out on ...
"""

from __future__ import annotations

from datacanary.alerts._config import (
    EmailSinkConfig,
    KafkaSinkConfig,
    LogSinkConfig,
    SinkConfig,
    SlackSinkConfig,
    StdoutSinkConfig,
    WebhookSinkConfig,
    parse_duration,
    sink_config,
    sink_configs_from,
)
from datacanary.alerts._dedup import (
    AlertState,
    ClaimingAlertState,
    KeyState,
    MemoryAlertState,
    PostgresAlertState,
    SqliteAlertState,
)
from datacanary.alerts._dispatch import (
    AlertDispatcher,
    Delivered,
    DeliveryReport,
    Failed,
    Suppressed,
)
from datacanary.alerts._models import SCHEMA, Alert, Severity
from datacanary.alerts._sinks import (
    AlertSink,
    EmailSink,
    KafkaSink,
    LogSink,
    SlackSink,
    StdoutSink,
    WebhookSink,
    build_sink,
)
from datacanary.alerts._sinks.webhook import SIGNATURE_HEADER, signature

__all__ = [
    "SCHEMA",
    "SIGNATURE_HEADER",
    "Alert",
    "AlertDispatcher",
    "AlertSink",
    "AlertState",
    "ClaimingAlertState",
    "Delivered",
    "DeliveryReport",
    "EmailSink",
    "EmailSinkConfig",
    "Failed",
    "KafkaSink",
    "KafkaSinkConfig",
    "KeyState",
    "LogSink",
    "LogSinkConfig",
    "MemoryAlertState",
    "PostgresAlertState",
    "Severity",
    "SinkConfig",
    "SlackSink",
    "SlackSinkConfig",
    "SqliteAlertState",
    "StdoutSink",
    "StdoutSinkConfig",
    "Suppressed",
    "WebhookSink",
    "WebhookSinkConfig",
    "build_sink",
    "parse_duration",
    "signature",
    "sink_config",
    "sink_configs_from",
]
