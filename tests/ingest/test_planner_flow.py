"""The planner on a real nats-server: events in, SendToGroup commands on the COMMANDS stream
(`cmd.<room>.ingest.send_to_group`). The sender (another part) is not needed to see them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NatsClient

from services.ingest.adapters.tables import BindingRow, GroupOrderRow
from services.ingest.entrypoints.outbound_consumers import durable_name
from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from shared.events import (
    RoomOpened,
    RoomPreviewAnnounced,
    RoomStarted,
    parse_event,
    utcnow,
)
from shared.events.commands import SendToGroup
from shared.messaging import EventPublisher
from tests.ingest import payloads as p
from tests.ingest.conftest import ADMIN, Ingest, stream_messages
from tests.live.conftest import ADMIN as LIVE_ADMIN
from tests.live.conftest import open_room
from tests.orders.conftest import SECRET, Orders
from tests.orders.conftest import orders as orders
from tests.support import eventually


async def commands(nc: NatsClient, room: str) -> list[SendToGroup]:
    messages = await stream_messages(nc, "COMMANDS", f"cmd.{room}.ingest.send_to_group")
    found = [parse_event(m.data) for m in messages]
    assert all(isinstance(c, SendToGroup) for c in found)
    return found  # type: ignore[return-value]


def of_kind(found: list[SendToGroup], kind: str) -> list[SendToGroup]:
    return [c for c in found if c.kind == kind]


async def test_a_plus_one_in_a_bound_telegram_group_is_answered_there_once_and_edited_when_paid(
    ingest: Ingest,
    live_url: str,
    orders: Orders,
    nc: NatsClient,
) -> None:
    room = await open_room(live_url)
    offer = await orders.offer(room_id=room, stock=5)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        pinned = await http.post(
            f"/rooms/{room}/pin", json={"offer_id": offer["id"]}, headers=LIVE_ADMIN
        )
        assert pinned.status_code == 200, pinned.text
    await ingest.bind("telegram", p.GROUP_ID, room)
    await ingest.telegram(p.telegram_message("+1", message_id=61))

    async def replied() -> list[SendToGroup]:
        return of_kind(await commands(nc, room), "claim_outcome")

    reply = (await eventually(replied, timeout=20))[0]
    assert (reply.platform, reply.chat_id, reply.reply_to) == ("telegram", str(p.GROUP_ID), "61")
    assert reply.customer_id == "telegram:111" and reply.order_id
    assert reply.id == reply.key == f"{reply.source_event_id}:telegram:{p.GROUP_ID}"
    assert "Yours: 1 × Cherries 樱桃, ¥499." in reply.text
    assert reply.buttons[0].text == "Pay" and "?pay=" in reply.buttons[0].url
    async with ingest.app.infra.sessions() as session:
        recorded = await session.get(GroupOrderRow, reply.order_id)
    assert recorded is not None and recorded.outcome_key == reply.key
    assert (recorded.message_id, recorded.state) == ("61", "held")

    # The buyer pays (as the Pay link's page would): the reply is edited, not posted again.
    buyer = Viewer(room_id=room, customer_id="telegram:111", display_name="Lily")
    token = ViewerTokens(SECRET, 3600).issue(buyer)[0]
    paid = await orders.http.post(
        f"/orders/{reply.order_id}/pay",
        headers={"Authorization": f"Bearer {token}"},
        json={"card": "4242 4242 4242 4242"},
    )
    assert paid.status_code == 202, paid.text

    async def edited() -> list[SendToGroup]:
        return [c for c in await commands(nc, room) if c.edit_of == reply.key]

    edit = (await eventually(edited, timeout=20))[0]
    assert edit.key.endswith(f":telegram:{p.GROUP_ID}:edit") and edit.text.startswith("Paid")
    assert len(of_kind(await commands(nc, room), "claim_outcome")) == 2  # the reply, its edit
    offers = of_kind(await commands(nc, room), "offer")
    assert len(offers) <= 1  # bound after the pin: at most the card of an open arriving late


async def preview(room: str) -> RoomPreviewAnnounced:
    return RoomPreviewAnnounced(
        room_id=room,
        text="Cherries 499 a box, 8,000 boxes",
        scheduled_at=utcnow() + timedelta(days=1),
    )


async def test_the_preview_goes_to_every_bound_group_once_but_not_where_off_or_paused(
    ingest: Ingest, nc: NatsClient
) -> None:
    room = "r_preview"
    publisher = EventPublisher(nc.jetstream())
    await publisher.publish(RoomOpened(room_id=room, title="Cherry night", host_id="h1"))
    for chat in ("-1001", "-1002", "-1003", "-1004", "-1005"):
        await ingest.bind("telegram", chat, room)
    quiet = await ingest.http.put(
        "/bindings/telegram/-1004/outbound",
        json={"kinds": {"preview": False}, "referrer_id": "web:partner"},
        headers=ADMIN,
    )
    assert quiet.status_code == 200, quiet.text
    partner = await ingest.http.put(
        "/bindings/telegram/-1002/outbound",
        json={"language": "zh", "referrer_id": "web:partner"},
        headers=ADMIN,
    )
    assert partner.status_code == 200, partner.text
    async with ingest.app.infra.sessions() as session:  # the sender paused it: bot removed
        row = await session.get(BindingRow, ("telegram", "-1005"))
        assert row is not None
        row.paused_code, row.paused_reason = "bot_removed", "Forbidden: bot was kicked"
        session.add(row)
        await session.commit()

    event = await preview(room)
    await publisher.publish(event)
    # Delivered again (a redelivery JetStream's dedupe does not see): the same keys.
    await publisher.publish_raw(
        f"live.{room}.room.preview_announced", event.model_dump_json().encode(), "again"
    )
    await publisher.publish(RoomStarted(room_id=room))  # after both: its messages mark the end

    async def live_posted() -> list[SendToGroup] | None:
        posted = of_kind(await commands(nc, room), "live")
        return posted if len(posted) >= 4 else None  # the four may come one by one

    assert len(await eventually(live_posted, timeout=15)) == 4  # not the paused one
    found = await commands(nc, room)
    previews = of_kind(found, "preview")
    assert sorted(c.chat_id for c in previews) == ["-1001", "-1002", "-1003"]
    assert all(c.pin and c.key == f"{event.id}:telegram:{c.chat_id}" for c in previews)
    chinese = next(c for c in previews if c.chat_id == "-1002")
    assert chinese.text.startswith("明") and chinese.title == "Cherry night"
    assert chinese.buttons[0].url.endswith(f"/r/{room}?ref=web%3Apartner")

    # Resumed, the group hears the next message.
    resumed = await ingest.http.post("/bindings/telegram/-1005/resume", headers=ADMIN)
    assert resumed.status_code == 200 and resumed.json()["paused"] is None
    again = RoomStarted(room_id=room)
    await publisher.publish(again)

    async def to_the_resumed() -> list[Any]:
        return [c for c in await commands(nc, room) if c.source_event_id == again.id]

    assert {c.chat_id for c in await eventually(to_the_resumed)} >= {"-1005"}


async def test_the_planners_consumers_are_durable_and_read_only_their_events(
    ingest: Ingest, nc: NatsClient
) -> None:
    js = nc.jetstream()
    info = await js.consumer_info("LIVE", durable_name("live"))
    assert "live.*.room.preview_announced" in (info.config.filter_subjects or [])
    assert "live.*.chat.message_posted" not in (info.config.filter_subjects or [])
    for stream, source in (("ORDERS", "orders"), ("INGEST", "ingest"), ("ANALYTICS", "analytics")):
        assert (await js.consumer_info(stream, durable_name(source))).config.durable_name


async def test_an_unreadable_event_is_dead_lettered_and_the_next_one_planned(
    ingest: Ingest, nc: NatsClient, tmp_path: Path
) -> None:
    room = "r_bad"
    await ingest.bind("telegram", "-1001", room)
    publisher = EventPublisher(nc.jetstream())
    await publisher.publish_raw(f"live.{room}.room.started", b'{"type": "room.started"}', "bad")
    await publisher.publish(RoomStarted(room_id=room))

    async def dead() -> bool:
        return bool(await stream_messages(nc, "DEADLETTER", "deadletter.ingest"))

    assert await eventually(dead)
    assert len(await eventually(lambda: commands(nc, room))) == 1


async def test_a_member_joining_a_welcoming_group_is_welcomed_there(
    ingest: Ingest, nc: NatsClient
) -> None:
    room = "r_welcome"
    await ingest.bind("telegram", p.GROUP_ID, room)
    await ingest.bind("telegram", "-1009", room)  # welcome is off by default
    on = await ingest.http.put(
        f"/bindings/telegram/{p.GROUP_ID}/outbound",
        json={"kinds": {"welcome": True}},
        headers=ADMIN,
    )
    assert on.status_code == 200, on.text
    joined = await ingest.telegram(p.telegram_join([p.telegram_user(777, "Mei", None)]))
    assert joined.status_code == 200, joined.text

    welcome = (await eventually(lambda: commands(nc, room)))[0]
    assert (welcome.kind, welcome.chat_id) == ("welcome", str(p.GROUP_ID))
    assert welcome.mention is not None and welcome.mention.user_id == "777"
    assert welcome.text.startswith("Welcome Mei")
