"""ingest's own tables."""

from __future__ import annotations

from datetime import datetime

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


metadata = IngestTable.metadata
