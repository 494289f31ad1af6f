"""External chat lines that buy: read the room's pinned offer, send the claim to orders;
and their edits ("+1" -> "+2"): amend that claim (docs/decisions/0035-edited-claims.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from services.live.domain.chat_to_buy import (
    LineVersions,
    edited_claim,
    external_claim,
    may_be_claim,
    may_change_a_claim,
)
from services.live.service_layer.rooms import RoomNotFound, RoomService
from shared.events import AmendClaim, ChatMessageEdited, ChatMessagePosted, PlaceClaim
from shared.messaging import EventPublisher

# The edited line as the room's history had it before the edit (None: not in it).
Versions = Callable[[str, ChatMessageEdited], Awaitable[LineVersions | None]]


class ChatToBuy:
    def __init__(
        self,
        rooms: RoomService,
        publisher: Callable[[], EventPublisher],
        versions: Versions | None = None,
        edit_fresh_for: timedelta = timedelta(minutes=10),
    ) -> None:
        self._rooms = rooms
        self._publisher = publisher
        self._versions = versions
        self._edit_fresh_for = edit_fresh_for

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

    async def handle_edit(self, edit: ChatMessageEdited) -> AmendClaim | PlaceClaim | None:
        if not may_change_a_claim(edit) or self._versions is None:
            return None  # an edit that is no buy changes no claim: nothing read
        line = await self._versions(edit.room_id, edit)
        if line is None:
            return None  # not in the room's history: never shown, deleted, long gone
        try:
            room = await self._rooms.get(edit.room_id)
        except RoomNotFound:
            return None
        command = edited_claim(edit, line, room.status, room.pinned_offer_id, self._edit_fresh_for)
        if command is not None:
            await self._publisher().publish(command)
        return command
