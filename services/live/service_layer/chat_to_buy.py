"""External chat lines that buy: read the room's pinned offer, send the claim to orders."""

from __future__ import annotations

from collections.abc import Callable

from services.live.domain.chat_to_buy import external_claim, may_be_claim
from services.live.service_layer.rooms import RoomNotFound, RoomService
from shared.events import ChatMessagePosted, PlaceClaim
from shared.messaging import EventPublisher


class ChatToBuy:
    def __init__(self, rooms: RoomService, publisher: Callable[[], EventPublisher]) -> None:
        self._rooms = rooms
        self._publisher = publisher

    async def handle(self, line: ChatMessagePosted) -> PlaceClaim | None:
        if not may_be_claim(line):
            return None  # most lines: no database read
        try:
            room = await self._rooms.get(line.room_id)
        except RoomNotFound:
            return None  # a chat bound to a room live does not know
        claim = external_claim(line, room.status, room.pinned_offer_id)
        if claim is not None:
            await self._publisher().publish(claim)
        return claim
