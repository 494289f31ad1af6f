"""Read-only views for the host console: the host's catalog and a room's sales so far."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import CheckoutRow, OfferRow, OrderRow, ProductRow

PAID = ("paid", "deposit_paid")
CATALOG_LIMIT = 500


@dataclass(frozen=True)
class RoomSales:
    offers: list[OfferRow]
    claims: int  # buy intents decided (held stock or refused, waitlisted included)
    orders: int  # claims that held stock
    paid_orders: int
    gmv_cents: int  # paid minus refunded


async def catalog(
    sessions: async_sessionmaker[AsyncSession], owner: str, is_admin: bool
) -> list[ProductRow]:
    """The host's products, newest first (an admin sees every host's)."""
    query = select(ProductRow).order_by(col(ProductRow.created_at).desc()).limit(CATALOG_LIMIT)
    if not is_admin:
        query = query.where(ProductRow.owner == owner)
    async with sessions() as session:
        return list((await session.exec(query)).all())


async def room_sales(
    sessions: async_sessionmaker[AsyncSession], room_id: str, owner: str, is_admin: bool
) -> RoomSales:
    """The room's offers (the host's own; an admin sees all) and what they have sold."""
    async with sessions() as session:
        query = select(OfferRow).where(OfferRow.room_id == room_id)
        if not is_admin:
            query = query.where(OfferRow.owner == owner)
        offers = list((await session.exec(query.order_by(col(OfferRow.created_at)))).all())
        ids = [o.id for o in offers]
        if not ids:
            return RoomSales(offers, 0, 0, 0, 0)
        claims = (
            await session.exec(
                select(func.count())
                .select_from(CheckoutRow)
                .where(col(CheckoutRow.offer_id).in_(ids))
            )
        ).one()
        placed, paid, gmv = (
            await session.exec(
                select(
                    func.count(),
                    func.count().filter(col(OrderRow.status).in_(PAID)),
                    func.coalesce(func.sum(OrderRow.paid_cents - OrderRow.refunded_cents), 0),
                ).where(col(OrderRow.offer_id).in_(ids))
            )
        ).one()
    return RoomSales(offers, int(claims), int(placed), int(paid), int(gmv))
