"""Chat-to-buy for lines from external group chats (Telegram, WhatsApp, signed webhooks).

The web chat claims in the websocket handler; external lines reach the room as
ChatMessagePosted from ingest and are claimed here, once per line: the claim id
is the chat line's id (platform:chat:message), so a redelivered line is the same
order, and the command's own id dedupes it on the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.live.domain.claims import parse_claim
from services.live.domain.rooms import RoomStatus
from shared.events import AmendClaim, ChatMessageEdited, ChatMessagePosted, PlaceClaim

# Live's own lines (web chat claims in the websocket; system lines never buy).
NOT_EXTERNAL = {"web", "system"}
CLAIM_SOURCES = {"telegram", "whatsapp", "webhook"}


def may_be_claim(line: ChatMessagePosted) -> bool:
    """Cheap test before anything reads the room: an external line that reads as a buy."""
    return (
        line.source not in NOT_EXTERNAL
        and line.customer_id is not None
        and parse_claim(line.text) is not None
    )


def external_claim(
    line: ChatMessagePosted, room_status: str, pinned_offer_id: str | None
) -> PlaceClaim | None:
    """The claim an external buy line makes on the room's pinned offer, or None."""
    if not may_be_claim(line) or pinned_offer_id is None or room_status == RoomStatus.ENDED:
        return None
    intent = parse_claim(line.text)
    if intent is None:
        return None
    return PlaceClaim(
        id=f"claim:{line.message_id}",
        room_id=line.room_id,
        customer_id=line.customer_id,
        claim_id=line.message_id,
        offer_id=pinned_offer_id,
        quantity=intent.quantity,
        variant=intent.variant,
        source=line.source if line.source in CLAIM_SOURCES else "chat",
        source_text=line.text[:500],
        buyer_name=line.display_name,
    )


# ---- edits ("+1" -> "+2"): docs/decisions/0035-edited-claims.md ---------------------------


@dataclass(frozen=True)
class LineVersions:
    """An edited line as the room's history had it before the edit: who wrote it, when,
    and its text as first sent and after each earlier edit, oldest first."""

    source: str
    customer_id: str | None
    posted_at: datetime
    texts: tuple[str, ...]


def claimed_quantity(texts: tuple[str, ...]) -> int | None:
    """The quantity the line's latest buying version asked for (the claim orders holds, if
    it held one); None when no version of the line read as a buy."""
    for text in reversed(texts):
        if (intent := parse_claim(text)) is not None:
            return intent.quantity
    return None


def may_change_a_claim(edit: ChatMessageEdited) -> bool:
    """Cheap test before the history is read: a group's edit that reads as a buy. An edit
    that no longer reads as one changes nothing (it is not a cancel: the buyer cancels from
    the pay page, and the line's order stands)."""
    return (
        edit.source not in NOT_EXTERNAL
        and edit.customer_id is not None
        and parse_claim(edit.text) is not None
    )


def edited_claim(
    edit: ChatMessageEdited,
    line: LineVersions,
    room_status: str,
    pinned_offer_id: str | None,
    fresh_for: timedelta,
) -> AmendClaim | PlaceClaim | None:
    """What an edit of a group line does to its claim (the claim id is the line's id):

    - the line read as a buy before, and the edit asks another quantity: AmendClaim;
    - the same quantity (a variant or a typo fixed), or no longer a buy: nothing;
    - the line never read as a buy and now does: a new claim on the pinned offer, only
      while the line is fresh (posted within `fresh_for` of the edit, as ingest shows new
      lines): a "+1" edited into an old line must not buy what is pinned now.
    """
    if not may_change_a_claim(edit) or line.source in NOT_EXTERNAL:
        return None
    if line.customer_id != edit.customer_id:
        return None  # only the author edits a line
    intent = parse_claim(edit.text)
    assert intent is not None
    claimed = claimed_quantity(line.texts)
    if claimed is not None:
        if intent.quantity == claimed:
            return None
        return AmendClaim(
            id=f"amend:{edit.id}",
            room_id=edit.room_id,
            customer_id=edit.customer_id,
            claim_id=edit.message_id,
            quantity=intent.quantity,
            source_text=edit.text[:500],
        )
    if edit.occurred_at - line.posted_at > fresh_for:
        return None
    if pinned_offer_id is None or room_status == RoomStatus.ENDED:
        return None
    return PlaceClaim(
        id=f"claim:{edit.message_id}",
        room_id=edit.room_id,
        customer_id=edit.customer_id,
        claim_id=edit.message_id,
        offer_id=pinned_offer_id,
        quantity=intent.quantity,
        variant=intent.variant,
        source=edit.source if edit.source in CLAIM_SOURCES else "chat",
        source_text=edit.text[:500],
    )
