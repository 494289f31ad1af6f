"""Promoters: who invited whom, the commission ledger per promoter, payouts.

A host sees the lines of orders on their own offers (OfferRow.owner), the admin every
line. A payout pays everything owed on those lines and says so with `commission.paid_out`
(through the outbox, in the payout's transaction): one event per room the payout touched,
with that room's part, so a show's report adds up.
See docs/decisions/0042-promoter-payouts.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import (
    CommissionRow,
    OfferRow,
    OrderRow,
    PayoutRow,
    ReferralRow,
)
from services.orders.domain.promoters import (
    LevelTotals,
    Line,
    NothingOwed,
    level_totals,
    owed,
    payout,
)
from shared.events import CommissionPaidOut, ViewerJoined, new_id
from shared.outbox import Outbox

ADMIN = "admin"
RECENT_LINES = 100
# Roles that are the room's staff, not invited viewers.
STAFF = ("host", "moderator")


@dataclass(frozen=True)
class LedgerLine:
    line: Line
    room_id: str
    title: str
    buyer_name: str
    payout_id: str | None
    created_at: datetime


@dataclass
class Promoter:
    customer_id: str
    name: str = ""
    invitees: int = 0
    orders: int = 0
    gmv_cents: int = 0
    levels: list[LevelTotals] = field(default_factory=list)
    owed_cents: int = 0


@dataclass(frozen=True)
class PromoterDetail:
    promoter: Promoter
    lines: list[LedgerLine]
    payouts: list[PayoutRow]


@dataclass(frozen=True)
class Invitee:
    customer_id: str
    name: str
    joined_at: datetime
    room_id: str | None
    orders: int
    paid_cents: int


@dataclass(frozen=True)
class Invitations:
    invitees: list[Invitee]
    levels: list[LevelTotals]
    owed_cents: int
    lines: list[LedgerLine]


class Promoters:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox) -> None:
        self._sessions = sessions
        self._outbox = outbox

    # ---- referrals -------------------------------------------------------------------

    async def record_join(self, event: ViewerJoined) -> bool:
        """First touch: a viewer who joined through someone's link is theirs from the join
        on, whether they buy or not. Idempotent: a redelivered or later join changes
        nothing but a missing name (a referral first recorded at checkout). True when
        this join recorded the referral."""
        customer, referrer = event.customer_id, event.referrer_id
        if not customer or not referrer or customer == referrer or event.role in STAFF:
            return False
        async with self._sessions() as session:
            known = await session.get(ReferralRow, customer)
            if known is not None:
                if known.referrer_id == referrer and not known.display_name:
                    known.display_name = event.display_name
                    known.room_id = known.room_id or event.room_id
                    session.add(known)
                    await session.commit()
                return False
            session.add(
                ReferralRow(
                    customer_id=customer,
                    referrer_id=referrer,
                    created_at=event.occurred_at,
                    room_id=event.room_id,
                    display_name=event.display_name,
                )
            )
            try:
                await session.commit()
            except IntegrityError:  # recorded meanwhile (a checkout, another replica)
                return False
        return True

    # ---- the host's ledger ------------------------------------------------------------

    async def ledger(self, owner: str, room_id: str | None = None) -> list[Promoter]:
        """Every promoter with lines on the host's offers (or invitees in their rooms),
        most owed first."""
        async with self._sessions() as session:
            lines = await _lines(session, owner, room_id=room_id)
            invited = await _invitees_in_scope(session, owner, room_id)
            by_promoter: dict[str, list[LedgerLine]] = defaultdict(list)
            for ledger_line in lines:
                by_promoter[ledger_line.line.beneficiary].append(ledger_line)
            who = set(by_promoter) | set(invited)
            orders = await _order_totals(session, {ll.line.order_id for ll in lines})
            names = await _names(session, who)
        promoters = [
            _promoter(c, names.get(c, ""), len(invited.get(c, ())), by_promoter[c], orders)
            for c in who
        ]
        promoters.sort(key=lambda p: (-p.owed_cents, -p.gmv_cents, p.customer_id))
        return promoters

    async def promoter(self, customer_id: str, owner: str) -> PromoterDetail:
        async with self._sessions() as session:
            lines = await _lines(session, owner, beneficiary=customer_id)
            invited = await _invitees_in_scope(session, owner, None, referrer=customer_id)
            orders = await _order_totals(session, {ll.line.order_id for ll in lines})
            names = await _names(session, {customer_id})
            query = select(PayoutRow).where(col(PayoutRow.beneficiary) == customer_id)
            if owner != ADMIN:
                query = query.where(col(PayoutRow.owner) == owner)
            payouts = (await session.exec(query.order_by(col(PayoutRow.created_at).desc()))).all()
        summary = _promoter(
            customer_id,
            names.get(customer_id, ""),
            len(invited.get(customer_id, ())),
            lines,
            orders,
        )
        return PromoterDetail(summary, _newest_first(lines), list(payouts))

    async def pay_out(self, customer_id: str, owner: str, reference: str) -> PayoutRow:
        """Mark everything owed on the host's lines paid, as one payout (NothingOwed when
        nothing is). A line owed back (refunded after an earlier payout) is taken off."""
        for _ in range(3):  # a line changed under us (another payout, a refund): look again
            async with self._sessions() as session:
                lines = await _lines(session, owner, beneficiary=customer_id, lock=True)
                amount, settlements = payout(ll.line for ll in lines)
                room_of = {(ll.line.order_id, ll.line.level): ll.room_id for ll in lines}
                row = PayoutRow(
                    id=f"po_{new_id()[:16]}",
                    owner=owner,
                    beneficiary=customer_id,
                    amount_cents=amount,
                    reference=reference,
                )
                by_room: dict[str, int] = defaultdict(int)
                changed = False
                for settled in settlements:
                    line = settled.line
                    moved = await session.exec(
                        update(CommissionRow)
                        .where(
                            col(CommissionRow.order_id) == line.order_id,
                            col(CommissionRow.level) == line.level,
                            col(CommissionRow.paid_cents) == line.paid_cents,
                            col(CommissionRow.amount_cents) == line.amount_cents,
                            col(CommissionRow.status) == line.status,
                        )
                        .values(paid_cents=settled.paid_after, payout_id=row.id)
                    )
                    if moved.rowcount != 1:
                        changed = True
                        break
                    by_room[room_of[(line.order_id, line.level)]] += settled.paid_now
                if changed:
                    await session.rollback()
                    continue
                session.add(row)
                for room_id, cents in sorted(by_room.items()):
                    if cents:
                        self._outbox.add(
                            session,
                            CommissionPaidOut(
                                room_id=room_id,
                                customer_id=customer_id,
                                payout_id=row.id,
                                amount_cents=cents,
                                reference=reference,
                            ),
                        )
                await session.commit()
                await session.refresh(row)
            self._outbox.notify()
            return row
        raise NothingOwed("the ledger changed meanwhile: look again")

    # ---- the promoter's own view --------------------------------------------------------

    async def invitations(self, customer_id: str) -> Invitations:
        """What my invitations earned: the people who joined through my link (bought or
        not), their orders, my lines on every host's offers."""
        async with self._sessions() as session:
            referrals = (
                await session.exec(
                    select(ReferralRow)
                    .where(col(ReferralRow.referrer_id) == customer_id)
                    .order_by(col(ReferralRow.created_at).desc())
                )
            ).all()
            ids = {r.customer_id for r in referrals}
            bought: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            if ids:
                rows = (
                    await session.exec(
                        select(
                            OrderRow.customer_id, OrderRow.paid_cents, OrderRow.refunded_cents
                        ).where(col(OrderRow.customer_id).in_(ids))
                    )
                ).all()
                for who, paid, refunded in rows:
                    bought[who][0] += 1
                    bought[who][1] += paid - refunded
            names = await _names(session, ids)
            lines = await _lines(session, ADMIN, beneficiary=customer_id)
        invitees = [
            Invitee(
                customer_id=r.customer_id,
                name=r.display_name or names.get(r.customer_id, ""),
                joined_at=r.created_at,
                room_id=r.room_id,
                orders=bought[r.customer_id][0],
                paid_cents=bought[r.customer_id][1],
            )
            for r in referrals
        ]
        plain = [ll.line for ll in lines]
        return Invitations(
            invitees,
            level_totals(plain),
            owed(plain),
            _newest_first(lines)[:RECENT_LINES],
        )


