"""Dispatch: route alerts to sinks, de-duplicate, retry with backoff, bound the time.

One dispatch delivers to every sink concurrently (each sink's alerts in order), retries
each failed attempt with exponential backoff and jitter, and gives up on whatever is left
when the dispatch's ``time_limit`` runs out. A sink that is down ends up in
:attr:`DeliveryReport.failed` with a one-line reason; nothing raises out of a dispatch.

Before sending, each (sink, key) to send is claimed in the state (claim, deliver, mark
delivered, release; see :mod:`datacanary.alerts._dedup`), so of several runners that see
the same failure at once exactly one delivers it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from datacanary.alerts._config import SinkConfig, parse_duration, sink_configs_from
from datacanary.alerts._dedup import (
    AlertState,
    ClaimingAlertState,
    Decision,
    KeyState,
    MemoryAlertState,
    SqliteAlertState,
    claim_token,
    decide,
)
from datacanary.alerts._models import Alert, Severity
from datacanary.alerts._sinks import AlertSink, build_sink
from datacanary.errors import ConfigError, DatacanaryError
from datacanary.results import CheckResult, Verdict

__all__ = ["AlertDispatcher", "Delivered", "DeliveryReport", "Failed", "Suppressed"]

log = logging.getLogger("datacanary.alerts")
_T = TypeVar("_T")
_CLOSE_GRACE = 1.0  # seconds a sink may take to close after the time limit


class Delivered(NamedTuple):
    """An alert a sink accepted."""

    sink: str
    key: str
    kind: str
    attempts: int


class Suppressed(NamedTuple):
    """An alert held back by de-duplication, and why."""

    sink: str
    key: str
    reason: str


class Failed(NamedTuple):
    """An alert a sink did not accept within its retries and the time limit."""

    sink: str
    key: str
    error: str


@dataclass
class DeliveryReport:
    """What one dispatch did: delivered, suppressed (de-duplication) and failed alerts.

    ``notes`` holds problems that are not one sink's, such as an unreadable state file.
    """

    delivered: list[Delivered] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def note(self, text: str) -> None:
        """Add ``text`` to :attr:`notes` once."""
        if text not in self.notes:
            self.notes.append(text)

    @property
    def ok(self) -> bool:
        """True when no delivery failed."""
        return not self.failed and not self.notes

    def summary(self) -> str:
        """One line for a log or a terminal.

        >>> DeliveryReport([Delivered("slack", "orders:row_count", "anomaly", 1)],
        ...                failed=[Failed("email", "orders:row_count", "no answer within 10 s")]
        ...                ).summary()
        'alerts: 1 delivered, 0 suppressed, 1 failed (email orders:row_count: no answer ...)'
        """
        text = (
            f"alerts: {len(self.delivered)} delivered, {len(self.suppressed)} suppressed, "
            f"{len(self.failed)} failed"
        )
        problems = [f"{f.sink} {f.key}: {f.error}" for f in self.failed[:3]] + self.notes[:2]
        if len(self.failed) > 3:
            problems.append(f"{len(self.failed) - 3} more")
        return text + (f" ({'; '.join(problems)})" if problems else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``--format json``)."""
        return {
            "delivered": [d._asdict() for d in self.delivered],
            "suppressed": [s._asdict() for s in self.suppressed],
            "failed": [f._asdict() for f in self.failed],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` on a fresh loop that does not wait for stray worker threads on exit."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()  # shuts the default executor down without waiting


class AlertDispatcher:
    """Send alerts to sinks once per failure, with recoveries, retries and a time bound.

    Parameters
    ----------
    sinks
        Where alerts go (see :func:`build_sink`); names must be distinct.
    state_path
        SQLite file that keeps the de-duplication state between runs (processes); without
        it (and without ``state``) the state lives in memory for this dispatcher only.
    state
        Any :class:`AlertState` instead of a file (e.g. backed by the history store).
    cooldown
        After paging about a key, stay quiet about it this long unless it recovers and the
        cooldown has passed, or its severity rises. A sink's own ``cooldown`` wins.
    time_limit
        Seconds one dispatch may take in all, retries included.
    backoff
        Seconds before the first retry; doubles each retry (with jitter), up to
        ``max_backoff``.
    severity
        The severity of alerts made from verdicts passed to :meth:`dispatch`.
    clock
        Returns "now" (aware UTC); for tests and replays.
    seed
        Seeds the backoff jitter.
    claim_timeout
        Seconds after which another runner's claim on an alert counts as abandoned (a
        runner that crashed while delivering) and may be taken over; default twice
        ``time_limit``, at least 60. Longer than any dispatch, so a live claim is never
        taken.

    Raises
    ------
    ConfigError
        If two sinks share a name, both ``state_path`` and ``state`` are given, or a limit
        is not positive.

    Examples
    --------
    >>> import io
    >>> from datacanary.alerts import StdoutSink
    >>> out = io.StringIO()
    >>> dispatcher = AlertDispatcher([StdoutSink(stream=out)])
    >>> v = Verdict.judge("row_count", 12, 9800, 10400, score=9.0, detector="mad",
    ...                   history_size=14, dataset="orders")
    >>> dispatcher.dispatch([v]).summary()
    'alerts: 1 delivered, 0 suppressed, 0 failed'
    >>> dispatcher.dispatch([v]).suppressed[0].reason
    'paged 0 s ago; cooldown 1 d'
    """

    def __init__(
        self,
        sinks: Sequence[AlertSink],
        *,
        state_path: str | Path | None = None,
        state: AlertState | None = None,
        cooldown: timedelta | str | float = timedelta(days=1),
        time_limit: float = 30.0,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        severity: Severity | str = Severity.WARNING,
        clock: Callable[[], datetime] | None = None,
        seed: int | None = None,
        claim_timeout: float | None = None,
    ) -> None:
        names = [s.name for s in sinks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(
                f"alert sinks must have distinct names; {duplicates} appear more than once: "
                "give each a distinct name"
            )
        if state_path is not None and state is not None:
            raise ConfigError("give state_path or state, not both")
        for label, value in (("time_limit", time_limit), ("backoff", backoff)):
            if not value > 0:
                raise ConfigError(f"{label} must be a positive number of seconds; got {value!r}")
        for sink in sinks:
            if not sink.timeout > 0 or sink.retries < 0:
                raise ConfigError(
                    f"alert sink {sink.name!r} needs timeout > 0 and retries >= 0; got "
                    f"timeout={sink.timeout!r}, retries={sink.retries!r}"
                )
        self.sinks = list(sinks)
        if state is None:
            state = SqliteAlertState(state_path) if state_path is not None else MemoryAlertState()
        self.state: AlertState = state
        self.cooldown = parse_duration(cooldown)
        self.time_limit = float(time_limit)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.severity = Severity.parse(severity)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._random = random.Random(seed)
        if claim_timeout is None:
            claim_timeout = max(60.0, 2 * self.time_limit)
        if not claim_timeout > self.time_limit:
            raise ConfigError(
                f"claim_timeout must be longer than time_limit ({self.time_limit:g} s); "
                f"got {claim_timeout!r}"
            )
        self.claim_timeout = timedelta(seconds=float(claim_timeout))

    @classmethod
    def from_configs(
        cls, configs: Iterable[SinkConfig | Mapping[str, Any]], **options: Any
    ) -> AlertDispatcher:
        """A dispatcher for the ``alerts:`` list of a monitor file; ``options`` as above.

        Raises
        ------
        ConfigError
            If a sink definition is invalid or names an unset environment variable.
        """
        return cls([build_sink(c) for c in sink_configs_from(configs)], **options)

    # -- public entry points -------------------------------------------------------------

    def dispatch(self, alerts: Iterable[Alert | Verdict | CheckResult]) -> DeliveryReport:
        """Deliver ``alerts`` (verdicts and check results are turned into alerts) and wait.

        Safe to call from code that already runs an event loop: the work then runs on a
        helper thread. Never raises for a delivery problem; see the report.
        """
        items = list(alerts)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _run(self.adispatch(items))
        with ThreadPoolExecutor(1, thread_name_prefix="datacanary-dispatch") as pool:
            return pool.submit(_run, self.adispatch(items)).result()

    async def adispatch(self, alerts: Iterable[Alert | Verdict | CheckResult]) -> DeliveryReport:
        """:meth:`dispatch` for async callers (the stream processor); one at a time."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.time_limit
        now = self.clock()
        report = DeliveryReport()
        writes: dict[tuple[str, str], KeyState] = {}
        token = claim_token()
        claimed: list[tuple[str, str]] = []
        plans = self._claim(
            self._plan(self._alerts(alerts), now, report, writes), now, token, claimed, report
        )
        outcomes: dict[str, list[tuple[Decision, str | None, int]]] = {s.name: [] for s in plans}
        tasks = {
            asyncio.ensure_future(self._deliver(sink, sends, deadline, outcomes[sink.name])): sink
            for sink, sends in plans.items()
            if sends
        }
        if tasks:
            try:
                await asyncio.wait(tasks, timeout=deadline + _CLOSE_GRACE - loop.time())
            finally:  # also when the caller cancels us: leave no delivery running
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        for sink, sends in plans.items():
            done = outcomes[sink.name]
            for decision in sends[len(done) :]:
                done.append(
                    (decision, f"not attempted: the {self.time_limit:g} s limit ran out", 0)
                )
            for decision, error, attempts in done:
                self._record(sink, decision, error, attempts, report, writes)
        self._save(writes, report)
        self._release(claimed, token, report)
        for sink in plans:
            self._prune(sink, now, report)
        report.seconds = loop.time() - started
        for note in report.notes:
            log.warning("%s", note)
        return report

    # -- steps ---------------------------------------------------------------------------

    def _alerts(self, items: Iterable[Alert | Verdict | CheckResult]) -> list[Alert]:
        alerts: list[Alert] = []
        for item in items:
            if isinstance(item, Alert):
                alerts.append(item)
            elif isinstance(item, Verdict):
                alerts.append(Alert.from_verdict(item, severity=self.severity))
            elif isinstance(item, CheckResult):
                alerts.extend(
                    Alert.from_verdict(v, severity=self.severity, dataset=v.dataset or item.dataset)
                    for v in item.verdicts
                )
            else:
                raise TypeError(
                    f"dispatch takes Alert, Verdict or CheckResult objects; got "
                    f"{type(item).__name__}"
                )
        return alerts

    def _cooldown(self, sink: AlertSink) -> timedelta:
        return sink.cooldown if sink.cooldown is not None else self.cooldown

    def _plan(
        self,
        alerts: list[Alert],
        now: datetime,
        report: DeliveryReport,
        writes: dict[tuple[str, str], KeyState],
    ) -> dict[AlertSink, list[tuple[Alert, Decision]]]:
        """Decide per sink what to send (with the alert each decision came from); note state
        changes that need no delivery."""
        plans: dict[AlertSink, list[tuple[Alert, Decision]]] = {sink: [] for sink in self.sinks}
        pending: dict[tuple[str, str], KeyState | None] = {}
        for alert in alerts:
            for sink in self.sinks:
                slot = (sink.name, alert.key)
                if slot in pending:
                    previous = pending[slot]
                else:
                    previous = self._get(sink.name, alert.key, report)
                if alert.firing and not sink.accepts(alert):
                    continue  # below this sink's bar; a passing alert may still resolve
                decision = decide(previous, alert, now=now, cooldown=self._cooldown(sink))
                if decision.state is not None:
                    pending[slot] = decision.state
                if decision.action == "send":
                    plans[sink].append((alert, decision))
                    continue
                if decision.state is not None and decision.state != previous:
                    writes[slot] = decision.state
                if decision.action == "suppress":
                    report.suppressed.append(Suppressed(sink.name, alert.key, decision.reason))
        return plans

    def _claim(
        self,
        plans: dict[AlertSink, list[tuple[Alert, Decision]]],
        now: datetime,
        token: str,
        claimed: list[tuple[str, str]],
        report: DeliveryReport,
    ) -> dict[AlertSink, list[Decision]]:
        """Keep the sends this dispatcher claimed, decided again on the freshest state."""
        state = self.state
        out: dict[AlertSink, list[Decision]] = {sink: [] for sink in plans}
        for sink, sends in plans.items():
            cooldown = self._cooldown(sink)
            for alert, decision in sends:
                if not isinstance(state, ClaimingAlertState):
                    out[sink].append(decision)  # a state without claims: as before
                    continue

                def redecide(
                    previous: KeyState | None, alert: Alert = alert, cooldown: timedelta = cooldown
                ) -> Decision:
                    return decide(previous, alert, now=now, cooldown=cooldown)

                try:
                    fresh = state.claim(
                        sink.name, alert.key, redecide, now=now, token=token, ttl=self.claim_timeout
                    )
                except Exception as error:  # never lose an alert to the state store
                    report.note(f"alert state could not be claimed ({error}); sent unclaimed")
                    out[sink].append(decision)
                    continue
                if fresh is None:
                    reason = "being delivered by another runner"
                    report.suppressed.append(Suppressed(sink.name, alert.key, reason))
                elif fresh.action == "send":
                    claimed.append((sink.name, alert.key))
                    out[sink].append(fresh)
                elif fresh.action == "suppress":
                    report.suppressed.append(Suppressed(sink.name, alert.key, fresh.reason))
        return out

    def _release(self, claimed: list[tuple[str, str]], token: str, report: DeliveryReport) -> None:
        state = self.state
        if not isinstance(state, ClaimingAlertState):
            return
        for sink, key in claimed:
            try:
                state.release(sink, key, token)
            except Exception as error:  # the claim then times out
                report.note(f"alert claim could not be released ({error})")

    async def _deliver(
        self,
        sink: AlertSink,
        sends: list[Decision],
        deadline: float,
        done: list[tuple[Decision, str | None, int]],
    ) -> None:
        """Send one sink's alerts in order; append (decision, error or None, attempts)."""
        try:
            for decision in sends:
                error, attempts = await self._attempts(sink, decision.alert, deadline)
                done.append((decision, error, attempts))
        finally:
            loop = asyncio.get_running_loop()
            grace = max(0.05, deadline + _CLOSE_GRACE - loop.time())
            try:
                await asyncio.wait_for(sink.aclose(), grace)
            except Exception as error:  # closing must not lose the outcomes
                log.debug("closing alert sink %r: %s", sink.name, sink.describe(error))

    async def _attempts(
        self, sink: AlertSink, alert: Alert, deadline: float
    ) -> tuple[str | None, int]:
        """Try, retry with backoff, give up at the deadline: (error or None, attempts)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        error_text = ""
        attempts = 0
        out_of_time = False
        for attempt in range(sink.retries + 1):
            remaining = deadline - loop.time()
            if remaining <= 0:
                out_of_time = True
                break
            attempts += 1
            per_try = min(sink.timeout, remaining)
            retry_after = None
            try:
                await asyncio.wait_for(sink.send(alert), per_try)
                return None, attempts
            except Exception as error:
                retry_after = getattr(error, "retry_after", None)
                cut_short = per_try < sink.timeout
                if not (cut_short and error_text):  # keep the reason of a full attempt
                    error_text = sink.describe(error, timeout=per_try)
                if isinstance(error, DatacanaryError):  # retrying cannot help
                    break
                if cut_short and deadline - loop.time() <= 0.01:
                    out_of_time = True
                    break
            if attempt == sink.retries:
                break
            # a receiver's Retry-After (HTTP 429/503) is a floor on the wait, never past the limit
            delay = max(self._delay(attempt), retry_after or 0.0)
            if loop.time() + delay >= deadline:
                out_of_time = True
                break
            await asyncio.sleep(delay)
        limit = f"the {self.time_limit:g} s limit ran out"
        if not attempts:
            return f"not attempted: {limit}", 0
        if out_of_time:
            error_text += f"; gave up as {limit}"
        spent = loop.time() - started
        noun = "attempt" if attempts == 1 else "attempts"
        return f"{error_text} ({attempts} {noun}, {spent:.1f} s)", attempts

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random."""
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _record(
        self,
        sink: AlertSink,
        decision: Decision,
        error: str | None,
        attempts: int,
        report: DeliveryReport,
        writes: dict[tuple[str, str], KeyState],
    ) -> None:
        key = decision.alert.key
        if error is None:
            report.delivered.append(Delivered(sink.name, key, decision.alert.kind, attempts))
            if decision.state is not None:
                writes[(sink.name, key)] = decision.state
        else:  # state untouched: the next run tries again
            report.failed.append(Failed(sink.name, key, error))
            log.warning("alert sink %r could not deliver %s: %s", sink.name, key, error)

    # -- state, never fatal --------------------------------------------------------------

    def _get(self, sink: str, key: str, report: DeliveryReport) -> KeyState | None:
        try:
            return self.state.get(sink, key)
        except Exception as error:
            report.note(f"alert state could not be read ({error}); alerts sent as new")
            return None

    def _save(self, writes: dict[tuple[str, str], KeyState], report: DeliveryReport) -> None:
        try:
            self.state.put_many((sink, key, state) for (sink, key), state in writes.items())
        except Exception as error:
            report.note(f"alert state could not be written ({error})")

    def _prune(self, sink: AlertSink, now: datetime, report: DeliveryReport) -> None:
        try:
            self.state.prune(sink.name, now - self._cooldown(sink))
        except Exception as error:
            report.note(f"alert state could not be pruned ({error})")
