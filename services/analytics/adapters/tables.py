"""analytics' own tables: the customer database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from shared.db import service_table_base

AnalyticsTable = service_table_base()


class ProcessedEvent(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Every event applied, by id: the same event twice changes nothing."""

    __tablename__ = "analytics_processed_events"
    event_id: str = Field(primary_key=True)
    type: str
    room_id: str = Field(index=True)
    occurred_at: datetime


class CustomerRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_customers"
    customer_id: str = Field(primary_key=True)
    display_name: str = ""
    first_seen: datetime
    last_seen: datetime
    messages: int = 0
    rooms_joined: int = 0


class ChatMessageRow(AnalyticsTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "analytics_chat_messages"
    message_id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    customer_id: str | None = Field(default=None, index=True)
    text: str
    source: str
    occurred_at: datetime


metadata = AnalyticsTable.metadata
