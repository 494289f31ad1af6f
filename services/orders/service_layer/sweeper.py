"""Time-driven work: unpaid orders expire (stock goes to the waitlist, else back on sale),
offers open and close on time, group buys settle at their deadline, pre-sale
balances not paid in their window forfeit.

Every replica runs the sweeper; each step is a conditional UPDATE, so of two
replicas reaching the same order or offer exactly one acts.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow, OrderRow
from services.orders.domain.offers import OfferKind, OfferStatus, tier_for
from services.orders.service_layer.catalog import Catalog, Conflict
from services.orders.service_layer.checkout import Checkout, tiers_of
from services.orders.service_layer.payments import Payments
from services.orders.service_layer.stock_ticker import StockTicker
from shared.background import Periodic
from shared.events import (
    GroupFailed,
    GroupFormed,
    OrderCancelled,
    OrderExpired,
    utcnow,
)
from shared.outbox import Outbox

log = logging.getLogger("qunlive.orders.sweeper")


class Sweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        ticker: StockTicker,
        catalog: Catalog,
        checkout: Checkout,
        payments: Payments,
        every_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._ticker = ticker
        self._catalog = catalog
        self._checkout = checkout
        self._payments = payments
        self._job = Periodic("orders-sweeper", self.sweep, every_s)

    async def sweep(self) -> None:
        now = utcnow()
        async with self._sessions() as session:
            due = (
                await session.exec(
                    select(OrderRow.id)
                    .where(OrderRow.status == "awaiting_payment", col(OrderRow.pay_by) < now)
                    .limit(500)
                )
            ).all()
            to_open = (
                await session.exec(
                    select(OfferRow.id).where(
                        OfferRow.status == OfferStatus.SCHEDULED.value,
                        col(OfferRow.opens_at) <= now,
                    )
                )
            ).all()
            to_close = (
                await session.exec(
                    select(OfferRow.id).where(
                        OfferRow.status == OfferStatus.OPEN.value, col(OfferRow.ends_at) <= now
                    )
                )
            ).all()
            to_settle = (
                await session.exec(
                    select(OfferRow.id).where(
                        OfferRow.kind == OfferKind.GROUP_BUY.value,
                        OfferRow.status == OfferStatus.CLOSED.value,
                        col(OfferRow.settled).is_(False),
                    )
                )
            ).all()
            to_forfeit = (
                await session.exec(
                    select(OrderRow.id)
                    .join(OfferRow, col(OfferRow.id) == col(OrderRow.offer_id))
                    .where(OrderRow.status == "deposit_paid", col(OfferRow.balance_until) < now)
                    .limit(500)
                )
            ).all()
        for order_id in due:
            await self.expire(order_id)
        for offer_id in to_open:
            with contextlib.suppress(Conflict):
                await self._catalog.open(offer_id)
        for offer_id in to_close:
            with contextlib.suppress(Conflict):
                await self._catalog.close(offer_id)
        for offer_id in to_settle:
            await self.settle_group(offer_id)
        for order_id in to_forfeit:
            await self.forfeit(order_id)

    async def expire(self, order_id: str) -> bool:
        return await self._release(order_id, "awaiting_payment", "expired")

    async def forfeit(self, order_id: str) -> bool:
        """Pre-sale balance not paid in its window: the unit is released, the deposit per rule."""
        released = await self._release(order_id, "deposit_paid", "forfeited")
        if released:
            order = await self._payments.order(order_id)
            offer = await self._catalog.offer(order.offer_id)
            if not offer.forfeit_deposit:
                await self._refund_deposit(order)
        return released

    async def _refund_deposit(self, order: OrderRow) -> None:
        async with self._sessions() as session:
            await session.exec(
                update(OrderRow).where(col(OrderRow.id) == order.id).values(status="deposit_paid")
            )
            await session.commit()
        await self._payments.refund_order(order.id, None, "balance not paid: deposit returned")
        async with self._sessions() as session:
            await session.exec(
                update(OrderRow).where(col(OrderRow.id) == order.id).values(status="forfeited")
            )
            await session.commit()

    async def cancel(self, order_id: str) -> bool:
        """The buyer changed their mind before paying: the units go back (waitlist first)."""
        return await self._release(order_id, "awaiting_payment", "cancelled", "cancelled by buyer")

    async def _release(
        self, order_id: str, expected: str, status: str, reason: str = "balance not paid in time"
    ) -> bool:
        async with self._sessions() as session:
            moved = await session.exec(
                update(OrderRow)
                .where(col(OrderRow.id) == order_id, col(OrderRow.status) == expected)
                .values(status=status)
            )
            if moved.rowcount == 0:
                await session.rollback()
                return False  # paid meanwhile, or another replica got there first
            order = await session.get(OrderRow, order_id, populate_existing=True)
            assert order is not None
            # The offer's lock, then: released units go to the waitlist first, in the same
            # transaction, so no new buyer can take them in between.
            await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == order.offer_id)
                .values(
                    held=OfferRow.held - order.quantity,
                    left=OfferRow.left + order.quantity,
                    buyers=OfferRow.buyers - 1,
                )
            )
            offer = await session.get(OfferRow, order.offer_id, populate_existing=True)
            assert offer is not None
            await self._checkout.hand_to_waitlist(session, offer)
            if status == "expired":
                self._outbox.add(
                    session,
                    OrderExpired(
                        room_id=order.room_id,
                        customer_id=order.customer_id,
                        order_id=order.id,
                        offer_id=order.offer_id,
                        quantity=order.quantity,
                    ),
                )
            else:
                self._outbox.add(
                    session,
                    OrderCancelled(
                        room_id=order.room_id,
                        customer_id=order.customer_id,
                        order_id=order.id,
                        offer_id=order.offer_id,
                        reason=reason,
                    ),
                )
            await session.commit()
        self._outbox.notify()
        self._ticker.mark(order.offer_id)
        return True

    async def settle_group(self, offer_id: str) -> None:
        async with self._sessions() as session:
            claimed = await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == offer_id, col(OfferRow.settled).is_(False))
                .values(settled=True)
            )
            if claimed.rowcount == 0:
                await session.rollback()
                return
            offer = await session.get(OfferRow, offer_id, populate_existing=True)
            assert offer is not None
            orders = (
                await session.exec(
                    select(OrderRow).where(OrderRow.offer_id == offer_id, OrderRow.status == "paid")
                )
            ).all()
            unpaid = (
                await session.exec(
                    select(OrderRow.id).where(
                        OrderRow.offer_id == offer_id, OrderRow.status == "awaiting_payment"
                    )
                )
            ).all()
            buyers = len(orders)
            tier = tier_for(tiers_of(offer), buyers)
            formed = buyers >= offer.min_group
            if formed:
                self._outbox.add(
                    session,
                    GroupFormed(
                        room_id=offer.room_id,
                        offer_id=offer_id,
                        buyers=buyers,
                        price_cents=tier.price_cents,
                    ),
                )
            else:
                self._outbox.add(
                    session,
                    GroupFailed(
                        room_id=offer.room_id,
                        offer_id=offer_id,
                        buyers=buyers,
                        minimum=offer.min_group,
                    ),
                )
            await session.commit()
        self._outbox.notify()
        for order_id in unpaid:  # the group is decided: open commitments lapse
            await self.expire(order_id)
        for order in orders:
            due = tier.price_cents * order.quantity
            if not formed:
                await self._payments.refund_order(order.id, None, "group did not form")
            elif order.paid_cents > due:
                await self._payments.refund_order(
                    order.id,
                    order.paid_cents - due,
                    f"group formed at {tier.price_cents / 100:.2f}",
                )

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
