"""What the three channels share: one httpx client, JSON in and out, and failures of the
network itself as `DeliveryError("network")`.

Secrets ride in the platforms' URLs (Telegram's bot token in the path, a WeCom robot's key
in the query): httpx logs every request's URL at INFO, so a filter blanks them there, and
no DeliveryError ever carries a URL.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from services.ingest.adapters.http_logs import hide_url_secrets
from services.ingest.domain.channels import DeliveryError


class ChannelHttp:
    """POST JSON to a platform and read its JSON answer, within `timeout_s` in all."""

    def __init__(
        self, platform: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.platform = platform
        self.timeout_s = timeout_s
        hide_url_secrets()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "qunlive-ingest"},
        )

    async def post(
        self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The answer's status and JSON object ({} when it is not one).

        A timeout or a broken connection is `network` (transient): the message may or may not
        have arrived, and no platform here takes an idempotency key, so a retry can post it
        twice; that is rare and better than losing it."""
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._client.post(url, json=body, headers=headers)
        except TimeoutError:
            raise DeliveryError(
                "network", f"{self.platform}: no answer within {self.timeout_s:g} s"
            ) from None
        except httpx.TransportError as exc:  # connect, read, protocol: never the URL
            raise DeliveryError("network", f"{self.platform}: {type(exc).__name__}") from None
        return response.status_code, _json(response)

    async def aclose(self) -> None:
        await self._client.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def text_of(value: Any, limit: int = 300) -> str:
    """A platform's description, on one line and short (it lands in the console)."""
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def server_error(platform: str, status: int, detail: str = "") -> DeliveryError:
    return DeliveryError("server_error", f"{platform} {status}" + (f": {detail}" if detail else ""))
