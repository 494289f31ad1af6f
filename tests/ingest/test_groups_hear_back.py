"""The groups hear back, end to end: a Telegram member's "+1" comes in by webhook, live
claims it, orders holds stock, ingest's planner queues the answer, its sender posts it to a
local server speaking Telegram's documented Bot API (group_apis.py), and paying edits it.
Every part is the real one, on a real nats-server; nothing reaches the internet."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from shared.embedded_nats import NatsServer
from shared.events import parse_event
from shared.events.ingest import GroupMessageSent
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, start_ingest, stream_messages
from tests.ingest.group_apis import TELEGRAM_TOKEN, GroupApis
from tests.live.conftest import ADMIN as LIVE_ADMIN
from tests.live.conftest import open_room
from tests.orders.conftest import Orders
from tests.orders.conftest import orders as orders
from tests.support import eventually, serving

CHAT = str(p.GROUP_ID)


@pytest.fixture
async def apis() -> AsyncIterator[GroupApis]:
    fake = GroupApis()
    async with serving(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
async def ingest(
    nats_server: NatsServer, database_url: str, apis: GroupApis, orders: Orders
) -> AsyncIterator[Ingest]:
    async with start_ingest(
        nats_server.url,
        database_url,
        telegram_api_base=apis.base_url,
        telegram_bot_token=TELEGRAM_TOKEN,
        orders_public_url=str(orders.http.base_url).rstrip("/"),
        outbound_retry_delays_s=(0.2, 0.2),
    ) as running:
        yield running


async def sent_events(nc: NatsClient, room: str) -> list[GroupMessageSent]:
    found = [
        parse_event(m.data)
        for m in await stream_messages(nc, "INGEST", f"ingest.{room}.group.message_sent")
    ]
    return [e for e in found if isinstance(e, GroupMessageSent)]


async def test_a_plus_one_gets_one_reply_in_its_group_then_an_edit_when_paid(
    ingest: Ingest, live_url: str, orders: Orders, apis: GroupApis, nc: NatsClient
) -> None:
    room = await open_room(live_url)
    offer = await orders.offer(room_id=room, stock=5)
    await ingest.bind("telegram", p.GROUP_ID, room)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        pinned = await http.post(
            f"/rooms/{room}/pin", json={"offer_id": offer["id"]}, headers=LIVE_ADMIN
        )
        assert pinned.status_code == 200, pinned.text

    apis.member_says(CHAT, 61)
    update = p.telegram_message("+1", message_id=61)
    assert (await ingest.telegram(update)).status_code == 200
    # The platform delivers the same update again (it does, for hours): nothing new is said.
    assert (await ingest.telegram(update)).status_code == 200

    async def answered() -> list | None:
        replies = [m for m in apis.messages(CHAT) if m.reply_to == "61"]
        return replies or None

    [reply] = await eventually(answered, timeout=30)
    assert reply.plain.startswith("Yours: 1 × Cherries 樱桃, ¥499. Please pay by "), reply.plain
    [(label, pay_url)] = [b for b in reply.buttons if "pay=" in b[1]]
    assert label == "Pay"

    # The buyer opens the Pay link: the token in it pays this order at orders.
    token = pay_url.split("pay=", 1)[1]

    async def reply_sent() -> list | None:  # the event follows the platform's answer
        return [e for e in await sent_events(nc, room) if e.kind == "claim_outcome"] or None

    [sent] = await eventually(reply_sent, timeout=15)
    assert (sent.platform_message_id, sent.customer_id) == (reply.message_id, "telegram:111")
    assert sent.order_id
    paid = await orders.http.post(
        f"/orders/{sent.order_id}/pay",
        headers={"X-Pay-Token": token},
        json={"card": "4242 4242 4242 4242"},
    )
    assert paid.status_code == 202, paid.text

    async def edited() -> bool:
        return reply.edits >= 1 and reply.plain.startswith("Paid: 1 × Cherries 樱桃, ¥499.")

    assert await eventually(edited, timeout=30), reply.plain
    # One reply, edited in place; no second post about this claim in the group.
    assert [m.message_id for m in apis.messages(CHAT) if m.reply_to == "61"] == [reply.message_id]
    assert apis.violations == []
