"""Time-driven work: unpaid orders expire (stock goes to the waitlist, else back on sale),
offers open and close on time, group buys settle at their deadline, pre-sale
balances not paid in their window forfeit.

Every replica runs the sweeper; each step is a conditional UPDATE, so of two
replicas reaching the same order or offer exactly one acts.

Each order or offer is its own item: one that fails (a row from before the edge
validation, whose room id no event can carry) is logged, tried again a few times, then
dead-lettered and left alone, and never stops the others (shared.background.ItemFailures).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow, OrderRow
from services.orders.domain.offers import OfferKind, OfferStatus, take, tier_for
from services.orders.service_layer.catalog import Catalog, Conflict
from services.orders.service_layer.checkout import Checkout, tiers_of
from services.orders.service_layer.payments import Payments
from services.orders.service_layer.stock_ticker import StockTicker
from shared.background import ItemFailures, Periodic
from shared.events import (
    GroupFailed,
    GroupFormed,
    OrderCancelled,
    OrderExpired,
    utcnow,
)
from shared.messaging import EventPublisher, item_dead_letter
from shared.outbox import Outbox

log = logging.getLogger("qunlive.orders.sweeper")
JOB = "orders-sweeper"


def database_away(exc: BaseException) -> bool:
    """The database's failure (gone, locked, a dropped connection), not the item's."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


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
        publisher: Callable[[], EventPublisher] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._ticker = ticker
        self._catalog = catalog
        self._checkout = checkout
        self._payments = payments
        # For dead letters; without one (a test's sweeper) a given-up item is only logged.
        self._publisher: Callable[[], EventPublisher | None] = publisher or (lambda: None)
        self._job = Periodic(JOB, self.sweep, every_s)
        self._failures = ItemFailures(JOB, transient=database_away)

    async def sweep(self) -> None:
        now = utcnow()
        skipped = self._failures.skipped()
        # The limited queries leave out what is skipped, or 500 bad rows would hide the rest.
        skip_due = {i.removeprefix("expire:") for i in skipped if i.startswith("expire:")}
        skip_forfeit = {i.removeprefix("forfeit:") for i in skipped if i.startswith("forfeit:")}
        async with self._sessions() as session:
            due = (
                await session.exec(
                    select(OrderRow.id)
                    .where(
                        OrderRow.status == "awaiting_payment",
                        col(OrderRow.pay_by) < now,
                        col(OrderRow.id).not_in(skip_due),
                    )
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
                    .where(
                        OrderRow.status == "deposit_paid",
                        col(OfferRow.balance_until) < now,
                        col(OrderRow.id).not_in(skip_forfeit),
                    )
                    .limit(500)
                )
            ).all()
        for order_id in due:
            await self._each("expire", order_id, self.expire)
        for offer_id in to_open:
            await self._each("open", offer_id, self._open)
        for offer_id in to_close:
            await self._each("close", offer_id, self._close)
        for offer_id in to_settle:
            await self._each("settle", offer_id, self.settle_group)
        for order_id in to_forfeit:
            await self._each("forfeit", order_id, self.forfeit)

    async def _each(
        self,
        step: str,
        item_id: str,
        work: Callable[[str], Awaitable[object]],
        once: bool = False,
        **detail: object,
    ) -> bool:
        """One item of a pass, on its own: its failure is logged and dead-lettered, the
        pass goes on. `once`: the item will not come back in a later pass."""
        item = f"{step}:{item_id}"
        dead_letter = item_dead_letter(
            self._publisher, service="orders", job=JOB, item=item, **detail
        )
        return await self._failures.attempt(item, lambda: work(item_id), dead_letter, once)

    async def _open(self, offer_id: str) -> None:
        with contextlib.suppress(Conflict):
            await self._catalog.open(offer_id)

    async def _close(self, offer_id: str) -> None:
        with contextlib.suppress(Conflict):
            await self._catalog.close(offer_id)

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
            if order.variant in offer.variant_left:  # the units go back to their variant
                offer.variant_left = take(offer.variant_left, order.variant, -order.quantity)
                session.add(offer)
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
        # The group is decided: open commitments lapse, members get back what they paid
        # over the final tier. Each on its own: one that fails is dead-lettered (with the
        # amount owed) and the others still get theirs.
        for order_id in unpaid:
            await self._each("settle-expire", order_id, self.expire, once=True)
        for order in orders:
            due = tier.price_cents * order.quantity
            if not formed:
                refund, reason = None, "group did not form"
            elif order.paid_cents > due:
                refund = order.paid_cents - due
                reason = f"group formed at {tier.price_cents / 100:.2f}"
            else:
                continue
            await self._each(
                "settle-refund",
                order.id,
                self._refunder(refund, reason),
                once=True,
                offer_id=offer_id,
                amount_cents=refund if refund is not None else order.paid_cents,
            )

    def _refunder(
        self, amount_cents: int | None, reason: str
    ) -> Callable[[str], Awaitable[object]]:
        async def refund(order_id: str) -> None:
            await self._payments.refund_order(order_id, amount_cents, reason)

        return refund

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
