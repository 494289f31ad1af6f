"""Taking in one payload: archive it, publish its events, park what no room claims.

Ack-after-store: `take` returns only once JetStream confirmed every store (raw
archive, ingest events, room chat lines) and the database committed the parked
rows; anything else raises, and the webhook answers non-2xx so the platform
retries. Retries are harmless: every event's Nats-Msg-Id is its platform key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js.api import PubAck

from services.ingest.adapters.bus import Bus
from services.ingest.adapters.store import BindingStore, ParkedStore
from services.ingest.domain import fields, generic, telegram, whatsapp
from services.ingest.domain.events import (
    Via,
    ingest_event,
    may_edit_in_room,
    original_window,
    resends_to_room,
    room_edit,
    room_line,
    room_line_id,
    shows_in_room,
)
from services.ingest.domain.model import ChatMessage, Normalised, UnknownShape
from shared.events import ChatMessageEdited, ChatMessagePosted
from shared.events.ingest import ExternalMessageReceived
from shared.streams import LIVE

# Which normaliser reads a source's payloads (the endpoint, and the archive subject).
NORMALISERS: dict[str, Callable[[Any], Normalised]] = {
    "telegram": telegram.normalise_update,
    "whatsapp": whatsapp.normalise_webhook,
    "webhook": generic.normalise_generic,
}


class Malformed(ValueError):
    """Not JSON (400); kept in dead letters."""


@dataclass
class Receipt:
    accepted: int = 0
    duplicates: int = 0
    parked: int = 0
    ignored: list[str] = field(default_factory=list)


def parse(source: str, raw: bytes) -> Normalised:
    """JSON, then the source's normaliser: Malformed or UnknownShape say what is wrong."""
    try:
        body = fields.json_document(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Malformed(f"malformed JSON: {str(exc)[:200]}") from None
    try:
        return NORMALISERS[source](body)
    except RecursionError:
        raise UnknownShape("nested too deeply") from None


class Intake:
    def __init__(
        self,
        bus: Bus,
        bindings: BindingStore,
        parked: ParkedStore,
        live_max_age: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.bindings = bindings
        self.parked = parked
        self.live_max_age = live_max_age
        self.live_dedupe_window = timedelta(seconds=LIVE.duplicate_window_s)
        self.clock = clock

    async def take(self, source: str, raw: bytes) -> Receipt:
        """A webhook body whose signature was checked: archive, normalise, store."""
        try:
            normalised = parse(source, raw)
        except (Malformed, UnknownShape) as exc:
            # Keep it twice: in dead letters (someone looks) and the archive (replay after a fix).
            await asyncio.gather(
                self.bus.dead_letter(source, raw, str(exc)), self.bus.archive(source, raw)
            )
            raise
        return await self.receive(source, raw, normalised, archive=True)

    async def receive(
        self,
        source: str,
        raw: bytes,
        normalised: Normalised,
        via: Via = "webhook",
        archive: bool = False,
        to_room: bool = True,
    ) -> Receipt:
        receipt = Receipt(ignored=list(normalised.ignored))
        items = list(normalised.items)
        rooms = await self.bindings.rooms_for((i.platform, i.chat_id) for i in items)
        bound = [(item, room) for item in items if (room := rooms[(item.platform, item.chat_id)])]
        unbound = [item for item in items if rooms[(item.platform, item.chat_id)] is None]

        # Whether each line also goes to the room is decided once, before anything is
        # stored: the ingest event says so (`in_room`), and the media fetcher reads only
        # the lines whose pending picture or voice note the room is waiting for.
        now = self.clock()
        events = [
            ingest_event(
                item, room, via, in_room=to_room and shows_in_room(item, now, self.live_max_age)
            )
            for item, room in bound
        ]
        stores = [self.bus.publish(event) for event in events]
        if archive:
            stores.append(self.bus.archive(source, raw))
        acks = await asyncio.gather(*stores)
        # Fresh edits of lines that may be in the room: each one's room edit is published
        # once its original's line is found in LIVE (edits are rare: a lookup each).
        edits = {
            room_line_id(event.id): (item, room)
            for (item, room), event in zip(bound, events, strict=True)
            if to_room
            and isinstance(item, ChatMessage)
            and may_edit_in_room(item, now, self.live_max_age)
        }
        lines: list[ChatMessagePosted | ChatMessageEdited] = []
        resends: list[tuple[ChatMessagePosted | ChatMessageEdited, PubAck]] = []
        for event, ack in zip(events, acks, strict=False):
            if ack.duplicate:
                receipt.duplicates += 1
            else:
                receipt.accepted += 1
            line: ChatMessagePosted | ChatMessageEdited | None = None
            if isinstance(event, ExternalMessageReceived) and event.in_room:
                line = room_line(event)
            elif isinstance(event, ExternalMessageReceived) and room_line_id(event.id) in edits:
                line = room_edit(event)
            if line is None:
                continue
            if ack.duplicate:
                resends.append((line, ack))
            else:
                lines.append(line)
        if resends:
            # Re-deliveries: when did INGEST store each first copy, by the server's clock?
            stored = await asyncio.gather(*(self.bus.stored_at(ack) for _, ack in resends))
            now = self.clock()
            lines += [
                line
                for (line, _), first_stored_at in zip(resends, stored, strict=True)
                if resends_to_room(first_stored_at, now, self.live_dedupe_window)
            ]
        shown = await asyncio.gather(
            *(
                self._original_shown(edits[line.id])
                for line in lines
                if isinstance(line, ChatMessageEdited)
            )
        )
        edited = iter(shown)
        lines = [line for line in lines if not isinstance(line, ChatMessageEdited) or next(edited)]
        await asyncio.gather(*(self.bus.publish(line) for line in lines))
        if unbound:
            receipt.parked = len(unbound)
            await self.parked.park(source, raw, unbound)
        return receipt

    async def _original_shown(self, edit: tuple[ChatMessage, str]) -> bool:
        """Whether the edited line went to the room: LIVE holds its room line. Lines too
        old for the room when they came, imported or replayed ones, lines of a chat bound
        since: never shown, so their edits change nothing there."""
        item, room = edit
        return await self.bus.room_has_line(
            room, room_line_id(item.original_key), original_window(item)
        )
