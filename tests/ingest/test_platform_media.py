"""The platforms' download adapter on its own (httpx.MockTransport), and the retry schedule:
which answers are worth another try, and that no reason ever shows a credential."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from services.ingest.adapters.platform_media import (
    FetchFailed,
    HttpPlatformMedia,
    PlatformAccess,
)
from services.ingest.service_layer.media import MediaLimits

TOKEN = "123456:SECRET-bot-token"
WA_TOKEN = "EAAG-secret-access-token"
ACCESS = PlatformAccess(
    telegram_api_base="https://tg.test",
    telegram_bot_token=TOKEN,
    whatsapp_graph_base="https://graph.test",
    whatsapp_api_version="v21.0",
    whatsapp_access_token=WA_TOKEN,
    timeout_s=5.0,
)
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def adapter(handler: Handler, **access: Any) -> HttpPlatformMedia:
    settings = PlatformAccess(**{**ACCESS.__dict__, **access})
    return HttpPlatformMedia(settings, transport=httpx.MockTransport(handler))


def telegram(file_answer: Callable[[httpx.Request], httpx.Response]) -> Handler:
    """getFile answers a file_path; the file endpoint answers `file_answer`."""

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/bot{TOKEN}/getFile":
            result = {"file_id": request.url.params["file_id"], "file_unique_id": "u",
                      "file_size": 10, "file_path": "photos/file_1.jpg"}  # fmt: skip
            return httpx.Response(200, json={"ok": True, "result": result})
        assert request.url.path == f"/file/bot{TOKEN}/photos/file_1.jpg"
        return file_answer(request)

    return handle


async def failure(media: HttpPlatformMedia, platform: str = "telegram") -> FetchFailed:
    with pytest.raises(FetchFailed) as caught:
        await media.download(platform, "F", 1024)
    await media.aclose()
    assert TOKEN not in caught.value.reason and WA_TOKEN not in caught.value.reason
    return caught.value


async def test_telegram_getfile_then_the_file_and_no_log_line_shows_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    media = adapter(telegram(lambda _: httpx.Response(200, content=b"JPEG")))
    with caplog.at_level(logging.INFO, logger="httpx"):
        got = await media.download("telegram", "F", 1024)
    assert got.data == b"JPEG"
    await media.aclose()
    assert "/bot<secret>/getFile" in caplog.text and "/file/bot<secret>/photos" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("status", "body", "transient", "retry_after", "reason"),
    [
        (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
               "parameters": {"retry_after": 7}}, True, 7,
         "telegram getFile: HTTP 429 Too Many Requests: retry after 7"),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, True, None,
         "telegram getFile: HTTP 502 Bad Gateway"),
        (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, True, None,
         "telegram getFile: HTTP 401 Unauthorized"),
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"},
         False, None, "telegram getFile: HTTP 400 Bad Request: file is too big"),
        (200, {"ok": True, "result": {"file_id": "F"}}, False, None,
         "telegram getFile: no file_path in its answer"),
        (200, {"ok": True, "result": {"file_path": "../../etc/passwd"}}, False, None,
         "telegram getFile: no file_path in its answer"),
        (200, {"ok": True, "result": {"file_path": "p.jpg", "file_size": 4096}}, False, None,
         "telegram: the file is 4 KB; the limit is 1 KB"),
    ],
)  # fmt: skip
async def test_telegram_answers_are_classified(
    status: int, body: dict, transient: bool, retry_after: float | None, reason: str
) -> None:
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    failed = await failure(adapter(handle))
    assert (failed.transient, failed.retry_after_s, failed.reason) == (
        transient,
        retry_after,
        reason,
    )


@pytest.mark.parametrize(
    ("answer", "transient", "reason"),
    [
        (lambda _: httpx.Response(404), False, "telegram file: HTTP 404"),
        (lambda _: httpx.Response(503, headers={"Retry-After": "30"}), True,
         "telegram file: HTTP 503"),
        (lambda _: httpx.Response(200, headers={"Content-Length": "2048"}, content=b"x" * 2048),
         False, "telegram file: the file is 2 KB; the limit is 1 KB"),
        # No Content-Length: cut off while it streams in.
        (lambda _: httpx.Response(200, content=_chunks(b"x" * 600, 3)), False,
         "telegram file: the file is more than 1 KB; the limit is 1 KB"),
    ],
)  # fmt: skip
async def test_the_file_download_is_classified_and_cut_off_past_the_limit(
    answer: Callable[[httpx.Request], httpx.Response], transient: bool, reason: str
) -> None:
    failed = await failure(adapter(telegram(answer)))
    assert (failed.transient, failed.reason) == (transient, reason)


async def test_the_network_and_a_slow_platform_are_worth_another_try() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    failed = await failure(adapter(refuse))
    assert failed.transient and failed.reason == "telegram: network: ConnectError"

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    failed = await failure(adapter(slow, timeout_s=0.1))
    assert failed.transient and failed.reason == "telegram: no answer within 0.1 s"


async def test_whatsapp_media_url_then_the_download_with_the_token() -> None:
    seen: list[tuple[str, str | None]] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.host == "graph.test" and request.url.raw_path == b"/v21.0/M%2F1":
            return httpx.Response(200, json={
                "messaging_product": "whatsapp", "url": "https://lookaside.test/a?mid=1",
                "mime_type": "image/jpeg", "sha256": "00", "file_size": "4", "id": "M/1",
            })  # fmt: skip
        if request.url.host == "lookaside.test":
            return httpx.Response(302, headers={"Location": "https://cdn.test/a.jpg"})
        assert request.url.host == "cdn.test"
        return httpx.Response(200, content=b"JPEG", headers={"Content-Type": "image/jpeg"})

    media = adapter(handle)
    got = await media.download("whatsapp", "M/1", 1024)
    await media.aclose()
    assert (got.data, got.content_type) == (b"JPEG", "image/jpeg")
    bearer = f"Bearer {WA_TOKEN}"
    # The token goes to the Graph API and the URL it gave, not to another origin after it.
    assert [auth for _, auth in seen] == [bearer, bearer, None]


@pytest.mark.parametrize(
    ("status", "body", "transient", "reason"),
    [
        (400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
                         "code": 100}}, False, "whatsapp media: HTTP 400 (#100) Invalid parameter"),
        (404, {}, False, "whatsapp media: HTTP 404"),
        (500, {"error": {"message": "An unknown error occurred", "code": 1}}, True,
         "whatsapp media: HTTP 500 An unknown error occurred"),
        (200, {"messaging_product": "whatsapp", "url": "file:///etc/passwd"}, False,
         "whatsapp media: no url in its answer"),
        (200, {"url": "https://x.test/a", "file_size": "999999"}, False,
         "whatsapp: the file is 977 KB; the limit is 1 KB"),
    ],
)  # fmt: skip
async def test_whatsapp_answers_are_classified(
    status: int, body: dict, transient: bool, reason: str
) -> None:
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode())

    failed = await failure(adapter(handle), "whatsapp")
    assert (failed.transient, failed.reason) == (transient, reason)


async def test_a_platform_ingest_does_not_fetch_from() -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    failed = await failure(adapter(never), "line")
    assert not failed.transient and failed.reason == "line: ingest fetches no media from it"


def test_the_retry_schedule_honours_retry_after_up_to_its_longest_wait() -> None:
    limits = MediaLimits(1024, 60, 1024**2, retry_delays_s=(2, 10, 30))
    assert limits.tries == 4
    assert [limits.delay(attempt) for attempt in (1, 2, 3, 4, 9)] == [2, 10, 30, 30, 30]
    assert limits.delay(1, retry_after_s=7) == 7  # the platform asked to wait longer
    assert limits.delay(2, retry_after_s=3) == 10  # never shorter than the schedule
    assert limits.delay(1, retry_after_s=3600) == 30  # never longer than its longest wait


def _chunks(data: bytes, count: int) -> Any:
    async def stream() -> Any:
        for _ in range(count):
            yield data

    return stream()
