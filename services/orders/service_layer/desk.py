"""The pickup desk: the person at a pickup point looks an order up by its pickup code and
hands the goods over (`order.fulfilled`, through the outbox in the same transaction).

Wrong codes are counted per desk token in a table (every replica of orders sees the same
count): past the limit every lookup of that token waits (AttemptLimit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import DeskAttemptRow, OfferRow, OrderRow, PickupPointRow
from services.orders.domain.desk import (
    AttemptLimit,
    TooManyAttempts,
    UnknownCode,
    check_handover,
    normalize_code,
    pick,
    unique_code,
)
from services.orders.service_layer.catalog import Forbidden, NotFound
from services.orders.service_layer.checkout import aware
from shared.auth import DeskPass
from shared.events import OrderFulfilled, utcnow
from shared.outbox import Outbox


@dataclass(frozen=True)
class DeskOrder:
    order: OrderRow
    title: str


async def assign_pickup_code(session: AsyncSession, order: OrderRow) -> None:
    """Give a paid pickup order its code: one no other open order of its point has."""
    if order.pickup_code or not order.pickup_point:
        return
    taken = await session.exec(
        select(OrderRow.pickup_code).where(
            col(OrderRow.pickup_point) == order.pickup_point,
            col(OrderRow.status) == "paid",
            col(OrderRow.fulfilled_at).is_(None),
            col(OrderRow.pickup_code).is_not(None),
            col(OrderRow.id) != order.id,
        )
    )
    order.pickup_code = unique_code({code for code in taken.all() if code})


class Desk:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        limit: AttemptLimit | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self.limit = limit or AttemptLimit()

    async def point(self, point_id: str) -> PickupPointRow:
        async with self._sessions() as session:
            point = await session.get(PickupPointRow, point_id)
        if point is None:
            raise NotFound(f"no pickup point {point_id}")
        return point

    async def point_of_host(self, point_id: str, host: str, is_admin: bool) -> PickupPointRow:
        """The point, if this host runs it (the admin runs every one)."""
        point = await self.point(point_id)
        if not (is_admin or point.owner == host):
            raise Forbidden("not your pickup point")
        return point

    async def find(self, desk: DeskPass, code: str) -> DeskOrder:
        """The order this code names at the desk's point (wrong codes are counted)."""
        async with self._sessions() as session:
            found = await self._look_up(session, desk, code)
            title = await self._title(session, found)
            await session.commit()
        return DeskOrder(found, title)

    async def hand_over(self, desk: DeskPass, code: str) -> DeskOrder:
        """Mark the goods handed over, once: a second time says when the first was."""
        async with self._sessions() as session:
            found = await self._look_up(session, desk, code)
            check_handover(found)
            now = utcnow()
            moved = await session.exec(
                update(OrderRow)
                .where(
                    col(OrderRow.id) == found.id,
                    col(OrderRow.status) == "paid",
                    col(OrderRow.fulfilled_at).is_(None),
                )
                .values(fulfilled_at=now)
            )
            if moved.rowcount == 0:  # another desk (or a refund) came first
                await session.rollback()
                async with self._sessions() as again:
                    current = await again.get(OrderRow, found.id)
                assert current is not None
                check_handover(current)
                raise AssertionError("an order that may be handed over was not")  # unreachable
            self._outbox.add(
                session,
                OrderFulfilled(
                    room_id=found.room_id,
                    customer_id=found.customer_id,
                    order_id=found.id,
                    offer_id=found.offer_id,
                    method="pickup",
                    pickup_point=desk.pickup_point,
                    quantity=found.quantity,
                ),
            )
            title = await self._title(session, found)
            await session.commit()
        self._outbox.notify()
        found.fulfilled_at = now
        return DeskOrder(found, title)

    async def _look_up(self, session: AsyncSession, desk: DeskPass, typed: str) -> OrderRow:
        now = utcnow()
        recent = await session.exec(
            select(DeskAttemptRow.at).where(
                col(DeskAttemptRow.token_id) == desk.token_id,
                col(DeskAttemptRow.at) > self.limit.since(now),
            )
        )
        wait = self.limit.retry_after([aware(at) for at in recent.all()], now)
        if wait is not None:
            raise TooManyAttempts(wait)
        code = normalize_code(typed)
        candidates = []
        if code is not None:
            rows = await session.exec(
                select(OrderRow).where(
                    col(OrderRow.pickup_point) == desk.pickup_point,
                    col(OrderRow.pickup_code) == code,
                )
            )
            candidates = list(rows.all())
        found = pick(candidates)
        if found is None:
            stale = delete(DeskAttemptRow).where(col(DeskAttemptRow.at) < self.limit.since(now))
            await session.exec(stale)
            wrong = DeskAttemptRow(token_id=desk.token_id, pickup_point=desk.pickup_point, at=now)
            session.add(wrong)
            await session.commit()
            raise UnknownCode("no order at this pickup point has this code")
        return found

    @staticmethod
    async def _title(session: AsyncSession, order: OrderRow) -> str:
        offer = await session.get(OfferRow, order.offer_id)
        return offer.title if offer else ""

    async def wrong_codes(self, token_id: str, since: datetime) -> int:
        """How many wrong codes this desk token tried since then (for tests and ops)."""
        async with self._sessions() as session:
            count = await session.exec(
                select(func.count())
                .select_from(DeskAttemptRow)
                .where(col(DeskAttemptRow.token_id) == token_id, col(DeskAttemptRow.at) > since)
            )
            return int(count.one())
