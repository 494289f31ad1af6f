"""Events the live service puts out: the room lifecycle, presence, chat."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import IntegrationEvent
from shared.events.media import Attachment, ImageAttachment, VoiceAttachment

# The subject type of system chat lines (see ChatMessagePosted.subject_type).
SYSTEM_CHAT_TYPE = "chat.system_posted"


class LiveEvent(IntegrationEvent):
    domain = "live"


class RoomOpened(LiveEvent):
    """A host created (scheduled) a room."""

    type: Literal["room.opened"] = "room.opened"
    title: str = Field(max_length=200)
    host_id: str
    scheduled_at: datetime | None = None


class RoomStarted(LiveEvent):
    """The room went live."""

    type: Literal["room.started"] = "room.started"


class RoomEnded(LiveEvent):
    """The show ended; analytics builds the post-stream report on this."""

    type: Literal["room.ended"] = "room.ended"


class ViewerJoined(LiveEvent):
    """A viewer connected to the room (customer_id is set)."""

    type: Literal["viewer.joined"] = "viewer.joined"
    display_name: str = Field(max_length=64)
    referrer_id: str | None = Field(default=None, description="Customer who invited them.")
    external_id: str | None = Field(
        default=None, description="Another account the viewer declared (telegram:..., phone:...)."
    )
    role: Literal["host", "moderator", "committee", "member"] | None = Field(
        default=None,
        description="Their role in the room when they joined; host and moderator are the "
        "room's staff, not viewers (None: not said, events before this field).",
    )


class ViewerLeft(LiveEvent):
    """A viewer's last connection to the room closed."""

    type: Literal["viewer.left"] = "viewer.left"
    watch_seconds: float = Field(ge=0)


class ChatMessagePosted(LiveEvent):
    """A chat line, from the live page or an external group, in the room's conversation."""

    type: Literal["chat.message_posted"] = "chat.message_posted"
    message_id: str
    display_name: str = Field(max_length=64)
    text: str = Field(max_length=2000)
    source: str = Field(
        default="web", description="web, telegram, whatsapp, webhook, import; system (welcomes)"
    )
    reply_to: str | None = None
    attachment: Attachment | None = Field(
        default=None,
        description="A picture, voice clip, link or product card; text is then its caption "
        "(may be empty).",
    )

    other_subject_types: ClassVar[tuple[str, ...]] = (SYSTEM_CHAT_TYPE,)

    @property
    def subject_type(self) -> str:
        # System lines (welcomes) go to a subject of their own in the room's chat: the chat
        # history keeps a room's last lines per subject, and a show's welcomes must not push
        # the conversation out of it (docs/decisions/0018-live-history-and-moderation.md).
        return SYSTEM_CHAT_TYPE if self.source == "system" else self.type


class ChatMediaFetched(LiveEvent):
    """A group's picture or voice note, announced as pending on line `message_id`, was
    fetched and stored (attachment), or could not be (attachment None, reason says why)."""

    type: Literal["chat.media_fetched"] = "chat.media_fetched"
    message_id: str
    attachment: ImageAttachment | VoiceAttachment | None = Field(discriminator="kind")
    reason: str = Field(default="", max_length=300)


class ChatMessageEdited(LiveEvent):
    """A line of the room's chat was edited where it was written (a group member edited
    their message): its new text. `message_id` is the line's (ChatMessagePosted's)."""

    type: Literal["chat.message_edited"] = "chat.message_edited"
    message_id: str
    text: str = Field(max_length=2000)
    source: str = Field(default="web", description="Where it was edited: telegram, whatsapp...")


class RoomPreviewAnnounced(LiveEvent):
    """The host announced the show's preview (预告): when, and what will be sold."""

    type: Literal["room.preview_announced"] = "room.preview_announced"
    text: str = Field(max_length=1000)
    scheduled_at: datetime | None = None
    lineup: list[str] = Field(default_factory=list, description="Offer ids, in show order.")


class RoleChanged(LiveEvent):
    """A viewer's role in the room changed (customer_id is the viewer concerned)."""

    type: Literal["viewer.role_changed"] = "viewer.role_changed"
    role: Literal["host", "moderator", "committee", "member"]
    by: str = Field(description="Who decided (customer id or 'admin').")


class ModerationApplied(LiveEvent):
    """A moderation decision: who (by), what (action, on customer_id), why (reason)."""

    type: Literal["moderation.applied"] = "moderation.applied"
    action: Literal["mute", "unmute", "kick", "ban", "unban", "delete", "block"]
    by: str = Field(description="Moderator's customer id, 'admin', or 'rules' (automatic).")
    reason: str = Field(max_length=300)
    until: datetime | None = Field(default=None, description="End of a mute.")
    message_id: str | None = Field(default=None, description="The message deleted or blocked.")


