"""Events the ingest service puts out: what happened in an external group chat.

The envelope's `id` is the platform's own identity of the thing
(`telegram:<chat>:<message>`), so a webhook delivered twice, or a message that
arrives by webhook and again by import, is one event (JetStream drops the second
within the INGEST stream's 24 h duplicate window; readers dedupe by id after).
`customer_id` is the external account as `<platform>:<user id>`; analytics merges
accounts of one person later.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from shared.events.envelope import IntegrationEvent

PLATFORM_PATTERN = r"^[a-z0-9_-]{1,32}$"
# The subject a room's line with a picture or voice note goes to: ingest's media fetcher
# reads only these, not every chat line (`ingest.<room>.external.message_with_media`).
MEDIA_TO_FETCH_TYPE = "external.message_with_media"


class IngestEvent(IntegrationEvent):
    domain = "ingest"

    platform: str = Field(
        pattern=PLATFORM_PATTERN,
        description="telegram, whatsapp, or the platform a signed webhook named.",
        examples=["telegram"],
    )
    chat_id: str = Field(max_length=128, description="The group chat, as the platform names it.")
    external_user_id: str = Field(max_length=128, description="The account on that platform.")
    display_name: str = Field(max_length=128)
    via: Literal["webhook", "import", "replay"] = Field(
        default="webhook", description="How ingest got it: live webhook, history import, replay."
    )


class ExternalMedia(BaseModel):
    """A picture or voice note in a group message, as the platform names it: ingest fetches
    it (Telegram getFile, WhatsApp media id) into the room's media."""

    kind: Literal["image", "voice"]
    file_ref: str = Field(max_length=512, description="Telegram file_id, WhatsApp media id.")
    content_type: str | None = Field(default=None, max_length=100)
    bytes: int | None = Field(default=None, ge=0, description="As the platform says, if it does.")
    duration_s: float | None = Field(default=None, ge=0)


class ExternalMessageReceived(IngestEvent):
    """A chat line written in an external group chat bound to the room (occurred_at: sent)."""

    type: Literal["external.message_received"] = "external.message_received"
    message_id: str = Field(max_length=128, description="The platform's id of the message.")
    text: str = Field(max_length=4096)
    reply_to: str | None = Field(
        default=None, description="Platform id of the message this one answers."
    )
    edited: bool = Field(
        default=False, description="An edit of message_id; occurred_at is the edit."
    )
    media: ExternalMedia | None = Field(default=None, description="text is then its caption.")
    in_room: bool = Field(
        default=False,
        description="Also posted to the room's chat (chat.message_posted, message_id = this "
        "event's id); with media, its picture or voice note follows there as "
        "chat.media_fetched. Such lines are published on `external.message_with_media`.",
    )

    other_subject_types: ClassVar[tuple[str, ...]] = (MEDIA_TO_FETCH_TYPE,)

    @property
    def subject_type(self) -> str:
        # Only the lines whose media ingest fetches get a subject of their own, so the
        # fetcher's durable consumer reads them and not every chat line (ARCHITECTURE 6).
        return MEDIA_TO_FETCH_TYPE if self.media is not None and self.in_room else self.type


class ExternalMemberJoined(IngestEvent):
    """Someone joined (or was added to) an external group chat bound to the room."""

    type: Literal["external.member_joined"] = "external.member_joined"
    added_by: str | None = Field(default=None, description="Who added them, if someone did.")


class ExternalMemberLeft(IngestEvent):
    """Someone left (or was removed from) an external group chat bound to the room."""

    type: Literal["external.member_left"] = "external.member_left"
    removed_by: str | None = None


class ExternalReactionPosted(IngestEvent):
    """A reaction to a message in an external chat; emoji None means it was removed."""

    type: Literal["external.reaction_posted"] = "external.reaction_posted"
    message_id: str = Field(max_length=128, description="The reaction's own platform id.")
    target_message_id: str = Field(max_length=128)
    emoji: str | None = Field(default=None, max_length=32)


INGEST_EVENTS: tuple[type[IntegrationEvent], ...] = (
    ExternalMessageReceived,
    ExternalMemberJoined,
    ExternalMemberLeft,
    ExternalReactionPosted,
)
