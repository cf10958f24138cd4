"""Slack incoming webhooks: a header, the sentence, value against the expected band, the time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datacanary.alerts._models import Alert, Severity, jsonable
from datacanary.alerts._sinks.http import HttpSink, json_body
from datacanary.results import format_number

__all__ = ["SlackSink", "slack_message"]

_ICONS = {
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.CRITICAL: ":rotating_light:",
}


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)[:1900]}"}


def slack_message(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook payload: ``text`` for notifications, ``blocks`` for reading.

    >>> from datacanary.results import Verdict
    >>> v = Verdict.judge("row_count", 1204, 9800, 10400, score=31.2, detector="mad",
    ...                   history_size=14, dataset="orders")
    >>> message = slack_message(Alert.from_verdict(v, severity="critical"))
    >>> message["blocks"][0]["text"]["text"]
    ':rotating_light: CRITICAL · orders · row_count'
    >>> [f["text"] for f in message["blocks"][2]["fields"]][:2]
    ['*Value*\\n1,204', '*Expected*\\n9,800–10,400']
    """
    icon = ":white_check_mark:" if alert.kind == "recovery" else _ICONS[alert.severity]
    fields = []
    if alert.row is not None:
        fields.append(_field("Row", json.dumps(jsonable(alert.row), ensure_ascii=False)))
        if alert.explanation:
            fields.append(_field("Stands out on", alert.explanation))
    else:
        fields.append(_field("Value", format_number(alert.value)))
        fields.append(_field("Expected", alert.expected_text))
    if alert.score is not None:
        score = format_number(alert.score)
        if alert.threshold is not None:
            score += f" (threshold {format_number(alert.threshold)})"
        fields.append(_field("Score", score))
    if alert.detector:
        fields.append(_field("Detector", alert.detector))
    when = alert.observed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{icon} {alert.title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(alert.sentence)[:2900]}},
        {"type": "section", "fields": fields[:10]},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _escape(f"{when} · key `{alert.key}`")}],
        },
    ]
    return {"text": f"{alert.title}: {alert.sentence}"[:3000], "blocks": blocks}


@dataclass(kw_only=True, eq=False)
class SlackSink(HttpSink):
    """Post alerts to a Slack incoming webhook (the URL is a secret: keep it in the env)."""

    name: str = "slack"
    webhook_url: str = field(repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The webhook URL."""
        return (self.webhook_url,)

    async def send(self, alert: Alert) -> None:
        """POST the blocks message; Slack answers 200 ``ok``."""
        await self.post(
            self.webhook_url,
            json_body(slack_message(alert)),
            {"Content-Type": "application/json; charset=utf-8"},
            who="Slack",
        )
