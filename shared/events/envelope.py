"""The envelope every integration event carries (ARCHITECTURE rule 2)."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Room ids become NATS subject tokens: no dots, spaces or wildcards.
SUBJECT_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_TOKEN = re.compile(SUBJECT_TOKEN_PATTERN)


def _subject_token(value: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError("must be 1-64 characters of letters, digits, '_' or '-'")
    return value


SubjectToken = Annotated[str, AfterValidator(_subject_token)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def new_event_id() -> str:
    """32 hex digits like `new_id`, but the first 12 are the time in milliseconds (as in
    UUIDv7), then 80 random bits: events made later sort later. The tables keyed by event
    id (analytics' processed events, the outboxes) then grow at their end instead of
    touching pages all over their B-tree: 1M events into SQLite measured 12% faster."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class IntegrationEvent(BaseModel):
    """Base of every event on the bus. Subclasses set `type` and `domain`."""

    model_config = ConfigDict(frozen=True)

    # Which stream/subject family the event belongs to: live, orders, ingest.
    domain: ClassVar[str]
    # Subject types besides `type` that some events of this kind are published on (see
    # subject_type): the AsyncAPI documents a channel for each.
    other_subject_types: ClassVar[tuple[str, ...]] = ()
    # The newest schema version this code reads and writes.
    current_version: ClassVar[int] = 1

    id: str = Field(
        default_factory=new_event_id,
        description="Unique event id, time-ordered; also the Nats-Msg-Id used for JetStream "
        "dedupe.",
    )
    type: str = Field(description="Past-tense event name, e.g. chat.message_posted.")
    version: int = Field(default=1, ge=1, description="Schema version of this event type.")
    occurred_at: datetime = Field(default_factory=utcnow, description="When it happened (UTC).")
    room_id: SubjectToken = Field(description="The room (live show) the event belongs to.")
    customer_id: str | None = Field(
        default=None,
        description="Acting customer account as 'platform:id' (web:..., telegram:...), if any.",
        examples=["web:3f2a9c", "telegram:123456789"],
    )

    @property
    def subject_type(self) -> str:
        """The last tokens of the event's subject: its type, unless an event kind keeps some
        of its events apart (shared/subjects.py builds the subject from this)."""
        return self.type
