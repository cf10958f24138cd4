"""Sink configuration: pydantic models, one per ``type``, as written in the monitor YAML.

Secrets never live in the file: a Slack webhook URL, a webhook's signing secret, an SMTP
password are named by the environment variable that holds them (``*_env`` fields) and read
when the sink is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from datacanary.alerts._models import Severity
from datacanary.errors import ConfigError

__all__ = [
    "EmailSinkConfig",
    "KafkaSinkConfig",
    "LogSinkConfig",
    "SinkConfig",
    "SlackSinkConfig",
    "StdoutSinkConfig",
    "WebhookSinkConfig",
    "parse_duration",
    "read_env",
    "sink_config",
    "sink_configs_from",
]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """A duration from seconds, a :class:`~datetime.timedelta` or text like ``90s``,
    ``15m``, ``1h30m``, ``2d``.

    >>> parse_duration("1h30m"), parse_duration(90)
    (datetime.timedelta(seconds=5400), datetime.timedelta(seconds=90))

    Raises
    ------
    ConfigError
        If ``value`` is not a non-negative duration.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if "".join(n + u for n, u in parts) != text:
            raise ConfigError(
                f"a duration must be a number of seconds or text like '90s', '15m', '1h30m', "
                f"'2d'; got {value!r}"
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ConfigError(
            f"a duration must be a number of seconds or text like '15m'; got {value!r}"
        )
    if seconds < 0:
        raise ConfigError(f"a duration must not be negative; got {value!r}")
    return timedelta(seconds=seconds)


def read_env(variable: str, *, sink: str, what: str) -> str:
    """The value of environment variable ``variable``, which holds ``what`` for ``sink``.

    Raises
    ------
    ConfigError
        If the variable is unset or empty; the message names the variable and the sink.
    """
    value = os.environ.get(variable, "")
    if not value.strip():
        raise ConfigError(
            f"alert sink {sink!r} needs environment variable {variable} ({what}) but it is "
            f"not set; export {variable}=... before running, or remove the sink"
        )
    return value.strip()


def _env_name(value: str | None) -> str | None:
    if value is None or _ENV_NAME.match(value):
        return value
    # never echo the value: it may be the secret itself, pasted in the wrong place
    raise ValueError(
        "must be the NAME of an environment variable (letters, digits, _), "
        "e.g. SLACK_WEBHOOK_URL; put the secret itself in the environment, not in the file"
    )


class _SinkBase(BaseModel):
    """Settings every sink shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        None, min_length=1, description="How reports and logs name the sink; default: the type."
    )
    min_severity: Severity = Field(
        Severity.INFO, description="Alerts below this severity are not sent to this sink."
    )
    cooldown: timedelta | None = Field(
        None,
        description="After paging about a key, stay quiet about it this long (e.g. '6h'); "
        "default: the dispatcher's.",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds one attempt may take.")
    retries: int = Field(3, ge=0, le=20, description="Attempts after the first one fails.")

    @field_validator("min_severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, (str, Severity)) else value

    @field_validator("cooldown", mode="before")
    @classmethod
    def _cooldown(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @property
    def sink_name(self) -> str:
        """``name`` when set, else the sink type."""
        return self.name or str(getattr(self, "type", "sink"))


class StdoutSinkConfig(_SinkBase):
    """Print each alert as one line: ``{type: stdout, format: text}``."""

    type: Literal["stdout"] = "stdout"
    format: Literal["text", "json"] = "text"
    stream: Literal["stdout", "stderr"] = "stdout"


class LogSinkConfig(_SinkBase):
    """Log each alert through :mod:`logging` (critical → ERROR, warning → WARNING, info → INFO)."""

    type: Literal["log"] = "log"
    logger: str = "datacanary.alerts"


class SlackSinkConfig(_SinkBase):
    """A Slack incoming webhook; its URL is a secret, so only by environment variable."""

    type: Literal["slack"] = "slack"
    webhook_url_env: str = Field(
        ..., description="Environment variable holding the incoming-webhook URL."
    )

    @field_validator("webhook_url_env")
    @classmethod
    def _env(cls, value: str) -> str | None:
        return _env_name(value)


class WebhookSinkConfig(_SinkBase):
    """A JSON POST of :meth:`Alert.to_dict`, signed with HMAC-SHA256 when a secret is set."""

    type: Literal["webhook"] = "webhook"
    url: str | None = Field(None, description="Endpoint URL (no secret in it).")
    url_env: str | None = Field(None, description="Environment variable holding the URL.")
    secret_env: str | None = Field(
        None, description="Environment variable holding the HMAC signing secret."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra, non-secret headers.")

    @field_validator("url_env", "secret_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("url must start with http:// or https:// and name a host")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSinkConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url (in the file) or url_env (a variable name)")
        return self


class EmailSinkConfig(_SinkBase):
    """E-mail over SMTP; STARTTLS (or implicit TLS) and login when configured."""

    type: Literal["email"] = "email"
    host: str = Field(..., min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(False, description="Upgrade the connection with STARTTLS.")
    ssl: bool = Field(False, description="Implicit TLS from the start (usually port 465).")
    ca_file: Path | None = Field(
        None, description="CA bundle to trust for the server's certificate (e.g. an internal CA)."
    )
    username_env: str | None = None
    password_env: str | None = None
    sender: str = Field(..., min_length=3)
    recipients: list[str] = Field(..., min_length=1)
    subject_prefix: str = "[datacanary]"

    @field_validator("username_env", "password_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> EmailSinkConfig:
        if self.starttls and self.ssl:
            raise ValueError("choose one of starttls (port 587) or ssl (port 465), not both")
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("give both username_env and password_env, or neither")
        if self.username_env and not (self.starttls or self.ssl):
            raise ValueError(
                "a login needs an encrypted connection: set starttls: true (port 587) or "
                "ssl: true (port 465)"
            )
        return self


class KafkaSinkConfig(_SinkBase):
    """Produce each alert to a Kafka topic: JSON value, key = the alert key."""

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str | list[str] = Field(..., description="host:port[,host:port…]")
    topic: str = Field(..., min_length=1)
    client_id: str = "datacanary-alerts"

    @property
    def servers(self) -> str:
        """The bootstrap servers as one comma-separated string."""
        items = (
            self.bootstrap_servers
            if isinstance(self.bootstrap_servers, list)
            else self.bootstrap_servers.split(",")
        )
        return ",".join(s.strip() for s in items if s.strip())


SinkConfig = Annotated[
    StdoutSinkConfig
    | LogSinkConfig
    | SlackSinkConfig
    | WebhookSinkConfig
    | EmailSinkConfig
    | KafkaSinkConfig,
    Field(discriminator="type"),
]
"""Any sink's configuration; the ``type`` field picks the model."""

_ADAPTER: TypeAdapter[SinkConfig] = TypeAdapter(SinkConfig)
_TYPES = ("stdout", "log", "slack", "webhook", "email", "kafka")


def _explain(error: ValidationError, where: str) -> ConfigError:
    """One line naming each bad field, without echoing values (they may be secrets)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in item["loc"][1:] if p != "function-after") or "sink"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "not a setting of this sink"
            if loc.endswith(("url", "password", "secret", "token")):
                message += f" (secrets come from the environment: use {loc}_env)"
        message = message[:1].lower() + message[1:]
        problems.append(f"{loc}: {message}" if loc != "sink" else message)
    return ConfigError(f"{where}: " + "; ".join(problems))


def sink_config(raw: SinkConfig | Mapping[str, Any], *, where: str = "alert sink") -> SinkConfig:
    """Validate one sink definition (a mapping from the YAML, or a config already built).

    Raises
    ------
    ConfigError
        Naming the sink and every bad field, e.g. "alert sink #1 (slack): webhook_url: not a
        setting of this sink (secrets come from the environment: use webhook_url_env)".

    Examples
    --------
    >>> sink_config({"type": "slack", "webhook_url_env": "SLACK_WEBHOOK_URL"}).sink_name
    'slack'
    """
    if isinstance(raw, _SinkBase):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping with a 'type'; got {type(raw).__name__}")
    kind = raw.get("type")
    if kind not in _TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(_TYPES)}; got {kind!r}")
    try:
        return _ADAPTER.validate_python(dict(raw))
    except ValidationError as error:
        raise _explain(error, f"{where} ({kind})") from None


def sink_configs_from(raw: Iterable[SinkConfig | Mapping[str, Any]] | None) -> list[SinkConfig]:
    """Validate the ``alerts:`` list of a monitor file; sink names must be distinct.

    Raises
    ------
    ConfigError
        If an entry is invalid, or two sinks share a name (give each a ``name:``).

    Examples
    --------
    >>> configs = sink_configs_from([
    ...     {"type": "stdout"},
    ...     {"type": "webhook", "url": "https://ops.example.com/hook", "cooldown": "6h"},
    ... ])
    >>> [c.sink_name for c in configs], configs[1].cooldown
    (['stdout', 'webhook'], datetime.timedelta(seconds=21600))
    """
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raise ConfigError("alerts must be a list of sinks (each a mapping with a 'type')")
    configs = [sink_config(item, where=f"alert sink #{i}") for i, item in enumerate(raw, 1)]
    seen: set[str] = set()
    for config in configs:
        if config.sink_name in seen:
            raise ConfigError(
                f"two alert sinks are named {config.sink_name!r}; give each a distinct 'name:'"
            )
        seen.add(config.sink_name)
    return configs
