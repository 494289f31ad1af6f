"""Telegram webhooks over real HTTP, a real nats-server, and a live instance with a viewer."""

from __future__ import annotations

import json

import httpx
from nats.aio.client import Client as NatsClient

from shared.events import PlaceClaim, parse_event
from shared.events.ingest import ExternalMemberJoined, ExternalMessageReceived
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, stream_messages
from tests.live.client import TestViewer
from tests.live.conftest import ADMIN as LIVE_ADMIN
from tests.live.conftest import join, open_room
from tests.support import eventually


async def test_a_telegram_group_message_reaches_a_viewer_of_the_bound_room(
    ingest: Ingest, live_url: str, nc: NatsClient
) -> None:
    room = await open_room(live_url)
    await ingest.bind("telegram", p.GROUP_ID, room)
    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    try:
        response = await ingest.telegram(p.telegram_message("樱桃还有吗? any cherries left?"))
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 1, "duplicates": 0, "parked": 0, "ignored": []}
        frame = await viewer.wait_for(
            lambda f: f["type"] == "chat" and any(m["source"] == "telegram" for m in f["messages"])
        )
        [line] = [m for m in frame["messages"] if m["source"] == "telegram"]
        assert line["text"] == "樱桃还有吗? any cherries left?"
        assert line["name"] == "Lily Wang" and line["customer_id"] == "telegram:111"
        assert line["id"] == f"telegram:{p.GROUP_ID}:42"
    finally:
        await viewer.close()
    [stored] = await stream_messages(nc, "INGEST", f"ingest.{room}.>")
    event = parse_event(stored.data)
    assert isinstance(event, ExternalMessageReceived) and event.via == "webhook"
    assert stored.headers["Nats-Msg-Id"] == f"telegram:{p.GROUP_ID}:42"


async def test_the_same_update_posted_twice_is_one_event(ingest: Ingest, nc: NatsClient) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_twice")
    update = p.telegram_message("+1")
    first, second = await ingest.telegram(update), await ingest.telegram(update)
    assert first.json()["accepted"] == 1
    assert second.status_code == 200 and second.json()["duplicates"] == 1
    assert len(await stream_messages(nc, "INGEST", "ingest.r_twice.>")) == 1
    assert len(await stream_messages(nc, "LIVE", "live.r_twice.>")) == 1  # one line in the room


async def test_edits_and_members_are_events_but_not_room_lines(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_edit")
    for update in (
        p.telegram_message("+1", message_id=50),
        p.telegram_edit("+2", message_id=50),
        p.telegram_join([p.telegram_user(5, "Newbie", None)], message_id=51),
        p.telegram_left(p.telegram_user(6, "Gone", None), message_id=52),
    ):
        assert (await ingest.telegram(update)).json()["accepted"] == 1
    events = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.r_edit.>")]
    assert [e.type for e in events] == [
        "external.message_received",
        "external.message_received",
        "external.member_joined",
        "external.member_left",
    ]
    assert isinstance(events[1], ExternalMessageReceived) and events[1].edited
    assert isinstance(events[2], ExternalMemberJoined) and events[2].customer_id == "telegram:5"
    # One line in the room; the edit changes it (a chat.message_edited, not a line).
    room_lines = await stream_messages(nc, "LIVE", "live.r_edit.>")
    assert [json.loads(m.data)["type"] for m in room_lines] == [
        "chat.message_posted",
        "chat.message_edited",
    ]
    assert [json.loads(m.data)["text"] for m in room_lines] == ["+1", "+2"]


async def test_a_wrong_secret_is_401_and_nothing_is_kept(ingest: Ingest, nc: NatsClient) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_auth")
    update = p.telegram_message()
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
        response = await ingest.http.post(
            "/webhooks/telegram", content=p.encode(update), headers=headers
        )
        assert response.status_code == 401
    for stream in ("INGEST", "INGEST_RAW", "LIVE", "DEADLETTER"):
        assert (await nc.jetstream().stream_info(stream)).state.messages == 0, stream


async def test_private_chats_and_other_update_kinds_are_acknowledged_and_skipped(
    ingest: Ingest, nc: NatsClient
) -> None:
    private = await ingest.telegram(p.telegram_message(kind="private", chat_id=111))
    assert private.status_code == 200 and "private" in private.json()["ignored"][0]
    other = await ingest.telegram({"update_id": 7, "my_chat_member": {"chat": {}}})
    assert other.status_code == 200 and other.json()["accepted"] == 0
    assert (await nc.jetstream().stream_info("INGEST")).state.messages == 0
    assert (await nc.jetstream().stream_info("INGEST_RAW")).state.messages == 2  # replayable


async def test_a_buy_line_in_a_bound_chat_becomes_a_claim_on_the_pinned_offer(
    ingest: Ingest, live_url: str, nc: NatsClient
) -> None:
    room = await open_room(live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        pinned = await http.post(
            f"/rooms/{room}/pin", json={"offer_id": "o_cherry"}, headers=LIVE_ADMIN
        )
        assert pinned.status_code == 200, pinned.text
    await ingest.bind("telegram", p.GROUP_ID, room)
    claims = await nc.subscribe(f"cmd.{room}.orders.place_claim")
    await ingest.telegram(p.telegram_message("nice cherries", message_id=60))
    await ingest.telegram(p.telegram_message("+1", message_id=61))
    msg = await claims.next_msg(timeout=10)
    claim = parse_event(msg.data)
    assert isinstance(claim, PlaceClaim)
    assert claim.claim_id == f"telegram:{p.GROUP_ID}:61" and claim.offer_id == "o_cherry"
    assert claim.customer_id == "telegram:111" and claim.quantity == 1
    assert claim.source == "telegram" and claim.source_text == "+1"

    async def one_claim_stored() -> bool:
        return (await nc.jetstream().stream_info("COMMANDS")).state.messages == 1

    assert await eventually(one_claim_stored)  # the chatter line claimed nothing
