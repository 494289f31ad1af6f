"""The planner's tables: rooms' titles, offer cards, orders placed from the groups; and the
outbound ledger as the console reads it (sent and failed per binding, recent messages)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.ingest.adapters.tables import (
    GroupOrderRow,
    OfferCardRow,
    PlannerRoomRow,
)
from services.ingest.domain.planner import GroupOrder, OfferCard
from shared.events import utcnow


@dataclass(frozen=True)
class RoomFacts:
    title: str | None = None
    ended: bool = False


def _card(row: OfferCardRow) -> OfferCard:
    return OfferCard(
        offer_id=row.offer_id,
        title=row.title,
        price_cents=row.price_cents,
        stock=row.stock,
        left=row.left,
        photo=row.photo,
        posted_at=row.posted_at,
        posted_by=row.posted_by,
    )


def _order(row: GroupOrderRow) -> GroupOrder:
    return GroupOrder(
        order_id=row.order_id,
        claim_id=row.claim_id,
        platform=row.platform,
        chat_id=row.chat_id,
        message_id=row.message_id,
        customer_id=row.customer_id,
        pay_by=row.pay_by,
        offer_id=row.offer_id,
        quantity=row.quantity,
        amount_cents=row.amount_cents,
        state=row.state,  # type: ignore[arg-type]
        outcome_key=row.outcome_key,
    )


class PlannerStore:
    """Writes are get-then-put: two replicas racing on one new row fail one insert, and its
    handler is retried (messaging's policy), then finds the row."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def room(self, room_id: str) -> RoomFacts:
        async with self._sessions() as session:
            row = await session.get(PlannerRoomRow, room_id)
        return RoomFacts(row.title, row.ended_at is not None) if row else RoomFacts()

    async def room_opened(self, room_id: str, title: str) -> None:
        async with self._sessions() as session:
            row = await session.get(PlannerRoomRow, room_id) or PlannerRoomRow(room_id=room_id)
            row.title, row.updated_at = title, utcnow()
            session.add(row)
            await session.commit()

    async def room_ended(self, room_id: str, at: datetime) -> None:
        async with self._sessions() as session:
            row = await session.get(PlannerRoomRow, room_id) or PlannerRoomRow(room_id=room_id)
            row.ended_at, row.updated_at = row.ended_at or at, utcnow()
            session.add(row)
            await session.commit()

    async def offers(self, offer_ids: Iterable[str]) -> dict[str, OfferCard]:
        wanted = [offer_id for offer_id in set(offer_ids) if offer_id]
        if not wanted:
            return {}
        async with self._sessions() as session:
            if len(wanted) == 1:
                row = await session.get(OfferCardRow, wanted[0])
                rows = [row] if row else []
            else:
                query = select(OfferCardRow).where(col(OfferCardRow.offer_id).in_(wanted))
                rows = list((await session.exec(query)).all())
        return {row.offer_id: _card(row) for row in rows}

    async def keep_card(
        self,
        room_id: str,
        offer_id: str,
        *,
        title: str | None = None,
        price_cents: int | None = None,
        stock: int | None = None,
        left: int | None = None,
        photo: str | None = None,
        photos_known: bool = False,
    ) -> None:
        """Create or update an offer's card. Without a title (stock_changed) an offer the
        planner never saw opened is not kept: its card would have no name."""
        async with self._sessions() as session:
            row = await session.get(OfferCardRow, offer_id)
            if row is None:
                if title is None or price_cents is None or stock is None:
                    return
                row = OfferCardRow(
                    offer_id=offer_id,
                    room_id=room_id,
                    title=title,
                    price_cents=price_cents,
                    stock=stock,
                    left=stock if left is None else left,
                )
            if title is not None:
                row.title = title
            if price_cents is not None:
                row.price_cents = price_cents
            if stock is not None:
                row.stock = stock
            if left is not None:
                row.left = left
            if photos_known:
                row.photo = photo
            row.updated_at = utcnow()
            session.add(row)
            await session.commit()

    async def card_posted(self, offer_id: str, at: datetime, by: str) -> None:
        async with self._sessions() as session:
            row = await session.get(OfferCardRow, offer_id)
            if row is None or row.posted_by == by:
                return
            row.posted_at, row.posted_by = at, by
            session.add(row)
            await session.commit()

    async def group_order(self, order_id: str) -> GroupOrder | None:
        async with self._sessions() as session:
            row = await session.get(GroupOrderRow, order_id)
        return _order(row) if row else None

    async def record_order(self, order: GroupOrder, room_id: str) -> None:
        async with self._sessions() as session:
            row = await session.get(GroupOrderRow, order.order_id)
            if row is None:
                row = GroupOrderRow(
                    order_id=order.order_id,
                    claim_id=order.claim_id,
                    room_id=room_id,
                    platform=order.platform,
                    chat_id=order.chat_id,
                    message_id=order.message_id,
                    pay_by=order.pay_by,
                )
            row.customer_id = order.customer_id
            row.state = order.state
            row.pay_by = order.pay_by
            row.outcome_key = order.outcome_key
            row.offer_id = order.offer_id
            row.quantity = order.quantity
            row.amount_cents = order.amount_cents
            row.updated_at = utcnow()
            session.add(row)
            await session.commit()
