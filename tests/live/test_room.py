"""The room over real websockets, two live instances, a real nats-server and database."""

from __future__ import annotations

import asyncio

import httpx
import nats
import pytest

from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import (
    ClaimRejected,
    ModerationApplied,
    OfferOpened,
    OrderPlaced,
    StockChanged,
    parse_event,
    utcnow,
)
from shared.messaging import EventPublisher
from tests.live.client import TestViewer, kind
from tests.live.conftest import ADMIN, join, open_room

pytestmark = pytest.mark.usefixtures("nats_server")


async def viewers(url: str, room: str, *names: str, **extra: object) -> list[TestViewer]:
    return [await TestViewer.connect(url, await join(url, room, n, **extra)) for n in names]


async def test_fan_out_across_two_instances_keeps_each_senders_order(
    two_lives: tuple[str, str],
) -> None:
    url_a, url_b = two_lives
    room = await open_room(url_a)
    [lily] = await viewers(url_a, room, "Lily")
    [wei] = await viewers(url_b, room, "伟")
    for i in range(15):
        await lily.send(type="chat", text=f"lily {i}")
        await wei.send(type="chat", text=f"伟 {i}")
        await asyncio.sleep(0.6)  # stay under the per-viewer rate limit (2/s)
    for v in (lily, wei):
        await v.wait_for(lambda f, v=v: "lily 14" in v.chat_texts() and "伟 14" in v.chat_texts())
        texts = v.chat_texts()
        assert [t for t in texts if t.startswith("lily")] == [f"lily {i}" for i in range(15)]
        assert [t for t in texts if t.startswith("伟")] == [f"伟 {i}" for i in range(15)]
    await lily.wait_for(kind("presence", viewers=2))
    await wei.wait_for(kind("presence", viewers=2))


async def test_red_packet_under_hundreds_of_simultaneous_grabs_on_two_instances(
    two_lives: tuple[str, str],
) -> None:
    url_a, url_b = two_lives
    room = await open_room(url_a)
    grabbers = []
    for i in range(120):
        url = url_a if i % 2 else url_b
        grabbers.append(await TestViewer.connect(url, await join(url, room, f"fan{i}")))
    async with httpx.AsyncClient(base_url=url_a, timeout=30) as http:
        created = await http.post(
            f"/rooms/{room}/red-packets",
            headers=ADMIN,
            json={"total_cents": 8888, "shares": 50, "message": "樱桃!"},
        )
        assert created.status_code == 201, created.text
    packet = created.json()["packet_id"]
    await asyncio.gather(*(g.wait_for(kind("red_packet", packet_id=packet)) for g in grabbers))
    # Everybody grabs at once, twice (the second try must never pay twice).
    await asyncio.gather(
        *(g.send(type="grab", packet_id=packet, ref=str(n)) for n in (1, 2) for g in grabbers)
    )
    outcomes = await asyncio.gather(
        *(
            g.wait_for(lambda f: f.get("ref") == "1" and f["type"] in ("notice", "error"))
            for g in grabbers
        )
    )
    won = [o["data"]["amount_cents"] for o in outcomes if o["type"] == "notice"]
    assert len(won) == 50
    assert sum(won) == 8888
    assert all(a >= 1 for a in won)
    late = [o["code"] for o in outcomes if o["type"] == "error"]
    assert set(late) == {"red_packet_empty"}
    seconds = await asyncio.gather(
        *(
            g.wait_for(lambda f: f.get("ref") == "2" and f["type"] in ("notice", "error"))
            for g in grabbers
        )
    )
    assert all(s["type"] == "error" for s in seconds)
    finished = await grabbers[0].wait_for(kind("red_packet", status="finished"))
    assert finished["luckiest_amount_cents"] == max(won)
    winner = next(
        o
        for g, o in zip(grabbers, outcomes, strict=True)
        if o["type"] == "notice" and g.customer_id == finished["luckiest"]
    )
    assert winner["data"]["amount_cents"] == max(won)
    for g in grabbers:
        await g.close()


