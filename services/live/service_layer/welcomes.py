"""Welcome lines: a system line greets the members who join a room for the first time.

One line per joiner made a join storm a storm of lines (each a JetStream publish and a
database write, and on every viewer's screen). The first joiner after a quiet second is
greeted at once, on their own; who joins in the second after that is greeted together,
in one line, when it is over (docs/websocket-protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.live.domain.chat import welcome_line
from shared.events import ChatMessagePosted

log = logging.getLogger("qunlive.live.welcomes")

WINDOW_S = 1.0
ROOMS_KEPT = 1000  # rooms remembered; past it, the quiet ones are forgotten

# (room_id, customer ids) -> those not welcomed before, now marked as welcomed.
WelcomeNew = Callable[[str, list[str]], Awaitable[set[str]]]
Publish = Callable[[ChatMessagePosted], Awaitable[object]]


@dataclass
class _Room:
    last: float  # when its last line was sent (monotonic)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (customer id, name)
    task: asyncio.Task[None] | None = None


class Welcomes:
    def __init__(self, welcome_new: WelcomeNew, publish: Publish, window_s: float = WINDOW_S):
        self._welcome_new = welcome_new
        self._publish = publish
        self._window_s = window_s
        self._rooms: dict[str, _Room] = {}

    async def joined(self, room_id: str, customer_id: str, display_name: str) -> None:
        """A member's socket opened. Greets them now (awaited: their line is out before
        they can chat) after a quiet second, else with the others at the second's end."""
        now = time.monotonic()
        room = self._rooms.get(room_id)
        if room is None or (room.task is None and now - room.last >= self._window_s):
            self._forget_quiet(now)
            self._rooms[room_id] = _Room(last=now)
            await self._greet(room_id, [(customer_id, display_name)])
            return
        room.waiting.append((customer_id, display_name))
        if room.task is None:
            room.task = asyncio.create_task(self._later(room_id, room), name=f"welcome-{room_id}")

    async def _later(self, room_id: str, room: _Room) -> None:
        await asyncio.sleep(max(0.0, room.last + self._window_s - time.monotonic()))
        waiting, room.waiting = room.waiting, []
        room.last, room.task = time.monotonic(), None
        try:
            await self._greet(room_id, waiting)
        except Exception:
            log.warning("could not send the welcome line", extra={"room_id": room_id})

    async def _greet(self, room_id: str, joined: list[tuple[str, str]]) -> None:
        new = await self._welcome_new(room_id, [customer for customer, _ in joined])
        names = list(dict.fromkeys(name for customer, name in joined if customer in new))
        if names:
            await self._publish(welcome_line(room_id, names))

    def _forget_quiet(self, now: float) -> None:
        if len(self._rooms) >= ROOMS_KEPT:
            for room_id, room in list(self._rooms.items()):
                if room.task is None and now - room.last >= self._window_s:
                    del self._rooms[room_id]

    async def stop(self) -> None:
        """Who waits is not greeted (nor marked as welcomed: their next visit greets them)."""
        tasks = [room.task for room in self._rooms.values() if room.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._rooms.clear()
