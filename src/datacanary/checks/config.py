"""Monitor definitions: which datasets to watch, which metrics, judged by which detector.

A minimal monitor file::

    datasets:
      - name: orders
        source: data/orders.parquet
        metrics: [row_count, null_fraction]

A fuller one::

    store: .datacanary/history.duckdb     # or postgresql://... (secrets: use --store or env)
    defaults:
      detector: {name: mad, sensitivity: 4, min_history: 7}
    datasets:
      - name: orders
        source: data/orders.parquet
        metrics:
          - row_count
          - null_fraction: {columns: [email, amount]}
          - mean: {columns: [amount], detector: {name: zscore, sensitivity: 3}}
        custom:
          late_orders: "count(*) filter (where shipped_at > promised_at)"
    alerts:
      - {type: slack, webhook_url_env: SLACK_WEBHOOK_URL}

Every error names the file, the line and the key (:func:`load_monitor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from datacanary.errors import ConfigError

__all__ = ["DatasetMonitor", "DetectorSpec", "MetricSpec", "MonitorConfig", "load_monitor"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorSpec(_Strict):
    """A series detector by name, with its parameters (see ``datacanary.series``)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(default="mad", description="series detector: mad, zscore, seasonal, ...")

    @model_validator(mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MetricSpec(_Strict):
    """One metric of a dataset, optionally restricted to columns and with its own detector."""

    name: str
    columns: list[str] | None = Field(
        default=None, description="columns to compute it on; all if omitted"
    )
    detector: DetectorSpec | None = None


class DatasetMonitor(_Strict):
    name: str = Field(min_length=1)
    source: str = Field(min_length=1, description="path, glob or URL of the table")
    metrics: list[MetricSpec] = Field(default_factory=lambda: [MetricSpec(name="row_count")])
    custom: dict[str, str] = Field(default_factory=dict, description="name: SQL aggregate")
    detector: DetectorSpec | None = None

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_shorthand(cls, value: Any) -> Any:
        """Accept ``row_count`` and ``{null_fraction: {columns: [...]}}`` as well as full specs."""
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                out.append({"name": item})
            elif isinstance(item, Mapping) and len(item) == 1 and "name" not in item:
                ((name, options),) = item.items()
                out.append({"name": name, **(options or {})})
            else:
                out.append(item)
        return out


class Defaults(_Strict):
    detector: DetectorSpec = Field(default_factory=lambda: DetectorSpec())


class MonitorConfig(_Strict):
    """A whole monitor file."""

    datasets: list[DatasetMonitor] = Field(min_length=1)
    store: str | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    alerts: list[dict[str, Any]] = Field(
        default_factory=list, description="alert sinks, validated by datacanary.alerts"
    )
    alert_state: str | None = Field(
        None, description="sent-alert memory for de-duplication; default: beside the store"
    )

    @field_validator("datasets")
    @classmethod
    def _unique_names(cls, datasets: list[DatasetMonitor]) -> list[DatasetMonitor]:
        names = [d.name for d in datasets]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"dataset names must be unique; repeated: {', '.join(duplicated)}")
        return datasets

    def detector_for(self, dataset: DatasetMonitor, metric: MetricSpec | None) -> DetectorSpec:
        """The most specific detector: the metric's, then the dataset's, then the default."""
        if metric is not None and metric.detector is not None:
            return metric.detector
        return dataset.detector or self.defaults.detector


def load_monitor(path: str | Path) -> MonitorConfig:
    """Read and validate a monitor YAML file.

    Raises :class:`ConfigError` naming the file, line and key of the first problem.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"monitor file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read monitor file {path}: {exc}") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a monitor file is a mapping with a 'datasets:' list")
    try:
        config = MonitorConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: {key}: {error['msg']}") from None
    return _relative_to(config, path.resolve().parent)


def _relative_to(config: MonitorConfig, base: Path) -> MonitorConfig:
    """Resolve relative file sources and store paths against the monitor file's folder.

    So ``datacanary check /etc/monitors/orders.yml`` works from any working directory (cron).
    URLs (``scheme://``) and absolute paths are left alone.
    """

    def resolve(location: str) -> str:
        if "://" in location or Path(location).is_absolute():
            return location
        return str(base / location)

    datasets = [d.model_copy(update={"source": resolve(d.source)}) for d in config.datasets]
    update: dict[str, Any] = {"datasets": datasets}
    if config.store is not None:
        update["store"] = resolve(config.store)
    if config.alert_state is not None:
        update["alert_state"] = resolve(config.alert_state)
    return config.model_copy(update=update)


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest parent)."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                # a missing or unknown key: point at the mapping, or at the unknown key itself
                key = next((k for k, _ in node.value if k.value == part), None)
                return (key.start_mark.line + 1) if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line
