"""Edits, both ways, end to end: a Telegram member edits "+1" into "+2" on the pinned offer.
ingest, live and orders run together on one nats-server; a viewer watches the room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.orders.bootstrap import build as build_orders
from services.orders.main import create_app as create_orders
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import OrderAmended, OrderPlaced, parse_event
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest
from tests.live.client import TestViewer, kind
from tests.live.conftest import ADMIN as LIVE_ADMIN
from tests.live.conftest import join, open_room
from tests.orders.conftest import Orders, orders_settings
from tests.support import eventually, serving


@pytest.fixture
async def orders(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Orders]:
    app = build_orders(orders_settings(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/o.db"))
    async with (
        serving(create_orders(app)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield Orders(url, app, http)


async def test_a_telegram_edit_from_plus_one_to_plus_two_amends_the_order_and_the_line(
    ingest: Ingest, live_url: str, orders: Orders, nc: NatsClient
) -> None:
    room = await open_room(live_url)
    offer = await orders.offer(room_id=room, stock=5, per_buyer_limit=3)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        pinned = await http.post(
            f"/rooms/{room}/pin", json={"offer_id": offer["id"]}, headers=LIVE_ADMIN
        )
        assert pinned.status_code == 200, pinned.text
    await ingest.bind("telegram", p.GROUP_ID, room)
    said = await nc.subscribe(subjects.room_events("orders", room))
    seen: list[Any] = []

    async def heard(kind_of: type) -> Any:
        async def probe() -> Any:
            while True:
                try:
                    seen.append(parse_event((await said.next_msg(timeout=0.2)).data))
                except TimeoutError:
                    break
            return next((e for e in seen if isinstance(e, kind_of)), None)

        return await eventually(probe, timeout=20)

    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    try:
        line = f"telegram:{p.GROUP_ID}:90"
        assert (await ingest.telegram(p.telegram_message("+1", message_id=90))).status_code == 200
        placed = await heard(OrderPlaced)
        assert (placed.claim_id, placed.quantity) == (line, 1)

        edit = p.telegram_edit("+2", message_id=90, edit_date=p.now() + 1)
        assert (await ingest.telegram(edit)).json()["accepted"] == 1
        amended = await heard(OrderAmended)
        assert isinstance(amended, OrderAmended)
        assert (amended.order_id, amended.claim_id, amended.quantity) == (placed.order_id, line, 2)
        assert amended.pay_by == placed.pay_by
        assert amended.amount_cents == 2 * placed.amount_cents
        frame = await viewer.wait_for(kind("edited"))
        assert (frame["message_id"], frame["text"]) == (line, "+2")
        left = (await orders.get(f"/offers/{offer['id']}"))["left"]
        assert left == 3
    finally:
        await viewer.close()
