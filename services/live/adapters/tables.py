"""live's own tables (nobody else reads them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from shared.db import service_table_base
from shared.events import utcnow
from shared.outbox import outbox_table

LiveTable = service_table_base()


class HostRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "live_hosts"
    id: str = Field(primary_key=True)  # "host:<hex>"
    name: str
    created_at: datetime = Field(default_factory=utcnow)


class RoomRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "live_rooms"
    id: str = Field(primary_key=True)
    title: str
    host_id: str = Field(index=True)
    status: str = Field(default="scheduled")
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    lineup: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    preview_text: str | None = None
    pinned_offer_id: str | None = None
    rules: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class MemberRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Someone who ever joined the room, with their role and sanctions."""

    __tablename__ = "live_members"
    room_id: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True)
    display_name: str
    role: str = "member"
    muted_until: datetime | None = None
    banned: bool = False
    welcomed: bool = False
    first_joined_at: datetime = Field(default_factory=utcnow)


class CheckinRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Daily check-in streaks are per host community (a host's rooms share them)."""

    __tablename__ = "live_checkins"
    host_id: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True)
    last_day: str
    streak: int
    points: int


class RedPacketRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """The packet's header: the row every grab locks, so grabs of one packet serialize."""

    __tablename__ = "live_red_packets"
    id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    total_cents: int
    shares: int
    remaining: int
    message: str = ""
    sent_by: str
    created_at: datetime = Field(default_factory=utcnow)


class RedPacketShareRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """One pre-split share of a red packet; grabbing assigns it to a customer."""

    __tablename__ = "live_red_packet_shares"
    __table_args__ = (UniqueConstraint("packet_id", "grabbed_by", name="one_grab_per_customer"),)
    packet_id: str = Field(primary_key=True)
    index: int = Field(primary_key=True)
    room_id: str = Field(index=True)
    amount_cents: int
    grabbed_by: str | None = Field(default=None)
    grabbed_at: datetime | None = None


class PollRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "live_polls"
    id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    question: str
    options: list[str] = Field(sa_column=Column(JSON, nullable=False))
    closed: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class VoteRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "live_votes"
    poll_id: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True)
    option: int


class AnnouncementRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A scheduled announcement: once at `at`, or every `every_s` from `at`."""

    __tablename__ = "live_announcements"
    id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    text: str
    at: datetime
    every_s: int | None = None
    active: bool = True


class StreamRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A room's video: where it comes from, its secret publish key, what is on air."""

    __tablename__ = "live_streams"
    room_id: str = Field(primary_key=True)
    source: str = "encoder"
    # None once revoked (the room ended); rotating replaces it and bumps the version.
    stream_key: str | None = None
    key_version: int = 0
    # Embedded: the UDP port this room's SRT listener uses while its key is valid.
    srt_port: int | None = Field(default=None, unique=True)
    hosted_url: str | None = None
    youtube_video_id: str | None = None
    state: str = "offline"
    take: int = 0
    on_air_since: datetime | None = None
    protocol: str | None = None
    incoming: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    incoming_at: datetime | None = None
    first_on_air_at: datetime | None = None


class RoomMediaRow(LiveTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A stored object (`<room_id>/<name>` in ROOM_MEDIA) shown by a line of the room: one row
    per line and object. An object is kept while a row names it; the room's usage counts
    each object once (the same picture posted twice is stored once)."""

    __tablename__ = "live_room_media"
    room_id: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    name: str = Field(primary_key=True)  # <sha256>.<ext>, unscoped as lines carry it
    bytes: int
    kind: str  # image | voice (a posted one), group_image | group_voice (from ingest)
    created_at: datetime = Field(default_factory=utcnow)


LiveOutbox = outbox_table(LiveTable, "live_outbox")
metadata = LiveTable.metadata
