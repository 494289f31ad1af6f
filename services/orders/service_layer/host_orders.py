"""Read-only, for the host console: a room's orders (the host's offers only; an admin sees
all), filtered, paged, with totals computed by the database over the whole filtered set,
and the same set streamed for a CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow, OrderRow, PickupPointRow

MAX_PAGE = 500
CSV_BATCH = 500
NO_FULFILMENT = "none"


@dataclass(frozen=True)
class OrderFilter:
    """What the host narrows a room's orders to; None (or empty) is any."""

    room_id: str
    owner: str
    is_admin: bool
    offer_id: str | None = None
    statuses: tuple[str, ...] = ()
    fulfilment: str | None = None  # delivery | pickup | none (not chosen yet)
    pickup_point: str | None = None

    def conditions(self) -> list[Any]:
        where: list[Any] = [OrderRow.room_id == self.room_id]
        if not self.is_admin:
            where.append(OfferRow.owner == self.owner)
        if self.offer_id is not None:
            where.append(OrderRow.offer_id == self.offer_id)
        if self.statuses:
            where.append(col(OrderRow.status).in_(self.statuses))
        if self.fulfilment == NO_FULFILMENT:
            where.append(col(OrderRow.fulfilment).is_(None))
        elif self.fulfilment is not None:
            where.append(OrderRow.fulfilment == self.fulfilment)
        if self.pickup_point is not None:
            where.append(OrderRow.pickup_point == self.pickup_point)
        return where


@dataclass(frozen=True)
class HostOrder:
    order: OrderRow
    title: str
    pickup_point_name: str | None


@dataclass(frozen=True)
class Totals:
    orders: int
    units: int
    amount_cents: int
    paid_cents: int
    refunded_cents: int
    by_status: dict[str, int]


@dataclass(frozen=True)
class OrderPage:
    orders: list[HostOrder]
    totals: Totals


def _rows_query(where: Sequence[Any]) -> Any:
    return (
        select(OrderRow, OfferRow.title, PickupPointRow.name)
        .join(OfferRow, col(OfferRow.id) == col(OrderRow.offer_id))
        .outerjoin(PickupPointRow, col(PickupPointRow.id) == col(OrderRow.pickup_point))
        .where(*where)
    )


def _newest_first(query: Any) -> Any:
    return query.order_by(col(OrderRow.created_at).desc(), col(OrderRow.id).desc())


async def _totals(session: AsyncSession, where: Sequence[Any]) -> Totals:
    joined = select(OrderRow.status, func.count()).join(
        OfferRow, col(OfferRow.id) == col(OrderRow.offer_id)
    )
    by_status = {
        str(status): int(count)
        for status, count in (
            await session.exec(joined.where(*where).group_by(col(OrderRow.status)))
        ).all()
    }
    sums = (
        select(
            func.coalesce(func.sum(OrderRow.quantity), 0),
            func.coalesce(func.sum(OrderRow.amount_cents), 0),
            func.coalesce(func.sum(OrderRow.paid_cents), 0),
            func.coalesce(func.sum(OrderRow.refunded_cents), 0),
        )
        .join(OfferRow, col(OfferRow.id) == col(OrderRow.offer_id))
        .where(*where)
    )
    units, amount, paid, refunded = (await session.exec(sums)).one()
    return Totals(
        orders=sum(by_status.values()),
        units=int(units),
        amount_cents=int(amount),
        paid_cents=int(paid),
        refunded_cents=int(refunded),
        by_status=dict(sorted(by_status.items())),
    )


async def room_orders(
    sessions: async_sessionmaker[AsyncSession], which: OrderFilter, limit: int, offset: int
) -> OrderPage:
    """One page of the room's orders, newest first, and the totals of every order that
    matches (not only this page's)."""
    where = which.conditions()
    async with sessions() as session:
        rows = (
            await session.exec(_newest_first(_rows_query(where)).limit(limit).offset(offset))
        ).all()
        totals = await _totals(session, where)
    return OrderPage([HostOrder(order, title, name) for order, title, name in rows], totals)


async def all_room_orders(
    sessions: async_sessionmaker[AsyncSession], which: OrderFilter
) -> AsyncIterator[HostOrder]:
    """Every matching order, newest first, read in batches (keyset on created_at, id: an
    order placed meanwhile neither repeats a row nor shifts the next batch)."""
    where = which.conditions()
    after: tuple[datetime, str] | None = None
    while True:
        page_where = list(where)
        if after is not None:
            at, order_id = after
            page_where.append(
                or_(
                    col(OrderRow.created_at) < at,
                    and_(col(OrderRow.created_at) == at, col(OrderRow.id) < order_id),
                )
            )
        async with sessions() as session:
            rows = (
                await session.exec(_newest_first(_rows_query(page_where)).limit(CSV_BATCH))
            ).all()
        for order, title, name in rows:
            yield HostOrder(order, title, name)
        if len(rows) < CSV_BATCH:
            return
        last = rows[-1][0]
        after = (last.created_at, last.id)


async def order_for_host(
    sessions: async_sessionmaker[AsyncSession], order_id: str
) -> tuple[OrderRow, str] | None:
    """An order and the owner of its offer, or None."""
    async with sessions() as session:
        found = (
            await session.exec(
                select(OrderRow, OfferRow.owner)
                .join(OfferRow, col(OfferRow.id) == col(OrderRow.offer_id))
                .where(OrderRow.id == order_id)
            )
        ).first()
    return (found[0], found[1]) if found else None
