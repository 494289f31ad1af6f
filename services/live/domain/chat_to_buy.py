"""Chat-to-buy for lines from external group chats (Telegram, WhatsApp, signed webhooks).

The web chat claims in the websocket handler; external lines reach the room as
ChatMessagePosted from ingest and are claimed here, once per line: the claim id
is the chat line's id (platform:chat:message), so a redelivered line is the same
order, and the command's own id dedupes it on the bus.
"""

from __future__ import annotations

from services.live.domain.claims import parse_claim
from services.live.domain.rooms import RoomStatus
from shared.events import ChatMessagePosted, PlaceClaim

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
    )
