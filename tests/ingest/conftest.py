from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.ingest.bootstrap import IngestApp, build
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared import streams
from shared.embedded_nats import NatsServer
from tests.ingest import payloads
from tests.support import serving

ADMIN = {"Authorization": "Bearer test-admin"}
STREAM_SUBJECTS = {spec.name: spec.subjects[0] for spec in streams.ALL_STREAMS if spec.subjects}


# Where the platforms' APIs are unless a test starts its own local server: a closed local
# port (refused at once), never the internet (ingest posts to the groups as soon as events
# call for it, and fetches their media).
NO_PLATFORM = "http://127.0.0.1:9"


def ingest_settings(nats_url: str, database_url: str, **overrides: Any) -> IngestSettings:
    settings: dict[str, Any] = {
        "telegram_api_base": NO_PLATFORM,
        "whatsapp_graph_base": NO_PLATFORM,
        "wecom_api_base": NO_PLATFORM,
        **overrides,
    }
    return IngestSettings(
        nats_url=nats_url,
        database_url=database_url,
        admin_token="test-admin",
        secret_key="test-secret-key-of-at-least-32-bytes!",
        telegram_secret_token=payloads.TELEGRAM_SECRET,
        whatsapp_app_secret=payloads.WHATSAPP_APP_SECRET,
        whatsapp_verify_token=payloads.WHATSAPP_VERIFY_TOKEN,
        webhook_secret=payloads.WEBHOOK_SECRET,
        **settings,
    )


class Ingest:
    """A running ingest: its URL, its composition root, an HTTP client."""

    def __init__(self, url: str, app: IngestApp, http: httpx.AsyncClient) -> None:
        self.url, self.app, self.http = url, app, http

    async def bind(self, platform: str, chat_id: str | int, room_id: str) -> dict:
        response = await self.http.post(
            "/bindings",
            json={"platform": platform, "chat_id": str(chat_id), "room_id": room_id},
            headers=ADMIN,
        )
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    async def telegram(self, update: dict, **headers: str) -> httpx.Response:
        return await self.http.post(
            "/webhooks/telegram",
            content=payloads.encode(update),
            headers=headers or payloads.telegram_headers(),
        )

    async def whatsapp(self, body: dict | bytes, headers: dict | None = None) -> httpx.Response:
        raw = body if isinstance(body, bytes) else payloads.encode(body)
        return await self.http.post(
            "/webhooks/whatsapp", content=raw, headers=headers or payloads.whatsapp_headers(raw)
        )

    async def generic(self, event: dict | bytes, headers: dict | None = None) -> httpx.Response:
        raw = event if isinstance(event, bytes) else payloads.encode(event)
        return await self.http.post(
            "/webhooks/generic", content=raw, headers=headers or payloads.generic_headers(raw)
        )


@contextlib.asynccontextmanager
async def start_ingest(
    nats_url: str, database_url: str, channels: Any = None, **overrides: Any
) -> AsyncIterator[Ingest]:
    app = build(ingest_settings(nats_url, database_url, **overrides), channels=channels)
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Ingest(url, app, http)


@pytest.fixture
async def ingest(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with start_ingest(
        nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/ingest.db"
    ) as running:
        yield running


async def stream_messages(nc: NatsClient, stream: str, subject: str | None = None) -> list[Any]:
    """Every message of a stream (or of one subject filter in it), oldest first. LIVE once
    ingest's room lines consumer, if there is one, has caught up with INGEST."""
    js = nc.jetstream()
    if stream == "LIVE":
        with contextlib.suppress(NotFoundError):
            await room_lines_settled(nc)
    info = await js.stream_info(stream, subjects_filter=subject) if subject else None
    total = (
        sum((info.state.subjects or {}).values())
        if info
        else (await js.stream_info(stream)).state.messages
    )
    if total == 0:
        return []
    sub = await js.pull_subscribe(
        subject or STREAM_SUBJECTS[stream],
        stream=stream,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )
    try:
        messages: list[Any] = []
        while len(messages) < total:
            # The messages are stored already: the margin is for a loaded CI machine only.
            messages.extend(await sub.fetch(total - len(messages), timeout=15))
        return messages
    finally:
        await sub.unsubscribe()


@pytest.fixture
async def live_url(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[str]:
    """A live instance on the same NATS, for lines that must reach viewers."""
    from services.live.bootstrap import build as build_live
    from services.live.main import create_app as create_live
    from tests.live.conftest import live_settings

    settings = live_settings(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db")
    async with serving(create_live(build_live(settings))) as url:
        yield url


async def room_lines_settled(nc: NatsClient, timeout: float = 15.0) -> None:
    """Wait until ingest's room lines consumer has handled every stored ingest event: the
    room's lines (and edits) of what was stored so far are in LIVE, or never will be."""
    from services.ingest.entrypoints.room_lines import DURABLE_ROOM_LINES
    from tests.support import eventually

    async def done() -> bool:
        info = await nc.jetstream().consumer_info("INGEST", DURABLE_ROOM_LINES)
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(done, timeout=timeout)
