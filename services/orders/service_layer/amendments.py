"""A buyer edited the group line that placed their order ("+1" -> "+2"): AmendClaim.

Only an unpaid order (awaiting payment, no payment under way) changes. More units come from
the stock under the same lock as every claim (the offer row, docs/decisions/0006): the
amendment never oversells and never passes the per-buyer limit. Fewer units go back to the
sale, the waitlist first, in the same transaction. The answer is OrderAmended (same pay_by)
or ClaimRejected(reason="not_amended") with why; the command's id is its idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import CheckoutRow, OfferRow, OrderRow, PaymentRow
from services.orders.domain.offers import (
    OfferKind,
    OfferStatus,
    Refusal,
    check_amend,
    take,
    units_left,
)
from services.orders.service_layer.checkout import Checkout
from services.orders.service_layer.stock_ticker import StockTicker
from shared.events import AmendClaim, ClaimRejected, OfferSoldOut, OrderAmended, utcnow
from shared.outbox import Outbox

# An amendment may overtake the claim it amends (two consumers): while it is this young and
# the claim is not decided yet, it waits for it (redelivered) instead of being refused.
CLAIM_WAIT = timedelta(seconds=30)


class ClaimUndecided(Exception):
    """The claim this amendment changes is not decided yet: try again shortly."""


@dataclass(frozen=True)
class Amended:
    ok: bool
    order_id: str | None
    message: str
    replayed: bool = False


class Amendments:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        ticker: StockTicker,
        checkout: Checkout,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._ticker = ticker
        self._checkout = checkout

    async def amend(self, command: AmendClaim) -> Amended:
        key = f"amend:{command.id}"
        customer = str(command.customer_id)
        async with self._sessions() as session:
            if (done := await session.get(CheckoutRow, key)) is not None:
                return Amended(done.order_id is not None, done.order_id, done.message, True)
            order = (
                await session.exec(
                    select(OrderRow)
                    .where(
                        col(OrderRow.customer_id) == customer,
                        col(OrderRow.claim_id) == command.claim_id,
                    )
                    .order_by(col(OrderRow.created_at).desc())
                )
            ).first()
            claim = await session.get(CheckoutRow, f"claim:{customer}:{command.claim_id}")
        if order is None:
            if claim is None and utcnow() - command.occurred_at < CLAIM_WAIT:
                raise ClaimUndecided(command.claim_id)
            return await self._refuse(
                command,
                claim.offer_id if claim else "",
                None,
                "No order of yours came from that message (not held, or not a claim).",
            )
        try:
            return await self._amend(command, key, order.id)
        except IntegrityError:  # the same command decided meanwhile (another replica)
            async with self._sessions() as session:
                done = await session.get(CheckoutRow, key)
            if done is None:
                raise
            return Amended(done.order_id is not None, done.order_id, done.message, True)

    async def _amend(self, command: AmendClaim, key: str, order_id: str) -> Amended:
        async with self._sessions() as session:
            # The order's lock first, then the offer's: the order releases and payments
            # take (no deadlock between them on PostgreSQL).
            held = await session.exec(
                update(OrderRow)
                .where(col(OrderRow.id) == order_id, col(OrderRow.status) == "awaiting_payment")
                .values(status="awaiting_payment")
            )
            order = await session.get(OrderRow, order_id, populate_existing=True)
            assert order is not None
            paying = (
                await session.exec(
                    select(PaymentRow.id).where(
                        col(PaymentRow.order_id) == order_id, col(PaymentRow.status) == "pending"
                    )
                )
            ).first()
            if held.rowcount == 0 or paying is not None:
                why = (
                    "a payment is under way"
                    if paying
                    else f"it is {order.status.replace('_', ' ')}"
                )
                too_late = Refusal("not_amended", f"Your order can no longer change: {why}.")
                return await self._refused(session, command, key, order, too_late)
            await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == order.offer_id)
                .values(version=OfferRow.version + 1)
            )
            offer = await session.get(OfferRow, order.offer_id, populate_existing=True)
            assert offer is not None
            holding = await self._checkout._holdings(session, offer.id, {order.customer_id})
            refusal = check_amend(
                status=OfferStatus(offer.status),
                held=order.quantity,
                quantity=command.quantity,
                per_buyer_limit=offer.per_buyer_limit,
                holding=holding.get(order.customer_id, 0),
                left=units_left(offer.left, offer.variant_left, order.variant),
            )
            if refusal is not None:
                return await self._refused(session, command, key, order, refusal)
            more = command.quantity - order.quantity
            had_stock = offer.left > 0
            offer.variant_left = take(offer.variant_left, order.variant, more)
            offer.left -= more
            offer.held += more
            order.quantity = command.quantity
            if offer.kind == OfferKind.PRE_SALE:
                order.amount_cents = offer.deposit_cents * order.quantity
                order.balance_cents = (
                    order.unit_price_cents - offer.deposit_cents
                ) * order.quantity
            else:
                order.amount_cents = order.unit_price_cents * order.quantity
            session.add_all([offer, order])
            if more < 0:
                # Released units: the waitlist first, under this lock (no new buyer between).
                await self._checkout.hand_to_waitlist(session, offer)
            elif had_stock and offer.left == 0:
                self._outbox.add(session, OfferSoldOut(room_id=offer.room_id, offer_id=offer.id))
            due = f"{order.amount_cents / 100:.2f}"
            message = f"Changed: {order.quantity} held, pay {due} by {order.pay_by:%H:%M} UTC."
            session.add(_record(command, key, order, order.id, None, message))
            self._outbox.add(
                session,
                OrderAmended(
                    room_id=order.room_id,
                    customer_id=order.customer_id,
                    order_id=order.id,
                    claim_id=order.claim_id,
                    offer_id=order.offer_id,
                    quantity=order.quantity,
                    amount_cents=order.amount_cents,
                    pay_by=order.pay_by,
                ),
            )
            await session.commit()
        self._outbox.notify()
        self._ticker.mark(order.offer_id)
        return Amended(True, order_id, message)

    async def _refused(
        self,
        session: AsyncSession,
        command: AmendClaim,
        key: str,
        order: OrderRow,
        refusal: Refusal,
    ) -> Amended:
        session.add(_record(command, key, order, None, refusal.reason, refusal.message))
        self._outbox.add(session, _rejected(command, order.offer_id, refusal.message))
        await session.commit()
        self._outbox.notify()
        return Amended(False, None, refusal.message)

    async def _refuse(
        self, command: AmendClaim, offer_id: str, order: OrderRow | None, message: str
    ) -> Amended:
        key = f"amend:{command.id}"
        async with self._sessions() as session:
            session.add(
                CheckoutRow(
                    key=key,
                    customer_id=str(command.customer_id),
                    offer_id=offer_id,
                    reason="not_amended",
                    message=message,
                    fingerprint=_fingerprint(command),
                )
            )
            self._outbox.add(session, _rejected(command, offer_id, message))
            try:
                await session.commit()
            except IntegrityError:
                return Amended(False, None, message, True)
        self._outbox.notify()
        return Amended(False, None, message)


def _fingerprint(command: AmendClaim) -> str:
    return f"amend|{command.claim_id}|{command.quantity}"


def _record(
    command: AmendClaim,
    key: str,
    order: OrderRow,
    order_id: str | None,
    reason: str | None,
    message: str,
) -> CheckoutRow:
    """The idempotency record: a redelivered command changes nothing and answers the same."""
    return CheckoutRow(
        key=key,
        customer_id=order.customer_id,
        offer_id=order.offer_id,
        order_id=order_id,
        reason=reason,
        message=message,
        fingerprint=_fingerprint(command),
    )


def _rejected(command: AmendClaim, offer_id: str, message: str) -> ClaimRejected:
    return ClaimRejected(
        room_id=command.room_id,
        customer_id=command.customer_id,
        claim_id=command.claim_id,
        offer_id=offer_id,
        reason="not_amended",
        message=message,
    )
