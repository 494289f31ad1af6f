"""The host console (served by live) binds group chats from the browser: CORS allows it."""

from __future__ import annotations

from tests.ingest.conftest import Ingest


async def test_console_may_bind_chats_from_the_browser(ingest: Ingest) -> None:
    preflight = await ingest.http.options(
        "/bindings",
        headers={
            "Origin": "http://127.0.0.1:8002",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    webhook = await ingest.http.options(
        "/webhooks/telegram",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"},
    )
    assert webhook.status_code == 400  # only the methods the console uses


async def test_console_may_set_what_goes_out_to_a_group(ingest: Ingest) -> None:
    preflight = await ingest.http.options(
        "/bindings/telegram/-1001/outbound",
        headers={
            "Origin": "http://127.0.0.1:8002",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert "PUT" in preflight.headers["access-control-allow-methods"]
