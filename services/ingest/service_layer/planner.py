"""The planner: events that make a message -> SendToGroup commands on the COMMANDS stream.

It keeps what its messages need (rooms' titles, offer cards, orders placed from a group)
and asks the domain what goes out (domain/planner.py). Commands are published after the
order is recorded; a redelivered event plans the same keys again, and JetStream (Nats-Msg-Id)
and the sender's ledger drop the repeat. Nothing here posts: the sender does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from services.ingest.adapters.planner_store import PlannerStore
from services.ingest.adapters.store import BindingStore
from services.ingest.adapters.tables import BindingRow
from services.ingest.domain.outbound import OutboundSettings
from services.ingest.domain.planner import Binding, Config, Known, claim_origin, plan
from shared.events import (
    AnnouncementPosted,
    ClaimRejected,
    IntegrationEvent,
    OfferOpened,
    OfferUpdated,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    ProductPinned,
    RedPacketSent,
    RoomEnded,
    RoomOpened,
    RoomPreviewAnnounced,
    RoomStarted,
    StockChanged,
    utcnow,
)
from shared.events.analytics import ReportReady
from shared.events.commands import SendToGroup
from shared.events.ingest import ExternalMemberJoined

log = logging.getLogger("qunlive.ingest.planner")

Publish = Callable[[SendToGroup], Awaitable[object]]

# The event types each durable consumer reads (its filter subjects), by stream.
LIVE_TYPES: tuple[type[IntegrationEvent], ...] = (
    RoomOpened,
    RoomPreviewAnnounced,
    RoomStarted,
    ProductPinned,
    RedPacketSent,
    AnnouncementPosted,
    RoomEnded,
)
ORDERS_TYPES: tuple[type[IntegrationEvent], ...] = (
    OfferOpened,
    OfferUpdated,
    StockChanged,
    OrderPlaced,
    ClaimRejected,
    OrderAmended,
    OrderPaid,
    OrderExpired,
    OrderCancelled,
)
INGEST_TYPES: tuple[type[IntegrationEvent], ...] = (ExternalMemberJoined,)
ANALYTICS_TYPES: tuple[type[IntegrationEvent], ...] = (ReportReady,)


def binding_of(row: BindingRow) -> Binding:
    try:
        settings = OutboundSettings.of(row.outbound)
    except ValidationError:  # stored by an older version: the defaults rather than silence
        log.warning("unreadable outbound settings", extra={"chat": row.chat_id})
        settings = OutboundSettings()
    return Binding(row.platform, row.chat_id, settings, paused=row.paused_code is not None)


class Planner:
    def __init__(
        self, bindings: BindingStore, store: PlannerStore, publish: Publish, config: Config
    ) -> None:
        self._bindings = bindings
        self._store = store
        self._publish = publish
        self.config = config

    async def handle(self, event: IntegrationEvent) -> list[SendToGroup]:
        """Keep what the event tells, publish what goes out; the commands published."""
        await self._keep(event)
        bindings = [binding_of(row) for row in await self._bindings.of_room(event.room_id)]
        if not bindings:
            return []  # most rooms have no group: no other read
        known = await self._known(event, bindings)
        if known is None:
            return []
        result = plan(event, known, self.config)
        if result.order is not None:
            await self._store.record_order(result.order, event.room_id)
        for command in result.commands:
            await self._publish(command)
        if result.commands and isinstance(event, ProductPinned | OfferOpened):
            await self._store.card_posted(str(event.offer_id), event.occurred_at, event.id)
        return result.commands

    async def _keep(self, event: IntegrationEvent) -> None:
        match event:
            case RoomOpened():
                await self._store.room_opened(event.room_id, event.title)
            case RoomEnded():
                await self._store.room_ended(event.room_id, event.occurred_at)
            case OfferOpened():
                await self._store.keep_card(
                    event.room_id,
                    event.offer_id,
                    title=event.title,
                    price_cents=event.price_cents,
                    stock=event.stock,
                    left=event.stock,
                    photo=event.photos[0].card if event.photos else None,
                    photos_known=True,
                )
            case OfferUpdated():
                await self._store.keep_card(
                    event.room_id,
                    event.offer_id,
                    price_cents=event.price_cents,
                    stock=event.stock,
                    left=event.left,
                    photo=event.photos[0].card if event.photos else None,
                    photos_known=True,
                )
            case StockChanged():
                await self._store.keep_card(event.room_id, event.offer_id, left=event.left)

    async def _known(self, event: IntegrationEvent, bindings: list[Binding]) -> Known | None:
        """What the plan needs, read only for events that may say something."""
        order = None
        offer_ids: list[str] = []
        match event:
            case OrderPlaced() | ClaimRejected():
                origin = claim_origin(event.claim_id)
                if origin is None or not any(
                    (b.platform, b.chat_id) == origin[:2] for b in bindings
                ):
                    return None  # a claim from the page: the fast way out
                offer_ids = [event.offer_id]
            case OrderPaid() | OrderExpired() | OrderCancelled() | OrderAmended():
                order = await self._store.group_order(event.order_id)
                if order is None:
                    return None
                offer_ids = [order.offer_id or event.offer_id]
            case RoomPreviewAnnounced():
                offer_ids = list(event.lineup)
            case ProductPinned(offer_id=str()) | OfferOpened():
                offer_ids = [str(event.offer_id)]
            case (
                RoomStarted()
                | RedPacketSent()
                | AnnouncementPosted()
                | ReportReady()
                | ExternalMemberJoined()
            ):
                pass
            case _:
                return None
        room = await self._store.room(event.room_id)
        return Known(
            room_id=event.room_id,
            bindings=bindings,
            title=room.title,
            ended=room.ended,
            offers=await self._store.offers(offer_ids),
            order=order,
            now=utcnow(),
        )
