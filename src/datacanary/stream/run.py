"""``datacanary stream``: build the processor from settings, run it, stop it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from datacanary.errors import ConfigError, MissingDependencyError
from datacanary.stream.processor import StreamProcessor, StreamStats
from datacanary.stream.rows import RowDetector, RowScorer
from datacanary.stream.settings import StreamSettings
from datacanary.stream.source import (
    KafkaOutput,
    KafkaSource,
    StreamOutput,
    StreamSource,
    kafka_available,
)
from datacanary.stream.state import StreamState
from datacanary.stream.windows import WindowMetrics

if TYPE_CHECKING:
    from rich.console import Console

    from datacanary.alerts import AlertDispatcher

__all__ = ["arun_stream", "build_processor", "run_stream"]


def _table_detector(params: dict[str, Any]) -> Callable[[], RowDetector]:
    try:
        from datacanary.detectors import TableDetector
    except ImportError as error:  # pragma: no cover - the detectors ship with the package
        raise MissingDependencyError(f"the row detectors cannot be imported: {error}") from None
    TableDetector(**params)  # fail now on a bad method or contamination, not mid-stream

    def make() -> RowDetector:
        return TableDetector(**params)

    return make


def _scorer(settings: StreamSettings) -> RowScorer:
    exclude = [*settings.exclude, *([settings.id_field] if settings.id_field else [])]
    if settings.model is not None:
        from datacanary.stream.model import load_model

        model = load_model(settings.model)
        scorer = RowScorer(
            _table_detector(dict(model.params)),
            train_on=len(model.training),
            refit_every=settings.refit_every,
            exclude=exclude,
        )
        scorer.fit(model.training, schema=model.schema)
        return scorer
    params = {
        "method": settings.method,
        "contamination": settings.contamination,
        "random_state": 0,
    }
    return RowScorer(
        _table_detector(params),
        train_on=settings.train_on,
        refit_every=settings.refit_every,
        columns=settings.columns,
        exclude=exclude,
    )


def _windows(settings: StreamSettings, state: StreamState | None) -> WindowMetrics:
    from datacanary.series import make_series_detector

    params = dict(settings.series_params)
    make_series_detector(settings.series_detector, **params)  # a bad definition fails now
    ignore = [*([settings.id_field] if settings.id_field else []), *settings.exclude]
    return WindowMetrics(
        settings.window_seconds,
        lambda: make_series_detector(settings.series_detector, **params),
        dataset=settings.dataset_name,
        ignore=ignore,
        history=None if state is None else state.history,
    )


def _dispatcher(settings: StreamSettings) -> AlertDispatcher | None:
    configs: list[Any] = list(settings.alerts)
    if settings.config is not None:
        from datacanary.checks import load_monitor

        configs += list(load_monitor(settings.config).alerts)
    if not configs:
        return None
    from datacanary.alerts import AlertDispatcher

    # one dispatch may take 10 s at most: it runs beside the stream, which never waits on it;
    # de-duplication is kept in the state file, so a restart does not page again
    return AlertDispatcher.from_configs(
        configs,
        cooldown=settings.alert_cooldown,
        time_limit=10.0,
        state_path=settings.state_path,
    )


def build_processor(
    settings: StreamSettings,
    *,
    source: StreamSource | None = None,
    output: StreamOutput | None = None,
) -> StreamProcessor:
    """The processor for ``settings``: Kafka source and output unless others are given.

    Everything that can be checked before connecting is checked here: the detector
    options, the model file, the alert sinks, the state file.

    Raises
    ------
    ConfigError
        For a bad detector option or alert sink.
    MissingDependencyError
        If a Kafka source or output is needed and aiokafka is not installed.
    """
    if (source is None or output is None) and not kafka_available():
        raise MissingDependencyError.for_extra("kafka", "The Kafka stream processor and sources")
    scorer = _scorer(settings)
    state = (
        None
        if settings.state_path is None
        else StreamState(settings.state_path, group=settings.group)
    )
    windows = _windows(settings, state)
    dispatcher = _dispatcher(settings)
    if source is None:
        source = KafkaSource(
            settings.bootstrap_servers,
            settings.topics,
            settings.group,
            start_from=settings.start_from,
            session_timeout=settings.session_timeout,
            client_id=settings.client_id,
        )
    if output is None:
        output = KafkaOutput(
            settings.bootstrap_servers,
            client_id=settings.client_id,
            max_request_size=settings.max_message_bytes,
        )
    return StreamProcessor(
        settings,
        source,
        output,
        scorer=scorer,
        windows=windows,
        dispatcher=dispatcher,
        state=state,
    )


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (finish the batch, commit, leave the group)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _counters(stats: StreamStats) -> Any:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column()
    rows = [
        ("events", f"{stats.consumed:,} ({stats.events_per_second:,.0f}/s)"),
        ("row anomalies", f"{stats.row_anomalies:,}"),
        ("window anomalies", f"{stats.metric_anomalies:,} in {stats.windows:,} windows"),
        ("dead letters", f"{stats.dead_letters:,}"),
        ("alerts", f"{stats.alerts_delivered:,} sent, {stats.alerts_failed:,} failed"),
        ("model", stats.model),
        ("commits", f"{stats.commits:,}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


async def arun_stream(
    settings: StreamSettings,
    *,
    console: Console | None = None,
    processor: StreamProcessor | None = None,
    stop: asyncio.Event | None = None,
) -> StreamStats:
    """:func:`run_stream` for callers that already run an event loop."""
    processor = processor or build_processor(settings)
    stop = stop or asyncio.Event()
    live_on = settings.live if settings.live is not None else bool(console and console.is_terminal)
    with _signals(stop):
        if not (live_on and console is not None):
            return await processor.run(stop)
        from rich.live import Live

        shown = [0.0]

        with Live(_counters(processor.stats), console=console, refresh_per_second=4) as live:

            def refresh(stats: StreamStats) -> None:
                now = time.monotonic()
                if now - shown[0] >= 0.25:
                    shown[0] = now
                    live.update(_counters(stats))

            try:
                return await processor.run(stop, on_batch=refresh)
            finally:
                live.update(_counters(processor.stats))


def run_stream(settings: StreamSettings, *, console: Console | None = None) -> StreamStats:
    """Run the stream processor until SIGTERM/SIGINT or a ``--max-*`` limit; return stats.

    Consumes ``settings.topics`` in the consumer group ``settings.group``; writes each
    anomaly to ``settings.anomalies_topic`` and each malformed message to
    ``settings.dead_letter_topic``; commits a batch's offsets only after those outputs are
    acknowledged. With a terminal ``console``, shows live counters.

    Raises
    ------
    ConfigError
        For bad settings (before connecting).
    DeliveryError
        If the broker cannot be reached or does not acknowledge outputs; nothing
        unacknowledged is committed.
    MissingDependencyError
        Without the ``kafka`` extra.

    Examples
    --------
    >>> from datacanary.stream import local_broker, stream_demo
    >>> settings = StreamSettings.build(  # doctest: +SKIP
    ...     bootstrap_servers="127.0.0.1:9092", topics="orders", group="canary",
    ...     anomalies_topic="orders.anomalies", dead_letter_topic="orders.dlq",
    ...     train_on=1000, max_seconds=60)
    >>> run_stream(settings).summary()  # doctest: +SKIP
    '52,000 events in 60 s (867/s): 12 anomalies (11 rows, 1 windows), 2 dead letters; ...'
    """
    if not isinstance(settings, StreamSettings):
        raise ConfigError(f"run_stream needs StreamSettings; got {type(settings).__name__}")
    processor = build_processor(settings)
    return asyncio.run(arun_stream(settings, console=console, processor=processor))
