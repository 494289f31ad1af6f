"""A line reaches a viewer once, however often the platform (or a relay) re-sends it.

ingest and live run together on one nats-server; a websocket viewer counts what it gets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.ingest.adapters.bus import NatsUnavailable
from shared import streams
from shared.embedded_nats import NatsServer
from shared.events import (
    AnnouncementPosted,
    ChatMessagePosted,
    IntegrationEvent,
    OrderPlaced,
    utcnow,
)
from shared.messaging import EventPublisher
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, start_ingest, stream_messages
from tests.live.client import TestViewer, kind
from tests.live.conftest import join, open_room

RETRIES = 8


def line_ids(viewer: TestViewer) -> list[str]:
    return [m["id"] for f in viewer.frames if f["type"] == "chat" for m in f["messages"]]


async def seen_after(viewer: TestViewer, sentinel: str) -> list[str]:
    """Every line id the viewer got, once a line posted after the others has arrived.

    The sentinel is published after the retries on the same NATS connection, and core
    subscribers get one connection's messages in order: when it is there, they all are."""
    await viewer.wait_for(
        lambda f: f["type"] == "chat" and any(m["id"] == sentinel for m in f["messages"])
    )
    return line_ids(viewer)


Post = Callable[[Ingest], Awaitable[httpx.Response]]


def telegram(message_id: int) -> tuple[str, Post]:
    update = p.telegram_message("+1 樱桃", message_id=message_id)
    return f"telegram:{p.GROUP_ID}:{message_id}", lambda ingest: ingest.telegram(update)


def generic(message_id: str) -> tuple[str, Post]:
    raw = p.encode(p.generic_message("+1 樱桃", message_id=message_id, chat_id=str(p.GROUP_ID)))
    # Each retry is signed afresh, as a sender's retry would be.
    return f"line:{p.GROUP_ID}:{message_id}", lambda ingest: ingest.generic(raw)


@pytest.mark.parametrize("source", ["telegram", "generic"])
async def test_a_redelivered_message_is_shown_once(
    source: str, ingest: Ingest, live_url: str, nc: NatsClient
) -> None:
    room = await open_room(live_url)
    platform = "telegram" if source == "telegram" else "line"
    await ingest.bind(platform, p.GROUP_ID, room)
    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    try:
        key, post = telegram(70) if source == "telegram" else generic("m-70")
        receipts = [(await post(ingest)).json() for _ in range(RETRIES)]
        assert sum(r["accepted"] for r in receipts) == 1
        assert sum(r["duplicates"] for r in receipts) == RETRIES - 1
        sentinel, post_sentinel = telegram(71) if source == "telegram" else generic("m-71")
        assert (await post_sentinel(ingest)).json()["accepted"] == 1
        assert (await seen_after(viewer, sentinel)).count(key) == 1
    finally:
        await viewer.close()
    lines = await stream_messages(nc, "LIVE", f"live.{room}.chat.message_posted")
    external = [m.headers["Nats-Msg-Id"] for m in lines if m.headers["Nats-Msg-Id"][:5] == "chat:"]
    assert external == [f"chat:{key}", f"chat:{sentinel}"]  # and the stream stored each once


