"""Segments and tiers of a person, from their figures: plain rules with fixed cut-offs.

Fixed cut-offs (not quantiles of the current population) so a person's class only
moves when *they* do, and the same facts always give the same class.

RFM, each scored 1-5 (0 = never bought):
- Recency, days since the last paid order: <=7 -> 5, <=30 -> 4, <=90 -> 3, <=180 -> 2, else 1
- Frequency, paid orders: >=10 -> 5, >=5 -> 4, >=3 -> 3, 2 -> 2, 1 -> 1
- Monetary, net spend in yuan: >=5000 -> 5, >=2000 -> 4, >=500 -> 3, >=100 -> 2, >0 -> 1

Value class (contribution = spending power x added value, i.e. buyers brought):
- key: M >= 3 and brought >= 1 buyer;  spender: M >= 3, brought none;
- promoter: M <= 2 and brought >= 1 buyer;  potential: bought, M <= 2, brought none;
- prospect: never bought, brought none.

Fan tiers (the host sees who leads and who follows):
- core (committee candidates): attended >= 3 shows, bought in >= 2 of them, and wrote
  >= 10 messages or brought >= 1 buyer;
- active (passionate fans, active buyers): >= 2 paid orders, or 1 paid order and
  engaged (chat, likes, votes, red packets, check-ins, claims) in >= 2 shows;
- ordinary: everyone else.

Seed customer: brought at least one *new* buyer (someone whose first paid order was
one they were referred to). Dormant member (N days, 30 by default): attended at least
one show N+ days ago, never bought, and no engagement in the last N days (or ever).
New vs returning (per show): new if the show is the first they attended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RECENCY_DAYS = (7, 30, 90, 180)  # -> 5, 4, 3, 2; older -> 1
FREQUENCY_ORDERS = (10, 5, 3, 2, 1)  # -> 5, 4, 3, 2, 1
MONETARY_YUAN = (5000, 2000, 500, 100)  # -> 5, 4, 3, 2; any spend -> 1
DORMANT_DAYS = 30

TIERS = ("core", "active", "ordinary")
VALUE_CLASSES = ("key", "spender", "promoter", "potential", "prospect")
# Every list GET /segments/{name} serves.
SEGMENTS = (*TIERS, "seed", "dormant", *VALUE_CLASSES)


@dataclass(slots=True)  # a report holds one per attendee, three times: 100k+ of them
class PersonStats:
    person_id: str
    display_name: str = ""
    rooms: int = 0
    engaged_rooms: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    joins: int = 0
    watch_ms: int = 0
    messages: int = 0
    likes: int = 0
    checkins: int = 0
    best_streak: int = 0
    votes: int = 0
    red_packets: int = 0
    red_packet_cents: int = 0
    claims: int = 0
    waitlisted: int = 0
    commission_cents: int = 0
    last_engaged_at: datetime | None = None
    orders: int = 0
    spend_cents: int = 0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    rooms_bought: int = 0
    referrals: int = 0
    buyers_brought: int = 0
    new_buyers_brought: int = 0

    @property
    def engagement(self) -> int:
        """Top engagers' score: messages + votes + red packets + check-ins + likes/10."""
        return self.messages + self.votes + self.red_packets + self.checkins + self.likes // 10

    @property
    def engaged(self) -> bool:
        return (
            self.messages + self.likes + self.votes + self.red_packets + self.checkins + self.claims
        ) > 0


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def through_show(before: PersonStats, show: PersonStats) -> PersonStats:
    """A person's figures up to and including a show, from theirs before it and theirs in
    it (a report needs both, and a second pass over the database for the sum took as long
    as the first). Referral figures count pairs of people, which do not add up: they are
    left at zero for the caller to fill in."""
    return PersonStats(
        person_id=show.person_id,
        display_name=show.display_name or before.display_name,
        rooms=before.rooms + show.rooms,
        engaged_rooms=before.engaged_rooms + show.engaged_rooms,
        first_seen=_earliest(before.first_seen, show.first_seen),
        last_seen=_latest(before.last_seen, show.last_seen),
        joins=before.joins + show.joins,
        watch_ms=before.watch_ms + show.watch_ms,
        messages=before.messages + show.messages,
        likes=before.likes + show.likes,
        checkins=before.checkins + show.checkins,
        best_streak=max(before.best_streak, show.best_streak),
        votes=before.votes + show.votes,
        red_packets=before.red_packets + show.red_packets,
        red_packet_cents=before.red_packet_cents + show.red_packet_cents,
        claims=before.claims + show.claims,
        waitlisted=before.waitlisted + show.waitlisted,
        commission_cents=before.commission_cents + show.commission_cents,
        last_engaged_at=_latest(before.last_engaged_at, show.last_engaged_at),
        orders=before.orders + show.orders,
        spend_cents=before.spend_cents + show.spend_cents,
        first_purchase_at=_earliest(before.first_purchase_at, show.first_purchase_at),
        last_purchase_at=_latest(before.last_purchase_at, show.last_purchase_at),
        rooms_bought=before.rooms_bought + show.rooms_bought,
    )


