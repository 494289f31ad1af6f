"""Analytics consumes the LIVE stream durably into its database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.analytics.bootstrap import build
from services.analytics.main import create_app
from services.analytics.settings import AnalyticsSettings
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import ChatMessagePosted, ViewerJoined
from shared.messaging import H_REASON, EventPublisher
from tests.support import eventually, serving


@pytest.fixture
async def analytics_url(
    nats_server: NatsServer, database_url: str, tmp_path: Path
) -> AsyncIterator[str]:
    settings = AnalyticsSettings(nats_url=nats_server.url, database_url=database_url)
    async with serving(create_app(build(settings))) as url:
        yield url


async def customer(http: httpx.AsyncClient, customer_id: str) -> dict | None:
    response = await http.get(f"/customers/{customer_id}")
    return response.json() if response.status_code == 200 else None


async def test_chat_lines_are_recorded_once_per_event(analytics_url: str, nc: NatsClient) -> None:
    bus = EventPublisher(nc.jetstream())
    joined = ViewerJoined(room_id="r1", customer_id="web:lily", display_name="Lily")
    line = ChatMessagePosted(
        room_id="r1", customer_id="web:lily", message_id="m1", display_name="Lily", text="+1"
    )
    await bus.publish(joined)
    await bus.publish(line)
    # The same event again under a new Nats-Msg-Id (past the dedupe window): still once.
    await nc.jetstream().publish(subjects.event_subject(line), line.model_dump_json().encode())
    second = ChatMessagePosted(
        room_id="r1", customer_id="web:lily", message_id="m2", display_name="Lily 莉莉", text="两盒"
    )
    await bus.publish(second)
    async with httpx.AsyncClient(base_url=analytics_url) as http:

        async def two_messages() -> dict | None:
            found = await customer(http, "web:lily")
            return found if found and found["messages"] == 2 else None

        profile = await eventually(two_messages)
    assert profile["display_name"] == "Lily 莉莉"
    assert profile["rooms_joined"] == 1


async def test_an_unreadable_event_goes_to_dead_letters_and_the_rest_flows(
    analytics_url: str, nc: NatsClient
) -> None:
    js = nc.jetstream()
    dead = await js.subscribe(subjects.dead_letters("analytics"), stream="DEADLETTER")
    await js.publish("live.r1.chat.message_posted", b'{"type": "chat.message_posted"}')
    await js.publish("live.r1.chat.message_posted", b"not json at all")
    await js.publish("live.r1.room.exploded", b'{"type": "room.exploded", "room_id": "r1"}')
    reasons = []
    for _ in range(3):
        msg = await dead.next_msg(timeout=10)
        reasons.append(msg.headers[H_REASON])
    assert "invalid chat.message_posted" in reasons[0]
    assert "not a JSON object" in reasons[1]
    assert "unknown event type 'room.exploded'" in reasons[2]
    await EventPublisher(js).publish(
        ChatMessagePosted(
            room_id="r1",
            customer_id="web:wei",
            message_id="m9",
            display_name="Wei",
            text="still here",
        )
    )
    async with httpx.AsyncClient(base_url=analytics_url) as http:
        await eventually(lambda: customer(http, "web:wei"))
