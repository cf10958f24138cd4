"""The sinks, one module each, and :func:`build_sink` to make one from its configuration."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from datacanary.alerts._config import (
    EmailSinkConfig,
    KafkaSinkConfig,
    LogSinkConfig,
    SinkConfig,
    SlackSinkConfig,
    StdoutSinkConfig,
    WebhookSinkConfig,
    read_env,
    sink_config,
)
from datacanary.alerts._sinks.base import AlertSink
from datacanary.alerts._sinks.kafka import KafkaSink
from datacanary.alerts._sinks.mail import EmailSink
from datacanary.alerts._sinks.slack import SlackSink
from datacanary.alerts._sinks.stdout import LogSink, StdoutSink
from datacanary.alerts._sinks.webhook import WebhookSink
from datacanary.errors import MissingDependencyError

__all__ = [
    "AlertSink",
    "EmailSink",
    "KafkaSink",
    "LogSink",
    "SlackSink",
    "StdoutSink",
    "WebhookSink",
    "build_sink",
]


def build_sink(config: SinkConfig | Mapping[str, Any]) -> AlertSink:
    """The sink a configuration describes, with its secrets read from the environment.

    Parameters
    ----------
    config
        A sink configuration, or the mapping from the monitor YAML
        (``{"type": "slack", "webhook_url_env": "SLACK_WEBHOOK_URL"}``).

    Raises
    ------
    ConfigError
        If the configuration is invalid or names an environment variable that is not set.
    MissingDependencyError
        For a Kafka sink without the ``kafka`` extra.

    Examples
    --------
    >>> sink = build_sink({"type": "stdout", "min_severity": "warning", "retries": 0})
    >>> type(sink).__name__, sink.name, sink.min_severity.value
    ('StdoutSink', 'stdout', 'warning')
    """
    cfg = sink_config(config)
    common: dict[str, Any] = {
        "name": cfg.sink_name,
        "min_severity": cfg.min_severity,
        "cooldown": cfg.cooldown,
        "timeout": cfg.timeout,
        "retries": cfg.retries,
    }
    name = cfg.sink_name
    if isinstance(cfg, StdoutSinkConfig):
        return StdoutSink(format=cfg.format, to_stderr=cfg.stream == "stderr", **common)
    if isinstance(cfg, LogSinkConfig):
        return LogSink(logger=cfg.logger, **common)
    if isinstance(cfg, SlackSinkConfig):
        url = read_env(cfg.webhook_url_env, sink=name, what="the Slack incoming-webhook URL")
        return SlackSink(webhook_url=url, **common)
    if isinstance(cfg, WebhookSinkConfig):
        if cfg.url_env:
            url = read_env(cfg.url_env, sink=name, what="the webhook URL")
        else:
            url = str(cfg.url)
        secret = (
            read_env(cfg.secret_env, sink=name, what="the HMAC signing secret")
            if cfg.secret_env
            else None
        )
        return WebhookSink(
            url=url,
            secret=secret,
            headers=dict(cfg.headers),
            url_is_secret=cfg.url_env is not None,
            **common,
        )
    if isinstance(cfg, EmailSinkConfig):
        username = password = None
        if cfg.username_env and cfg.password_env:
            username = read_env(cfg.username_env, sink=name, what="the SMTP username")
            password = read_env(cfg.password_env, sink=name, what="the SMTP password")
        return EmailSink(
            host=cfg.host,
            port=cfg.port,
            sender=cfg.sender,
            recipients=list(cfg.recipients),
            starttls=cfg.starttls,
            ssl=cfg.ssl,
            ca_file=cfg.ca_file,
            username=username,
            password=password,
            subject_prefix=cfg.subject_prefix,
            **common,
        )
    if isinstance(cfg, KafkaSinkConfig):
        if importlib.util.find_spec("aiokafka") is None:  # pragma: no cover
            raise MissingDependencyError.for_extra("kafka", "Kafka alert sinks")
        return KafkaSink(
            bootstrap_servers=cfg.servers, topic=cfg.topic, client_id=cfg.client_id, **common
        )
    raise AssertionError(f"unhandled sink config {type(cfg).__name__}")  # pragma: no cover
