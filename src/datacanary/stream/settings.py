"""Every option of ``datacanary stream``, validated once: :class:`StreamSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from datacanary.errors import ConfigError

__all__ = ["StreamSettings"]


class StreamSettings(BaseModel):
    """The stream processor's settings: where to read, where to write, how to judge.

    One field per ``datacanary stream`` option. Build it with :meth:`build` to get a
    :class:`~datacanary.errors.ConfigError` (one line naming each bad option) instead of a
    pydantic error.

    Examples
    --------
    >>> s = StreamSettings.build(bootstrap_servers="127.0.0.1:9092", topics="orders,refunds",
    ...                          group="canary", anomalies_topic="orders.anomalies",
    ...                          dead_letter_topic="orders.dlq", train_on=500)
    >>> s.topics, s.dataset_name
    (['orders', 'refunds'], 'orders,refunds')
    >>> StreamSettings.build(bootstrap_servers="b:9092", topics=["in"], group="g",
    ...                      anomalies_topic="in", dead_letter_topic="dlq")
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: --anomalies-topic 'in' is also an input topic; ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(..., min_length=1, description="Kafka HOST:PORT[,HOST:PORT]")
    topics: list[str] = Field(..., min_length=1, description="Topics to consume (JSON objects).")
    group: str = Field(..., min_length=1, description="Consumer group id; offsets are kept there.")
    anomalies_topic: str = Field(
        ..., min_length=1, description="Topic each anomaly (row or window metric) is written to."
    )
    dead_letter_topic: str = Field(
        ..., min_length=1, description="Topic malformed messages go to, unchanged, with the error."
    )
    scores_topic: str | None = Field(
        None,
        description="Also write every scored event's score here (id, score, flag, source "
        "offset): enriches the stream, and proves each event was processed.",
    )
    model: Path | None = Field(
        None,
        description="A row model saved by --save-model; else train on the stream.",
    )
    train_on: int = Field(
        3000,
        ge=10,
        description="Train the row detector on the first N valid events (3,000: the "
        "threshold settles; on the stream benchmark 1,000 flagged 0.4-2.6 % of clean rows "
        "by seed, 3,000 0.3-0.4 %, docs/stream.md).",
    )
    save_model: Path | None = Field(
        None, description="Write the model trained on the stream to this Parquet file."
    )
    refit_every: int | None = Field(
        None, ge=1, description="Refit the row detector every N events on the last train_on."
    )
    method: str = Field(
        "mad",
        description="Row detector method (TableDetector); 'mad' scores a million events in "
        "seconds, 'auto' (the ensemble) is more accurate and much slower.",
    )
    contamination: float | Literal["auto"] = Field(
        "auto", description="Expected share of anomalous rows, or 'auto'."
    )
    columns: list[str] | None = Field(None, description="Fields the row detector uses.")
    exclude: list[str] = Field(default_factory=list, description="Fields the detector ignores.")
    id_field: str | None = Field(
        None,
        description="A field that identifies the event: the output key; never a feature or "
        "a window metric.",
    )
    window_seconds: float = Field(
        60.0, gt=0, description="Length of a window metric's tumbling window (event time)."
    )
    series_detector: str = Field(
        "auto", description="Series detector for window metrics (default: auto)."
    )
    series_params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters of the series detector."
    )
    config: Path | None = Field(None, description="Monitor YAML whose alerts: list is used.")
    alerts: list[dict[str, Any]] = Field(
        default_factory=list, description="Alert sink definitions, as in a monitor's alerts:."
    )
    alert_cooldown: float = Field(
        3600.0, ge=0, description="Seconds to stay quiet about an alert key after paging."
    )
    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="Most events per micro-batch.")
    poll_timeout: float = Field(
        0.5, gt=0, le=60, description="Seconds to wait for a batch to fill before scoring it."
    )
    max_messages: int | None = Field(None, ge=1, description="Stop after this many messages.")
    max_seconds: float | None = Field(None, gt=0, description="Stop after this many seconds.")
    start_from: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a new consumer group starts reading."
    )
    session_timeout: float = Field(
        10.0,
        ge=1,
        le=300,
        description="Seconds without a heartbeat after which the group gives a consumer's "
        "partitions to another (a crashed processor's events are read again after this).",
    )
    state_path: Path | None = Field(
        Path(".datacanary") / "stream-state.sqlite",
        description="SQLite file for the state that must survive a restart: open windows, "
        "window-metric histories, the row model, the alert outbox and de-duplication; "
        "'none': keep it in memory (a restart then re-pages and loses partial windows).",
    )
    max_message_bytes: int = Field(
        1_048_576,
        ge=4096,
        description="The largest output message (the producer's max_request_size); a "
        "dead letter over it, or over the topic's max.message.bytes, is cut to its head "
        "and digest.",
    )
    client_id: str = Field("datacanary-stream", min_length=1)
    live: bool | None = Field(
        None, description="Rich live counters; None: when the console is a terminal."
    )

    @field_validator("topics", "columns", "exclude", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("state_path", mode="before")
    @classmethod
    def _no_state(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "off", "memory"):
            return None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StreamSettings:
        for option, topic in (
            ("anomalies-topic", self.anomalies_topic),
            ("dead-letter-topic", self.dead_letter_topic),
            ("scores-topic", self.scores_topic),
        ):
            if topic is not None and topic in self.topics:
                raise ValueError(
                    f"--{option} {topic!r} is also an input topic; choose another topic so "
                    "outputs are not read back as input"
                )
        if self.model is not None and self.save_model is not None:
            raise ValueError("give --model (load a model) or --save-model (train one), not both")
        return self

    @property
    def dataset_name(self) -> str:
        """How alerts and outputs name the data: the input topics, comma-separated."""
        return ",".join(self.topics)

    @classmethod
    def build(cls, **options: Any) -> StreamSettings:
        """Validate ``options``; raise :class:`ConfigError` naming each bad one.

        Options that are None are left at their defaults, so a CLI can pass every option.
        """
        given = {k: v for k, v in options.items() if v is not None}
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            problems = []
            for item in error.errors(include_url=False):
                where = "--" + "-".join(str(p) for p in item["loc"]).replace("_", "-")
                message = str(item["msg"]).removeprefix("Value error, ")
                if item["type"] == "extra_forbidden":
                    message = "is not an option of the stream processor"
                problems.append(message if where == "--" else f"{where} {message}")
            raise ConfigError("; ".join(problems)) from None
