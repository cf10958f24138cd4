"""Alerts as lines on stdout/stderr, or as records through :mod:`logging`."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Literal, TextIO

from datacanary.alerts._models import Alert, Severity
from datacanary.alerts._sinks.base import AlertSink

__all__ = ["LogSink", "StdoutSink", "text_line"]

_LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING}


def text_line(alert: Alert) -> str:
    """One line a person reads in a terminal or a CI log.

    >>> from datetime import datetime, timezone
    >>> from datacanary.results import Verdict
    >>> v = Verdict.judge("row_count", 1204, 9800, 10400, score=31.2, detector="mad",
    ...                   history_size=14, dataset="orders",
    ...                   observed_at=datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc))
    >>> text_line(Alert.from_verdict(v))
    '[WARNING · orders · row_count] row_count 1,204 is below the ... (2024-05-01 06:00 UTC)'
    """
    when = alert.observed_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"[{alert.title}] {alert.sentence} ({when})"


@dataclass(kw_only=True, eq=False)
class StdoutSink(AlertSink):
    """Print each alert: one readable line (``format="text"``) or one JSON object per line.

    ``stream`` defaults to the current ``sys.stdout`` (or ``sys.stderr`` when
    ``to_stderr``) at the time of sending.
    """

    name: str = "stdout"
    format: Literal["text", "json"] = "text"
    to_stderr: bool = False
    stream: TextIO | None = None

    async def send(self, alert: Alert) -> None:
        """Write the alert and flush."""
        stream = self.stream or (sys.stderr if self.to_stderr else sys.stdout)
        if self.format == "json":
            line = json.dumps(alert.to_dict(), ensure_ascii=False, sort_keys=True)
        else:
            line = text_line(alert)
        stream.write(line + "\n")
        stream.flush()


@dataclass(kw_only=True, eq=False)
class LogSink(AlertSink):
    """Log each alert: critical at ERROR, warning at WARNING, info and recoveries at INFO.

    The record carries the alert's JSON as ``record.alert`` for structured handlers.
    """

    name: str = "log"
    logger: str = "datacanary.alerts"

    async def send(self, alert: Alert) -> None:
        """Emit one log record."""
        level = logging.INFO
        if alert.firing:
            level = _LEVELS.get(alert.severity, logging.ERROR)
        logging.getLogger(self.logger).log(
            level, "%s", text_line(alert), extra={"alert": alert.to_dict()}
        )
