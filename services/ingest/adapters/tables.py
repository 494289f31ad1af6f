"""ingest's own tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field

from shared.db import service_table_base
from shared.events import utcnow

IngestTable = service_table_base()


class BindingRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """An external group chat attached to a room."""

    __tablename__ = "ingest_bindings"
    platform: str = Field(primary_key=True)
    chat_id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # What the show says in this group (domain/outbound.OutboundSettings as JSON); None:
    # the defaults. Columns added later are nullable: existing tables grow (decision 0001).
    outbound: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Set when the platform refuses the bot for good (removed, chat gone): nothing is sent
    # until the host resumes the binding. Shown in the console with the reason.
    paused_code: str | None = None
    paused_reason: str | None = None
    paused_at: datetime | None = None


class OutboundRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """One message to one bound group (SendToGroup.key): whether it went, and the platform's
    id of it. The sender checks it before every send: a redelivered job posts nothing new."""

    __tablename__ = "ingest_outbound"
    key: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    platform: str
    chat_id: str
    kind: str
    source_event_id: str
    order_id: str | None = Field(default=None, index=True)
    state: str = "sending"  # sending, sent, failed, skipped
    platform_message_id: str | None = None
    attempts: int = 0
    reason: str = ""  # why failed or skipped
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class GroupOrderRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """An order placed by a line written in a bound group: where to answer the buyer, and
    where the order stands (a reminder is skipped once it is paid or gone)."""

    __tablename__ = "ingest_group_orders"
    order_id: str = Field(primary_key=True)
    claim_id: str = Field(index=True)  # the buying line's key, platform:chat:message
    room_id: str = Field(index=True)
    platform: str
    chat_id: str
    message_id: str  # the buyer's line, as the platform names it (the reply's target)
    customer_id: str | None = None
    state: str = "held"  # held, paid, expired, cancelled
    pay_by: datetime
    outcome_key: str | None = None  # the key of our reply with the outcome (edited later)
    updated_at: datetime = Field(default_factory=utcnow)
    # What the reply's edits say (paid, expired, amended): the planner's, nullable.
    offer_id: str | None = None
    quantity: int | None = None
    amount_cents: int | None = None


class PlannerRoomRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """What the planner keeps of a room for its messages: the title (room.opened), and
    that it ended (no "we are live" or offer card from a late or replayed event)."""

    __tablename__ = "ingest_planner_rooms"
    room_id: str = Field(primary_key=True)
    title: str | None = None
    ended_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class OfferCardRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """An offer as its card in the groups shows it (offer.opened/updated/stock_changed), and
    when a card of it was last posted (opening then pinning an offer posts one card)."""

    __tablename__ = "ingest_offer_cards"
    offer_id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    title: str
    price_cents: int
    stock: int
    left: int
    photo: str | None = None  # the first photo's card-size object name
    posted_at: datetime | None = None
    posted_by: str | None = None  # the event whose card that was (a redelivery posts again)
    updated_at: datetime = Field(default_factory=utcnow)


class ParkedRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Something said in a chat that no room is bound to: kept, listed, adopted on binding."""

    __tablename__ = "ingest_parked"
    key: str = Field(primary_key=True)  # the dedupe key: a re-delivery is the same row
    source: str  # the endpoint (telegram, whatsapp, webhook): which normaliser reads `raw`
    platform: str
    chat_id: str = Field(index=True)
    chat_title: str | None = None
    kind: str  # message, member_joined, member_left, reaction
    user_id: str
    user_name: str
    text: str | None = None
    occurred_at: datetime
    received_at: datetime = Field(default_factory=utcnow, index=True)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class GroupMediaRow(IngestTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A group's picture or voice note fetched into ROOM_MEDIA (or given up): what the
    room's group media weigh (its cap), and that the job is done (a redelivery skips it)."""

    __tablename__ = "ingest_group_media"
    key: str = Field(primary_key=True)  # the line's key (its ingest event id)
    room_id: str = Field(index=True)
    kind: str  # image, voice
    bytes: int = 0  # stored in ROOM_MEDIA, every size of a picture; 0 when not fetched
    reason: str = ""  # why it was not fetched
    done_at: datetime | None = None  # ChatMediaFetched published (and a give-up kept)
    created_at: datetime = Field(default_factory=utcnow)


metadata = IngestTable.metadata
