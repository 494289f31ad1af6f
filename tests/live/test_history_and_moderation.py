"""What a joining viewer's history holds, and when moderation takes effect.

The history a (re)connecting page relies on keeps the conversation: system lines
(welcomes) never push chat out of it, and moderation applies to it (deleted lines,
a banned member's lines), on every instance. A host's decision (mute, rules) is in
force everywhere once the call answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.live.bootstrap import build
from services.live.main import create_app
from shared.embedded_nats import NatsServer
from shared.events import ChatMessagePosted, OfferOpened, StockChanged
from shared.messaging import EventPublisher
from tests.live.client import TestViewer, kind
from tests.live.conftest import ADMIN, delete_line, join, live_settings, open_room
from tests.support import serving


@pytest.fixture
async def fast_live(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[str]:
    """One live instance whose viewers may chat as fast as the tests need."""
    settings = live_settings(
        nats_server.url,
        f"sqlite+aiosqlite:///{tmp_path}/live.db",
        actions_per_s=1000.0,
        actions_burst=1000,
    )
    async with serving(create_app(build(settings))) as url:
        yield url


@pytest.fixture
async def fast_lives(nats_server: NatsServer, database_url: str) -> AsyncIterator[tuple[str, str]]:
    """Two such instances on one NATS and one database, as in production."""
    first, second = (
        create_app(
            build(
                live_settings(
                    nats_server.url, database_url, actions_per_s=1000.0, actions_burst=1000
                )
            )
        )
        for _ in range(2)
    )
    async with serving(first) as url_a, serving(second) as url_b:
        yield url_a, url_b


async def connect(url: str, room: str, name: str) -> TestViewer:
    return await TestViewer.connect(url, await join(url, room, name))


async def bus(nats_server: NatsServer) -> tuple[EventPublisher, NatsClient]:
    nc = await nats.connect(nats_server.url)
    return EventPublisher(nc.jetstream()), nc


def telegram_line(room: str, n: int, who: str = "telegram:7") -> ChatMessagePosted:
    return ChatMessagePosted(
        room_id=room,
        customer_id=who,
        message_id=f"telegram:-100:{n}",
        display_name="Tg fan",
        text=f"chat line {n}",
        source="telegram",
    )


async def said(viewer: TestViewer, text: str) -> str:
    """Wait until `viewer` sees `text` in the chat; the line's id."""
    frame = await viewer.wait_for(
        lambda f: f["type"] == "chat" and any(m["text"] == text for m in f["messages"])
    )
    return str(next(m["id"] for m in frame["messages"] if m["text"] == text))


def history_texts(welcome: dict, *, system: bool = False) -> list[str]:
    return [m["text"] for m in welcome["history"] if (m["source"] == "system") == system]


def welcome_of(viewer: TestViewer) -> dict:
    return next(f for f in viewer.frames if f["type"] == "welcome")


# ---- item 10: system lines do not evict the conversation --------------------------------


async def test_welcome_lines_do_not_push_the_conversation_out_of_the_history(
    fast_live: str, nats_server: NatsServer
) -> None:
    room = await open_room(fast_live)
    publisher, nc = await bus(nats_server)
    for n in range(20):
        await publisher.publish(telegram_line(room, n))
    joined = [await connect(fast_live, room, f"fan{i}") for i in range(35)]
    last = joined[-1]
    await last.wait_for(lambda f: f["type"] == "chat" and "@fan34" in str(f))
    newcomer = await connect(fast_live, room, "newcomer")
    history = welcome_of(newcomer)
    assert history_texts(history) == [f"chat line {n}" for n in range(20)]
    for viewer in [*joined, newcomer]:
        await viewer.close()
    await nc.close()


