"""The viewer websocket protocol: one typed model per frame, both directions.

Every frame is a JSON object with a `type`. docs/websocket-protocol.md is the
prose version of this module.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.events.media import (
    Attachment,
    ImageAttachment,
    ImageSizes,
    VoiceAttachment,
)

# ---- client -> server ---------------------------------------------------------------

REF_MAX = 64


class ClientFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: str | None = Field(
        default=None,
        max_length=REF_MAX,
        description="Echoed back in the error or notice frame it caused.",
    )


class SendChat(ClientFrame):
    type: Literal["chat"]
    text: str = Field(max_length=2000)


class Ping(ClientFrame):
    type: Literal["ping"]


class Like(ClientFrame):
    type: Literal["like"]
    count: int = Field(default=1, ge=1, le=50)


class CheckIn(ClientFrame):
    type: Literal["checkin"]


class GrabRedPacket(ClientFrame):
    type: Literal["grab"]
    packet_id: str = Field(max_length=64)


class Vote(ClientFrame):
    type: Literal["vote"]
    poll_id: str = Field(max_length=64)
    option: int = Field(ge=0, le=20)


class Claim(ClientFrame):
    """Buy button: the pinned offer unless offer_id says otherwise."""

    type: Literal["claim"]
    offer_id: str | None = Field(default=None, max_length=64)
    quantity: int = Field(default=1, ge=1, le=99)
    variant: str | None = Field(default=None, max_length=40)


class Moderate(ClientFrame):
    """Moderators and the host act on a member or a message."""

    type: Literal["moderate"]
    action: Literal["mute", "unmute", "kick", "ban", "unban", "delete"]
    customer_id: str | None = Field(default=None, max_length=128)
    message_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=300)
    minutes: int = Field(default=10, ge=1, le=7 * 24 * 60)


class PostLink(ClientFrame):
    """Post a link (shown as a link: the server never fetches it), with words about it."""

    type: Literal["link"]
    url: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$")
    text: str = Field(default="", max_length=2000)


class PostProduct(ClientFrame):
    """Post a product card ("look at this one") that opens the offer."""

    type: Literal["product"]
    offer_id: str = Field(max_length=64)
    text: str = Field(default="", max_length=2000)


def ref_of(text: str) -> str | None:
    """The `ref` of a frame that is refused as a whole (unknown type, a wrong field), so its
    error still carries it; None when the frame has no usable ref (not JSON, not a string,
    too long)."""
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    ref = raw.get("ref") if isinstance(raw, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= REF_MAX else None


AnyClientFrame = Annotated[
    SendChat
    | Ping
    | Like
    | CheckIn
    | GrabRedPacket
    | Vote
    | Claim
    | Moderate
    | PostLink
    | PostProduct,
    Field(discriminator="type"),
]
client_frame = TypeAdapter[AnyClientFrame](AnyClientFrame)

# ---- server -> client ---------------------------------------------------------------


class ChatLine(BaseModel):
    id: str
    customer_id: str | None
    name: str
    text: str
    source: str
    at: datetime
    attachment: Attachment | None = Field(
        default=None,
        description="A picture (sizes on live: /rooms/{room_id}/media/{name}), a voice clip "
        "(same place), a link, a product card (photo on orders: {orders_url}/photos/{name}), "
        "or a group's media still being fetched (an `attached` frame follows).",
    )
    edited: bool = Field(
        default=False, description="Its author edited it where they wrote it (a group)."
    )


class VariantView(BaseModel):
    """One variant (size, colour) of the offer's product, and what is left of it."""

    name: str = Field(examples=["XL"])
    left: int | None = Field(
        default=None, description="Units left of it; null when the variants share the offer's."
    )
    sold_out: bool = False


class OfferView(BaseModel):
    offer_id: str
    kind: str = ""
    title: str = ""
    price_cents: int = 0
    stock: int = 0
    left: int = 0
    per_buyer_limit: int = 1
    ends_at: datetime | None = None
    sold_out: bool = False
    closed: bool = False
    buyers: int | None = Field(default=None, description="Group buy: committed buyers.")
    next_tier_at: int | None = Field(default=None, description="Group buy: buyers for next tier.")
    photos: list[ImageSizes] = Field(
        default_factory=list,
        description="On orders: {orders_url}/photos/{name}; first is the card's.",
    )
    variants: list[VariantView] | None = Field(
        default=None,
        description="The product's variants in order (a claim names one); null when this "
        "frame does not say (the terms are then read from orders: GET /offers/{offer_id}).",
    )


class StreamFrame(BaseModel):
    """The room's video: what to play and its state. `live` plays `url` (HLS: a path on
    live or a hosted https URL) or the YouTube video; `reconnecting` is the host's encoder
    gone while the show goes on (keep the last picture, it comes back); `ended` offers the
    replay (GET /rooms/{room_id}/replay)."""

    type: Literal["stream"] = "stream"
    state: Literal["offline", "live", "reconnecting", "ended"]
    source: Literal["encoder", "hls_url", "youtube"] = "encoder"
    url: str | None = Field(default=None, examples=["/rooms/r_8f3a/hls/live.m3u8"])
    youtube_video_id: str | None = None
    since: datetime | None = Field(default=None, description="When this take went on air.")


