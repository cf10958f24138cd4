"""What the HTTP sinks share: a lazily opened ``httpx.AsyncClient`` and answer checking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datacanary.alerts._sinks.base import AlertSink
from datacanary.errors import DeliveryError

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpSink", "HttpStatusError", "json_body"]

_RETRYABLE = {408, 425, 429}


class HttpStatusError(Exception):
    """An answer worth retrying (5xx, 408, 429)."""


@dataclass(kw_only=True, eq=False)
class HttpSink(AlertSink):
    """Base of the sinks that POST: keeps one client open between :meth:`aclose` calls."""

    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    async def post(
        self, url: str, content: bytes, headers: Mapping[str, str], *, who: str
    ) -> httpx.Response:
        """POST ``content`` to ``url``; raise unless the answer is 2xx.

        ``who`` names the receiver in error sentences (never the URL, which may be a
        secret). 5xx, 408, 425 and 429 raise a retryable error; other answers raise
        :class:`~datacanary.errors.DeliveryError`.
        """
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), follow_redirects=False
            )
        response = await self._client.post(url, content=content, headers=dict(headers))
        if response.is_success:
            return response
        detail = " ".join(response.text.split())[:200]
        sentence = f"{who} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
        if response.status_code >= 500 or response.status_code in _RETRYABLE:
            raise HttpStatusError(sentence)
        raise DeliveryError(sentence)

    async def aclose(self) -> None:
        """Close the client; the next :meth:`post` opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def describe(self, error: BaseException, *, timeout: float | None = None) -> str:
        """Like :meth:`AlertSink.describe`; HTTP status errors are already sentences."""
        if isinstance(error, HttpStatusError):
            return super().describe(DeliveryError(str(error)))
        return super().describe(error, timeout=timeout)


def json_body(payload: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the exact bytes that are sent and signed."""
    import json

    return json.dumps(
        payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode()
