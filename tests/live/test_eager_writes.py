"""Frames are written from the room's tick: no task per viewer unless a write has to wait."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.live.adapters.hub import Connection, RoomHub, run_eagerly
from services.live.adapters.room_feed import RoomState
from services.live.domain.viewers import Viewer
from shared.events import ChatMessagePosted


def viewer(name: str) -> Viewer:
    return Viewer(room_id="r1", customer_id=f"web:{name}", display_name=name)


async def test_a_coroutine_that_does_not_wait_finishes_in_the_callers_step() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert run_eagerly(write()) is None
    assert done == ["written"]


async def test_one_that_waits_finishes_in_a_task_with_what_it_awaited() -> None:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    got: list[str] = []

    async def write() -> None:
        got.append(await ready)
        await asyncio.sleep(0)
        got.append("after")

    task = run_eagerly(write())
    assert task is not None and got == []
    ready.set_result("value")
    await task
    assert got == ["value", "after"]


async def test_its_errors_and_cancels_reach_the_coroutine() -> None:
    failing: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def write(wait: asyncio.Future[None]) -> None:
        try:
            await wait
        except ValueError:
            seen.append("error")
            raise

    task = run_eagerly(write(failing))
    assert task is not None
    failing.set_exception(ValueError("socket gone"))
    with pytest.raises(ValueError):
        await task
    assert seen == ["error"]


async def test_a_cancel_reaches_it_even_before_the_task_has_run() -> None:
    cleaned: list[str] = []

    async def write(wait: asyncio.Future[None]) -> None:
        try:
            await wait
        finally:
            cleaned.append("cleanup")

    for let_it_start in (False, True):
        blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        inner = write(blocked)  # held here: its cleanup may not wait for the collector
        task = run_eagerly(inner)
        assert task is not None
        if let_it_start:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cleaned.pop() == "cleanup"
        del inner


async def test_frames_wait_for_start_and_a_broken_socket_does_not_break_the_room() -> None:
    """Frames offered before `start` (the welcome is being sent) follow it; a viewer whose
    socket fails is marked failed, and the others still get the tick's frame."""
    hub = RoomHub("r1", "i1", tick_s=0.05, state=RoomState(status="live"))
    written: list[str] = []

    async def good(frame: str) -> None:
        written.append(frame)

    async def broken(frame: str) -> None:
        raise ConnectionResetError("gone")

    late, dead = Connection(viewer("late"), good, 8), Connection(viewer("dead"), broken, 8)
    hub.add(dead)
    hub.add(late)
    dead.start()
    hub.feed.apply(ChatMessagePosted(room_id="r1", message_id="m1", display_name="x", text="hi"))
    hub.flush()
    assert written == [] and isinstance(dead.failed, ConnectionResetError)
    late.start()  # after its welcome: what was offered meanwhile goes now, in order
    lines = [
        m["text"] for f in map(json.loads, written) if f["type"] == "chat" for m in f["messages"]
    ]
    assert lines == ["hi"]


async def test_a_closed_connection_writes_what_was_queued_then_closes_once() -> None:
    events: list[str] = []

    async def write(frame: str) -> None:
        events.append(json.loads(frame)["type"])

    async def close(code: int, reason: str) -> None:
        events.append(f"close {code}")

    conn = Connection(viewer("a"), write, 8, close=close)
    conn.offer('{"type":"chat"}')
    conn.close(4403, "removed")
    conn.start()
    conn.offer('{"type":"presence"}')  # after the close: not written
    assert events == ["chat", "close 4403"]
