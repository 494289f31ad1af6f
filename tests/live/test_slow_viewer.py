"""A slow or stuck viewer never slows the room: bounded queue, drop oldest, say `gap`."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.live.adapters import hub as hub_module
from services.live.adapters.hub import Connection, RoomHub
from services.live.adapters.room_feed import RoomState
from services.live.domain.viewers import Viewer
from shared.events import ChatMessagePosted, StockChanged


def viewer(name: str) -> Viewer:
    return Viewer(room_id="r1", customer_id=f"web:{name}", display_name=name)


async def test_a_stuck_viewer_loses_its_oldest_frames_and_is_told() -> None:
    unblock = asyncio.Event()
    stuck_got: list[str] = []
    fast_got: list[str] = []

    async def stuck_send(frame: str) -> None:
        await unblock.wait()
        stuck_got.append(frame)

    async def fast_send(frame: str) -> None:
        fast_got.append(frame)

    hub = RoomHub("r1", "i1", tick_s=0.05, state=RoomState(status="live"))
    stuck = Connection(viewer("stuck"), stuck_send, max_frames=8)
    fast = Connection(viewer("fast"), fast_send, max_frames=8)
    hub.add(stuck)
    hub.add(fast)
    for connection in (stuck, fast):
        connection.start()

    for i in range(50):  # 50 ticks, one chat line each
        hub.feed.apply(
            ChatMessagePosted(room_id="r1", message_id=f"m{i}", display_name="x", text=f"line {i}")
        )
        hub.flush()
        await asyncio.sleep(0)
    # The fast viewer got every line while the stuck one was blocked.
    fast_lines = [
        m["text"] for f in map(json.loads, fast_got) if f["type"] == "chat" for m in f["messages"]
    ]
    assert fast_lines == [f"line {i}" for i in range(50)]
    assert stuck.dropped > 0
    assert len(stuck._queue) <= 8

    unblock.set()
    await asyncio.sleep(0.05)
    frames = [json.loads(f) for f in stuck_got]
    # First the frame it was blocked on, then the gap notice, then the newest frames.
    gap = next(f for f in frames if f["type"] == "gap")
    assert gap["dropped"] == stuck.dropped
    last_lines = [m["text"] for f in frames if f["type"] == "chat" for m in f["messages"]]
    assert last_lines[-1] == "line 49"
    for connection in (stuck, fast):
        connection.stop()


def test_stock_updates_are_coalesced_to_the_latest_value_per_tick() -> None:
    hub = RoomHub("r1", "i1", tick_s=0.05, state=RoomState(status="live"))
    conn = Connection(viewer("a"), lambda f: asyncio.sleep(0), max_frames=100)
    hub.add(conn)
    for left in range(100, 0, -1):
        hub.feed.apply(StockChanged(room_id="r1", offer_id="o1", left=left))
    hub.flush()
    got = conn._queue  # offered, not sent: no sender runs here
    offers = [json.loads(f) for f in got if json.loads(f)["type"] == "offer"]
    assert [o["offer"]["left"] for o in offers] == [1]


def test_presence_goes_out_at_most_once_a_second_in_a_join_storm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A viewer joining every tick changes the count every tick: the room still sends the
    count once a second (the protocol's promise), and the last one is the true count."""
    clock = [1000.0]
    monkeypatch.setattr(hub_module.time, "monotonic", lambda: clock[0])
    hub = RoomHub("r1", "i1", tick_s=0.0625, state=RoomState(status="live"))
    watcher = Connection(viewer("watcher"), lambda f: asyncio.sleep(0), max_frames=1000)
    hub.add(watcher)

    def counts() -> list[int]:
        frames = [json.loads(f) for f in watcher._queue]
        return [f["viewers"] for f in frames if f["type"] == "presence"]

    for tick in range(64):  # four seconds of ticks, a viewer joining at each
        hub.add(Connection(viewer(f"joiner {tick}"), lambda f: asyncio.sleep(0), max_frames=8))
        hub.flush()
        clock[0] += 0.0625
    assert counts() == [2, 18, 34, 50]  # at 0, 1, 2 and 3 s: not 64 frames
    hub.flush()  # 4 s: the count since the last frame
    assert counts()[-1] == 65
    hub.flush()  # unchanged: no frame
    clock[0] += 1
    hub.flush()
    assert counts()[-1] == 65 and len(counts()) == 5