async def test_in_a_big_show_the_history_is_the_conversation_not_the_welcomes(
    fast_live: str, nats_server: NatsServer
) -> None:
    room = await open_room(fast_live)
    publisher, nc = await bus(nats_server)
    for n in range(10):
        await publisher.publish(telegram_line(room, n))
    # A 250-viewer show: more welcomes than the stream keeps lines of one subject per room.
    for i in range(250):
        await publisher.publish(
            ChatMessagePosted(
                room_id=room,
                message_id=f"welcome-{i}",
                display_name="Qunlive",
                text=f"Welcome @fan{i}!",
                source="system",
            )
        )
    newcomer = await connect(fast_live, room, "newcomer")
    history = welcome_of(newcomer)
    assert history_texts(history) == [f"chat line {n}" for n in range(10)]
    assert history_texts(history, system=True)[-1] == "Welcome @fan249!"
    await newcomer.close()
    await nc.close()


# ---- item 11: moderation applies to the history -----------------------------------------


async def test_a_deleted_line_is_not_in_the_next_joiners_history_on_any_instance(
    fast_lives: tuple[str, str],
) -> None:
    url_a, url_b = fast_lives
    room = await open_room(url_a)
    lily = await connect(url_a, room, "Lily")
    await lily.send(type="chat", text="buy from my shop")
    await lily.send(type="chat", text="hello all")
    doomed = await said(lily, "buy from my shop")
    await said(lily, "hello all")
    await delete_line(url_a, room, doomed, "ads")
    for url in (url_a, url_b):
        newcomer = await connect(url, room, "newcomer")
        assert history_texts(welcome_of(newcomer)) == ["hello all"]
        await newcomer.close()
    await lily.close()


async def test_a_banned_members_lines_leave_the_history_and_the_screens(
    fast_lives: tuple[str, str],
) -> None:
    url_a, url_b = fast_lives
    room = await open_room(url_a)
    spammer, wei = await connect(url_a, room, "Spam"), await connect(url_b, room, "Wei")
    await spammer.send(type="chat", text="cheap stuff")
    await spammer.send(type="chat", text="more cheap stuff")
    await wei.send(type="chat", text="what is this")
    cheap = await said(wei, "cheap stuff")
    await said(wei, "what is this")
    async with httpx.AsyncClient(base_url=url_b, timeout=30) as http:
        ban = {"action": "ban", "customer_id": spammer.customer_id, "reason": "spam"}
        response = await http.post(f"/rooms/{room}/moderation", json=ban, headers=ADMIN)
        assert response.status_code == 204, response.text
    for url in (url_a, url_b):
        newcomer = await connect(url, room, "newcomer")
        assert history_texts(welcome_of(newcomer)) == ["what is this"]
        await newcomer.close()
    await wei.wait_for(kind("deleted", message_id=cheap))
    await wei.close()


async def test_a_ban_shows_its_moderation_frame_before_the_socket_closes(
    fast_live: str,
) -> None:
    room = await open_room(fast_live)
    spammer = await connect(fast_live, room, "Spam")
    async with httpx.AsyncClient(base_url=fast_live, timeout=30) as http:
        ban = {"action": "ban", "customer_id": spammer.customer_id, "reason": "ads"}
        assert (
            await http.post(f"/rooms/{room}/moderation", json=ban, headers=ADMIN)
        ).status_code == 204
    await spammer.ws.wait_closed()
    assert spammer.ws.close_code == 4403
    assert any(f["type"] == "moderation" and f["action"] == "ban" for f in spammer.frames)


# ---- item 12: a decision is in force when the call answers ------------------------------


async def test_a_mute_is_in_force_when_the_call_answers(fast_live: str) -> None:
    room = await open_room(fast_live)
    async with httpx.AsyncClient(base_url=fast_live, timeout=30) as http:
        for attempt in range(5):
            talker = await connect(fast_live, room, f"talker{attempt}")
            mute = {"action": "mute", "customer_id": talker.customer_id, "minutes": 5}
            response = await http.post(f"/rooms/{room}/moderation", json=mute, headers=ADMIN)
            assert response.status_code == 204
            await talker.send(type="chat", text=f"still talking {attempt}", ref="r")
            answer = await talker.wait_for(lambda f: f.get("ref") == "r")
            assert answer["code"] == "muted", answer
            await talker.close()