def _promoter(
    customer_id: str,
    name: str,
    invitees: int,
    lines: list[LedgerLine],
    orders: dict[str, int],
) -> Promoter:
    plain = [ll.line for ll in lines]
    order_ids = {line.order_id for line in plain}
    return Promoter(
        customer_id=customer_id,
        name=name,
        invitees=invitees,
        orders=len(order_ids),
        gmv_cents=sum(orders.get(o, 0) for o in order_ids),
        levels=level_totals(plain),
        owed_cents=owed(plain),
    )


def _newest_first(lines: list[LedgerLine]) -> list[LedgerLine]:
    return sorted(lines, key=lambda ll: (ll.created_at, ll.line.order_id, ll.line.level))[::-1]


async def _lines(
    session: AsyncSession,
    owner: str,
    *,
    beneficiary: str | None = None,
    room_id: str | None = None,
    lock: bool = False,
) -> list[LedgerLine]:
    """Commission lines of orders on `owner`'s offers (the admin: every offer)."""
    query = (
        select(CommissionRow, OrderRow.room_id, OrderRow.buyer_name, OfferRow.title)
        .join(OrderRow, col(OrderRow.id) == col(CommissionRow.order_id))
        .join(OfferRow, col(OfferRow.id) == col(OrderRow.offer_id))
    )
    if owner != ADMIN:
        query = query.where(col(OfferRow.owner) == owner)
    if beneficiary is not None:
        query = query.where(col(CommissionRow.beneficiary) == beneficiary)
    if room_id is not None:
        query = query.where(col(OrderRow.room_id) == room_id)
    if lock:
        query = query.with_for_update(of=CommissionRow)
    rows = (await session.exec(query)).all()
    return [
        LedgerLine(
            line=Line(
                order_id=c.order_id,
                level=c.level,
                beneficiary=c.beneficiary,
                amount_cents=c.amount_cents,
                status=c.status,
                paid_cents=c.paid_cents,
                accrued_cents=c.accrued_cents,
            ),
            room_id=room,
            title=title,
            buyer_name=buyer_name,
            payout_id=c.payout_id,
            created_at=c.created_at,
        )
        for c, room, buyer_name, title in rows
    ]


