"""Downloading a group's picture or voice note from its platform, with httpx.

Telegram Bot API (core.telegram.org/bots/api#getfile): `GET {base}/bot<token>/getFile
?file_id=<id>` answers `{"ok": true, "result": File{file_id, file_unique_id, file_size?,
file_path}}`, then `GET {base}/file/bot<token>/<file_path>` serves the bytes (files of up
to 20 MB). Errors: `{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`,
429 with `parameters.retry_after` (seconds).

WhatsApp Cloud API (Graph API, "Retrieve media URL" and "Download media"): `GET
{base}/<version>/<media id>` with `Authorization: Bearer <token>` answers
`{"messaging_product": "whatsapp", "url", "mime_type", "sha256", "file_size", "id"}`; the
url (valid 5 minutes, so asked anew on every try) is downloaded with the same bearer
token. Errors: `{"error": {"message", "type", "code", "fbtrace_id"}}`.

Every failure is a `FetchFailed`, transient (may work later: the network, 5xx, 429, 408,
a credential the operator may fix (401)) or not (the file is gone, refused, too large).
The bot token sits in Telegram's URLs: no reason or log line ever shows a URL.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from services.ingest.adapters.http_logs import hide_url_secrets
from services.ingest.domain.fields import size_text

TRANSIENT_STATUS = {401, 408, 425, 429}
MAX_REDIRECTS = 3


class FetchFailed(Exception):
    def __init__(self, reason: str, *, transient: bool, retry_after_s: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str | None  # as the platform says; the bytes are checked by content


class PlatformMedia(Protocol):
    async def download(self, platform: str, file_ref: str, max_bytes: int) -> Downloaded: ...


@dataclass(frozen=True)
class PlatformAccess:
    telegram_api_base: str
    telegram_bot_token: str
    whatsapp_graph_base: str
    whatsapp_api_version: str
    whatsapp_access_token: str
    timeout_s: float


class HttpPlatformMedia:
    """The platforms' documented download flows (above) over one httpx client."""

    def __init__(self, access: PlatformAccess, transport: httpx.AsyncBaseTransport | None = None):
        self._access = access
        hide_url_secrets()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(min(30.0, access.timeout_s)),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "qunlive-ingest"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def download(self, platform: str, file_ref: str, max_bytes: int) -> Downloaded:
        try:
            async with asyncio.timeout(self._access.timeout_s):
                if platform == "telegram":
                    return await self._telegram(file_ref, max_bytes)
                if platform == "whatsapp":
                    return await self._whatsapp(file_ref, max_bytes)
        except TimeoutError:
            raise FetchFailed(
                f"{platform}: no answer within {self._access.timeout_s:g} s", transient=True
            ) from None
        except httpx.TransportError as exc:  # connect, read, protocol: never the URL
            raise FetchFailed(
                f"{platform}: network: {type(exc).__name__}", transient=True
            ) from None
        raise FetchFailed(f"{platform}: ingest fetches no media from it", transient=False)

    async def _telegram(self, file_id: str, max_bytes: int) -> Downloaded:
        base, token = self._access.telegram_api_base, self._access.telegram_bot_token
        response = await self._client.get(f"{base}/bot{token}/getFile", params={"file_id": file_id})
        body = _json(response)
        if response.status_code != 200 or body.get("ok") is not True:
            parameters = body.get("parameters")
            retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
            raise _refused(
                "telegram getFile",
                response,
                _text(body.get("description")),
                retry_after if _is_number(retry_after) else None,
            )
        result = body.get("result")
        result = result if isinstance(result, dict) else {}
        file_path = result.get("file_path")
        if not isinstance(file_path, str) or not file_path or ".." in file_path.split("/"):
            raise FetchFailed("telegram getFile: no file_path in its answer", transient=False)
        _check_size("telegram", result.get("file_size"), max_bytes)
        url = f"{base}/file/bot{token}/{quote(file_path, safe='/')}"
        return await self._bytes("telegram file", url, {}, max_bytes)

    async def _whatsapp(self, media_id: str, max_bytes: int) -> Downloaded:
        access = self._access
        auth = {"Authorization": f"Bearer {access.whatsapp_access_token}"}
        response = await self._client.get(
            f"{access.whatsapp_graph_base}/{access.whatsapp_api_version}/"
            f"{quote(media_id, safe='')}",
            headers=auth,
        )
        body = _json(response)
        if response.status_code != 200:
            error = body.get("error")
            message = _text(error.get("message")) if isinstance(error, dict) else ""
            raise _refused("whatsapp media", response, message)
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise FetchFailed("whatsapp media: no url in its answer", transient=False)
        _check_size("whatsapp", body.get("file_size"), max_bytes)
        return await self._bytes("whatsapp download", url, auth, max_bytes)

    async def _bytes(
        self, what: str, url: str, headers: dict[str, str], max_bytes: int
    ) -> Downloaded:
        """GET the file, streamed and cut off past `max_bytes`. Redirects are followed by
        hand, a few at most, and the credential goes only to the first URL's origin."""
        origin = httpx.URL(url).copy_with(path="/", query=None, fragment=None)
        for _ in range(MAX_REDIRECTS + 1):
            async with self._client.stream("GET", url, headers=headers) as response:
                if response.is_redirect and "location" in response.headers:
                    url = str(response.url.join(response.headers["location"]))
                    if httpx.URL(url).copy_with(path="/", query=None, fragment=None) != origin:
                        headers = {}
                    continue
                if response.status_code != 200:
                    await response.aread()
                    raise _refused(what, response, "")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(what, int(declared), max_bytes)
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(what, size, max_bytes, more=True)
                    chunks.append(chunk)
                return Downloaded(b"".join(chunks), response.headers.get("content-type"))
        raise FetchFailed(f"{what}: more than {MAX_REDIRECTS} redirects", transient=False)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: Any) -> str:
    return " ".join(value.split())[:200] if isinstance(value, str) else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _refused(
    what: str, response: httpx.Response, message: str, retry_after_s: float | None = None
) -> FetchFailed:
    status = response.status_code
    if retry_after_s is None:
        header = response.headers.get("retry-after", "")
        retry_after_s = float(header) if header.isdigit() else None
    transient = status >= 500 or status in TRANSIENT_STATUS
    reason = f"{what}: HTTP {status}" + (f" {message}" if message else "")
    return FetchFailed(reason, transient=transient, retry_after_s=retry_after_s)


def _check_size(platform: str, declared: Any, max_bytes: int) -> None:
    """The size the platform declares (WhatsApp writes it as a string), before the bytes."""
    if isinstance(declared, str) and declared.isdigit():
        declared = int(declared)
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > max_bytes:
        raise _too_large(platform, declared, max_bytes)


def _too_large(what: str, size: int, max_bytes: int, more: bool = False) -> FetchFailed:
    over = "more than " if more else ""
    return FetchFailed(
        f"{what}: the file is {over}{size_text(size)}; the limit is {size_text(max_bytes)}",
        transient=False,
    )
