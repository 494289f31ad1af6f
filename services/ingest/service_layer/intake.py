"""Taking in one payload: publish its events (the body riding on the first), park what no
room claims.

Ack-after-store: `take` returns only once JetStream confirmed every store and the database
committed the parked rows; anything else raises, and the webhook answers non-2xx so the
platform retries. Retries are harmless: every event's Nats-Msg-Id is its platform key.
A webhook of one bound item is one acknowledged write (its ingest event, carrying the raw
body); the room's line follows from the INGEST stream (service_layer/room_lines.py).
The separate archive (INGEST_RAW) keeps only the bodies no stored event carries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.adapters.bus import Bus
from services.ingest.adapters.store import BindingStore, ParkedStore
from services.ingest.domain import fields, generic, telegram, whatsapp
from services.ingest.domain.events import Via, ingest_event, may_edit_in_room, shows_in_room
from services.ingest.domain.model import Normalised, UnknownShape
from shared.events.ingest import RawPayload

# A body larger than this goes to the archive rather than into its event (base64 and the
# event must stay under NATS's 1 MB payload whatever MAX_BODY_BYTES says).
RAW_IN_EVENT_MAX = 256 * 1024

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
        self.clock = clock

    async def take(self, source: str, raw: bytes) -> Receipt:
        """A webhook body whose signature was checked: normalise, store (with the body)."""
        try:
            normalised = parse(source, raw)
        except (Malformed, UnknownShape) as exc:
            # Keep it twice: in dead letters (someone looks) and the archive (replay after a fix).
            await asyncio.gather(
                self.bus.dead_letter(source, raw, str(exc)), self.bus.archive(source, raw)
            )
            raise
        return await self.receive(source, raw, normalised, keep_raw=True)

    async def receive(
        self,
        source: str,
        raw: bytes,
        normalised: Normalised,
        via: Via = "webhook",
        keep_raw: bool = False,
        to_room: bool = True,
    ) -> Receipt:
        """Store the items as ingest events. `keep_raw`: the body is kept for a replay, on
        its first event (or in the archive when no event carries it); `to_room`: fresh lines
        (and fresh edits of them) are marked for the room (`in_room`)."""
        receipt = Receipt(ignored=list(normalised.ignored))
        items = list(normalised.items)
        rooms = await self.bindings.rooms_for((i.platform, i.chat_id) for i in items)
        bound = [(item, room) for item in items if (room := rooms[(item.platform, item.chat_id)])]
        unbound = [item for item in items if rooms[(item.platform, item.chat_id)] is None]

        # Whether each line also goes to the room is decided once, before anything is
        # stored: the ingest event says so (`in_room`), and the room lines consumer and the
        # media fetcher act on what it says.
        now = self.clock()
        carried = keep_raw and bool(bound) and len(raw) <= RAW_IN_EVENT_MAX
        events = [
            ingest_event(
                item,
                room,
                via,
                in_room=to_room
                and (
                    shows_in_room(item, now, self.live_max_age)
                    or may_edit_in_room(item, now, self.live_max_age)
                ),
                # Built, not validated: validating Base64Bytes would decode the bytes.
                raw=RawPayload.model_construct(source=source, body=raw)  # type: ignore[arg-type]
                if carried and n == 0
                else None,
            )
            for n, (item, room) in enumerate(bound)
        ]
        acks = await asyncio.gather(*(self.bus.publish(event) for event in events))
        for ack in acks:
            if ack.duplicate:
                receipt.duplicates += 1
            else:
                receipt.accepted += 1
        # The body goes to the archive when no stored event holds it: no event came of it
        # (all unbound or ignored), it is too large, or its carrier was stored before (a
        # re-delivery) while another of its events is new (a batch put together anew).
        if keep_raw and (
            not carried or (acks[0].duplicate and any(not a.duplicate for a in acks[1:]))
        ):
            await self.bus.archive(source, raw)
        if unbound:
            receipt.parked = len(unbound)
            await self.parked.park(source, raw, unbound)
        return receipt