async def test_group_rules_moderation_and_roles(live_url: str, nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    decisions = await nc.subscribe(subjects.room_event("live", "*", "moderation.applied"))
    room = await open_room(live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        rules = {"blocked_words": ["scam"], "block_links": True, "max_length": 100}
        assert (await http.put(f"/rooms/{room}/rules", json=rules, headers=ADMIN)).is_success
        lily, wei, spammer = await viewers(live_url, room, "Lily", "Wei", "Spam")
        # A member's link is blocked, privately; a moderator's is not.
        await spammer.send(type="chat", text="cheap at www.spam-shop.com", ref="s1")
        blocked = await spammer.wait_for(kind("error", ref="s1"))
        assert blocked["code"].startswith("blocked_")
        role = await http.put(
            f"/rooms/{room}/members/{lily.customer_id}/role",
            json={"role": "moderator"},
            headers=ADMIN,
        )
        assert role.json()["role"] == "moderator"
        await lily.wait_for(kind("notice", kind="role"))
        await lily.send(type="chat", text="order form: https://qunlive.example/cherries")
        await wei.wait_for(lambda f: f["type"] == "chat" and "qunlive.example" in str(f))
        # The moderator deletes a line for everyone and mutes the spammer.
        await spammer.send(type="chat", text="hello all")
        line = await wei.wait_for(lambda f: f["type"] == "chat" and "hello all" in str(f))
        message_id = line["messages"][-1]["id"]
        await lily.send(type="moderate", action="delete", message_id=message_id, reason="spam")
        await wei.wait_for(kind("deleted", message_id=message_id))
        await lily.send(
            type="moderate",
            action="mute",
            customer_id=spammer.customer_id,
            reason="links",
            minutes=5,
        )
        await wei.wait_for(kind("moderation", action="mute"))
        await spammer.send(type="chat", text="let me talk", ref="s2")
        assert (await spammer.wait_for(kind("error", ref="s2")))["code"] == "muted"
        # A plain member cannot moderate; the host kicks over HTTP and the socket closes.
        await wei.send(type="moderate", action="kick", customer_id=lily.customer_id, ref="w1")
        assert (await wei.wait_for(kind("error", ref="w1")))["code"] == "forbidden"
        kick = {"action": "ban", "customer_id": spammer.customer_id, "reason": "ads"}
        assert (
            await http.post(f"/rooms/{room}/moderation", json=kick, headers=ADMIN)
        ).status_code == 204
        await asyncio.wait_for(spammer.ws.wait_closed(), 10)
        assert spammer.ws.close_code == 4403
        rejoin = await http.post(
            f"/rooms/{room}/join",
            json={"display_name": "Spam", "previous_token": spammer.grant["token"]},
        )
        assert rejoin.status_code == 403
    seen = []
    while len(seen) < 4:  # block, delete, mute, ban
        msg = await decisions.next_msg(timeout=10)
        event = parse_event(msg.data)
        assert isinstance(event, ModerationApplied)
        seen.append((event.action, event.by, event.reason))
    actions = [a for a, _, _ in seen]
    assert actions == ["block", "delete", "mute", "ban"]
    assert all(by and reason for _, by, reason in seen)
    await nc.close()


async def test_newcomer_welcome_checkin_poll_and_announcement(live_url: str) -> None:
    room = await open_room(live_url)
    [lily] = await viewers(live_url, room, "Lily")
    await lily.wait_for(lambda f: f["type"] == "chat" and "@Lily" in str(f))
    await lily.send(type="checkin", ref="c1")
    first = await lily.wait_for(kind("notice", ref="c1"))
    assert first["data"]["streak"] == 1
    await lily.send(type="checkin", ref="c2")
    assert (await lily.wait_for(kind("error", ref="c2")))["code"] == "already_checked_in"
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        poll = (
            await http.post(
                f"/rooms/{room}/polls",
                headers=ADMIN,
                json={"question": "Next colour?", "options": ["红", "黑"]},
            )
        ).json()
        await lily.wait_for(kind("poll", poll_id=poll["poll_id"]))
        await lily.send(type="vote", poll_id=poll["poll_id"], option=1, ref="v1")
        await lily.wait_for(kind("notice", ref="v1"))
        await lily.send(type="vote", poll_id=poll["poll_id"], option=0, ref="v2")
        assert (await lily.wait_for(kind("error", ref="v2")))["code"] == "already_voted"
        await lily.wait_for(lambda f: f["type"] == "poll" and f["counts"] == [0, 1])
        closed = await http.post(f"/rooms/{room}/polls/{poll['poll_id']}/close", headers=ADMIN)
        assert closed.json()["counts"] == [0, 1]
        await lily.wait_for(lambda f: f["type"] == "poll" and f["closed"])
        await http.post(
            f"/rooms/{room}/announcements",
            headers=ADMIN,
            json={"text": "Tomorrow 20:00: cherries 499/box"},
        )
        await lily.wait_for(kind("announcement", text="Tomorrow 20:00: cherries 499/box"))


async def test_chat_to_buy_sends_claims_and_brings_back_private_outcomes(
    live_url: str, nats_server: NatsServer
) -> None:
    nc = await nats.connect(nats_server.url)
    claims = await nc.subscribe(subjects.room_event("cmd", "*", "orders.place_claim"))
    room = await open_room(live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        await http.post(f"/rooms/{room}/pin", json={"offer_id": "o_cherry"}, headers=ADMIN)
    referrer = "web:aunt-mei"
    lily, wei = await viewers(live_url, room, "Lily", "Wei", referrer_id=referrer)
    bus = EventPublisher(nc.jetstream())
    await bus.publish(
        OfferOpened(
            room_id=room,
            offer_id="o_cherry",
            kind="flash_sale",
            title="Cherries 樱桃",
            price_cents=49900,
            stock=8000,
            per_buyer_limit=2,
        )
    )
    for left in (7999, 7998, 7990):
        await bus.publish(StockChanged(room_id=room, offer_id="o_cherry", left=left))
    await lily.wait_for(lambda f: f["type"] == "offer" and f["offer"]["left"] == 7990)
    await lily.send(type="chat", text="+1 两盒 XL")
    await lily.send(type="chat", text="how much is shipping?")
    command = parse_event((await claims.next_msg(timeout=10)).data)
    assert command.customer_id == lily.customer_id
    assert (command.offer_id, command.quantity, command.source) == ("o_cherry", 2, "chat")
    assert command.referrer_id == referrer
    await lily.wait_for(kind("notice", kind="claim_sent"))
    with pytest.raises(TimeoutError):
        await claims.next_msg(timeout=0.5)  # the question was not a claim
    await bus.publish(
        OrderPlaced(
            room_id=room,
            customer_id=lily.customer_id,
            order_id="ord1",
            claim_id=command.claim_id,
            offer_id="o_cherry",
            quantity=2,
            amount_cents=99800,
            pay_by=utcnow(),
        )
    )
    await bus.publish(
        ClaimRejected(
            room_id=room,
            customer_id=wei.customer_id,
            claim_id="x",
            offer_id="o_cherry",
            reason="sold_out_waitlisted",
            message="Sold out — you're on the waitlist.",
        )
    )
    placed = await lily.wait_for(kind("notice", kind="order_placed"))
    assert placed["data"]["order_id"] == "ord1"
    await wei.wait_for(kind("notice", kind="claim_rejected"))
    assert not [f for f in lily.frames if f.get("kind") == "claim_rejected"]
    assert not [f for f in wei.frames if f.get("kind") == "order_placed"]
    await nc.close()


async def test_rate_limit_and_host_only_api(live_url: str) -> None:
    room = await open_room(live_url)
    [lily] = await viewers(live_url, room, "Lily")
    for i in range(12):
        await lily.send(type="chat", text=f"flood {i}", ref=f"f{i}")
    await lily.wait_for(kind("error", code="slow_down"))
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        as_viewer = {"Authorization": f"Bearer {lily.grant['token']}"}
        assert (await http.post(f"/rooms/{room}/end", headers=as_viewer)).status_code == 403
        host = (await http.post("/hosts", json={"name": "Mei"}, headers=ADMIN)).json()
        as_other_host = {"Authorization": f"Bearer {host['token']}"}
        assert (await http.post(f"/rooms/{room}/end", headers=as_other_host)).status_code == 403
        mine = await http.post("/rooms", json={"title": "Mei's"}, headers=as_other_host)
        assert mine.json()["host_id"] == host["host_id"]
        ended = await http.post(f"/rooms/{mine.json()['id']}/end", headers=as_other_host)
        assert ended.json()["status"] == "ended"
        assert (await http.post(f"/rooms/{room}/start", headers=ADMIN)).status_code == 409
