"""ingest's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
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
