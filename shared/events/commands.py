"""Commands: requests one service asks another to carry out (imperative names).

They share the event envelope (id, version, time, room, customer) so the same
dedupe, dead-letter and audit machinery applies.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.events.envelope import IntegrationEvent


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