@dataclass(frozen=True)
class Rfm:
    recency: int
    frequency: int
    monetary: int

    @property
    def code(self) -> str:
        return f"{self.recency}{self.frequency}{self.monetary}"


def rfm(stats: PersonStats, as_of: datetime) -> Rfm:
    if stats.orders == 0 or stats.last_purchase_at is None:
        return Rfm(0, 0, 0)
    days = (as_of - stats.last_purchase_at).total_seconds() / 86400
    recency = next((5 - i for i, limit in enumerate(RECENCY_DAYS) if days <= limit), 1)
    frequency = next(
        (5 - i for i, least in enumerate(FREQUENCY_ORDERS) if stats.orders >= least), 0
    )
    return Rfm(recency, frequency, monetary_score(stats))


def monetary_score(stats: PersonStats) -> int:
    yuan = stats.spend_cents / 100
    score = next((5 - i for i, least in enumerate(MONETARY_YUAN) if yuan >= least), 0)
    return score or (1 if stats.spend_cents > 0 else 0)


def value_class(stats: PersonStats) -> str:
    m = monetary_score(stats)
    brings = stats.buyers_brought >= 1
    if m >= 3:
        return "key" if brings else "spender"
    if brings:
        return "promoter"
    return "potential" if stats.orders > 0 else "prospect"


def spending_power(stats: PersonStats) -> str:
    m = monetary_score(stats)
    return "high" if m >= 4 else "medium" if m >= 2 else "low" if m == 1 else "none"


def tier(stats: PersonStats) -> str:
    if (
        stats.rooms >= 3
        and stats.rooms_bought >= 2
        and (stats.messages >= 10 or stats.buyers_brought >= 1)
    ):
        return "core"
    if stats.orders >= 2 or (stats.orders >= 1 and stats.engaged_rooms >= 2):
        return "active"
    return "ordinary"


def is_seed(stats: PersonStats) -> bool:
    return stats.new_buyers_brought >= 1


def is_dormant(stats: PersonStats, as_of: datetime, days: int = DORMANT_DAYS) -> bool:
    since = as_of - timedelta(days=days)
    if stats.orders > 0 or stats.first_seen is None or stats.first_seen > since:
        return False
    return stats.last_engaged_at is None or stats.last_engaged_at <= since


def segments_of(stats: PersonStats, as_of: datetime, dormant_days: int) -> list[str]:
    """Every named segment the person is in: tier, seed, dormant, value class."""
    found = [tier(stats)]
    if is_seed(stats):
        found.append("seed")
    if is_dormant(stats, as_of, dormant_days):
        found.append("dormant")
    found.append(value_class(stats))
    return found
