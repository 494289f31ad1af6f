"""Events the ingest service puts out: what happened in an external group chat.

The envelope's `id` is the platform's own identity of the thing
(`telegram:<chat>:<message>`), so a webhook delivered twice, or a message that
arrives by webhook and again by import, is one event (JetStream drops the second
within the INGEST stream's 24 h duplicate window; readers dedupe by id after).
`customer_id` is the external account as `<platform>:<user id>`; analytics merges
accounts of one person later.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Base64Bytes, BaseModel, Field

from shared.events.envelope import IntegrationEvent

PLATFORM_PATTERN = r"^[a-z0-9_-]{1,32}$"
# The subject a room's line with a picture or voice note goes to: ingest's media fetcher
# reads only these, not every chat line (`ingest.<room>.external.message_with_media`).
MEDIA_TO_FETCH_TYPE = "external.message_with_media"


class RawPayload(BaseModel):
    """A webhook body exactly as ingest received it, kept for a replay after a fix."""

    source: Literal["telegram", "whatsapp", "webhook"] = Field(
        description="The endpoint it came to, which names its normaliser (`webhook`: the "
        "signed generic one)."
    )
    body: Base64Bytes = Field(description="The body's bytes, base64 (byte-exact).")


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
    chat_title: str | None = Field(
        default=None,
        max_length=128,
        description="The group's title as the platform said it with this update, if it did "
        "(analytics names the group in the report).",
    )
    raw: RawPayload | None = Field(
        default=None,
        description="The webhook body this event came from, on the first event stored from "
        "it (a body with several items carries it once): the archive `python -m "
        "services.ingest.replay` reads. None on the other events of the body, on imports "
        "and replays.",
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
        "event's id) by ingest's `ingest-room-lines` consumer of this stream; with media, "
        "its picture or voice note follows there as chat.media_fetched. Such lines are "
        "published on `external.message_with_media`. On an edit: the room's line is edited "
        "(chat.message_edited) if the original's line is in the room.",
    )
    original_sent_at: datetime | None = Field(
        default=None,
        description="An edit: when the original was sent, if the platform said (Telegram "
        "`date`, the generic `sent_at`); where the search for its room line starts.",
    )

    other_subject_types: ClassVar[tuple[str, ...]] = (MEDIA_TO_FETCH_TYPE,)

    @property
    def subject_type(self) -> str:
        # Only the lines whose media ingest fetches get a subject of their own, so the
        # fetcher's durable consumer reads them and not every chat line (ARCHITECTURE 6).
        return (
            MEDIA_TO_FETCH_TYPE
            if self.media is not None and self.in_room and not self.edited
            else self.type
        )


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


# What the show says in a bound group (docs/decisions/0033-what-goes-to-the-groups.md).
# Each kind can be switched per binding by the host; its text is a template in English and
# Chinese.
OutboundKind = Literal[
    "preview",  # the show is scheduled: when, the lineup, the room link (pinned)
    "live",  # we are live
    "offer",  # the pinned or opened offer: photo, price, stock left, buy link
    "claim_outcome",  # a reply to the buyer's own "+1": held and pay by, or sold out
    "reminder",  # pay by ... before an unpaid order expires
    "red_packet",  # a red packet, with its link
    "announcement",  # the room's scheduled announcements, mirrored
    "welcome",  # an @-mention of a new member
    "thank_you",  # after the show, with the report's highlights
]
OUTBOUND_KINDS: tuple[str, ...] = OutboundKind.__args__  # type: ignore[attr-defined]


class OutboundEvent(IntegrationEvent):
    """What ingest did with a message to a bound group (room_id: the room it is about)."""

    domain = "ingest"

    platform: str = Field(pattern=PLATFORM_PATTERN, examples=["telegram"])
    chat_id: str = Field(max_length=128)
    kind: OutboundKind
    key: str = Field(
        max_length=400,
        description="The message's identity, one per (event, group): `<event id>:<platform>:"
        "<chat>`, with a suffix for a later step of the same event (`:edit`, `:reminder`).",
    )


class GroupMessageSent(OutboundEvent):
    """A message reached a bound group (or an earlier one was edited there): its platform
    id, for reach per group and for a later edit or delete (customer_id: the buyer, for a
    claim's outcome and its reminder)."""

    type: Literal["group.message_sent"] = "group.message_sent"
    platform_message_id: str = Field(max_length=128)
    edited: bool = Field(default=False, description="An edit of an earlier message of ours.")
    source_event_id: str = Field(description="The event the message tells of.")
    order_id: str | None = None


class GroupDeliveryFailed(OutboundEvent):
    """A message could not be delivered, for good (retries are not failures): the
    platform's reason. `binding_paused`: the group refuses the bot (removed, chat gone,
    template rejected), so its binding is paused until the host resumes it."""

    type: Literal["group.delivery_failed"] = "group.delivery_failed"
    code: str = Field(max_length=64, examples=["bot_removed", "chat_not_found"])
    detail: str = Field(default="", max_length=500, description="The platform's own words.")
    binding_paused: bool = False


INGEST_EVENTS: tuple[type[IntegrationEvent], ...] = (
    ExternalMessageReceived,
    ExternalMemberJoined,
    ExternalMemberLeft,
    ExternalReactionPosted,
    GroupMessageSent,
    GroupDeliveryFailed,
)
