"""The generic signed webhook: a documented JSON schema for any other platform or bot.

One event per request. The sender signs `<timestamp>.<raw body>` (see
`signatures.sign_generic`); the body is one of the models below. Unknown fields
are ignored, so senders may add their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from services.ingest.domain.model import ChatMessage, MemberChange, Normalised, UnknownShape
from shared.events.ingest import PLATFORM_PATTERN

# Ids become part of the dedupe key `platform:chat:message`: no spaces, no colons.
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s:]+$")]


class GenericUser(BaseModel):
    id: Id = Field(description="The author's account id on the platform.", examples=["u-7"])
    name: str = Field(min_length=1, max_length=128, examples=["Lily 莉莉"])


class _GenericBase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    platform: str = Field(
        default="webhook",
        pattern=PLATFORM_PATTERN,
        description="Your platform's short name; customers become `<platform>:<user id>`.",
        examples=["line"],
    )
    chat_id: Id = Field(description="The group chat; bind it to a room with POST /bindings.")
    user: GenericUser


class GenericMessage(_GenericBase):
    """A chat line (or an edit of one, with edited_at)."""

    type: Literal["message"] = "message"
    message_id: Id = Field(description="Unique in the chat; the dedupe key.", examples=["m-1001"])
    text: str = Field(min_length=1, max_length=4096, examples=["+1 樱桃 two boxes"])
    sent_at: datetime = Field(description="ISO 8601; without a zone it is UTC.")
    reply_to: Id | None = Field(default=None, description="message_id this one answers.")
    edited_at: datetime | None = Field(default=None, description="Set for an edit.")


class GenericMember(_GenericBase):
    """Someone joined or left the chat."""

    type: Literal["member_joined", "member_left"]
    event_id: Id = Field(description="Unique id of this join/leave; the dedupe key.")
    at: datetime
    by: Id | None = Field(default=None, description="Who added or removed them.")


GenericEvent = Annotated[GenericMessage | GenericMember, Field(discriminator="type")]
generic_event: TypeAdapter[GenericMessage | GenericMember] = TypeAdapter(GenericEvent)


def _utc(at: datetime) -> datetime:
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (OverflowError, ValueError):  # year 9999 with a negative offset, say
        raise UnknownShape("time out of range") from None


def normalise_generic(body: Any) -> Normalised:
    try:
        event = generic_event.validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UnknownShape(f"{where}: {first['msg']}") from None
    if isinstance(event, GenericMessage):
        edited = event.edited_at is not None
        return Normalised(
            items=(
                ChatMessage(
                    platform=event.platform,
                    chat_id=event.chat_id,
                    message_id=event.message_id,
                    user_id=event.user.id,
                    user_name=event.user.name,
                    text=event.text,
                    at=_utc(event.edited_at or event.sent_at),
                    reply_to=event.reply_to,
                    edited=edited,
                    sent_at=_utc(event.sent_at) if edited else None,
                ),
            )
        )
    return Normalised(
        items=(
            MemberChange(
                platform=event.platform,
                chat_id=event.chat_id,
                ref=event.event_id,
                user_id=event.user.id,
                user_name=event.user.name,
                joined=event.type == "member_joined",
                at=_utc(event.at),
                by=event.by,
            ),
        )
    )
