"""What a room said before this instance served it, read back from the durable streams.

A live instance learns a room's offers from `offer.*` events as they pass; one that starts
serving a room later (a second instance, a restart, the first viewer after the pin) would
show the pinned offer as zeros. When a hub opens it folds the room's offer events from the
ORDERS stream first, so every instance has the whole picture.
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
    StockChanged,
    UnreadableEvent,
    parse_event,
)
from shared.streams import ORDERS

OFFER_EVENTS: tuple[type[IntegrationEvent], ...] = (
    OfferOpened,
    OfferUpdated,
    StockChanged,
    OfferSoldOut,
    OfferClosed,
    GroupTierReached,
)
BATCH = 1000


async def offer_events(js: JetStreamContext, room_id: str) -> list[IntegrationEvent]:
    """Every offer event of the room in the ORDERS stream, oldest first."""
    filters = [
        subjects.room_event("orders", room_id, cls.model_fields["type"].default)
        for cls in OFFER_EVENTS
    ]
    try:
        info = await js.stream_info(
            ORDERS.name, subjects_filter=subjects.room_events("orders", room_id)
        )
    except NotFoundError:
        return []
    stored = sum(n for subject, n in (info.state.subjects or {}).items() if subject in filters)
    if stored == 0:
        return []
    sub = await js.pull_subscribe(
        "",
        stream=ORDERS.name,
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
