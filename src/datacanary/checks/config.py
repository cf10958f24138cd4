"""Monitor definitions: which datasets to watch, which metrics, judged by which detector.

A minimal monitor file::

    datasets:
      - name: orders
        source: data/orders.parquet
        metrics: [row_count, null_fraction]

A fuller one::

    store: .datacanary/history.duckdb     # or postgresql://... (secrets: use --store or env)
    defaults:
      detector: {name: auto, sensitivity: 4}
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

The whole file is validated when it is loaded, before anything runs: the YAML, metric
names, detector names and parameters (each detector is built once), custom metric names,
the ``alerts:`` sinks and the store location. Every error names the file, the line and the
key (:func:`load_monitor`), so a typo in the last dataset never aborts a run half-recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
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
    name: str = Field(
        default="auto", description="series detector: auto (default), mad, zscore, seasonal, ..."
    )

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


class SparkSettings(_Strict):
    conf: dict[str, Any] = Field(default_factory=dict, description="spark.* settings")


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
    spark: SparkSettings | None = Field(
        None, description="for spark:: sources: {conf: {spark.* settings}} of the session"
    )

    @field_validator("datasets")
    @classmethod
    def _unique_names(cls, datasets: list[DatasetMonitor]) -> list[DatasetMonitor]:
        names = [d.name for d in datasets]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"dataset names must be unique; repeated: {', '.join(duplicated)}")
        return datasets

    @model_validator(mode="after")
    def _everything_resolves(self) -> MonitorConfig:
        """Build what the run will build (detectors, sinks...) now, so it fails before a run."""
        problems = list(_problems(self))
        if problems:
            loc, message = problems[0]
            more = len(problems) - 1
            if more:
                message += f" (and {more} more problem{'s' if more > 1 else ''} after it)"
            raise _Problem(loc, message)
        return self

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
        message = str(error["msg"])
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, _Problem):
            loc, message = problem.loc, problem.message
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: {key}: {message}") from None
    if config.spark is not None and config.spark.conf:
        from datacanary.sources import configure_spark

        configure_spark(config.spark.conf)
    return _relative_to(config, path.resolve().parent)


class _Problem(ValueError):
    """A definition that does not resolve, with where it is (a key path)."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        key = ".".join(str(p) for p in loc)
        super().__init__(f"{key}: {message}" if key else message)
        self.loc = loc
        self.message = message


_CUSTOM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _problems(config: MonitorConfig) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every definition a run would reject, as (key path, sentence), in file order."""
    from datacanary.metrics import DEFAULT_METRICS, METRIC_GROUPS, TABLE_METRICS

    if config.store is not None:
        yield from _store_problem(config.store, ("store",))
    yield from _detector_problems(config.defaults.detector, ("defaults", "detector"))
    known = [*DEFAULT_METRICS, *METRIC_GROUPS]
    table_level = {*TABLE_METRICS, "schema"}
    for i, dataset in enumerate(config.datasets):
        here: tuple[Any, ...] = ("datasets", i)
        for j, spec in enumerate(dataset.metrics):
            if spec.name not in known:
                import difflib

                hint = difflib.get_close_matches(spec.name, known, n=1)
                yield (
                    (*here, "metrics", j),
                    f"unknown metric {spec.name!r}"
                    + (f"; did you mean {hint[0]!r}?" if hint else "")
                    + f"; known: {', '.join(known)} (or name SQL under custom:)",
                )
            elif spec.name in table_level and spec.columns is not None:
                yield (
                    (*here, "metrics", j, "columns"),
                    f"{spec.name} is a table metric and takes no columns",
                )
            if spec.detector is not None:
                yield from _detector_problems(spec.detector, (*here, "metrics", j, "detector"))
        if dataset.detector is not None:
            yield from _detector_problems(dataset.detector, (*here, "detector"))
        for name, sql in dataset.custom.items():
            where = (*here, "custom", name)
            if not _CUSTOM_NAME.match(name):
                yield where, "a custom metric name is letters, digits and _ (not first a digit)"
            elif name in known:
                yield where, f"custom metric {name!r} is a built-in metric name; rename it"
            elif not sql.strip():
                yield (
                    where,
                    (
                        "a custom metric needs an SQL expression, e.g. "
                        "'count(*) filter (where shipped_at > promised_at)'"
                    ),
                )
            else:
                problem = _custom_sql_problem(sql, dataset.source)
                if problem is not None:
                    yield where, f"custom metric refused: {problem}"
    yield from _alert_problems(config.alerts)


def _custom_sql_problem(sql: str, source: str) -> str | None:
    """Parse custom SQL in the source's dialect (told by its name: no connection is made)."""
    from datacanary.metrics._profile import custom_sql_problem

    lowered = source.strip().lower()
    if lowered.startswith(("postgresql://", "postgres://")):
        dialect = "postgres"
    elif lowered.startswith("spark::"):
        dialect = "spark"
    else:
        dialect = "duckdb"
    return custom_sql_problem(sql, dialect)


def _store_problem(location: str, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    from datacanary.errors import DatacanaryError
    from datacanary.store import store_location

    try:
        store_location(location)
    except DatacanaryError as exc:
        yield loc, str(exc)


def _detector_problems(
    spec: DetectorSpec, loc: tuple[Any, ...]
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Build the detector once; a bad name or parameter is named with its key."""
    from datacanary.errors import DatacanaryError
    from datacanary.series import make_series_detector

    params = spec.params()
    try:
        make_series_detector(spec.name, **params)
    except DatacanaryError as exc:
        message = str(exc)
        if message.startswith("unknown series detector"):
            yield (*loc, "name"), message
            return
        named = [p for p in params if re.search(rf"(^|\W){re.escape(p)}(\W|$)", message)]
        yield ((*loc, named[0]) if named else loc), message


def _alert_problems(sinks: list[dict[str, Any]]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """The ``alerts:`` list as datacanary.alerts validates it (environment read at send)."""
    from datacanary.alerts import sink_config, sink_configs_from
    from datacanary.errors import DatacanaryError

    for k, sink in enumerate(sinks):
        try:
            sink_config(sink, where="alert sink")
        except DatacanaryError as exc:
            detail = str(exc).removeprefix("alert sink").lstrip(" :")
            if detail.startswith("("):  # "(webhook): colour: not a setting of this sink"
                kind, _, detail = detail.partition("): ")
                detail = f"{detail} ({kind.lstrip('(')} sink)"
            field = detail.split(":", 1)[0].strip()
            if isinstance(sink, Mapping) and field in sink:
                yield ("alerts", k, field), detail.split(":", 1)[1].strip()
            else:
                yield ("alerts", k), detail
            return
    try:
        sink_configs_from(sinks)
    except DatacanaryError as exc:
        yield ("alerts",), str(exc)


def _relative_to(config: MonitorConfig, base: Path) -> MonitorConfig:
    """Resolve relative file sources and store paths against the monitor file's folder.

    So ``datacanary check /etc/monitors/orders.yml`` works from any working directory (cron).
    URLs (``scheme://``) and absolute paths are left alone.
    """

    def resolve(location: str) -> str:
        if "://" in location or location.startswith("spark::") or Path(location).is_absolute():
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
        if (
            isinstance(node, yaml.MappingNode)
            and len(node.value) == 1
            and node.value[0][0].value != part
            and isinstance(node.value[0][1], yaml.MappingNode)
        ):
            node = node.value[0][1]  # a shorthand item: {mean: {columns: [...], ...}}
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
