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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.desk_reads import ACTIVE, DeskReads, desk_reads
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
    Tier,
    check_claim,
    may_serve_from_waitlist,
    next_tier_at,
    sold_out,
    take,
    tier_for,
    units_left,
)
from services.orders.domain.referral import referrer_chain
from services.orders.service_layer.stock_ticker import StockTicker
from shared.events import (
    ClaimRejected,
    GroupTierReached,
    IntegrationEvent,
    OfferSoldOut,
    OrderPlaced,
    new_id,
    utcnow,
)
from shared.outbox import Outbox
from shared.variants import normalize_variant

log = logging.getLogger("qunlive.orders.checkout")

OFFERS = OfferRow.__table__  # the desk reads and writes the offer row with Core statements


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
    # The name the buyer showed (the token's, the chat line's): on the order, not part of
    # what the idempotency key stands for.
    buyer_name: str = ""

    @property
    def fingerprint(self) -> str:
        """What the idempotency key stands for: the same key with another fingerprint is
        another request, refused (Stripe's rule). The variant as normalised ("x-large" and
        "XL" are one request); who asks is in the key already."""
        return f"{self.offer_id}|{self.quantity}|{self.variant or ''}"


KEY_REUSED = "idempotency_key_reused"


@dataclass
class _Pending:
    req: CheckoutRequest
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
        self._engine: AsyncEngine = sessions.kw["bind"]
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

    async def place(self, req: CheckoutRequest) -> CheckoutResult:
        if req.variant is not None:
            req = replace(req, variant=normalize_variant(req.variant) or None)
        if req.referrer_id and req.referrer_id != req.customer_id:
            await self._remember_referrer(req.customer_id, req.referrer_id)
        # No read per buyer before the desk: the desk reads replays, terms, holdings and
        # referrers for its whole batch, under the offer's lock (measured: per-buyer reads
        # before the desk were most of the time, docs/PERFORMANCE.md).
        waiting = _Pending(req, asyncio.get_running_loop().create_future())
        self._pending.setdefault(req.offer_id, []).append(waiting)
        if req.offer_id not in self._desks:
            self._desks[req.offer_id] = asyncio.create_task(self._desk(req.offer_id))
        return await asyncio.shield(waiting.outcome)  # a gone client does not undo a decision

    async def _desk(self, offer_id: str) -> None:
        try:
            while self._pending.get(offer_id):
                # One connection for as long as batches keep coming: no pool checkout and
                # pre-ping per batch (2.3% of a flash sale's profile). A failed batch lets
                # it go: the next batch starts on a fresh one.
                try:
                    async with self._engine.connect() as conn:
                        while queue := self._pending.get(offer_id):
                            if not await self._serve(offer_id, queue, conn):
                                break
                except Exception:  # no connection to be had (or closing a broken one)
                    log.warning("desk connection failed", exc_info=True)
                    if queue := self._pending.get(offer_id):
                        await self._serve(offer_id, queue, None)
        finally:
            self._pending.pop(offer_id, None)
            self._desks.pop(offer_id, None)

    async def _serve(
        self, offer_id: str, queue: list[_Pending], conn: AsyncConnection | None
    ) -> bool:
        """Decide the next batch on `conn` (None: one by one) and answer it; False when
        the batch could not be decided at once."""
        batch, self._pending[offer_id] = queue[: self._batch_max], queue[self._batch_max :]
        outcomes: list[CheckoutResult | BaseException] | None = None
        if conn is not None:
            try:
                outcomes = list(await self._decide_batch(conn, offer_id, batch))
            except Exception:
                log.warning("batch failed; deciding one by one", exc_info=True)
        decided = outcomes is not None
        if outcomes is None:
            outcomes = [await self._decide_alone(offer_id, p) for p in batch]
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                waiting.outcome.set_exception(outcome)
            else:
                waiting.outcome.set_result(outcome)
        return decided

    async def _decide_alone(
        self, offer_id: str, waiting: _Pending
    ) -> CheckoutResult | BaseException:
        """A batch of one: its own connection, lock, decision and commit."""
        req = waiting.req
        try:
            async with self._engine.connect() as conn:
                [outcome] = await self._decide_batch(conn, offer_id, [waiting])
            return outcome
        except IntegrityError:  # the same key raced in elsewhere: its outcome stands
            async with self._sessions() as session:
                done = await session.get(CheckoutRow, req.key)
            return _replay(done, req) if done else RuntimeError("checkout conflict")
        except Exception as exc:
            return exc

    async def _decide_batch(
        self, conn: AsyncConnection, offer_id: str, batch: list[_Pending]
    ) -> list[CheckoutResult]:
        """Lock the offer, decide every checkout of the batch in order, write it all, commit."""
        async with conn.begin() as transaction:
            # The lock first (PostgreSQL row lock; SQLite's write lock), with the fresh numbers.
            locked = (
                (
                    await conn.execute(
                        update(OFFERS)
                        .where(OFFERS.c.id == offer_id)
                        .values(version=OFFERS.c.version + 1)
                        .returning(*OFFERS.c)
                    )
                )
                .mappings()
                .first()
            )
            if locked is None:
                await transaction.rollback()
                return [CheckoutResult(False, None, "not_found", "No such offer.")] * len(batch)
            offer = OfferRow(**locked)
            variants = await self._variants_of(conn, offer.product_id)
            reads = await desk_reads(conn)  # in the transaction the lock began
            done = await reads.checkouts({p.req.key for p in batch})
            customers = {p.req.customer_id for p in batch}
            bought = await reads.holdings(offer_id, customers)
            # One place per buyer per offer, or per variant when the stock is split.
            waiting = {
                (customer, variant if offer.variant_left else None)
                for customer, variant in await reads.waiting(offer_id, customers)
            }
            chains = await self._chains(reads, customers)
            had_stock = offer.left > 0
            writes = _Writes()
            outcomes: list[CheckoutResult] = []
            decided: dict[str, tuple[CheckoutRequest, CheckoutResult]] = {}
            for pending in batch:
                req = pending.req
                if req.key in done:
                    outcome = _replay(done[req.key], req)
                elif req.key in decided:  # the same key twice in one batch
                    first, result = decided[req.key]
                    outcome = (
                        replace(result, replayed=True)
                        if first.fingerprint == req.fingerprint
                        else _key_reused(first.fingerprint)
                    )
                else:
                    outcome = self._decide(
                        writes, offer, variants, req, chains[req.customer_id], bought, waiting
                    )
                    decided[req.key] = (req, outcome)
                if outcome.reason == KEY_REUSED:
                    writes.events.append(_rejected(offer, req, "invalid", outcome.message))
                outcomes.append(outcome)
            if not decided and not writes.events:
                await transaction.rollback()
                return outcomes  # replays only: nothing to write
            if had_stock and offer.left == 0:
                writes.events.append(OfferSoldOut(room_id=offer.room_id, offer_id=offer.id))
            # One statement per table for the whole batch (executemany), not an ORM object
            # per row: the per-row ORM work was the desk's cost.
            for table, rows in (
                (OrderRow, writes.orders),
                (CheckoutRow, writes.checkouts),
                (WaitlistRow, writes.waitlist),
            ):
                if rows:
                    await conn.execute(insert(table), rows)
            await self._outbox.insert(conn, writes.events)
            await conn.execute(
                update(OFFERS)
                .where(OFFERS.c.id == offer_id)
                .values(
                    left=offer.left,
                    held=offer.held,
                    buyers=offer.buyers,
                    variant_left=offer.variant_left,
                )
            )
        # Committed (leaving `begin()`): now the answers may go out.
        self._outbox.notify()
        self._ticker.mark(offer_id)
        return outcomes

    def _decide(
        self,
        writes: _Writes,
        offer: OfferRow,
        variants: tuple[str, ...],
        req: CheckoutRequest,
        chain: list[str],
        bought: dict[str, int],
        waiting: set[tuple[str, str | None]],
    ) -> CheckoutResult:
        """One buyer's checkout inside the batch's transaction (the offer row is locked)."""
        refusal = check_claim(
            status=OfferStatus(offer.status),
            quantity=req.quantity,
            per_buyer_limit=offer.per_buyer_limit,
            already_bought=bought.get(req.customer_id, 0),
            variant=req.variant,
            variants=variants,
        )
        # A variant of its own stock is sold out on its own: its buyers wait for it.
        left = units_left(offer.left, offer.variant_left, req.variant)
        place = (req.customer_id, req.variant if offer.variant_left else None)
        if refusal is None and left < req.quantity and place in waiting:
            refusal = sold_out(already_waiting=True)  # one place per buyer per offer/variant
        elif refusal is None and left < req.quantity:
            refusal = sold_out(already_waiting=False)
            waiting.add(place)
            writes.waitlist.append(
                {
                    "offer_id": offer.id,
                    "room_id": offer.room_id,
                    "customer_id": req.customer_id,
                    "quantity": req.quantity,
                    "variant": req.variant,
                    "claim_key": req.key,
                    "referrer_chain": chain,
                    "buyer_name": req.buyer_name[:64],
                    "status": "waiting",
                    "created_at": utcnow(),
                }
            )
        if refusal is not None:
            writes.checkouts.append(_checkout_record(req, None, refusal.reason, refusal.message))
            writes.events.append(_rejected(offer, req, refusal.reason, refusal.message))
            return CheckoutResult(False, None, refusal.reason, refusal.message)
        offer.variant_left = take(offer.variant_left, req.variant, req.quantity)
        offer.left -= req.quantity
        offer.held += req.quantity
        offer.buyers += 1
        bought[req.customer_id] = bought.get(req.customer_id, 0) + req.quantity
        order = self._order(req, offer, offer.price_cents, chain)
        writes.orders.append(order)
        message = _yours(order)  # a retry answers this, word for word
        writes.checkouts.append(_checkout_record(req, order["id"], None, message))
        writes.events.append(self._placed(order, offer))
        if offer.kind == OfferKind.GROUP_BUY:
            writes.events.extend(self._tier_change(offer, offer.buyers - 1, offer.buyers))
        return CheckoutResult(True, order["id"], None, message)

    async def _variants_of(self, conn: AsyncConnection, product_id: str) -> tuple[str, ...]:
        variants = self._variants.get(product_id)
        if variants is None:  # products' variants never change: read once per process
            products = ProductRow.__table__
            found = (
                await conn.execute(select(products.c.variants).where(products.c.id == product_id))
            ).scalar()
            variants = self._variants[product_id] = tuple(found or ())
        return variants

    async def hand_to_waitlist(self, session: AsyncSession, offer: OfferRow) -> int:
        """Give units on `offer` (locked by the caller) to waiting buyers, first come first
        served, inside the caller's transaction. Returns how many buyers were served."""
        if offer.status != OfferStatus.OPEN:
            return 0
        query = select(WaitlistRow).where(
            WaitlistRow.offer_id == offer.id, WaitlistRow.status == "waiting"
        )
        if offer.variant_left:  # only the variants that have units to give
            free = [v for v, n in offer.variant_left.items() if n > 0]
            query = query.where(col(WaitlistRow.variant).in_(free))
        waiting = (await session.exec(query.order_by(col(WaitlistRow.seq)).limit(50))).all()
        holding = await self._holdings(session, offer.id, {e.customer_id for e in waiting})
        served = 0
        blocked: set[str | None] = set()  # variants whose first waiting buyer asks too much
        for entry in waiting:
            if not may_serve_from_waitlist(
                holding=holding.get(entry.customer_id, 0),
                quantity=entry.quantity,
                per_buyer_limit=offer.per_buyer_limit,
            ):
                # They hold enough meanwhile: the place lapses, the next buyer is served.
                entry.status = "lapsed"
                session.add(entry)
                checkout = await session.get(CheckoutRow, entry.claim_key)
                if checkout is not None and checkout.order_id is None:
                    checkout.reason = "limit_reached"
                    checkout.message = (
                        f"Limit {offer.per_buyer_limit} per buyer: your place on the waitlist "
                        "lapsed, you hold your limit already."
                    )
                    session.add(checkout)
                continue
            # A released M serves only someone waiting for M (when the stock is split).
            line = entry.variant if offer.variant_left else None
            if line in blocked:
                continue
            if entry.quantity > units_left(offer.left, offer.variant_left, entry.variant):
                # First come first served: nobody jumps the queue with a smaller ask.
                blocked.add(line)
                if not offer.variant_left or offer.left == 0:
                    break
                continue
            req = CheckoutRequest(
                offer_id=offer.id,
                customer_id=entry.customer_id,
                quantity=entry.quantity,
                key=entry.claim_key,
                claim_id=entry.claim_key,
                variant=entry.variant,
                source="waitlist",
                buyer_name=entry.buyer_name,
            )
            order = self._order(req, offer, offer.price_cents, entry.referrer_chain, True)
            offer.variant_left = take(offer.variant_left, entry.variant, entry.quantity)
            offer.left -= entry.quantity
            offer.held += entry.quantity
            offer.buyers += 1
            holding[entry.customer_id] = holding.get(entry.customer_id, 0) + entry.quantity
            entry.status = "offered"
            session.add_all([OrderRow(**order), entry, offer])
            # A retry of the buyer's original checkout now answers with this order: the
            # outcome of that request changed (the documented waitlist rule).
            checkout = await session.get(CheckoutRow, entry.claim_key)
            if checkout is not None:
                checkout.order_id, checkout.reason = order["id"], None
                checkout.message = _yours(order)
                session.add(checkout)
            self._outbox.add(session, self._placed(order, offer))
            served += 1
        return served

    @staticmethod
    async def _holdings(
        session: AsyncSession, offer_id: str, customers: set[str]
    ) -> dict[str, int]:
        """Units each customer holds on the offer (active orders)."""
        if not customers:
            return {}
        rows = await session.exec(
            select(OrderRow.customer_id, func.sum(OrderRow.quantity))
            .where(
                OrderRow.offer_id == offer_id,
                col(OrderRow.customer_id).in_(customers),
                col(OrderRow.status).in_(ACTIVE),
            )
            .group_by(col(OrderRow.customer_id))
        )
        return {customer: int(quantity) for customer, quantity in rows.all()}

    def _order(
        self,
        req: CheckoutRequest,
        offer: OfferRow,
        price: int,
        chain: list[str],
        from_waitlist: bool = False,
    ) -> dict[str, Any]:
        """The new order's column values (the desk inserts many at once)."""
        unit = tiers_of(offer)[0].price_cents if offer.kind == OfferKind.GROUP_BUY else price
        due, balance = unit * req.quantity, 0
        if offer.kind == OfferKind.PRE_SALE:
            due, balance = (
                offer.deposit_cents * req.quantity,
                (price - offer.deposit_cents) * req.quantity,
            )
        now = utcnow()
        return {
            "id": f"ord_{new_id()[:16]}",
            "offer_id": offer.id,
            "room_id": offer.room_id,
            "customer_id": req.customer_id,
            "kind": offer.kind,
            "quantity": req.quantity,
            "variant": req.variant,
            "unit_price_cents": unit,
            "amount_cents": due,
            "balance_cents": balance,
            "status": "awaiting_payment",
            "pay_by": now + timedelta(seconds=offer.pay_within_s),
            "claim_id": req.claim_id,
            "source": req.source,
            "referrer_chain": chain,
            "from_waitlist": from_waitlist,
            "buyer_name": req.buyer_name[:64],
            "created_at": now,
        }

    def _placed(self, order: dict[str, Any], offer: OfferRow) -> OrderPlaced:
        chain = order["referrer_chain"]
        return OrderPlaced(
            room_id=offer.room_id,
            customer_id=order["customer_id"],
            order_id=order["id"],
            claim_id=order["claim_id"],
            offer_id=offer.id,
            quantity=order["quantity"],
            amount_cents=order["amount_cents"],
            pay_by=order["pay_by"],
            referrer_id=chain[0] if chain else None,
            kind=offer.kind,
            variant=order["variant"],
            from_waitlist=order["from_waitlist"],
        )

    def _tier_change(self, offer: OfferRow, before: int, after: int) -> list[GroupTierReached]:
        tiers = tiers_of(offer)
        if tier_for(tiers, before) != tier_for(tiers, after) or before == 0:
            return [
                GroupTierReached(
                    room_id=offer.room_id,
                    offer_id=offer.id,
                    buyers=after,
                    price_cents=tier_for(tiers, after).price_cents,
                    next_tier_at=next_tier_at(tiers, after),
                )
            ]
        return []

    async def _remember_referrer(self, customer: str, referrer: str) -> None:
        """First touch wins: the first referrer of a customer stays theirs."""
        async with self._sessions() as session:
            if await session.get(ReferralRow, customer) is not None:
                return
        async with self._sessions() as session:
            session.add(ReferralRow(customer_id=customer, referrer_id=referrer))
            with contextlib.suppress(IntegrityError):  # someone else recorded it first
                await session.commit()

    async def _chains(self, reads: DeskReads, customers: set[str]) -> dict[str, list[str]]:
        """Each customer's referrer, theirs, ... as far as the rule has levels: one query
        per level for the whole batch."""
        parents: dict[str, str] = {}
        asking = customers
        for _ in range(self._levels):
            found = await reads.referrers(asking)
            parents.update(found)
            asking = {referrer for _, referrer in found} - parents.keys()
            if not asking:
                break
        return {c: referrer_chain(c, parents, self._levels) for c in customers}


