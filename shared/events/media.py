"""What a chat line or an offer carries besides text: pictures, voice, links, product cards.

Stored things travel by name, never by bytes: an object name (`<sha256>.<ext>`) in
the bucket its owner serves (shared/objects.py). Where a page fetches them:
- a product photo's sizes: orders, `GET {orders_url}/photos/{name}`;
- a room's image or voice clip: live, `GET /rooms/{room_id}/media/{name}`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

OBJECT_NAME = r"^[0-9a-f]{64}\.[a-z0-9]{2,5}$"
ObjectName = Annotated[
    str,
    Field(
        pattern=OBJECT_NAME,
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.jpg"],
    ),
]


class ImageSizes(BaseModel):
    """One picture, upright and without EXIF, as JPEGs of three sizes (long side 240, 720,
    1600 px, never enlarged); width and height are the largest size's."""

    thumb: ObjectName
    card: ObjectName
    full: ObjectName
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    alt: str = Field(default="", max_length=300, description="Said by screen readers.")


class ImageAttachment(BaseModel):
    kind: Literal["image"] = "image"
    image: ImageSizes


class VoiceAttachment(BaseModel):
    kind: Literal["voice"] = "voice"
    object: ObjectName
    content_type: str = Field(examples=["audio/webm", "audio/ogg", "audio/mp4"])
    bytes: int = Field(ge=1)
    duration_s: float = Field(gt=0, le=600)


class LinkAttachment(BaseModel):
    """A link shown as a link: the server never fetches it (no previews: that is SSRF)."""

    kind: Literal["link"] = "link"
    url: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$")


class ProductAttachment(BaseModel):
    """ "Look at this one": a card that opens the offer, as it was when posted."""

    kind: Literal["product"] = "product"
    offer_id: str = Field(max_length=64)
    title: str = Field(default="", max_length=200)
    price_cents: int | None = Field(default=None, ge=0)
    photo: ImageSizes | None = Field(
        default=None, description="The product's first photo (orders)."
    )


class PendingAttachment(BaseModel):
    """A picture or voice note from a group, still being fetched from the platform: a
    `chat.media_fetched` event follows with what was fetched, or that it could not be."""

    kind: Literal["pending"] = "pending"
    media: Literal["image", "voice"]


Attachment = Annotated[
    ImageAttachment | VoiceAttachment | LinkAttachment | ProductAttachment | PendingAttachment,
    Field(discriminator="kind"),
]
