"""What the three channels share: one httpx client, JSON in and out, and failures of the
network itself as `DeliveryError("network")`.

Secrets ride in the platforms' URLs (Telegram's bot token in the path, a WeCom robot's key
in the query): httpx logs every request's URL at INFO, so a filter blanks them there, and
no DeliveryError ever carries a URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import httpx

from services.ingest.domain.channels import DeliveryError

HTTPX_LOG = logging.getLogger("httpx")
SECRET_IN_URL = re.compile(r"(/bot)[^/\s]+|((?:\?|&)key=)[^&\s\"]+")


class _UrlSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "<secret>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT = _UrlSecrets()


class ChannelHttp:
    """POST JSON to a platform and read its JSON answer, within `timeout_s` in all."""

    def __init__(
        self, platform: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.platform = platform
        self.timeout_s = timeout_s
        HTTPX_LOG.addFilter(_REDACT)  # the same filter object: added once however many clients
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
