"""A generic JSON webhook, signed with HMAC-SHA256 when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from datacanary.alerts._models import Alert
from datacanary.alerts._sinks.http import HttpSink, json_body

__all__ = ["SIGNATURE_HEADER", "WebhookSink", "signature"]

SIGNATURE_HEADER = "X-Datacanary-Signature"


def signature(body: bytes, secret: str) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body.

    A receiver recomputes it over the raw request body and compares with
    :func:`hmac.compare_digest`.

    >>> signature(b'{"a":1}', "s3cret")
    'sha256=...'
    """
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(kw_only=True, eq=False)
class WebhookSink(HttpSink):
    """POST :meth:`Alert.to_dict` as JSON to ``url``; sign it when ``secret`` is set."""

    name: str = "webhook"
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    url_is_secret: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        """The signing secret, and the URL when it came from the environment."""
        return tuple(s for s in (self.secret, self.url if self.url_is_secret else None) if s)

    async def send(self, alert: Alert) -> None:
        """POST the alert's JSON; any 2xx answer is a delivery."""
        body = json_body(alert.to_dict())
        headers = {
            **self.headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "datacanary-alerts",
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(body, self.secret)
        await self.post(self.url, body, headers, who=f"webhook {urlsplit(self.url).hostname}")
