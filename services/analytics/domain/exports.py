"""A show's audience beyond the report's top lists, for the next preview: every buyer, and
every engaged person who did not buy (chatted, liked, voted, claimed and did not pay...).

Persons, not accounts (linked accounts are one row); the room's staff are in neither list;
nobody is in both: a buyer paid for an order of the show (refunded later or not), an
engaged non-buyer is an attendee who engaged (the report's funnel) and paid for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.analytics.domain.identity import platform_of
from services.analytics.domain.segments import PersonStats


class BuyerRow(BaseModel):
    customer: str = Field(description="The person (their first account's id).")
    name: str
    platforms: list[str] = Field(description="Where their accounts are: web, telegram...")
    accounts: list[str]
    orders: int = Field(description="Orders of the show they paid for.")
    units: int = Field(description="Units of those paid and not refunded in full.")
    paid_cents: int
    refunded_cents: int
    net_cents: int
    fulfilled_orders: int = Field(description="Orders handed over to them.")
    first_paid_at: datetime | None
    referrer: str | None = Field(description="Who referred their paid orders (a person).")
    referrer_name: str
    tier: str = Field(description="Fan tier after the show: core, active or ordinary.")
    new: bool = Field(description="The show is the first they attended.")
    currency: str = Field(description="ISO 4217: the cents' currency.")


class EngagedRow(BaseModel):
    customer: str
    name: str
    platforms: list[str]
    accounts: list[str]
    messages: int = Field(description="Chat lines (the page and the bound groups).")
    likes: int
    votes: int
    red_packets: int = Field(description="Red packets grabbed.")
    checkins: int
    claims: int = Field(description="Claims made (orders placed or refused).")
    unpaid_orders: int = Field(description="Orders placed and never paid.")
    expired_orders: int
    cancelled_orders: int
    waitlisted: int = Field(description="Times put on a waitlist.")
    watch_minutes: float
    last_engaged_at: datetime | None
    tier: str
    new: bool


@dataclass
class PersonOrders:
    """One person's orders in the room (store.orders_by_person)."""

    person_id: str
    placed: int = 0
    paid_orders: int = 0
    kept_orders: int = 0
    units: int = 0
    paid_cents: int = 0
    refunded_cents: int = 0
    expired: int = 0
    cancelled: int = 0
    fulfilled: int = 0
    first_paid_at: datetime | None = None
    referrer: str | None = None


@dataclass
class Audience:
    """What both lists are read from."""

    in_room: Mapping[str, PersonStats]
    orders: Mapping[str, PersonOrders]
    staff: frozenset[str]
    names: Mapping[str, str]
    accounts: Mapping[str, list[str]]
    tiers: Mapping[str, str]
    returning: frozenset[str]

    def platforms(self, person: str) -> list[str]:
        return sorted({platform_of(a) for a in self.accounts.get(person, [])})


def buyers_of(a: Audience, currency: str) -> list[BuyerRow]:
    """Every buyer, the most money first."""
    rows = [
        BuyerRow(
            customer=p,
            name=a.names.get(p, ""),
            platforms=a.platforms(p),
            accounts=a.accounts.get(p, []),
            orders=o.paid_orders,
            units=o.units,
            paid_cents=o.paid_cents,
            refunded_cents=o.refunded_cents,
            net_cents=o.paid_cents - o.refunded_cents,
            fulfilled_orders=o.fulfilled,
            first_paid_at=o.first_paid_at,
            referrer=o.referrer,
            referrer_name=a.names.get(o.referrer, "") if o.referrer else "",
            tier=a.tiers.get(p, "ordinary"),
            new=p not in a.returning,
            currency=currency,
        )
        for p, o in a.orders.items()
        if o.paid_orders > 0 and p not in a.staff
    ]
    rows.sort(key=lambda r: (-r.net_cents, -r.paid_cents, r.customer))
    return rows


def engaged_of(a: Audience) -> list[EngagedRow]:
    """Every engaged attendee who paid for nothing: who claimed first, then who talked."""
    nothing = PersonOrders("")
    rows = []
    for p, s in a.in_room.items():
        o = a.orders.get(p, nothing)
        if s.rooms == 0 or p in a.staff or not s.engaged or o.paid_orders > 0:
            continue
        rows.append(
            EngagedRow(
                customer=p,
                name=a.names.get(p, ""),
                platforms=a.platforms(p),
                accounts=a.accounts.get(p, []),
                messages=s.messages,
                likes=s.likes,
                votes=s.votes,
                red_packets=s.red_packets,
                checkins=s.checkins,
                claims=s.claims,
                unpaid_orders=o.placed - o.paid_orders,
                expired_orders=o.expired,
                cancelled_orders=o.cancelled,
                waitlisted=s.waitlisted,
                watch_minutes=round(s.watch_ms / 60_000, 1),
                last_engaged_at=s.last_engaged_at,
                tier=a.tiers.get(p, "ordinary"),
                new=p not in a.returning,
            )
        )
    rows.sort(key=lambda r: (-r.claims, -r.messages, -r.likes, r.customer))
    return rows


def person_orders(rows: Iterable[Any]) -> dict[str, PersonOrders]:
    """store.orders_by_person's rows, by person."""
    found = {}
    for r in rows:
        found[r.person_id] = PersonOrders(
            person_id=r.person_id,
            placed=int(r.placed or 0),
            paid_orders=int(r.paid_orders or 0),
            kept_orders=int(r.kept_orders or 0),
            units=int(r.units or 0),
            paid_cents=int(r.paid_cents or 0),
            refunded_cents=int(r.refunded_cents or 0),
            expired=int(r.expired or 0),
            cancelled=int(r.cancelled or 0),
            fulfilled=int(r.fulfilled or 0),
            first_paid_at=r.first_paid_at,
            referrer=r.referrer,
        )
    return found
