"""Fact rows and how two contributions to one row combine: the projection's algebra.

Every row the projection writes is keyed (an account in a room, an order, an offer...)
and every column has a merge rule. The rules are commutative and associative, so the
same events give the same rows in any order, in any batching, and a replay from the
start gives the same database (ids already applied are skipped before folding):

- ADD: counters (messages, likes, cents): sum of contributions;
- MIN / MAX: first and last times, best streaks (None means "no value");
- LATEST: a group of columns taken together from the contribution with the highest
  order key (e.g. a display name and the time it was used, ties broken by event id);
- KEEP: set on insert, never changed by a later contribution (an account's person,
  which only identity linking changes).

The same rules are applied in memory (folding a batch) and in SQL (the upsert that
merges a batch into the stored row), both generated from the specs below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from operator import itemgetter
from typing import Any


class Merge(Enum):
    ADD = "add"
    MIN = "min"
    MAX = "max"
    LATEST = "latest"
    KEEP = "keep"


@dataclass(frozen=True)
class RowSpec:
    """One fact table: its key columns and a merge rule per other column."""

    name: str
    key: tuple[str, ...]
    merges: dict[str, Merge]
    # LATEST columns: the order key columns (themselves LATEST) compared as a tuple.
    latest_by: tuple[str, ...] = ()
    # A contribution that only exists to be inserted (never merged): insert-or-ignore.
    insert_only: bool = False

    def columns(self) -> tuple[str, ...]:
        return self.key + tuple(self.merges)

    @cached_property
    def empty_row(self) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(self.columns())
        row.update({col: 0 for col, rule in self.merges.items() if rule is Merge.ADD})
        return row

    @cached_property
    def key_of(self) -> Callable[[dict[str, Any]], Any]:
        return itemgetter(*self.key)

    @cached_property
    def latest_columns(self) -> tuple[str, ...]:
        return tuple(col for col, rule in self.merges.items() if rule is Merge.LATEST)


def _is_newer(new: dict[str, Any], old: dict[str, Any], order: tuple[str, ...]) -> bool:
    """Is new's order key greater than old's? None sorts lowest; a None key never wins."""
    for col in order:
        a, b = new.get(col), old.get(col)
        if a == b:
            continue
        if a is None:
            return False
        if b is None:
            return True
        return bool(a > b)
    return False


def merge_into(spec: RowSpec, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Fold contribution `new` (some columns of one row) into `old` (the full row)."""
    merges = spec.merges
    for col, b in new.items():
        rule = merges.get(col)
        if rule is Merge.ADD:
            old[col] += b or 0
        elif rule is Merge.MIN or rule is Merge.MAX:
            a = old[col]
            if b is not None and (a is None or (b < a if rule is Merge.MIN else b > a)):
                old[col] = b
        # LATEST below, as a group; KEEP and key columns: the first value stays
    if spec.latest_by and _is_newer(new, old, spec.latest_by):
        for col in spec.latest_columns:
            old[col] = new.get(col)


@dataclass
class Contributions:
    """A batch folded into at most one contribution per row, per table."""

    rows: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)

    def add(self, spec: RowSpec, **values: Any) -> None:
        key = spec.key_of(values)
        table = self.rows.get(spec.name)
        if table is None:
            table = self.rows[spec.name] = {}
        row = table.get(key)
        if row is None:
            row = spec.empty_row.copy()
            row.update(values)
            table[key] = row
        elif not spec.insert_only:
            merge_into(spec, row, values)

    def insert(self, spec: RowSpec, key: Any, row: dict[str, Any]) -> None:
        """An insert-only contribution, complete already (the first one of a key stays)."""
        table = self.rows.get(spec.name)
        if table is None:
            table = self.rows[spec.name] = {}
        table.setdefault(key, row)

    def of(self, spec: RowSpec) -> list[dict[str, Any]]:
        return list(self.rows.get(spec.name, {}).values())

    def __len__(self) -> int:
        return sum(len(t) for t in self.rows.values())


def fold_rows(spec: RowSpec, contributions: Iterable[dict[str, Any]]) -> dict[Any, dict]:
    """Fold loose contributions by key (used by tests to state the algebra)."""
    folded = Contributions()
    for values in contributions:
        folded.add(spec, **values)
    return folded.rows.get(spec.name, {})


A, LO, HI, L, K = Merge.ADD, Merge.MIN, Merge.MAX, Merge.LATEST, Merge.KEEP

