"""Use cases over persons: profiles, segments, audience lists, linking accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.analytics.adapters.store import Scope, Store
from services.analytics.domain import segments as seg
from services.analytics.domain.identity import check_account, pair
from services.analytics.domain.segments import PersonStats
from services.analytics.domain.words import interests, title_tags
from services.analytics.service_layer.projection import Projection
from services.analytics.service_layer.reports import RoomNotFound
from shared.events import CustomersLinked, CustomersUnlinked, utcnow
from shared.events.analytics import NO_ROOM
from shared.messaging import EventPublisher

AudienceKind = Literal["lapsed_category", "unpaid_claims", "waitlisted"]
AUDIENCES: tuple[str, ...] = ("lapsed_category", "unpaid_claims", "waitlisted")


class CustomerNotFound(LookupError):
    pass


class AccountView(BaseModel):
    account_id: str
    platform: str
    display_name: str | None


# The two linked accounts. A list of two, not a tuple: a tuple is `prefixItems` in the
# OpenAPI, which schemathesis (and older generators) misread.
AccountPair = Annotated[
    list[str], Field(min_length=2, max_length=2, description="The two linked account ids.")
]


class EvidenceView(BaseModel):
    event_id: str
    accounts: AccountPair
    kind: str = Field(description="declared, phone, host_link or host_unlink")
    detail: str
    by: str | None
    room_id: str
    occurred_at: datetime


class LinkView(BaseModel):
    accounts: AccountPair
    active: bool
    automatic_evidence: int
    host_decision: str | None
    decided_by: str | None
    decided_at: datetime | None


class RfmView(BaseModel):
    recency: int
    frequency: int
    monetary: int
    code: str


class Tag(BaseModel):
    tag: str
    points: int


class CustomerProfile(BaseModel):
    person_id: str
    display_name: str
    accounts: list[AccountView]
    first_seen: datetime | None
    last_seen: datetime | None
    rooms_attended: int
    watch_seconds: float
    messages: int
    likes: int
    checkins: int
    checkin_streak: int = Field(description="Streak of the latest check-in.")
    best_checkin_streak: int
    red_packets: int
    red_packet_cents: int
    votes: int
    claims: int
    waitlisted: int
    orders: int = Field(description="Orders paid and not refunded in full.")
    spend_cents: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    referrals: int = Field(description="Other persons who came through their invites.")
    buyers_brought: int
    new_buyers_brought: int
    commission_cents: int
    interests: list[Tag]
    tier: str
    value_class: str
    spending_power: str
    rfm: RfmView
    segments: list[str]
    links: list[LinkView]
    evidence: list[EvidenceView]


class Member(BaseModel):
    """One person in a segment or an audience list (also a CSV row)."""

    person_id: str
    display_name: str
    accounts: list[str]
    tier: str
    value_class: str
    rfm: str
    orders: int
    spend_cents: int
    last_purchase_at: datetime | None
    last_seen: datetime | None
    rooms_attended: int
    messages: int
    buyers_brought: int
    reason: str = ""


class SegmentSummary(BaseModel):
    as_of: datetime
    dormant_days: int
    persons: int
    tiers: dict[str, int]
    value_classes: dict[str, int]
    seed: int
    dormant: int
    rfm: dict[str, dict[str, int]] = Field(description="Persons per score, per letter.")
    cutoffs: dict[str, list[float]]


def _rfm(stats: PersonStats, as_of: datetime) -> RfmView:
    r = seg.rfm(stats, as_of)
    return RfmView(recency=r.recency, frequency=r.frequency, monetary=r.monetary, code=r.code)


def _member(
    s: PersonStats, name: str, accounts: list[str], as_of: datetime, reason: str = ""
) -> Member:
    return Member(
        person_id=s.person_id,
        display_name=name,
        accounts=accounts,
        tier=seg.tier(s),
        value_class=seg.value_class(s),
        rfm=seg.rfm(s, as_of).code,
        orders=s.orders,
        spend_cents=s.spend_cents,
        last_purchase_at=s.last_purchase_at,
        last_seen=s.last_seen,
        rooms_attended=s.rooms,
        messages=s.messages,
        buyers_brought=s.buyers_brought,
        reason=reason,
    )


class Customers:
    def __init__(
        self,
        store: Store,
        projection: Projection,
        publisher: Callable[[], EventPublisher],
        dormant_days: int = seg.DORMANT_DAYS,
    ) -> None:
        self.store = store
        self.projection = projection
        self._publisher = publisher
        self.dormant_days = dormant_days

    # -- profiles --------------------------------------------------------------------

    async def profile(self, account_id: str, as_of: datetime | None = None) -> CustomerProfile:
        as_of = as_of or utcnow()
        person = await self.store.person_of(account_id)
        if person is None:
            raise CustomerNotFound(account_id)
        stats = (await self.store.person_stats(Scope(person=person))).get(person)
        stats = stats or PersonStats(person_id=person)
        names = await self.store.names(Scope(person=person))
        accounts = await self.store.accounts_of(person)
        ids = [a.account_id for a in accounts]
        vocabulary = {tag for title in await self.store.offer_titles() for tag in title_tags(title)}
        tags = interests(
            await self.store.bought_titles(person), await self.store.lines_of(person), vocabulary
        )
        return CustomerProfile(
            person_id=person,
            display_name=names.get(person, ""),
            accounts=[
                AccountView(
                    account_id=a.account_id, platform=a.platform, display_name=a.display_name
                )
                for a in accounts
            ],
            first_seen=stats.first_seen,
            last_seen=stats.last_seen,
            rooms_attended=stats.rooms,
            watch_seconds=stats.watch_ms / 1000,
            messages=stats.messages,
            likes=stats.likes,
            checkins=stats.checkins,
            checkin_streak=await self.store.checkin_streak(person),
            best_checkin_streak=stats.best_streak,
            red_packets=stats.red_packets,
            red_packet_cents=stats.red_packet_cents,
            votes=stats.votes,
            claims=stats.claims,
            waitlisted=stats.waitlisted,
            orders=stats.orders,
            spend_cents=stats.spend_cents,
            first_purchase_at=stats.first_purchase_at,
            last_purchase_at=stats.last_purchase_at,
            referrals=stats.referrals,
            buyers_brought=stats.buyers_brought,
            new_buyers_brought=stats.new_buyers_brought,
            commission_cents=stats.commission_cents,
            interests=[Tag(tag=t, points=p) for t, p in tags],
            tier=seg.tier(stats),
            value_class=seg.value_class(stats),
            spending_power=seg.spending_power(stats),
            rfm=_rfm(stats, as_of),
            segments=seg.segments_of(stats, as_of, self.dormant_days),
            links=[_link_view(row) for row in await self.store.links_of(ids)],
            evidence=[
                EvidenceView(
                    event_id=e.event_id,
                    accounts=(e.account_a, e.account_b),
                    kind=e.kind,
                    detail=e.detail,
                    by=e.by,
                    room_id=e.room_id,
                    occurred_at=e.occurred_at,
                )
                for e in await self.store.evidence_of(ids)
            ],
        )

    # -- linking ---------------------------------------------------------------------

    async def link(self, account_id: str, other: str, note: str, by: str) -> LinkView:
        return await self._decide(CustomersLinked, account_id, other, note, by)

    async def unlink(self, account_id: str, other: str, note: str, by: str) -> LinkView:
        return await self._decide(CustomersUnlinked, account_id, other, note, by)

    async def _decide(
        self,
        kind: type[CustomersLinked] | type[CustomersUnlinked],
        account_id: str,
        other: str,
        note: str,
        by: str,
    ) -> LinkView:
        a, b = pair(check_account(account_id), check_account(other))
        event = kind(
            room_id=NO_ROOM,
            customer_id=by,
            account_id=account_id,
            other_account_id=other,
            note=note,
        )
        # The stream is the record (a rebuild replays it); applying now makes the answer
        # show the new state, and the consumer skips the id when it comes round.
        await self._publisher().publish(event)
        await self.projection.apply([event])
        row = await self.store.link(a, b)
        assert row is not None
        return _link_view(row)

    # -- segments --------------------------------------------------------------------

    async def _everyone(self) -> tuple[dict[str, PersonStats], dict[str, str]]:
        stats = await self.store.person_stats(Scope())
        names = await self.store.names(Scope())
        return stats, names

    async def summary(self, as_of: datetime | None = None) -> SegmentSummary:
        as_of = as_of or utcnow()
        stats, _ = await self._everyone()
        tiers = dict.fromkeys(seg.TIERS, 0)
        classes = dict.fromkeys(seg.VALUE_CLASSES, 0)
        rfm: dict[str, dict[str, int]] = {
            letter: {str(i): 0 for i in range(6)} for letter in ("recency", "frequency", "monetary")
        }
        seed = dormant = 0
        for s in stats.values():
            tiers[seg.tier(s)] += 1
            classes[seg.value_class(s)] += 1
            seed += seg.is_seed(s)
            dormant += seg.is_dormant(s, as_of, self.dormant_days)
            r = seg.rfm(s, as_of)
            rfm["recency"][str(r.recency)] += 1
            rfm["frequency"][str(r.frequency)] += 1
            rfm["monetary"][str(r.monetary)] += 1
        return SegmentSummary(
            as_of=as_of,
            dormant_days=self.dormant_days,
            persons=len(stats),
            tiers=tiers,
            value_classes=classes,
            seed=seed,
            dormant=dormant,
            rfm=rfm,
            cutoffs={
                "recency_days": list(seg.RECENCY_DAYS),
                "frequency_orders": list(seg.FREQUENCY_ORDERS),
                "monetary_yuan": list(seg.MONETARY_YUAN),
            },
        )

    async def members(
        self, segment: str, as_of: datetime | None = None, dormant_days: int | None = None
    ) -> list[Member]:
        as_of = as_of or utcnow()
        days = self.dormant_days if dormant_days is None else dormant_days
        stats, names = await self._everyone()
        chosen = [s for s in stats.values() if segment in seg.segments_of(s, as_of, days)]
        chosen.sort(key=lambda s: (-s.spend_cents, -s.messages, s.person_id))
        accounts = await self.store.person_accounts(s.person_id for s in chosen)
        return [
            _member(s, names.get(s.person_id, ""), accounts.get(s.person_id, []), as_of)
            for s in chosen
        ]

    # -- audiences for the next show -------------------------------------------------

    async def audience(
        self, room_id: str, kind: str, tag: str | None = None, as_of: datetime | None = None
    ) -> list[Member]:
        as_of = as_of or utcnow()
        room = await self.store.room(room_id)
        if room is None:
            raise RoomNotFound(room_id)
        reasons: dict[str, str] = {}
        if kind == "lapsed_category":
            reasons = await self._lapsed(room, tag)
        elif kind == "unpaid_claims":
            for person, _offer, title, placed, paid in await self.store.orders_by_offer(room_id):
                if placed and not paid:
                    _add_reason(reasons, person, title or _offer)
        elif kind == "waitlisted":
            for person, offer_id, title in await self.store.unserved_waitlist(room_id):
                _add_reason(reasons, person, title or offer_id)
        else:
            raise ValueError(f"no audience {kind!r}: one of {', '.join(AUDIENCES)}")
        stats, names = await self._everyone()
        accounts = await self.store.person_accounts(reasons)
        found = [
            _member(
                stats.get(p) or PersonStats(person_id=p),
                names.get(p, ""),
                accounts.get(p, []),
                as_of,
                reason,
            )
            for p, reason in reasons.items()
        ]
        found.sort(key=lambda m: (-m.spend_cents, m.person_id))
        return found

    async def _lapsed(self, room: object, tag: str | None) -> dict[str, str]:
        """Bought one of this show's categories before, not this time."""
        room_id: str = room.room_id  # type: ignore[attr-defined]
        at = room.started_at or room.first_event_at  # type: ignore[attr-defined]
        offers = await self.store.offers_of(room_id)
        categories = (
            {tag.lower()} if tag else {t for o in offers for t in title_tags(o.title or "")}
        )
        before: dict[str, set[str]] = {}
        now: dict[str, set[str]] = {}
        for person, order_room, title in await self.store.paid_titles((at, room_id, True)):
            tags = set(title_tags(title)) & categories
            if tags:
                (now if order_room == room_id else before).setdefault(person, set()).update(tags)
        reasons = {}
        for person, tags in before.items():
            missing = tags - now.get(person, set())
            if missing:
                reasons[person] = "bought before: " + ", ".join(sorted(missing))
        return reasons


def _add_reason(reasons: dict[str, str], person: str, what: str) -> None:
    reasons[person] = f"{reasons[person]}; {what}" if person in reasons else what


def _link_view(row: object) -> LinkView:
    return LinkView(
        accounts=(row.account_a, row.account_b),  # type: ignore[attr-defined]
        active=bool(row.active),  # type: ignore[attr-defined]
        automatic_evidence=row.auto_evidence,  # type: ignore[attr-defined]
        host_decision=row.decision,  # type: ignore[attr-defined]
        decided_by=row.decided_by,  # type: ignore[attr-defined]
        decided_at=row.decided_at,  # type: ignore[attr-defined]
    )