async def _order_totals(session: AsyncSession, order_ids: set[str]) -> dict[str, int]:
    """What each order finally paid (paid - refunded)."""
    if not order_ids:
        return {}
    rows = (
        await session.exec(
            select(OrderRow.id, OrderRow.paid_cents, OrderRow.refunded_cents).where(
                col(OrderRow.id).in_(order_ids)
            )
        )
    ).all()
    return {order_id: paid - refunded for order_id, paid, refunded in rows}


async def _invitees_in_scope(
    session: AsyncSession, owner: str, room_id: str | None, referrer: str | None = None
) -> dict[str, set[str]]:
    """Referrer -> the people they brought whom the host saw: joined one of the host's
    rooms (rooms with the host's offers), or ordered on the host's offers (a referral
    recorded at checkout has no room). The admin sees every referral."""
    query = select(ReferralRow)
    if referrer is not None:
        query = query.where(col(ReferralRow.referrer_id) == referrer)
    if room_id is not None:
        query = query.where(
            (col(ReferralRow.room_id) == room_id) | col(ReferralRow.room_id).is_(None)
        )
    referrals = (await session.exec(query)).all()
    if owner == ADMIN and room_id is None:
        seen = list(referrals)
    else:
        offers = select(OfferRow.room_id)
        if owner != ADMIN:
            offers = offers.where(col(OfferRow.owner) == owner)
        rooms = set((await session.exec(offers.distinct())).all())
        unplaced = {r.customer_id for r in referrals if r.room_id is None}
        ordered: set[str] = set()
        if unplaced:
            bought = (
                select(OrderRow.customer_id)
                .join(OfferRow, col(OfferRow.id) == col(OrderRow.offer_id))
                .where(col(OrderRow.customer_id).in_(unplaced))
            )
            if owner != ADMIN:
                bought = bought.where(col(OfferRow.owner) == owner)
            if room_id is not None:
                bought = bought.where(col(OrderRow.room_id) == room_id)
            ordered = set((await session.exec(bought.distinct())).all())
        seen = [
            r
            for r in referrals
            if (r.room_id is not None and r.room_id in rooms) or r.customer_id in ordered
        ]
    invited: dict[str, set[str]] = defaultdict(set)
    for r in seen:
        invited[r.referrer_id].add(r.customer_id)
    return invited


async def _names(session: AsyncSession, customers: set[str]) -> dict[str, str]:
    """A name for each customer where one is known: the one they showed on their latest
    order, else the one they joined with through a link."""
    if not customers:
        return {}
    names: dict[str, str] = {}
    joined = (
        await session.exec(
            select(ReferralRow.customer_id, ReferralRow.display_name).where(
                col(ReferralRow.customer_id).in_(customers)
            )
        )
    ).all()
    names.update((c, n) for c, n in joined if n)
    ordered = (
        await session.exec(
            select(OrderRow.customer_id, OrderRow.buyer_name)
            .where(col(OrderRow.customer_id).in_(customers), col(OrderRow.buyer_name) != "")
            .order_by(col(OrderRow.created_at))
        )
    ).all()
    names.update((c, n) for c, n in ordered)  # the latest order's name wins
    return names