class MayPost(BaseModel):
    """What you may post besides text, as the room's rules and your role say now. The host
    and moderators always may; members and the committee pictures, voice clips and product
    cards where the rules say `members_post_media`, links where they do not `block_links`;
    nothing while muted. A `rules` frame or a `role` notice may change it."""

    media: bool = Field(description="Pictures, voice clips and product cards.")
    links: bool = Field(description="Links (the `link` frame).")


class Welcome(BaseModel):
    type: Literal["welcome"] = "welcome"
    room_id: str
    title: str
    status: str
    you: str = Field(description="Your customer id.")
    role: str = Field(description="Your role: host, moderator, committee or member.")
    viewers: int
    pinned: OfferView | None = Field(description="The pinned offer, if any.")
    history: list[ChatLine] = Field(description="The last chat lines, oldest first.")
    stream: StreamFrame | None = Field(default=None, description="The room's video now.")
    may_post: MayPost = Field(description="What you may post besides text, now.")


class ChatBatch(BaseModel):
    """Chat lines that arrived since the previous frame, in order."""

    type: Literal["chat"] = "chat"
    messages: list[ChatLine]


class Presence(BaseModel):
    type: Literal["presence"] = "presence"
    viewers: int


class RoomStatus(BaseModel):
    type: Literal["room"] = "room"
    status: str


class ChatDeleted(BaseModel):
    """A moderator deleted this line for everyone: remove it from the screen."""

    type: Literal["deleted"] = "deleted"
    message_id: str


class ChatEdited(BaseModel):
    """A group member edited this line where they wrote it: show `text` instead, marked
    as edited. Only lines from the groups are edited; lines you never got are ignored."""

    type: Literal["edited"] = "edited"
    message_id: str
    text: str


class Attached(BaseModel):
    """A group's picture or voice note on line `message_id` arrived (attachment), or could
    not be fetched (attachment null, reason): replace the line's pending attachment."""

    type: Literal["attached"] = "attached"
    message_id: str
    attachment: ImageAttachment | VoiceAttachment | None = Field(discriminator="kind")
    reason: str = ""


class RulesFrame(BaseModel):
    """The host changed the room's rules: what members may post besides text. The host and
    moderators always may post both; members and the committee: `media` = members_post_media,
    `links` = not block_links."""

    type: Literal["rules"] = "rules"
    members_post_media: bool
    block_links: bool


class Pinned(BaseModel):
    type: Literal["pinned"] = "pinned"
    offer: OfferView | None


class OfferUpdate(BaseModel):
    """An offer opened or changed (stock left is coalesced to the latest value per tick)."""

    type: Literal["offer"] = "offer"
    offer: OfferView


class Likes(BaseModel):
    type: Literal["likes"] = "likes"
    total: int


class RedPacketUpdate(BaseModel):
    type: Literal["red_packet"] = "red_packet"
    packet_id: str
    status: Literal["open", "finished"]
    shares: int
    remaining: int
    message: str = ""
    luckiest: str | None = Field(default=None, description="Luckiest grabber's customer id.")
    luckiest_amount_cents: int | None = None


class PollUpdate(BaseModel):
    type: Literal["poll"] = "poll"
    poll_id: str
    question: str
    options: list[str]
    counts: list[int]
    closed: bool = False


class Announcement(BaseModel):
    type: Literal["announcement"] = "announcement"
    text: str


class ModerationNotice(BaseModel):
    """A moderation decision everyone sees (mute, kick, ban, delete), with why."""

    type: Literal["moderation"] = "moderation"
    action: str
    customer_id: str | None
    reason: str


class Notice(BaseModel):
    """Private to you: your claim, your order, your check-in, your red packet share."""

    type: Literal["notice"] = "notice"
    kind: str = Field(examples=["order_placed", "claim_rejected", "checked_in", "grabbed"])
    message: str
    data: dict[str, object] = Field(default_factory=dict)
    ref: str | None = None


class Pong(BaseModel):
    type: Literal["pong"] = "pong"


class ErrorFrame(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None


class Gap(BaseModel):
    """You were too slow: this many frames were dropped. Reload history to catch up."""

    type: Literal["gap"] = "gap"
    dropped: int


AnyServerFrame = Annotated[
    Welcome
    | ChatBatch
    | Presence
    | RoomStatus
    | StreamFrame
    | ChatDeleted
    | ChatEdited
    | Attached
    | RulesFrame
    | Pinned
    | OfferUpdate
    | Likes
    | RedPacketUpdate
    | PollUpdate
    | Announcement
    | ModerationNotice
    | Notice
    | Pong
    | ErrorFrame
    | Gap,
    Field(discriminator="type"),
]


def json_schema() -> dict[str, object]:
    """Both directions as JSON Schema: docs/api/live.websocket.json is generated from this."""
    return {
        "title": "Qunlive viewer websocket protocol",
        "description": "See docs/websocket-protocol.md. Every frame is one JSON text object.",
        "client_to_server": TypeAdapter(AnyClientFrame).json_schema(),
        "server_to_client": TypeAdapter(AnyServerFrame).json_schema(),
    }