PROCESSED = RowSpec("processed_events", ("event_id",), {}, insert_only=True)
ACCOUNTS = RowSpec(
    "accounts",
    ("account_id",),
    {"person_id": K, "platform": K, "display_name": L, "name_at": L, "name_key": L},
    latest_by=("name_at", "name_key"),
)
ROOMS = RowSpec(
    "rooms",
    ("room_id",),
    {
        # Each is said once (room.opened); MAX keeps any repeat deterministic.
        "title": HI,
        "host_id": HI,
        "opened_at": LO,
        "started_at": LO,
        "ended_at": HI,
        "first_event_at": LO,
        "last_event_at": HI,
        "events": A,
        # When analytics announced the room's report (report.ready: its own event, read
        # back from the ANALYTICS stream), so a rebuild or a restart does not announce again.
        "announced_at": LO,
    },
)
ACTIVITY = RowSpec(
    "activity",
    ("account_id", "room_id"),
    {
        "first_seen": LO,
        "last_seen": HI,
        "joins": A,
        "leaves": A,
        "watch_ms": A,
        "messages": A,
        "likes": A,
        "checkins": A,
        "best_streak": HI,
        "votes": A,
        "red_packets": A,
        "red_packet_cents": A,
        "claims": A,
        "waitlisted": A,
        "commission_cents": A,
        "last_engaged_at": HI,
        "checkin_day": L,
        "checkin_streak": L,
    },
    latest_by=("checkin_day", "checkin_streak"),
)
MINUTES = RowSpec(
    "minutes",
    ("room_id", "minute"),
    {
        "joins": A,
        "leaves": A,
        "messages": A,
        "likes": A,
        "orders": A,
        "payments": A,
        "paid_cents": A,
    },
)
PRESENCE = RowSpec(
    "presence",
    ("room_id", "account_id", "minute"),
    {"joins": A, "staff": HI, "last_at": L, "last_key": L, "last_in": L},
    latest_by=("last_at", "last_key"),
)
# The room's video: one row per take (stream.started / stream.stopped, each said once;
# MIN and MAX keep a repeat deterministic).
TAKES = RowSpec(
    "stream_takes",
    ("room_id", "take"),
    {
        "source": HI,
        "protocol": HI,
        "started_at": LO,
        "stopped_at": LO,
        "stop_reason": HI,
        "on_air_ms": HI,
    },
)
# One page connection per viewer.left: when the viewer was there (watch time within the
# broadcast intersects these with the takes, whichever arrived first).
WATCH_SPANS = RowSpec(
    "watch_spans",
    ("room_id", "event_id"),
    {"account_id": K, "from_at": K, "to_at": K},
    insert_only=True,
)
OFFERS = RowSpec(
    "offers",
    ("offer_id",),
    {
        "room_id": HI,
        "kind": HI,
        "title": HI,
        "opened_at": LO,
        "sold_out_at": LO,
        "closed_at": LO,
        "group_outcome": HI,
        "group_buyers": HI,
        "group_minimum": HI,
        "tier_buyers": HI,
        "best_price_cents": LO,
        "price_cents": L,
        "stock": L,
        "terms_at": L,
        "terms_key": L,
        "photo_thumb": L,
        "photo_alt": L,
    },
    latest_by=("terms_at", "terms_key"),
)
# An order's terms (quantity, amount) are the ones said last: order.placed, then each
# order.amended (a buyer's edited line: up or down). LATEST by (when, event id), so a
# lower amended quantity is kept whatever order the events arrive in.
ORDERS = RowSpec(
    "orders",
    ("order_id",),
    {
        "room_id": HI,
        "offer_id": HI,
        "account_id": HI,
        "kind": HI,
        "quantity": L,
        "amount_cents": L,
        "terms_at": L,
        "terms_key": L,
        "referrer_id": HI,
        "from_waitlist": HI,
        "placed_at": LO,
        "paid_at": LO,
        "last_paid_at": HI,
        "payments": A,
        "paid_cents": A,
        "refunded_cents": A,
        "expired_at": LO,
        "cancelled_at": LO,
        # Handed over (order.fulfilled: said once; the desk refuses a second handover).
        "fulfilled_at": LO,
        "fulfilled_units": HI,
    },
    latest_by=("terms_at", "terms_key"),
)
MESSAGES = RowSpec(
    "messages",
    ("message_id",),
    {"room_id": K, "account_id": K, "text": K, "source": K, "occurred_at": K},
    insert_only=True,
)
POLLS = RowSpec(
    "polls",
    ("poll_id",),
    {
        "room_id": HI,
        "question": HI,
        "options": HI,
        "opened_at": LO,
        "closed_at": LO,
        "results": HI,
    },
)
POLL_VOTES = RowSpec("poll_votes", ("poll_id", "option"), {"room_id": HI, "votes": A})
RED_PACKETS = RowSpec(
    "red_packets",
    ("packet_id",),
    {
        "room_id": HI,
        "sender_id": HI,
        "total_cents": HI,
        "shares": HI,
        "message": HI,
        "sent_at": LO,
        "grabs": A,
        "grabbed_cents": A,
        "finished_at": LO,
        "luckiest_id": HI,
        "luckiest_cents": HI,
    },
)
REFERRALS = RowSpec(
    "referrals",
    ("referrer_id", "referred_id", "room_id"),
    {
        "first_at": LO,
        "joins": A,
        "orders": A,
        "payments": A,
        "paid_cents": A,
        "first_paid_at": LO,
    },
)
# A referrer's commissions per room (the room of the order that earned them): accrued and
# reversed (commission.accrued / .reversed, every level), and paid out to them
# (commission.paid_out, counted in the room its event names).
COMMISSIONS = RowSpec(
    "commissions",
    ("account_id", "room_id"),
    {"accrued_cents": A, "reversed_cents": A, "paid_out_cents": A, "payouts": A},
)
WAITLIST = RowSpec(
    "waitlist",
    ("account_id", "offer_id"),
    {"room_id": HI, "first_at": LO, "times": A},
)
LINK_EVIDENCE = RowSpec(
    "link_evidence",
    ("event_id",),
    {
        "account_a": K,
        "account_b": K,
        "kind": K,
        "detail": K,
        "by": K,
        "room_id": K,
        "occurred_at": K,
    },
    insert_only=True,
)
LINKS = RowSpec(
    "links",
    ("account_a", "account_b"),
    {
        "auto_evidence": A,
        "host_links": A,
        "first_at": LO,
        "decision": L,
        "decided_by": L,
        "decided_at": L,
        "decision_key": L,
    },
    latest_by=("decided_at", "decision_key"),
)

