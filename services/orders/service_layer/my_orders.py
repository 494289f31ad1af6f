"""A buyer's own view across rooms: their orders, their pickup codes, their waitlist places.

Who the buyer is comes from their viewer token (`customer_id`); nothing here answers about
anyone else: another buyer's order is "not found", as an unknown one is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow, OrderRow, PickupPointRow, WaitlistRow
from services.orders.service_layer.catalog import NotFound

OFFERS = OfferRow.__table__
WAITLIST = WaitlistRow.__table__
MAX_ORDERS = 200
MAX_WAITING = 200


@dataclass(frozen=True)
class MyOrder:
    order: OrderRow
    title: str
    pickup: PickupPointRow | None


@dataclass(frozen=True)
class MyPlace:
    offer_id: str
    room_id: str
    title: str
    variant: str | None
    quantity: int
    place: int  # 1-based among those waiting on that offer and variant
    joined_at: datetime


Sessions = async_sessionmaker[AsyncSession]


async def orders_of(sessions: Sessions, customer_id: str, limit: int) -> list[MyOrder]:
    """The buyer's orders in every room, newest first, with the offer's title and the
    pickup point (when they chose one)."""
    async with sessions() as session:
        orders = list(
            (
                await session.exec(
                    select(OrderRow)
                    .where(OrderRow.customer_id == customer_id)
                    .order_by(col(OrderRow.created_at).desc(), col(OrderRow.id))
                    .limit(min(limit, MAX_ORDERS))
                )
            ).all()
        )
        titles = await _titles(session, {o.offer_id for o in orders})
        point_ids = {o.pickup_point for o in orders if o.pickup_point}
        points = (
            {
                p.id: p
                for p in (
                    await session.exec(
                        select(PickupPointRow).where(col(PickupPointRow.id).in_(point_ids))
                    )
                ).all()
            }
            if point_ids
            else {}
        )
    return [
        MyOrder(o, titles.get(o.offer_id, ""), points.get(o.pickup_point or "")) for o in orders
    ]


async def pickup_code_of(sessions: Sessions, order_id: str, customer_id: str) -> str:
    """The pickup code of the buyer's own paid order; NotFound when it is another's,
    unknown, or has no code that collects anything (not paid, delivered, refunded)."""
    async with sessions() as session:
        order = await session.get(OrderRow, order_id)
    if order is None or order.customer_id != customer_id or not order.pickup_code:
        raise NotFound(order_id)
    if order.status != "paid":
        raise NotFound(order_id)
    return order.pickup_code


async def waitlist_of(sessions: Sessions, customer_id: str) -> list[MyPlace]:
    """The places the buyer holds (status "waiting"), oldest first, each with its place in
    the queue of that offer and variant (a released M serves only someone waiting for M)."""
    async with sessions() as session:
        mine = list(
            (
                await session.exec(
                    select(WaitlistRow)
                    .where(WaitlistRow.customer_id == customer_id, WaitlistRow.status == "waiting")
                    .order_by(col(WaitlistRow.seq))
                    .limit(MAX_WAITING)
                )
            ).all()
        )
        titles = await _titles(session, {w.offer_id for w in mine})
        places: list[MyPlace] = []
        for entry in mine:
            same_variant = (
                col(WaitlistRow.variant).is_(None)
                if entry.variant is None
                else WaitlistRow.variant == entry.variant
            )
            ahead = (
                await session.exec(
                    select(func.count())
                    .select_from(WaitlistRow)
                    .where(
                        WaitlistRow.offer_id == entry.offer_id,
                        WaitlistRow.status == "waiting",
                        same_variant,
                        col(WaitlistRow.seq) < entry.seq,
                    )
                )
            ).one()
            places.append(
                MyPlace(
                    offer_id=entry.offer_id,
                    room_id=entry.room_id,
                    title=titles.get(entry.offer_id, ""),
                    variant=entry.variant,
                    quantity=entry.quantity,
                    place=int(ahead) + 1,
                    joined_at=entry.created_at,
                )
            )
    return places


async def leave_waitlist(sessions: Sessions, customer_id: str, offer_id: str) -> int:
    """The buyer leaves the offer's waitlist (every place they hold on it): status "left".

    Under the offer's row lock, as checkout and the hand-over to the waitlist take it: a
    place is either served before it is left, or left before it could be served, never
    both. A buyer who left may join again (one *waiting* place per buyer). NotFound when
    they were not waiting."""
    async with sessions() as session:
        conn = await session.connection()
        locked = await conn.execute(
            update(OFFERS)
            .where(OFFERS.c.id == offer_id)
            .values(version=OFFERS.c.version + 1)
            .returning(OFFERS.c.id)
        )
        if locked.first() is None:
            raise NotFound(offer_id)
        left = await conn.execute(
            update(WAITLIST)
            .where(
                WAITLIST.c.offer_id == offer_id,
                WAITLIST.c.customer_id == customer_id,
                WAITLIST.c.status == "waiting",
            )
            .values(status="left")
        )
        if not left.rowcount:
            await session.rollback()
            raise NotFound(offer_id)
        await session.commit()
        return int(left.rowcount)


async def _titles(session: AsyncSession, offer_ids: set[str]) -> dict[str, str]:
    if not offer_ids:
        return {}
    rows = await session.exec(
        select(OfferRow.id, OfferRow.title).where(col(OfferRow.id).in_(offer_ids))
    )
    return dict(rows.all())