class ChatMessageDeleted(LiveEvent):
    """A moderator deleted a chat line for everyone."""

    type: Literal["chat.message_deleted"] = "chat.message_deleted"
    message_id: str
    by: str


class ProductPinned(LiveEvent):
    """The host pinned an offer: it is what chat claims ("+1") buy."""

    type: Literal["room.product_pinned"] = "room.product_pinned"
    offer_id: str | None = Field(description="None unpins.")


class LikesSent(LiveEvent):
    """Likes from one viewer, coalesced over a short window."""

    type: Literal["engagement.likes_sent"] = "engagement.likes_sent"
    count: int = Field(ge=1, le=10_000)


class CheckedIn(LiveEvent):
    """A member's daily check-in, with the streak and points it earned."""

    type: Literal["engagement.checked_in"] = "engagement.checked_in"
    day: str = Field(description="ISO date of the check-in (room's day).")
    streak: int = Field(ge=1)
    points: int = Field(ge=0)


class RedPacketSent(LiveEvent):
    """The host funded a red packet: `shares` random shares adding up to the total."""

    type: Literal["red_packet.sent"] = "red_packet.sent"
    packet_id: str
    total_cents: int = Field(gt=0)
    shares: int = Field(gt=0)
    message: str = Field(default="", max_length=200)


class RedPacketGrabbed(LiveEvent):
    """A viewer grabbed one share of a red packet."""

    type: Literal["red_packet.grabbed"] = "red_packet.grabbed"
    packet_id: str
    amount_cents: int = Field(gt=0)
    remaining_shares: int = Field(ge=0)


class RedPacketFinished(LiveEvent):
    """Every share was grabbed; the luckiest grabber is customer_id."""

    type: Literal["red_packet.finished"] = "red_packet.finished"
    packet_id: str
    luckiest_amount_cents: int


class PollOpened(LiveEvent):
    """A poll (C2B: members choose the next design or product)."""

    type: Literal["poll.opened"] = "poll.opened"
    poll_id: str
    question: str = Field(max_length=300)
    options: list[str]


class VoteCast(LiveEvent):
    """One member's vote (one per member per poll)."""

    type: Literal["poll.vote_cast"] = "poll.vote_cast"
    poll_id: str
    option: int = Field(ge=0)


class PollClosed(LiveEvent):
    """The poll closed; counts per option, in option order."""

    type: Literal["poll.closed"] = "poll.closed"
    poll_id: str
    results: list[int]


class AnnouncementPosted(LiveEvent):
    """A scheduled or immediate announcement from the host appeared in the room."""

    type: Literal["room.announcement_posted"] = "room.announcement_posted"
    announcement_id: str
    text: str = Field(max_length=1000)


class RoomRulesChanged(LiveEvent):
    """The host changed the room's group rules (blocked words, links, ads, length, slow mode)."""

    type: Literal["room.rules_changed"] = "room.rules_changed"
    blocked_words: list[str] = Field(default_factory=list)
    block_links: bool = True
    block_ads: bool = True
    max_length: int = Field(default=300, ge=1, le=2000)
    slow_mode_s: float = Field(default=0, ge=0, le=3600)
    members_post_media: bool = Field(
        default=False, description="Members may post images and voice clips (staff always may)."
    )
    by: str


StreamSource = Literal["encoder", "hls_url", "youtube"]


class StreamStarted(LiveEvent):
    """The room's video went on air: the host's encoder is publishing (a take), or the room
    shows a stream hosted elsewhere (an HLS URL, a YouTube Live video) and went live."""

    type: Literal["stream.started"] = "stream.started"
    source: StreamSource
    take: int = Field(ge=1, description="1 for the room's first start, +1 at each restart.")
    protocol: str | None = Field(
        default=None, examples=["srt", "rtmp"], description="How the encoder publishes."
    )
    playback_url: str | None = Field(
        default=None,
        description="Where viewers play it: a path on live (`/rooms/{room_id}/hls/live.m3u8`) "
        "or the hosted stream's https URL; None for YouTube.",
    )
    youtube_video_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{11}$")


class StreamStopped(LiveEvent):
    """The room's video went off air, and why: the encoder stopped or dropped, the stream
    key it used was rotated or revoked, the room ended, or the host chose another source."""

    type: Literal["stream.stopped"] = "stream.stopped"
    source: StreamSource
    take: int = Field(ge=1)
    reason: Literal["encoder_gone", "key_revoked", "room_ended", "source_changed"]
    on_air_seconds: float = Field(ge=0, description="How long this take was on air.")
