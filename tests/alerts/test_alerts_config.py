from __future__ import annotations

from datetime import timedelta

import pytest

from datacanary.alerts import (
    EmailSink,
    KafkaSink,
    SlackSink,
    SlackSinkConfig,
    WebhookSink,
    build_sink,
    parse_duration,
    sink_configs_from,
)
from datacanary.errors import ConfigError


def test_alerts_config_parses_every_type_from_yaml_like_mappings() -> None:
    import yaml

    raw = yaml.safe_load(
        """
        - {type: stdout, format: json}
        - {type: log, min_severity: critical}
        - {type: slack, webhook_url_env: SLACK_WEBHOOK_URL, cooldown: 6h}
        - {type: webhook, url: "https://ops.example.com/hook", secret_env: HOOK_SECRET,
           timeout: 2.5, retries: 5}
        - {type: email, host: smtp.example.com, starttls: true, username_env: SMTP_USER,
           password_env: SMTP_PASSWORD, sender: canary@example.com, recipients: ops@example.com}
        - {type: kafka, bootstrap_servers: ["k1:9092", "k2:9092"], topic: alerts, name: bus}
        """
    )
    configs = sink_configs_from(raw)
    assert [c.sink_name for c in configs] == ["stdout", "log", "slack", "webhook", "email", "bus"]
    assert configs[2].cooldown == timedelta(hours=6)
    assert configs[3].timeout == 2.5 and configs[3].retries == 5
    assert configs[4].recipients == ["ops@example.com"]
    assert configs[5].servers == "k1:9092,k2:9092"  # type: ignore[union-attr]


def test_alerts_config_builds_sinks_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/xyz")
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    monkeypatch.setenv("SMTP_USER", "canary")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    slack = build_sink(SlackSinkConfig(webhook_url_env="SLACK_WEBHOOK_URL"))
    assert isinstance(slack, SlackSink)
    assert slack.webhook_url.endswith("/xyz") and "xyz" not in repr(slack)
    hook = build_sink(
        {"type": "webhook", "url": "https://h.example/a", "secret_env": "HOOK_SECRET"}
    )
    assert isinstance(hook, WebhookSink) and hook.secret == "s3cret"
    mail = build_sink(
        {"type": "email", "host": "smtp.example.com", "ssl": True, "port": 465,
         "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD",
         "sender": "c@example.com", "recipients": ["a@example.com", "b@example.com"]}
    )  # fmt: skip
    assert isinstance(mail, EmailSink) and (mail.username, mail.password) == ("canary", "pw")
    kafka = build_sink({"type": "kafka", "bootstrap_servers": "127.0.0.1:9092", "topic": "a"})
    assert isinstance(kafka, KafkaSink)


def test_alerts_config_missing_env_var_names_the_variable_and_the_sink(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPS_SLACK", raising=False)
    with pytest.raises(ConfigError) as info:
        build_sink({"type": "slack", "name": "ops", "webhook_url_env": "OPS_SLACK"})
    assert str(info.value) == (
        "alert sink 'ops' needs environment variable OPS_SLACK (the Slack incoming-webhook URL) "
        "but it is not set; export OPS_SLACK=... before running, or remove the sink"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/secret"},
            "alert sink #1 (slack): webhook_url_env: field required; webhook_url: not a setting "
            "of this sink (secrets come from the environment: use webhook_url_env)",
        ),
        (
            {"type": "slack", "webhook_url_env": "https://hooks.slack.com/services/T/B/secret"},
            "alert sink #1 (slack): webhook_url_env: must be the NAME of an environment variable",
        ),
        ({"type": "pager"}, "alert sink #1: type must be one of stdout, log, slack, webhook"),
        ({"type": "webhook"}, "give exactly one of url (in the file) or url_env"),
        ({"type": "stdout", "min_severity": "loud"}, "severity must be one of info, warning"),
        ({"type": "stdout", "cooldown": "soon"}, "a duration must be a number of seconds"),
        ({"type": "stdout", "retries": -1}, "retries: input should be greater than or equal to 0"),
        (
            {"type": "email", "host": "h", "username_env": "U", "password_env": "P",
             "sender": "a@b.c", "recipients": ["x@y.z"]},
            "a login needs an encrypted connection: set starttls: true",
        ),
    ],
)  # fmt: skip
def test_alerts_config_errors_are_one_line_and_never_echo_secrets(
    raw: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        sink_configs_from([raw])
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and "hooks.slack.com" not in message


def test_alerts_config_sink_names_must_be_distinct() -> None:
    with pytest.raises(ConfigError, match="two alert sinks are named 'webhook'"):
        sink_configs_from([
            {"type": "webhook", "url": "https://a.example/x"},
            {"type": "webhook", "url": "https://b.example/x"},
        ])  # fmt: skip


def test_alerts_config_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("2d 12h") == timedelta(days=2, hours=12)
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)
    with pytest.raises(ConfigError, match="must not be negative"):
        parse_duration(-1)