async def test_two_ingest_replicas_taking_the_same_retries_show_the_line_once(
    nats_server: NatsServer, live_url: str, tmp_path: Path
) -> None:
    room = await open_room(live_url)
    database = f"sqlite+aiosqlite:///{tmp_path}/ingest.db"
    async with (
        start_ingest(nats_server.url, database) as first,
        start_ingest(nats_server.url, database) as second,
    ):
        await first.bind("telegram", p.GROUP_ID, room)
        viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
        try:
            key, post = telegram(80)
            # A platform that timed out re-sends while the first delivery is still in flight,
            # and a load balancer spreads the copies over both replicas.
            responses = await asyncio.gather(
                *(post(replica) for _ in range(RETRIES // 2) for replica in (first, second))
            )
            assert [r.status_code for r in responses] == [200] * RETRIES
            assert sum(r.json()["accepted"] for r in responses) == 1
            # The sentinel goes through both replicas, so it comes after each one's copies.
            sentinel, post_sentinel = telegram(81)
            await post_sentinel(first)
            await post_sentinel(second)
            assert (await seen_after(viewer, sentinel)).count(key) == 1
        finally:
            await viewer.close()


async def test_events_re_published_by_a_relay_reach_viewers_once(
    live_url: str, nc: NatsClient
) -> None:
    """An outbox relay that died between publish and mark publishes the same events again."""
    room = await open_room(live_url)
    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    bus = EventPublisher(nc.jetstream())
    announcement = AnnouncementPosted(room_id=room, announcement_id="a1", text="Cherries at 20:00")
    placed = OrderPlaced(
        room_id=room,
        customer_id=viewer.customer_id,
        order_id="ord1",
        claim_id="c1",
        offer_id="o_cherry",
        quantity=1,
        amount_cents=49900,
        pay_by=utcnow(),
    )
    try:
        for _ in range(3):
            await bus.publish(announcement)
            await bus.publish(placed)
        last = AnnouncementPosted(room_id=room, announcement_id="a2", text="the end")
        await bus.publish(last)
        await viewer.wait_for(kind("announcement", text="the end"))
        frames: list[dict[str, Any]] = viewer.frames
        assert [f["text"] for f in frames if f["type"] == "announcement"] == [
            "Cherries at 20:00",
            "the end",
        ]
        assert len([f for f in frames if f.get("kind") == "order_placed"]) == 1
    finally:
        await viewer.close()


async def shrink_live_window(nc: NatsClient, ingest: Ingest, seconds: float) -> None:
    """LIVE's duplicate window (2 min) scaled down, on the server and in ingest alike."""
    await nc.jetstream().update_stream(replace(streams.LIVE, duplicate_window_s=seconds).config(1))
    ingest.app.room_lines.lines.live_dedupe_window = timedelta(seconds=seconds)


async def room_lines(nc: NatsClient, room: str) -> list[str]:
    lines = await stream_messages(nc, "LIVE", f"live.{room}.chat.message_posted")
    return [m.headers["Nats-Msg-Id"] for m in lines]


async def test_a_line_dated_in_the_future_is_stored_once_when_re_sent_later(
    ingest: Ingest, nc: NatsClient
) -> None:
    """Scaled by 1/60: a line 240 s in the future, re-sent 125 s later, LIVE's window 120 s."""
    window = 2.0
    await shrink_live_window(nc, ingest, window)
    await ingest.bind("line", "g-future", "r_future")
    sent_at = datetime.now(UTC) + timedelta(seconds=4)
    raw = p.encode(p.generic_message(chat_id="g-future", sent_at=sent_at.isoformat()))
    assert (await ingest.generic(raw)).json()["accepted"] == 1
    stored = time.monotonic()
    # The re-send must come after LIVE's window: time itself is what this test waits for.
    await asyncio.sleep(max(0.0, stored + window + 0.2 - time.monotonic()))
    assert (await ingest.generic(raw)).json()["duplicates"] == 1
    assert await room_lines(nc, "r_future") == ["chat:line:g-future:m-1001"]


async def test_a_room_line_that_failed_to_publish_comes_on_the_consumer_s_retry(
    ingest: Ingest, live_url: str, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest stored the event and answered; the room lines consumer could not publish the
    line (NATS away): the platform is not involved, the consumer's retry brings it, in
    order."""
    room = await open_room(live_url)
    await ingest.bind("telegram", p.GROUP_ID, room)
    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    lines = ingest.app.room_lines.lines
    publish = lines.publish
    failed: list[str] = []

    async def room_line_fails_once(event: IntegrationEvent) -> Any:
        if isinstance(event, ChatMessagePosted) and not failed:
            failed.append(event.id)
            raise NatsUnavailable("the room line was not stored")
        return await publish(event)

    monkeypatch.setattr(lines, "publish", room_line_fails_once)
    try:
        key, post = telegram(90)
        answered = await post(ingest)
        assert answered.status_code == 200 and answered.json()["accepted"] == 1
        sentinel, post_sentinel = telegram(91)
        await post_sentinel(ingest)
        assert (await seen_after(viewer, sentinel)).count(key) == 1
    finally:
        await viewer.close()
    assert failed == [f"chat:{key}"]
    assert [i for i in await room_lines(nc, room) if i[:5] == "chat:"] == [
        f"chat:{key}",
        f"chat:{sentinel}",
    ]
