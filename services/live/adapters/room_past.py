"""What a room said before this instance served it, read back from the durable streams.

A live instance learns a room's offers, red packets and polls from their events as they
pass; one that starts serving a room later (a second instance, a restart, the first viewer
after the pin) would show the pinned offer as zeros and drop the grabs of a packet it never
saw opened. When a hub opens it folds those events from ORDERS and LIVE first, so every
instance has the whole picture.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.live.adapters.history import fetch
from shared import subjects
from shared.events import (
    GroupTierReached,
    IntegrationEvent,
    OfferClosed,
    OfferOpened,
    OfferSoldOut,
    OfferUpdated,
    PollClosed,
    PollOpened,
    ProductPinned,
    RedPacketFinished,
    RedPacketGrabbed,
    RedPacketSent,
    StockChanged,
    UnreadableEvent,
    VoteCast,
    parse_event,
)
from shared.streams import LIVE, ORDERS, StreamSpec

OFFER_EVENTS: tuple[type[IntegrationEvent], ...] = (
    OfferOpened,
    OfferUpdated,
    StockChanged,
    OfferSoldOut,
    OfferClosed,
    GroupTierReached,
)
INTERACTION_EVENTS: tuple[type[IntegrationEvent], ...] = (
    RedPacketSent,
    RedPacketGrabbed,
    RedPacketFinished,
    PollOpened,
    VoteCast,
    PollClosed,
)
CHAPTER_EVENTS: tuple[type[IntegrationEvent], ...] = (OfferOpened, OfferSoldOut)
BATCH = 1000


async def room_past(js: JetStreamContext, room_id: str) -> list[IntegrationEvent]:
    """The room's offer, red packet and poll events, each stream's oldest first."""
    return [
        *await _events(js, ORDERS, "orders", room_id, OFFER_EVENTS),
        *await _events(js, LIVE, "live", room_id, INTERACTION_EVENTS),
    ]


async def chapter_events(js: JetStreamContext, room_id: str) -> list[IntegrationEvent]:
    """The moments the replay marks: offers pinned, opened and sold out, in time order."""
    events = [
        *await _events(js, ORDERS, "orders", room_id, CHAPTER_EVENTS),
        *await _events(js, LIVE, "live", room_id, (ProductPinned,)),
    ]
    return sorted(events, key=lambda e: e.occurred_at)


async def _events(
    js: JetStreamContext,
    stream: StreamSpec,
    domain: str,
    room_id: str,
    kinds: tuple[type[IntegrationEvent], ...],
) -> list[IntegrationEvent]:
    filters = [
        subjects.room_event(domain, room_id, cls.model_fields["type"].default) for cls in kinds
    ]
    try:
        info = await js.stream_info(
            stream.name, subjects_filter=subjects.room_events(domain, room_id)
        )
    except NotFoundError:
        return []
    stored = sum(n for subject, n in (info.state.subjects or {}).items() if subject in filters)
    if stored == 0:
        return []
    sub = await js.pull_subscribe(
        "",
        stream=stream.name,
        config=ConsumerConfig(
            filter_subjects=filters,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=10.0,
            mem_storage=True,
        ),
    )
    events: list[IntegrationEvent] = []
    try:
        remaining = stored
        while remaining > 0:
            batch = await fetch(sub, min(remaining, BATCH))
            remaining -= len(batch)
            for msg in batch:
                try:
                    events.append(parse_event(msg.data))
                except UnreadableEvent:
                    continue
            if batch and batch[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return events
