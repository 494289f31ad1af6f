"""analytics' own tables: the customer database.

Facts are kept per *account* and per room (who did what where); a person is a group
of linked accounts (`analytics_accounts.person_id`), so linking and unlinking change
one column and never a fact. The merge rule of every column is in domain/facts.py.
Times are UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from shared.db import service_table_base

AnalyticsTable = service_table_base()


# SQLite: tables keyed by text are stored in their key's B-tree (no rowid table plus a
# second index holding the same key): half the writes per upsert on the hot path.
KEYED = {"sqlite_with_rowid": False}


class ProcessedEvent(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Every event applied, by id: the same event twice changes nothing."""

    __tablename__ = "analytics_processed_events"
    __table_args__ = KEYED
    event_id: str = Field(primary_key=True)


class AccountRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A platform account (web:..., telegram:..., phone:...) and the person it belongs to."""

    __tablename__ = "analytics_accounts"
    __table_args__ = KEYED
    account_id: str = Field(primary_key=True)
    person_id: str = Field(index=True)
    platform: str
    display_name: str | None = None
    name_at: datetime | None = None
    name_key: str | None = None


class RoomRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_rooms"
    room_id: str = Field(primary_key=True)
    title: str | None = None
    host_id: str | None = None
    opened_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    events: int = 0
    # When the room's report.ready went out (analytics' own event, read back): once a room.
    announced_at: datetime | None = None


class ActivityRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """What one account did in one room."""

    __tablename__ = "analytics_activity"
    __table_args__ = KEYED
    account_id: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True, index=True)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    joins: int = 0
    leaves: int = 0
    watch_ms: int = 0
    messages: int = 0
    likes: int = 0
    checkins: int = 0
    best_streak: int | None = None
    votes: int = 0
    red_packets: int = 0
    red_packet_cents: int = 0
    claims: int = 0
    waitlisted: int = 0
    commission_cents: int = 0
    last_engaged_at: datetime | None = None
    checkin_day: str | None = None
    checkin_streak: int | None = None


class MinuteRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A room's counts per minute (UTC): the report's curves."""

    __tablename__ = "analytics_room_minutes"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    minute: datetime = Field(primary_key=True)
    joins: int = 0
    leaves: int = 0
    messages: int = 0
    likes: int = 0
    orders: int = 0
    payments: int = 0
    paid_cents: int = 0


class PresenceRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """An account's joins and leaves of a room's page per minute (UTC), and whether it
    was in after the minute (its last event a join): viewers counted per person."""

    __tablename__ = "analytics_presence"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    account_id: str = Field(primary_key=True)
    minute: datetime = Field(primary_key=True)
    joins: int = 0
    staff: int | None = None  # 1: joined as the room's host or a moderator
    last_at: datetime | None = None
    last_key: str | None = None
    last_in: bool | None = None


class StreamTakeRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """One take of a room's video: on air from its start to its stop (domain/broadcast.py)."""

    __tablename__ = "analytics_stream_takes"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    take: int = Field(primary_key=True)
    source: str | None = None
    protocol: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    on_air_ms: int | None = None


class WatchSpanRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """One page connection of an account (from viewer.left), keyed by the event: a room's
    rows are read together, for its viewers' watch time within the broadcast."""

    __tablename__ = "analytics_watch_spans"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    account_id: str
    from_at: datetime
    to_at: datetime


class OfferRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_offers"
    offer_id: str = Field(primary_key=True)
    room_id: str | None = Field(default=None, index=True)
    kind: str | None = None
    title: str | None = None
    opened_at: datetime | None = None
    sold_out_at: datetime | None = None
    closed_at: datetime | None = None
    group_outcome: str | None = None
    group_buyers: int | None = None
    group_minimum: int | None = None
    tier_buyers: int | None = None
    best_price_cents: int | None = None
    price_cents: int | None = None
    stock: int | None = None
    terms_at: datetime | None = None
    terms_key: str | None = None
    # The product's first photo when the terms were last said: its thumbnail's object
    # name on orders (GET {orders}/photos/{name}), and its alt text.
    photo_thumb: str | None = None
    photo_alt: str | None = None


class OrderRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_orders"
    __table_args__ = KEYED
    order_id: str = Field(primary_key=True)
    room_id: str | None = Field(default=None, index=True)
    offer_id: str | None = None
    account_id: str | None = Field(default=None, index=True)
    kind: str | None = None
    quantity: int | None = None
    amount_cents: int | None = None
    # When quantity and amount were last said (order.placed / order.amended), and that
    # event's id: the order key of the two (facts.ORDERS). Nullable: added to old tables.
    terms_at: datetime | None = None
    terms_key: str | None = None
    referrer_id: str | None = None
    from_waitlist: int | None = None
    placed_at: datetime | None = None
    paid_at: datetime | None = None
    last_paid_at: datetime | None = None
    payments: int = 0
    paid_cents: int = 0
    refunded_cents: int = 0
    expired_at: datetime | None = None
    cancelled_at: datetime | None = None
    # Handed over (order.fulfilled) and its units. Nullable: added to old tables.
    fulfilled_at: datetime | None = None
    fulfilled_units: int | None = None


class MessageRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Chat lines (web and external groups), once each: interest tags read them."""

    __tablename__ = "analytics_messages"
    __table_args__ = KEYED
    message_id: str = Field(primary_key=True)
    room_id: str
    account_id: str | None = Field(default=None, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str
    occurred_at: datetime


class PollRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_polls"
    poll_id: str = Field(primary_key=True)
    room_id: str | None = Field(default=None, index=True)
    question: str | None = None
    options: str | None = None  # JSON list
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    results: str | None = None  # JSON list, from poll.closed


class PollVoteRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_poll_votes"
    __table_args__ = KEYED
    poll_id: str = Field(primary_key=True)
    option: int = Field(primary_key=True)
    room_id: str | None = None
    votes: int = 0


class RedPacketRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_red_packets"
    packet_id: str = Field(primary_key=True)
    room_id: str | None = Field(default=None, index=True)
    sender_id: str | None = None
    total_cents: int | None = None
    shares: int | None = None
    message: str | None = None
    sent_at: datetime | None = None
    grabs: int = 0
    grabbed_cents: int = 0
    finished_at: datetime | None = None
    luckiest_id: str | None = None
    luckiest_cents: int | None = None


class ReferralRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Who brought whom, per room: joins through an invite, orders and payments after."""

    __tablename__ = "analytics_referrals"
    __table_args__ = KEYED
    referrer_id: str = Field(primary_key=True)
    referred_id: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True, index=True)
    first_at: datetime | None = None
    joins: int = 0
    orders: int = 0
    payments: int = 0
    paid_cents: int = 0
    first_paid_at: datetime | None = None


class CommissionRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A referrer's commissions in one room: accrued, reversed, paid out (every level)."""

    __tablename__ = "analytics_commissions"
    __table_args__ = KEYED
    account_id: str = Field(primary_key=True)
    room_id: str = Field(primary_key=True, index=True)
    accrued_cents: int = 0
    reversed_cents: int = 0
    paid_out_cents: int = 0
    payouts: int = 0


class WaitlistRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_waitlist"
    __table_args__ = KEYED
    account_id: str = Field(primary_key=True)
    offer_id: str = Field(primary_key=True)
    room_id: str | None = Field(default=None, index=True)
    first_at: datetime | None = None
    times: int = 0


class ClaimRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Every claim of a room (placed or refused): a group claim's id is its line's key."""

    __tablename__ = "analytics_claims"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    claim_id: str = Field(primary_key=True)
    account_id: str | None = None
    order_id: str | None = None
    first_at: datetime | None = None
    rejections: int = 0


class GroupChatRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """An external group chat's title, as its latest ingest event said it."""

    __tablename__ = "analytics_group_chats"
    __table_args__ = KEYED
    platform: str = Field(primary_key=True)
    chat_id: str = Field(primary_key=True)
    title: str | None = None
    title_at: datetime | None = None
    title_key: str | None = None


class GroupMessageRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """What the show said in a bound group, per kind: sent, edited, failed for good."""

    __tablename__ = "analytics_group_messages"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    platform: str = Field(primary_key=True)
    chat_id: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    sent: int = 0
    edits: int = 0
    failed: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


class GroupFailureRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A bound group's permanent delivery failures per platform code, the latest words."""

    __tablename__ = "analytics_group_failures"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    platform: str = Field(primary_key=True)
    chat_id: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    failures: int = 0
    paused: int | None = None  # 1: a failure paused the binding
    detail: str | None = None
    failed_at: datetime | None = None
    failed_key: str | None = None


class GroupLineRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A member's lines in a bound group per minute (UTC): who wrote during the show."""

    __tablename__ = "analytics_group_lines"
    __table_args__ = KEYED
    room_id: str = Field(primary_key=True)
    platform: str = Field(primary_key=True)
    chat_id: str = Field(primary_key=True)
    account_id: str = Field(primary_key=True)
    minute: datetime = Field(primary_key=True)
    lines: int = 0


class LinkEvidenceRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Every piece of evidence that two accounts are (or are not) one person."""

    __tablename__ = "analytics_link_evidence"
    event_id: str = Field(primary_key=True)
    account_a: str = Field(index=True)
    account_b: str = Field(index=True)
    kind: str  # declared, phone, host_link, host_unlink
    detail: str = ""
    by: str | None = None
    room_id: str
    occurred_at: datetime


class LinkRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A pair of accounts with evidence; `active` links make persons."""

    __tablename__ = "analytics_links"
    __table_args__ = KEYED
    account_a: str = Field(primary_key=True)
    account_b: str = Field(primary_key=True, index=True)
    auto_evidence: int = 0
    host_links: int = 0
    first_at: datetime | None = None
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_key: str | None = None
    active: bool = False


class ReportRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A built post-stream report (a cache: rebuilt when `key` no longer matches)."""

    __tablename__ = "analytics_reports"
    room_id: str = Field(primary_key=True)
    key: str
    built_at: datetime
    body: str = Field(sa_column=Column(Text, nullable=False))


metadata = AnalyticsTable.metadata

# Spec name (domain/facts.py) -> table.
TABLES = {
    "processed_events": ProcessedEvent.__table__,
    "accounts": AccountRow.__table__,
    "rooms": RoomRow.__table__,
    "activity": ActivityRow.__table__,
    "minutes": MinuteRow.__table__,
    "presence": PresenceRow.__table__,
    "stream_takes": StreamTakeRow.__table__,
    "watch_spans": WatchSpanRow.__table__,
    "offers": OfferRow.__table__,
    "orders": OrderRow.__table__,
    "messages": MessageRow.__table__,
    "polls": PollRow.__table__,
    "poll_votes": PollVoteRow.__table__,
    "red_packets": RedPacketRow.__table__,
    "referrals": ReferralRow.__table__,
    "commissions": CommissionRow.__table__,
    "waitlist": WaitlistRow.__table__,
    "claims": ClaimRow.__table__,
    "group_chats": GroupChatRow.__table__,
    "group_messages": GroupMessageRow.__table__,
    "group_failures": GroupFailureRow.__table__,
    "group_lines": GroupLineRow.__table__,
    "link_evidence": LinkEvidenceRow.__table__,
    "links": LinkRow.__table__,
}
