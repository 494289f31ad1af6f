"""What people post besides text: pictures, voice clips, links, product cards.

Who may: the host and moderators always; members and the committee only when the room's
rules say `members_post_media` (a link follows the `block_links` rule instead, as it does
in chat). What a post is: a chat line whose text is its caption and whose attachment is
the thing posted, so the history, analytics and chat-to-buy see it like any line (a
caption reads as a buy only if it is one: an empty caption never is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.live.domain.chat import Refused, compose_chat
from services.live.domain.moderation import TRUSTED, Allowed, RoomRules, check_link
from services.live.domain.viewers import Role, Viewer
from shared.events import ChatMessagePosted
from shared.events.media import (
    OBJECT_NAME,
    Attachment,
    ImageAttachment,
    ImageSizes,
    ProductAttachment,
    VoiceAttachment,
)

_MEDIA_NAME = re.compile(OBJECT_NAME)


def may_post_media(role: Role, rules: RoomRules) -> Refused | None:
    """Pictures, voice clips and product cards: staff, or everyone where the rules allow."""
    if role in TRUSTED or rules.members_post_media:
        return None
    return Refused(
        "media_not_allowed",
        "Only the host and moderators post pictures, voice clips and product cards here.",
    )


@dataclass(frozen=True)
class MayPost:
    """What someone may post besides text now: what the pages offer them (the server still
    checks each post against the committed standing)."""

    media: bool  # pictures, voice clips, product cards
    links: bool


def may_post(role: Role, rules: RoomRules, muted: bool = False) -> MayPost:
    """The same rules a post is checked by (may_post_media, check_link), for the pages."""
    if muted:
        return MayPost(media=False, links=False)
    return MayPost(
        media=may_post_media(role, rules) is None,
        # A link with no words in it: only the role and `block_links` decide.
        links=isinstance(check_link(rules, role, ""), Allowed),
    )


def compose_post(
    viewer: Viewer, caption: str, attachment: Attachment
) -> ChatMessagePosted | Refused:
    """The chat line of a post: the caption laid out as chat is (it may be empty)."""
    return compose_chat(viewer, caption, attachment)


def product_card(
    offer_id: str, title: str, price_cents: int | None, photos: list[ImageSizes]
) -> ProductAttachment:
    """The offer as it is when the card is posted: a later price change does not rewrite it."""
    return ProductAttachment(
        offer_id=offer_id,
        title=title[:200],
        price_cents=price_cents if price_cents is None or price_cents >= 0 else None,
        photo=photos[0] if photos else None,
    )


def is_media_name(name: str) -> bool:
    """A room's stored object as lines name it: `<sha256>.<ext>` (the room is the scope)."""
    return bool(_MEDIA_NAME.match(name))


def stored_names(attachment: Attachment | None) -> set[str]:
    """The room's stored objects an attachment shows (ROOM_MEDIA): an image's sizes, a voice
    clip. A product card's photo is orders' (PRODUCT_PHOTOS), not the room's."""
    if isinstance(attachment, ImageAttachment):
        sizes = attachment.image
        return {sizes.thumb, sizes.card, sizes.full}
    if isinstance(attachment, VoiceAttachment):
        return {attachment.object}
    return set()
