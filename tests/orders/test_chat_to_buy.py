"""The whole chat-to-buy loop: a viewer types "+1 XL" in live, orders holds the unit,
the viewer is told privately in the room, pays, and is told again."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.live.bootstrap import build as build_live
from services.live.main import create_app as live_app
from shared.embedded_nats import NatsServer
from tests.live.client import TestViewer
from tests.live.conftest import ADMIN as LIVE_ADMIN
from tests.live.conftest import join, live_settings, open_room
from tests.orders.conftest import Orders
from tests.support import serving


async def test_plus_one_in_the_room_becomes_a_paid_order(
    orders: Orders, nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = live_settings(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db")
    async with serving(live_app(build_live(settings))) as live_url:
        room = await open_room(live_url)
        offer = await orders.offer(room_id=room, variants=["M", "XL"], stock=5)
        async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
            await http.post(
                f"/rooms/{room}/pin", json={"offer_id": offer["id"]}, headers=LIVE_ADMIN
            )
        lily = await TestViewer.connect(live_url, await join(live_url, room, "Lily"))
        await lily.send(type="chat", text="+1 x-large")
        placed = await lily.wait_for(
            lambda f: f["type"] == "notice" and f["kind"] == "order_placed"
        )
        order_id = placed["data"]["order_id"]
        await lily.wait_for(lambda f: f["type"] == "offer" and f["offer"]["left"] == 4)
        # The viewer pays with the token live gave her; the room tells her it is confirmed.
        pay = await orders.http.post(
            f"/orders/{order_id}/pay",
            headers={"Authorization": f"Bearer {lily.grant['token']}"},
            json={"card": "4242 4242 4242 4242"},
        )
        assert pay.status_code == 202, pay.text
        await lily.wait_for(lambda f: f["type"] == "notice" and f["kind"] == "order_paid")
        order = await orders.get(
            f"/orders/{order_id}", {"Authorization": f"Bearer {lily.grant['token']}"}
        )
        assert (order["variant"], order["status"]) == ("XL", "paid")
        await lily.close()