@dataclass
class _Writes:
    """What a batch decided, written with one statement per table."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    checkouts: list[dict[str, Any]] = field(default_factory=list)
    waitlist: list[dict[str, Any]] = field(default_factory=list)
    events: list[IntegrationEvent] = field(default_factory=list)


def _checkout_record(
    req: CheckoutRequest, order_id: str | None, reason: str | None, message: str
) -> dict[str, Any]:
    """The idempotency record: what a retry with this key gets back."""
    return {
        "key": req.key,
        "customer_id": req.customer_id,
        "offer_id": req.offer_id,
        "order_id": order_id,
        "reason": reason,
        "message": message,
        "fingerprint": req.fingerprint,
        "created_at": utcnow(),
    }


def _replay(done: CheckoutRow, req: CheckoutRequest) -> CheckoutResult:
    """The first request's answer again, word for word, if this is the same request."""
    same = done.offer_id == req.offer_id and done.customer_id == req.customer_id
    if not same or done.fingerprint not in (None, req.fingerprint):
        first = done.fingerprint or f"{done.offer_id}|?|"
        return _key_reused(first)
    return CheckoutResult(done.order_id is not None, done.order_id, done.reason, done.message, True)


def _key_reused(first: str) -> CheckoutResult:
    offer_id, quantity, variant = first.split("|", 2)
    was = f"quantity {quantity}" + (f", variant {variant}" if variant else "")
    return CheckoutResult(
        False,
        None,
        KEY_REUSED,
        f"This idempotency key was already used for another checkout ({was} on offer "
        f"{offer_id}): a key can only be used again with the same parameters it was first "
        "used with. Nothing was changed; use a new key for a new checkout.",
    )


def _rejected(offer: OfferRow, req: CheckoutRequest, reason: Any, message: str) -> ClaimRejected:
    return ClaimRejected(
        room_id=offer.room_id,
        customer_id=req.customer_id,
        claim_id=req.claim_id,
        offer_id=req.offer_id,
        reason=reason,
        message=message,
    )


def _yours(order: dict[str, Any]) -> str:
    due = f"{order['amount_cents'] / 100:.2f}"
    held = f"{order['quantity']} held, pay {due} by {order['pay_by']:%H:%M} UTC."
    return f"Yours from the waitlist: {held}" if order["from_waitlist"] else f"Yours: {held}"
