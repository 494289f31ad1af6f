"""Commands: requests one service asks another to carry out (imperative names).

They share the event envelope (id, version, time, room, customer) so the same
dedupe, dead-letter and audit machinery applies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.events.envelope import IntegrationEvent
from shared.events.ingest import PLATFORM_PATTERN, OutboundKind


class Command(IntegrationEvent):
    domain = "cmd"


class PlaceClaim(Command):
    """Buy `quantity` of an offer for customer_id; from a buy button or a chat line."""

    type: Literal["orders.place_claim"] = "orders.place_claim"
    claim_id: str = Field(description="Idempotency key: the same claim id is one order.")
    offer_id: str
    quantity: int = Field(ge=1, le=99)
    variant: str | None = None
    source: Literal["button", "chat", "telegram", "whatsapp", "webhook"] = "button"
    source_text: str | None = Field(default=None, max_length=500)
    referrer_id: str | None = None
    buyer_name: str = Field(
        default="", max_length=64, description="The name the buyer shows (on their order)."
    )


class AmendClaim(Command):
    """A group member edited their buying line ("+1" -> "+2"): change the quantity of the
    order that line placed, while it is unpaid (docs/decisions/0035-edited-claims.md)."""

    type: Literal["orders.amend_claim"] = "orders.amend_claim"
    claim_id: str = Field(description="The claim the edited line made (its line's key).")
    quantity: int = Field(ge=1, le=99)
    source_text: str | None = Field(default=None, max_length=500)


class LinkButton(BaseModel):
    """A URL button under a message (Telegram inline keyboard, WhatsApp CTA URL)."""

    text: str = Field(min_length=1, max_length=40)
    url: str = Field(max_length=2000, pattern=r"^https?://")


class Mention(BaseModel):
    """A member to @-mention (Telegram text mention, WhatsApp mention, WeCom mentioned_list)."""

    user_id: str = Field(max_length=128, description="The account on that platform.")
    name: str = Field(max_length=128)


class SendToGroup(Command):
    """One message for one bound group, queued by ingest's planner and sent by its sender
    (ARCHITECTURE rule 9). `id` is `key`: one message per (event, group) whatever is
    redelivered. The text is plain: each platform's adapter escapes and formats it."""

    type: Literal["ingest.send_to_group"] = "ingest.send_to_group"
    key: str = Field(max_length=400)
    platform: str = Field(pattern=PLATFORM_PATTERN)
    chat_id: str = Field(max_length=128)
    kind: OutboundKind
    source_event_id: str
    title: str | None = Field(default=None, max_length=200, description="Shown bold, first.")
    text: str = Field(max_length=3500)
    photo_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    buttons: list[LinkButton] = Field(default_factory=list, max_length=3)
    mention: Mention | None = None
    reply_to: str | None = Field(
        default=None, description="The platform's id of the message in that chat to answer."
    )
    edit_of: str | None = Field(
        default=None,
        description="The key of an earlier message of ours to edit instead of posting (a "
        "platform that cannot edit gets a reply to it).",
    )
    pin: bool = False
    not_before: datetime | None = Field(
        default=None, description="Not sent before this time (a reminder's moment)."
    )
    order_id: str | None = Field(
        default=None, description="The order a claim's outcome or reminder tells of."
    )
    language: Literal["en", "zh"] = Field(default="en", description="The group's language.")
    whatsapp_template: str | None = Field(
        default=None,
        max_length=512,
        description="The group's approved WhatsApp template for outside the 24-hour window "
        "(else ingest's WHATSAPP_TEMPLATE_NAME).",
    )
