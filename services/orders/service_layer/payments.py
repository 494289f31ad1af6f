"""Paying for an order, and what the provider's callbacks do to it.

Callbacks are at-least-once and may come late: each is recorded by its event id
(a duplicate changes nothing), and a payment only confirms an order that is
still awaiting it; money that arrives for an expired order is refunded, the
order stays expired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.payments import CallbackEvent, PaymentProvider
from services.orders.adapters.tables import (
    BuyerAddressRow,
    CallbackRow,
    CommissionRow,
    OfferRow,
    OrderRow,
    PaymentRow,
    PickupPointRow,
)
from services.orders.domain.fulfilment import (
    AlreadyFulfilled,
    Fulfilment,
    UnknownPickupPoint,
    clean_text,
    pickup_code,
    serves,
)
from services.orders.domain.offers import OfferKind
from services.orders.domain.referral import (
    CommissionRule,
    commissions,
    commissions_after_refund,
)
from services.orders.service_layer.catalog import Conflict, Forbidden, NotFound
from services.orders.service_layer.checkout import aware
from shared.events import (
    CommissionAccrued,
    CommissionReversed,
    OrderPaid,
    OrderRefunded,
    utcnow,
)
from shared.outbox import Outbox

log = logging.getLogger("qunlive.orders.payments")


@dataclass(frozen=True)
class CallbackResult:
    status: str  # applied | duplicate | late_refunded | declined | ignored


class Payments:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        provider: PaymentProvider,
        rule: CommissionRule,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self.provider = provider
        self._rule = rule

    async def order(self, order_id: str, customer_id: str | None = None) -> OrderRow:
        async with self._sessions() as session:
            order = await session.get(OrderRow, order_id)
        if order is None or (customer_id is not None and order.customer_id != customer_id):
            raise NotFound(order_id)
        return order

    async def set_fulfilment(
        self, order_id: str, customer_id: str, how: Fulfilment, remember: bool = True
    ) -> OrderRow:
        """Delivery or pickup, until the goods are handed over. A pickup point must be one
        the order may be collected at (`serves`); a delivery address is kept as the
        buyer's next default when `remember` (their own choice, not a pay link's)."""
        async with self._sessions() as session:
            order = await session.get(OrderRow, order_id, with_for_update=True)
            if order is None or order.customer_id != customer_id:
                raise NotFound(order_id)
            if order.fulfilled_at is not None:
                raise AlreadyFulfilled(
                    f"handed over at {aware(order.fulfilled_at):%Y-%m-%d %H:%M} UTC"
                )
            if order.status in ("expired", "cancelled", "refunded", "forfeited"):
                raise Conflict(f"order is {order.status}")
            if how.method == "pickup":
                assert how.pickup_point is not None
                point = await session.get(PickupPointRow, how.pickup_point.strip())
                offer = await session.get(OfferRow, order.offer_id)
                seller = offer.owner if offer else ""
                if point is None or not serves(
                    point.owner, point.room_ids, point.retired_at is not None, order.room_id, seller
                ):
                    raise UnknownPickupPoint(
                        f"{how.pickup_point!r} is not a pickup point of this room"
                    )
                if order.pickup_point != point.id:
                    order.pickup_code = None  # a code is the point's: a new one below
                order.fulfilment, order.address, order.pickup_point = "pickup", None, point.id
                if order.status == "paid" and not order.pickup_code:
                    order.pickup_code = pickup_code()
            else:
                address = clean_text(how.address or "")
                order.fulfilment, order.address = "delivery", address
                order.pickup_point, order.pickup_code = None, None
                if remember:
                    saved = await session.get(BuyerAddressRow, customer_id)
                    if saved is None:
                        session.add(BuyerAddressRow(customer_id=customer_id, address=address))
                    else:
                        saved.address, saved.updated_at = address, utcnow()
                        session.add(saved)
            session.add(order)
            await session.commit()
            await session.refresh(order)
        return order

    async def pay(self, order_id: str, customer_id: str, card: str) -> PaymentRow:
        """Start a payment of what is due now: the whole, the deposit, or the balance."""
        order = await self.order(order_id, customer_id)
        now = utcnow()
        if order.status == "awaiting_payment":
            if aware(order.pay_by) < now:
                raise Conflict("the payment deadline has passed")
            stage = "deposit" if order.kind == OfferKind.PRE_SALE else "full"
            amount = order.amount_cents
        elif order.status == "deposit_paid":
            async with self._sessions() as session:
                offer = await session.get(OfferRow, order.offer_id)
            assert offer is not None and offer.balance_from and offer.balance_until
            if not aware(offer.balance_from) <= now <= aware(offer.balance_until):
                raise Conflict(
                    f"the balance is paid between {offer.balance_from:%Y-%m-%d %H:%M} "
                    f"and {offer.balance_until:%Y-%m-%d %H:%M} UTC"
                )
            stage, amount = "balance", order.balance_cents
        else:
            raise Conflict(f"order is {order.status}: nothing to pay")
        # One charge per attempt at a stage: a retry of this call (a double tap, a lost
        # answer) gets the charge already started, never a second one; after a decline
        # the next attempt is a new charge (another card).
        async with self._sessions() as session:
            declined = (
                await session.exec(
                    select(func.count())
                    .select_from(PaymentRow)
                    .where(
                        col(PaymentRow.order_id) == order.id,
                        col(PaymentRow.stage) == stage,
                        col(PaymentRow.status) == "declined",
                    )
                )
            ).one()
        key = f"{order.id}:{stage}:{declined}"
        charge = await self.provider.charge(order.id, amount, card, idempotency_key=key)
        payment = PaymentRow(
            id=charge.payment_id,
            order_id=order.id,
            stage=stage,
            amount_cents=amount,
            status=charge.status,
        )
        async with self._sessions() as session:
            session.add(payment)
            try:
                await session.commit()
            except IntegrityError:  # the same charge, recorded by the first call
                await session.rollback()
                recorded = await session.get(PaymentRow, charge.payment_id)
                assert recorded is not None
                return recorded
        return payment

    async def on_callback(self, event: CallbackEvent) -> CallbackResult:
        async with self._sessions() as session:
            payment = await session.get(PaymentRow, event.payment_id)
            if payment is None:
                raise NotFound(f"unknown payment {event.payment_id}")
            if event.amount_cents != payment.amount_cents:
                raise Conflict("amount does not match the payment")
        async with self._sessions() as session:
            session.add(
                CallbackRow(
                    event_id=event.event_id, payment_id=event.payment_id, outcome=event.outcome
                )
            )
            try:
                await session.flush()  # the dedupe row is this transaction's first write
            except IntegrityError:
                return CallbackResult("duplicate")
            payment = await session.get(PaymentRow, event.payment_id, populate_existing=True)
            assert payment is not None
            if payment.status != "pending":  # a different event id for a settled payment
                await session.commit()
                return CallbackResult("ignored")
            payment.settled_at = utcnow()
            if event.outcome != "succeeded":
                payment.status = "declined"
                session.add(payment)
                await session.commit()
                return CallbackResult("declined")
            result = await self._capture(session, payment)
            await session.commit()
        self._outbox.notify()
        if result == "late_refunded":
            await self.provider.refund(payment.id, payment.amount_cents)
        return CallbackResult(result)

    async def _capture(self, session: AsyncSession, payment: PaymentRow) -> str:
        expected = "deposit_paid" if payment.stage == "balance" else "awaiting_payment"
        target = "deposit_paid" if payment.stage == "deposit" else "paid"
        covers = [col(OrderRow.id) == payment.order_id, col(OrderRow.status) == expected]
        if payment.stage != "balance":
            # The buyer edited their "+1" to "+2" (AmendClaim) between starting this payment
            # and its callback: it pays the old amount, so it captures nothing (refunded)
            # and the order waits for a payment of what it now costs.
            covers.append(col(OrderRow.amount_cents) == payment.amount_cents)
        moved = await session.exec(
            update(OrderRow)
            .where(*covers)
            .values(
                status=target,
                paid_at=utcnow(),
                paid_cents=OrderRow.paid_cents + payment.amount_cents,
            )
        )
        if moved.rowcount == 0:
            # Expired (or forfeited) before the money came, or the order changed since:
            # never resurrect, never under-pay, give it back.
            payment.status = "late_refunded"
            session.add(payment)
            return "late_refunded"
        payment.status = "succeeded"
        session.add(payment)
        order = await session.get(OrderRow, payment.order_id, populate_existing=True)
        assert order is not None
        if target == "paid":
            await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == order.offer_id)
                .values(held=OfferRow.held - order.quantity, sold=OfferRow.sold + order.quantity)
            )
            if order.fulfilment == "pickup" and not order.pickup_code:
                order.pickup_code = pickup_code()
                session.add(order)
            for who, level, cents in commissions(
                order.paid_cents - order.refunded_cents, order.referrer_chain, self._rule
            ):
                session.add(
                    CommissionRow(
                        order_id=order.id,
                        level=level,
                        beneficiary=who,
                        amount_cents=cents,
                        accrued_cents=cents,
                    )
                )
                self._outbox.add(
                    session,
                    CommissionAccrued(
                        room_id=order.room_id,
                        customer_id=who,
                        order_id=order.id,
                        level=level,
                        amount_cents=cents,
                    ),
                )
        self._outbox.add(
            session,
            OrderPaid(
                room_id=order.room_id,
                customer_id=order.customer_id,
                order_id=order.id,
                offer_id=order.offer_id,
                amount_cents=payment.amount_cents,
                stage=payment.stage,
                referrer_chain=order.referrer_chain,
                pickup_code=order.pickup_code,
            ),
        )
        return "applied"

    async def refund(
        self, order_id: str, owner: str, is_admin: bool, amount_cents: int | None, reason: str
    ) -> OrderRow:
        """Give money back: all of it (the order becomes refunded) or a part (group tier)."""
        async with self._sessions() as session:
            order = await session.get(OrderRow, order_id)
            if order is None:
                raise NotFound(order_id)
            offer = await session.get(OfferRow, order.offer_id)
            assert offer is not None
            if not (is_admin or offer.owner == owner):
                raise Forbidden("not your order")
        refunded = await self.refund_order(order_id, amount_cents, reason)
        return refunded

    async def refund_order(self, order_id: str, amount_cents: int | None, reason: str) -> OrderRow:
        async with self._sessions() as session:
            order = await session.get(OrderRow, order_id, with_for_update=True)
            if order is None:
                raise NotFound(order_id)
            refundable = order.paid_cents - order.refunded_cents
            amount = refundable if amount_cents is None else amount_cents
            if order.status not in ("paid", "deposit_paid") or refundable <= 0:
                raise Conflict(f"order is {order.status}: nothing to refund")
            if not 0 < amount <= refundable:
                raise Conflict(f"refund must be between 0.01 and {refundable / 100:.2f}")
            order.refunded_cents += amount
            if order.refunded_cents == order.paid_cents:
                order.status = "refunded"
            await self._follow_refund(session, order)
            session.add(order)
            self._outbox.add(
                session,
                OrderRefunded(
                    room_id=order.room_id,
                    customer_id=order.customer_id,
                    order_id=order.id,
                    offer_id=order.offer_id,
                    amount_cents=amount,
                    reason=reason,
                ),
            )
            payments = (
                await session.exec(
                    select(PaymentRow).where(
                        PaymentRow.order_id == order_id, PaymentRow.status == "succeeded"
                    )
                )
            ).all()
            await session.commit()
        self._outbox.notify()
        if payments:
            await self.provider.refund(payments[-1].id, amount)
        return order

    async def _follow_refund(self, session: AsyncSession, order: OrderRow) -> None:
        """Commissions follow what the buyer finally paid: after a refund each level comes
        to the rule applied to paid - refunded; the difference is taken back
        (CommissionReversed with that amount). A level that comes to nothing is reversed,
        keeping the amount it was reversed from.
        See docs/decisions/0017-commission-follows-payment.md."""
        owed = commissions_after_refund(
            order.paid_cents, order.refunded_cents, order.referrer_chain, self._rule
        )
        rows = (
            await session.exec(
                select(CommissionRow).where(
                    CommissionRow.order_id == order.id, CommissionRow.status == "accrued"
                )
            )
        ).all()
        for row in rows:
            now_owed = 0 if order.status == "refunded" else owed.get(row.level, 0)
            if now_owed >= row.amount_cents:
                continue  # commissions only go down with refunds
            taken_back = row.amount_cents - now_owed
            if now_owed == 0:
                row.status = "reversed"
            else:
                row.amount_cents = now_owed
            session.add(row)
            self._outbox.add(
                session,
                CommissionReversed(
                    room_id=order.room_id,
                    customer_id=row.beneficiary,
                    order_id=order.id,
                    level=row.level,
                    amount_cents=taken_back,
                ),
            )

    async def ledger(self, beneficiary: str) -> list[CommissionRow]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(CommissionRow)
                .where(CommissionRow.beneficiary == beneficiary)
                .order_by(col(CommissionRow.created_at))
            )
            return list(rows.all())
