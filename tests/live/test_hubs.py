"""A room's hub reads the room's past from the streams when it opens; that read holds up
joins to that room only, never to the instance's other rooms."""

from __future__ import annotations

import asyncio

import nats

from services.live.adapters.hub import Connection, Hubs
from services.live.adapters.room_feed import RoomState
from services.live.domain.viewers import Viewer
from shared.embedded_nats import NatsServer
from shared.events import IntegrationEvent


def _connection(room_id: str, name: str) -> Connection:
    async def send(frame: str) -> None:
        pass

    viewer = Viewer(room_id=room_id, customer_id=f"web:{name}", display_name=name)
    return Connection(viewer, send, max_frames=10)


async def test_a_slow_room_opening_does_not_hold_up_joins_to_other_rooms(
    nats_server: NatsServer,
) -> None:
    slow_past_read = asyncio.Event()

    async def past(room_id: str) -> list[IntegrationEvent]:
        if room_id == "r_slow":
            await slow_past_read.wait()
        return []

    async def state() -> RoomState:
        return RoomState(status="live")

    nc = await nats.connect(nats_server.url)
    hubs = Hubs("i1", 0.05, past=past)
    hubs.bind(nc)
    try:
        slow = asyncio.create_task(hubs.attach("r_slow", _connection("r_slow", "a"), state))
        second_on_slow = asyncio.create_task(
            hubs.attach("r_slow", _connection("r_slow", "b"), state)
        )
        other = await asyncio.wait_for(
            hubs.attach("r_other", _connection("r_other", "c"), state), 5
        )
        assert other.room_id == "r_other" and not slow.done() and not second_on_slow.done()
        slow_past_read.set()
        first, second = await asyncio.wait_for(asyncio.gather(slow, second_on_slow), 5)
        assert first is second and len(first.connections) == 2  # one hub for the room
    finally:
        await hubs.close_all()
        await nc.drain()
