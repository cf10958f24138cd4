"""What every sink is: a name, routing settings, and one delivery attempt at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from datacanary.alerts._models import Alert, Severity
from datacanary.errors import DeliveryError

__all__ = ["AlertSink", "describe_error", "redact"]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``.

    >>> redact("POST https://hooks.slack.com/T0/B0/xyz failed", ["https://hooks.slack.com/T0/B0/xyz"])
    'POST *** failed'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def describe_error(error: BaseException, *, timeout: float | None = None) -> str:
    """One line saying what went wrong, for reports and logs.

    >>> describe_error(ConnectionRefusedError(111, "Connection refused"))
    'ConnectionRefusedError: [Errno 111] Connection refused'
    >>> describe_error(TimeoutError(), timeout=2.0)
    'no answer within 2 s'
    """
    if isinstance(error, DeliveryError):
        return str(error)
    if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
        return f"no answer within {timeout:.2g} s" if timeout else "timed out"
    name = type(error).__name__
    text = " ".join(str(error).split())
    if not text or text.startswith(name):
        return text or name
    return f"{name}: {text}"


@dataclass(kw_only=True, eq=False)
class AlertSink(ABC):
    """A place alerts go (Slack, a webhook, e-mail, Kafka, stdout, a logger).

    :meth:`send` makes **one** attempt to deliver one alert; the
    :class:`~datacanary.alerts.AlertDispatcher` decides what to send (severity, de-duplication,
    cooldown), retries with backoff and bounds the total time. Raise any exception to have
    the attempt retried; raise :class:`~datacanary.errors.DeliveryError` when retrying cannot
    help (a rejected URL, a refused login).

    Parameters
    ----------
    name
        How reports and logs name this sink; distinct per dispatcher.
    min_severity
        Alerts below this severity are not sent here.
    cooldown
        After paging about a key, stay quiet about it this long; None: the dispatcher's.
    timeout
        Seconds one attempt may take.
    retries
        Attempts after the first one fails.
    """

    name: str = "sink"
    min_severity: Severity = Severity.INFO
    cooldown: timedelta | None = None
    timeout: float = 10.0
    retries: int = 3

    @abstractmethod
    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` once, or raise."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to close by default
        """Release connections opened by :meth:`send`; the sink may be used again after."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a report or a log line (URLs, passwords)."""
        return ()

    def accepts(self, alert: Alert) -> bool:
        """True when ``alert`` is at least this sink's ``min_severity``."""
        return alert.severity.rank >= self.min_severity.rank

    def describe(self, error: BaseException, *, timeout: float | None = None) -> str:
        """:func:`describe_error`, with this sink's secrets masked."""
        return redact(describe_error(error, timeout=timeout), self.secrets)
