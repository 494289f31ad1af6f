"""Checkout: the one path every buy intent takes (HTTP checkout and chat claims).

The stock decision is a conditional UPDATE on the offer row, the first statement
of the transaction that also writes the order, its idempotency record and its
events (outbox). It commits before the buyer hears "yours"; any number of orders
replicas can run it at once (the row lock serialises them per offer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import (
    CheckoutRow,
    OfferRow,
    OrderRow,
    ProductRow,
    ReferralRow,
    WaitlistRow,
)
from services.orders.domain.offers import (
    OfferKind,
    OfferStatus,
    Refusal,
    Tier,
    check_claim,
    next_tier_at,
    tier_for,
)
from services.orders.domain.referral import referrer_chain
from services.orders.service_layer.stock_ticker import StockTicker
from shared.events import (
    ClaimRejected,
    GroupTierReached,
    OfferSoldOut,
    OrderPlaced,
    new_id,
    utcnow,
)
from shared.outbox import Outbox
from shared.variants import normalize_variant

log = logging.getLogger("qunlive.orders.checkout")

ACTIVE = ("awaiting_payment", "paid", "deposit_paid")


@dataclass(frozen=True)
class CheckoutRequest:
    offer_id: str
    customer_id: str
    quantity: int
    key: str  # idempotency key, already scoped to the customer
    claim_id: str
    variant: str | None = None
    source: str = "button"
    referrer_id: str | None = None


@dataclass
class _Pending:
    req: CheckoutRequest
    chain: list[str]
    outcome: asyncio.Future[CheckoutResult]


@dataclass(frozen=True)
class CheckoutResult:
    ok: bool
    order_id: str | None
    reason: str | None
    message: str
    replayed: bool = False


def tiers_of(offer: OfferRow) -> tuple[Tier, ...]:
    return tuple(Tier(int(a), int(b)) for a, b in offer.tiers)


def aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Checkout:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        ticker: StockTicker,
        referral_levels: int = 3,
        batch_max: int = 200,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._ticker = ticker
        self._levels = referral_levels
        # Checkouts of one offer queue at this process's desk for that offer; the desk
        # decides a whole batch in one transaction (lock, decide, write, commit), so the
        # row lock is held for a handful of round trips per batch, not per buyer.
        self._batch_max = batch_max
        self._pending: dict[str, list[_Pending]] = {}
        self._desks: dict[str, asyncio.Task[None]] = {}
        self._variants: dict[str, tuple[str, ...]] = {}

    async def place(self, req: CheckoutRequest, from_waitlist: bool = False) -> CheckoutResult:
        if req.variant is not None:
            req = replace(req, variant=normalize_variant(req.variant) or None)
        if req.referrer_id and req.referrer_id != req.customer_id:
            await self._remember_referrer(req.customer_id, req.referrer_id)
        async with self._sessions() as session:  # read-only look-ups, no lock held
            done = await session.get(CheckoutRow, req.key)
            if done is not None:
                return _replay(done, req)
            offer = await session.get(OfferRow, req.offer_id)
            if offer is None:
                return CheckoutResult(False, None, "not_found", "No such offer.")
            chain = await self._chain(session, req.customer_id)
            variants = self._variants.get(offer.product_id)
            if variants is None:  # products' variants never change: read once per process
                product = await session.get(ProductRow, offer.product_id)
                variants = self._variants[offer.product_id] = tuple(
                    product.variants if product else ()
                )
        refusal = check_claim(
            status=OfferStatus(offer.status),
            quantity=req.quantity,
            per_buyer_limit=offer.per_buyer_limit,
            already_bought=0,  # checked for real under the lock
            variant=req.variant,
            variants=variants,
        )
        if refusal is not None:
            return await self._refuse(req, offer.room_id, refusal)
        if not from_waitlist:
            return await self._at_desk(req, chain)
        try:
            return await self._hold(req, offer, chain, from_waitlist)
        except IntegrityError:  # the same key raced in on another replica: its outcome stands
            async with self._sessions() as session:
                done = await session.get(CheckoutRow, req.key)
            if done is None:
                raise
            return _replay(done, req)

    async def _at_desk(self, req: CheckoutRequest, chain: list[str]) -> CheckoutResult:
        waiting = _Pending(req, chain, asyncio.get_running_loop().create_future())
        self._pending.setdefault(req.offer_id, []).append(waiting)
        if req.offer_id not in self._desks:
            self._desks[req.offer_id] = asyncio.create_task(self._desk(req.offer_id))
        return await asyncio.shield(waiting.outcome)  # a gone client does not undo a decision

    async def _desk(self, offer_id: str) -> None:
        try:
            while queue := self._pending.get(offer_id):
                batch, self._pending[offer_id] = queue[: self._batch_max], queue[self._batch_max :]
                outcomes: list[CheckoutResult | BaseException]
                try:
                    outcomes = list(await self._decide_batch(offer_id, batch))
                except Exception:
                    log.warning("batch failed; deciding one by one", exc_info=True)
                    outcomes = [await self._decide_alone(p) for p in batch]
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, BaseException):
                        waiting.outcome.set_exception(outcome)
                    else:
                        waiting.outcome.set_result(outcome)
        finally:
            self._pending.pop(offer_id, None)
            self._desks.pop(offer_id, None)

    async def _decide_alone(self, waiting: _Pending) -> CheckoutResult | BaseException:
        req = waiting.req
        try:
            async with self._sessions() as session:
                offer = await session.get(OfferRow, req.offer_id)
            assert offer is not None
            return await self._hold(req, offer, waiting.chain, False)
        except IntegrityError:  # the same key raced in elsewhere: its outcome stands
            async with self._sessions() as session:
                done = await session.get(CheckoutRow, req.key)
            return _replay(done, req) if done else RuntimeError("checkout conflict")
        except Exception as exc:
            return exc

    async def _decide_batch(self, offer_id: str, batch: list[_Pending]) -> list[CheckoutResult]:
        """Lock the offer, decide every checkout of the batch in order, write it all, commit."""
        async with self._sessions() as session:
            # The lock first (PostgreSQL row lock; SQLite's write lock), then fresh numbers.
            await session.exec(
                update(OfferRow)
                .where(col(OfferRow.id) == offer_id)
                .values(version=OfferRow.version + 1)
            )
            offer = await session.get(OfferRow, offer_id, populate_existing=True)
            assert offer is not None
            keys = [p.req.key for p in batch]
            done = {
                row.key: row
                for row in (
                    await session.exec(select(CheckoutRow).where(col(CheckoutRow.key).in_(keys)))
                ).all()
            }
            customers = {p.req.customer_id for p in batch}
            bought: dict[str, int] = {
                customer: int(quantity)
                for customer, quantity in (
                    await session.exec(
                        select(OrderRow.customer_id, func.sum(OrderRow.quantity))
                        .where(
                            OrderRow.offer_id == offer_id,
                            col(OrderRow.customer_id).in_(customers),
                            col(OrderRow.status).in_(ACTIVE),
                        )
                        .group_by(col(OrderRow.customer_id))
                    )
                ).all()
            }
            had_stock = offer.left > 0
            outcomes: list[CheckoutResult] = []
            decided: dict[str, CheckoutResult] = {}
            for waiting in batch:
                req = waiting.req
                if req.key in done:
                    outcomes.append(_replay(done[req.key], req))
                    continue
                if req.key in decided:  # the same key twice in one batch
                    outcomes.append(replace(decided[req.key], replayed=True))
                    continue
                outcome = self._decide(session, offer, req, waiting.chain, bought)
                decided[req.key] = outcome
                outcomes.append(outcome)
            if had_stock and offer.left == 0:
                self._outbox.add(session, OfferSoldOut(room_id=offer.room_id, offer_id=offer.id))
            session.add(offer)
            await session.commit()
        self._outbox.notify()
        self._ticker.mark(offer_id)
        return outcomes

    def _decide(
        self,
        session: AsyncSession,
        offer: OfferRow,
        req: CheckoutRequest,
        chain: list[str],
        bought: dict[str, int],
    ) -> CheckoutResult:
        """One buyer's checkout inside the batch's transaction (the offer row is locked)."""
        refusal: Refusal | None = None
        if offer.status != OfferStatus.OPEN:
            refusal = Refusal("closed", "This offer has closed.")
        elif bought.get(req.customer_id, 0) + req.quantity > offer.per_buyer_limit:
            refusal = Refusal("limit_reached", f"Limit {offer.per_buyer_limit} per buyer.")
        elif offer.left < req.quantity:
            refusal = Refusal(
                "sold_out_waitlisted",
                "Sold out: you are on the waitlist and will be offered any unit released.",
            )
            session.add(
                WaitlistRow(
                    offer_id=offer.id,
                    room_id=offer.room_id,
                    customer_id=req.customer_id,
                    quantity=req.quantity,
                    variant=req.variant,
                    claim_key=req.key,
                    referrer_chain=chain,
                )
            )
        if refusal is not None:
            self._stage_refusal(session, req, offer.room_id, refusal)
            return CheckoutResult(False, None, refusal.reason, refusal.message)
        offer.left -= req.quantity
        offer.held += req.quantity
        offer.buyers += 1
        bought[req.customer_id] = bought.get(req.customer_id, 0) + req.quantity
        order = self._order(req, offer, offer.price_cents, chain)
        session.add(order)
        session.add(
            CheckoutRow(
                key=req.key,
                customer_id=req.customer_id,
                offer_id=offer.id,
                order_id=order.id,
                message="yours",
            )
        )
        self._placed(session, order, offer)
        if offer.kind == OfferKind.GROUP_BUY:
            self._tier_change(session, offer, offer.buyers - 1, offer.buyers)
        return CheckoutResult(True, order.id, None, _yours(order))

    async def _hold(
        self, req: CheckoutRequest, offer: OfferRow, chain: list[str], from_waitlist: bool
    ) -> CheckoutResult:
        async with self._sessions() as session:
            taken = await session.exec(
                update(OfferRow)
                .where(
                    col(OfferRow.id) == req.offer_id,
                    col(OfferRow.status) == OfferStatus.OPEN.value,
                    col(OfferRow.left) >= req.quantity,
                )
                .values(
                    left=OfferRow.left - req.quantity,
                    held=OfferRow.held + req.quantity,
                    buyers=OfferRow.buyers + 1,
                )
                .returning(col(OfferRow.left), col(OfferRow.buyers), col(OfferRow.price_cents))
            )
            row = taken.first()
            if row is None:
                await session.rollback()
                return await self._sold_out_or_closed(req, offer, chain)
            left, buyers, price = row
            # Under the offer's lock: the per-buyer limit cannot be raced past.
            if (
                await _bought(session, req.offer_id, req.customer_id) + req.quantity
                > offer.per_buyer_limit
            ):
                await session.rollback()
                refusal = Refusal("limit_reached", f"Limit {offer.per_buyer_limit} per buyer.")
                return await self._refuse(req, offer.room_id, refusal)
            order = self._order(req, offer, price, chain, from_waitlist)
            session.add(order)
            session.add(
                CheckoutRow(
                    key=req.key,
                    customer_id=req.customer_id,
                    offer_id=offer.id,
                    order_id=order.id,
                    message="yours",
                )
            )
            self._placed(session, order, offer)
            if left == 0:
                self._outbox.add(session, OfferSoldOut(room_id=offer.room_id, offer_id=offer.id))
            if offer.kind == OfferKind.GROUP_BUY:
                self._tier_change(session, offer, buyers - 1, buyers)
            await session.commit()
        self._outbox.notify()
        self._ticker.mark(offer.id)
        return CheckoutResult(True, order.id, None, _yours(order))

    async def hand_to_waitlist(self, session: AsyncSession, offer: OfferRow) -> int:
        """Give units on `offer` (locked by the caller) to waiting buyers, first come first
        served, inside the caller's transaction. Returns how many buyers were served."""
        if offer.status != OfferStatus.OPEN:
            return 0
        waiting = (
            await session.exec(
                select(WaitlistRow)
                .where(WaitlistRow.offer_id == offer.id, WaitlistRow.status == "waiting")
                .order_by(col(WaitlistRow.seq))
                .limit(50)
            )
        ).all()
        served = 0
        for entry in waiting:
            if entry.quantity > offer.left:
                break  # first come first served: nobody jumps the queue with a smaller ask
            req = CheckoutRequest(
                offer_id=offer.id,
                customer_id=entry.customer_id,
                quantity=entry.quantity,
                key=entry.claim_key,
                claim_id=entry.claim_key,
                variant=entry.variant,
                source="waitlist",
            )
            order = self._order(req, offer, offer.price_cents, entry.referrer_chain, True)
            offer.left -= entry.quantity
            offer.held += entry.quantity
            offer.buyers += 1
            entry.status = "offered"
            session.add_all([order, entry, offer])
            # A retry of the buyer's original checkout now answers with this order.
            checkout = await session.get(CheckoutRow, entry.claim_key)
            if checkout is not None:
                checkout.order_id, checkout.reason = order.id, None
                checkout.message = "yours (from the waitlist)"
                session.add(checkout)
            self._placed(session, order, offer)
            served += 1
        return served

    def _order(
        self,
        req: CheckoutRequest,
        offer: OfferRow,
        price: int,
        chain: list[str],
        from_waitlist: bool = False,
    ) -> OrderRow:
        unit = tiers_of(offer)[0].price_cents if offer.kind == OfferKind.GROUP_BUY else price
        due, balance = unit * req.quantity, 0
        if offer.kind == OfferKind.PRE_SALE:
            due, balance = (
                offer.deposit_cents * req.quantity,
                (price - offer.deposit_cents) * req.quantity,
            )
        return OrderRow(
            id=f"ord_{new_id()[:16]}",
            offer_id=offer.id,
            room_id=offer.room_id,
            customer_id=req.customer_id,
            kind=offer.kind,
            quantity=req.quantity,
            variant=req.variant,
            unit_price_cents=unit,
            amount_cents=due,
            balance_cents=balance,
            pay_by=utcnow() + timedelta(seconds=offer.pay_within_s),
            claim_id=req.claim_id,
            source=req.source,
            referrer_chain=chain,
            from_waitlist=from_waitlist,
        )

    def _placed(self, session: AsyncSession, order: OrderRow, offer: OfferRow) -> None:
        self._outbox.add(
            session,
            OrderPlaced(
                room_id=offer.room_id,
                customer_id=order.customer_id,
                order_id=order.id,
                claim_id=order.claim_id,
                offer_id=offer.id,
                quantity=order.quantity,
                amount_cents=order.amount_cents,
                pay_by=order.pay_by,
                referrer_id=order.referrer_chain[0] if order.referrer_chain else None,
                kind=offer.kind,
                variant=order.variant,
                from_waitlist=order.from_waitlist,
            ),
        )

    def _tier_change(self, session: AsyncSession, offer: OfferRow, before: int, after: int) -> None:
        tiers = tiers_of(offer)
        if tier_for(tiers, before) != tier_for(tiers, after) or before == 0:
            self._outbox.add(
                session,
                GroupTierReached(
                    room_id=offer.room_id,
                    offer_id=offer.id,
                    buyers=after,
                    price_cents=tier_for(tiers, after).price_cents,
                    next_tier_at=next_tier_at(tiers, after),
                ),
            )

    async def _sold_out_or_closed(
        self, req: CheckoutRequest, offer: OfferRow, chain: list[str]
    ) -> CheckoutResult:
        async with self._sessions() as session:
            current = await session.get(OfferRow, req.offer_id)
            if current is None or current.status != OfferStatus.OPEN:
                return await self._refuse(
                    req, offer.room_id, Refusal("closed", "This offer has closed.")
                )
        refusal = Refusal(
            "sold_out_waitlisted",
            "Sold out: you are on the waitlist and will be offered any unit released.",
        )
        async with self._sessions() as session:
            session.add(
                WaitlistRow(
                    offer_id=offer.id,
                    room_id=offer.room_id,
                    customer_id=req.customer_id,
                    quantity=req.quantity,
                    variant=req.variant,
                    claim_key=req.key,
                    referrer_chain=chain,
                )
            )
            return await self._refuse(req, offer.room_id, refusal, session)

    def _stage_refusal(
        self, session: AsyncSession, req: CheckoutRequest, room_id: str, refusal: Refusal
    ) -> None:
        session.add(
            CheckoutRow(
                key=req.key,
                customer_id=req.customer_id,
                offer_id=req.offer_id,
                reason=refusal.reason,
                message=refusal.message,
            )
        )
        self._outbox.add(
            session,
            ClaimRejected(
                room_id=room_id,
                customer_id=req.customer_id,
                claim_id=req.claim_id,
                offer_id=req.offer_id,
                reason=refusal.reason,
                message=refusal.message,
            ),
        )

    async def _refuse(
        self,
        req: CheckoutRequest,
        room_id: str,
        refusal: Refusal,
        session: AsyncSession | None = None,
    ) -> CheckoutResult:
        """Record the refusal under the key (a retry gets the same answer) and tell the buyer."""
        own = session is None
        session = session or self._sessions()
        try:
            self._stage_refusal(session, req, room_id, refusal)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                done = await session.get(CheckoutRow, req.key)
                if done is None:
                    raise
                return _replay(done, req)
        finally:
            if own:
                await session.close()
        self._outbox.notify()
        return CheckoutResult(False, None, refusal.reason, refusal.message)

    async def _remember_referrer(self, customer: str, referrer: str) -> None:
        """First touch wins: the first referrer of a customer stays theirs."""
        async with self._sessions() as session:
            if await session.get(ReferralRow, customer) is not None:
                return
        async with self._sessions() as session:
            session.add(ReferralRow(customer_id=customer, referrer_id=referrer))
            with contextlib.suppress(IntegrityError):  # someone else recorded it first
                await session.commit()

    async def _chain(self, session: AsyncSession, customer: str) -> list[str]:
        """The customer's referrer, theirs, ... as far as the rule has levels."""
        parents: dict[str, str] = {}
        current = customer
        for _ in range(self._levels):
            row = await session.get(ReferralRow, current)
            if row is None:
                break
            parents[current] = row.referrer_id
            current = row.referrer_id
        return referrer_chain(customer, parents, self._levels)


async def _bought(session: AsyncSession, offer_id: str, customer_id: str) -> int:
    total = await session.exec(
        select(func.coalesce(func.sum(OrderRow.quantity), 0)).where(
            OrderRow.offer_id == offer_id,
            OrderRow.customer_id == customer_id,
            col(OrderRow.status).in_(ACTIVE),
        )
    )
    return int(total.one())


def _replay(done: CheckoutRow, req: CheckoutRequest) -> CheckoutResult:
    if done.offer_id != req.offer_id or done.customer_id != req.customer_id:
        return CheckoutResult(
            False, None, "invalid", "This idempotency key was used for another checkout.", True
        )
    return CheckoutResult(done.order_id is not None, done.order_id, done.reason, done.message, True)


def _yours(order: OrderRow) -> str:
    due = f"{order.amount_cents / 100:.2f}"
    return f"Yours: {order.quantity} held, pay {due} by {order.pay_by:%H:%M} UTC."
