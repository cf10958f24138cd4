"""What the HTTP sinks share: a lazily opened ``httpx.AsyncClient`` and answer checking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from datacanary.alerts._sinks.base import AlertSink
from datacanary.errors import DeliveryError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "HttpSink",
    "HttpStatusError",
    "json_body",
    "public_url",
    "retry_after_seconds",
    "scrub_url",
]

_RETRYABLE = {408, 425, 429}


_MAX_RETRY_AFTER = 3600.0  # seconds; the dispatch's time limit bounds it further


class HttpStatusError(Exception):
    """An answer worth retrying (5xx, 408, 429); ``retry_after``: seconds the receiver asked.

    The dispatcher waits at least ``retry_after`` before the next attempt, and gives up
    instead when that wait would pass its time limit.
    """

    def __init__(self, sentence: str, *, retry_after: float | None = None) -> None:
        super().__init__(sentence)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now, or None.

    >>> retry_after_seconds("7"), retry_after_seconds("-3"), retry_after_seconds("soon")
    (7.0, 0.0, None)
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
    10.0
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        import time
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def public_url(url: str) -> str:
    """How messages may name a receiver's URL: ``scheme://host/…`` (the path may be a secret).

    >>> public_url("https://hooks.slack.com/services/T0/B0/abcdef")
    'https://hooks.slack.com/…'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL)"
    return f"{parts.scheme}://{host}{port}/…" if parts.scheme else "(a URL)"


def scrub_url(text: str, url: str) -> str:
    """``text`` with the URL, its path, query and long path segments replaced.

    A receiver's error page that echoes the request path would otherwise print a Slack
    webhook's secret.

    >>> scrub_url("no route for /services/T0/B0/xyzsecret123", "https://h/services/T0/B0/xyzsecret123")
    'no route for /…'
    >>> scrub_url("token xyzsecret123 unknown", "https://h/services/T0/B0/xyzsecret123")
    'token … unknown'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "(a URL)")
    text = text.replace(url, public_url(url))
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    pieces = [path, parts.path, parts.query]
    pieces += [segment for segment in parts.path.split("/") if len(segment) >= 8]
    pieces += [v for pair in parts.query.split("&") for v in pair.split("=")[1:] if len(v) >= 8]
    for piece in sorted({p for p in pieces if p and p != "/"}, key=len, reverse=True):
        for form in {piece, unquote(piece), quote(piece, safe="/")}:
            if form:
                text = text.replace(form, "/…" if form.startswith("/") else "…")
    return text


@dataclass(kw_only=True, eq=False)
class HttpSink(AlertSink):
    """Base of the sinks that POST: keeps one client open between :meth:`aclose` calls."""

    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _url: str = field(default="", init=False, repr=False)

    async def post(
        self, url: str, content: bytes, headers: Mapping[str, str], *, who: str
    ) -> httpx.Response:
        """POST ``content`` to ``url``; raise unless the answer is 2xx.

        ``who`` names the receiver in error sentences (never the URL, which may be a
        secret). 5xx, 408, 425 and 429 raise a retryable error; other answers raise
        :class:`~datacanary.errors.DeliveryError`.
        """
        import httpx

        self._url = url
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), follow_redirects=False
            )
        response = await self._client.post(url, content=content, headers=dict(headers))
        if response.is_success:
            return response
        detail = scrub_url(" ".join(response.text.split()), url)[:200]
        sentence = f"{who} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
        if response.status_code >= 500 or response.status_code in _RETRYABLE:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is not None:
                sentence += f" (asked to retry after {wait:g} s)"
            raise HttpStatusError(sentence, retry_after=wait)
        raise DeliveryError(sentence)

    async def aclose(self) -> None:
        """Close the client; the next :meth:`post` opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def describe(self, error: BaseException, *, timeout: float | None = None) -> str:
        """Like :meth:`AlertSink.describe`; HTTP status errors are already sentences."""
        if isinstance(error, HttpStatusError):
            text = super().describe(DeliveryError(str(error)))
        else:
            text = super().describe(error, timeout=timeout)
        return scrub_url(text, self._url) if self._url else text


def json_body(payload: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the exact bytes that are sent and signed."""
    import json

    return json.dumps(
        payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode()