async def test_a_mute_and_a_rule_are_in_force_on_the_other_instance_too(
    fast_lives: tuple[str, str],
) -> None:
    url_a, url_b = fast_lives
    room = await open_room(url_a)
    async with httpx.AsyncClient(base_url=url_a, timeout=30) as http:
        for attempt in range(4):
            talker = await connect(url_b, room, f"talker{attempt}")
            mute = {"action": "mute", "customer_id": talker.customer_id, "minutes": 5}
            response = await http.post(f"/rooms/{room}/moderation", json=mute, headers=ADMIN)
            assert response.status_code == 204
            await talker.send(type="chat", text=f"still talking {attempt}", ref="r")
            answer = await talker.wait_for(lambda f: f.get("ref") == "r")
            assert answer["code"] == "muted", answer
            await talker.close()
        member = await connect(url_b, room, "member")
        for attempt in range(4):
            word = f"forbidden{attempt}"
            rules = {"blocked_words": [word]}
            assert (await http.put(f"/rooms/{room}/rules", json=rules, headers=ADMIN)).is_success
            await member.send(type="chat", text=f"say {word}", ref=f"w{attempt}")
            answer = await member.wait_for(lambda f, a=attempt: f.get("ref") == f"w{a}")
            assert answer["code"] == "blocked_blocked_word", answer
        await member.close()


# ---- item 13: the room's offers are complete on every instance --------------------------


async def test_an_offer_opened_before_this_instance_served_the_room_is_shown_in_full(
    fast_lives: tuple[str, str], nats_server: NatsServer
) -> None:
    url_a, url_b = fast_lives
    room = await open_room(url_a)
    publisher, nc = await bus(nats_server)
    async with httpx.AsyncClient(base_url=url_a, timeout=30) as http:
        pinned = await http.post(f"/rooms/{room}/pin", json={"offer_id": "o_c"}, headers=ADMIN)
        assert pinned.is_success
    await publisher.publish(
        OfferOpened(
            room_id=room,
            offer_id="o_c",
            kind="flash_sale",
            title="Cherries 樱桃",
            price_cents=49900,
            stock=8000,
            per_buyer_limit=2,
        )
    )
    await publisher.publish(StockChanged(room_id=room, offer_id="o_c", left=7990))
    # Nobody watched on either instance when the offer opened.
    first = await connect(url_b, room, "first")
    offer = welcome_of(first)["pinned"]
    assert (offer["title"], offer["price_cents"], offer["stock"], offer["left"]) == (
        "Cherries 樱桃",
        49900,
        8000,
        7990,
    )
    await publisher.publish(StockChanged(room_id=room, offer_id="o_c", left=7989))
    update = await first.wait_for(lambda f: f["type"] == "offer" and f["offer"]["left"] == 7989)
    assert (update["offer"]["title"], update["offer"]["stock"]) == ("Cherries 樱桃", 8000)
    await first.close()
    await nc.close()


async def test_a_red_packet_sent_before_this_instance_served_the_room_is_followed(
    fast_lives: tuple[str, str],
) -> None:
    url_a, url_b = fast_lives
    room = await open_room(url_a)
    async with httpx.AsyncClient(base_url=url_a, timeout=30) as http:
        sent = await http.post(
            f"/rooms/{room}/red-packets", json={"total_cents": 500, "shares": 3}, headers=ADMIN
        )
        assert sent.status_code == 201, sent.text
    packet = sent.json()["packet_id"]
    watcher = await connect(url_b, room, "watcher")  # B never saw the packet sent
    grabber = await connect(url_a, room, "grabber")
    await grabber.send(type="grab", packet_id=packet, ref="g")
    assert (await grabber.wait_for(lambda f: f.get("ref") == "g"))["type"] == "notice"
    update = await watcher.wait_for(kind("red_packet", packet_id=packet, remaining=2))
    assert (update["shares"], update["status"]) == (3, "open")
    await watcher.close()
    await grabber.close()