# Every claim (order.placed or claim.rejected), by the room and its claim id: a claim made
# in a bound group has the group line's key as its id (`<platform>:<chat>:<message>`),
# which is how the report finds the claims and orders that came from a group.
CLAIMS = RowSpec(
    "claims",
    ("room_id", "claim_id"),
    {"account_id": HI, "order_id": HI, "first_at": LO, "rejections": A},
)
# The bound groups (ingest's outbound events and group lines): a chat's title as its
# latest event said it; per room and group, what the show said there, by kind (sent,
# edits of earlier messages, permanent failures) and the failures by the platform's code;
# each member's lines per minute (who wrote during the show).
GROUP_CHATS = RowSpec(
    "group_chats",
    ("platform", "chat_id"),
    {"title": L, "title_at": L, "title_key": L},
    latest_by=("title_at", "title_key"),
)
GROUP_MESSAGES = RowSpec(
    "group_messages",
    ("room_id", "platform", "chat_id", "kind"),
    {"sent": A, "edits": A, "failed": A, "first_at": LO, "last_at": HI},
)
GROUP_FAILURES = RowSpec(
    "group_failures",
    ("room_id", "platform", "chat_id", "code"),
    {"failures": A, "paused": HI, "detail": L, "failed_at": L, "failed_key": L},
    latest_by=("failed_at", "failed_key"),
)
GROUP_LINES = RowSpec(
    "group_lines",
    ("room_id", "platform", "chat_id", "account_id", "minute"),
    {"lines": A},
)

# In write order: accounts before what links them, links before identity is recomputed.
ALL_SPECS: tuple[RowSpec, ...] = (
    PROCESSED,
    ACCOUNTS,
    ROOMS,
    ACTIVITY,
    MINUTES,
    PRESENCE,
    TAKES,
    WATCH_SPANS,
    OFFERS,
    ORDERS,
    MESSAGES,
    POLLS,
    POLL_VOTES,
    RED_PACKETS,
    REFERRALS,
    COMMISSIONS,
    WAITLIST,
    CLAIMS,
    GROUP_CHATS,
    GROUP_MESSAGES,
    GROUP_FAILURES,
    GROUP_LINES,
    LINK_EVIDENCE,
    LINKS,
)
