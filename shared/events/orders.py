"""Events the orders service puts out that rooms and analytics read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.envelope import IntegrationEvent


class OrdersEvent(IntegrationEvent):
    domain = "orders"


class OfferOpened(OrdersEvent):
    """An offer (flash sale, group buy, pre-sale) opened for buying in the room."""

    type: Literal["offer.opened"] = "offer.opened"
    offer_id: str
    kind: Literal["flash_sale", "group_buy", "pre_sale"]
    title: str
    price_cents: int = Field(ge=0)
    stock: int = Field(ge=0)
    per_buyer_limit: int = Field(ge=1)
    ends_at: datetime | None = None


class StockChanged(OrdersEvent):
    """Units left on an offer (coalesced: only the latest value matters)."""

    type: Literal["offer.stock_changed"] = "offer.stock_changed"
    offer_id: str
    left: int = Field(ge=0)


class OfferSoldOut(OrdersEvent):
    """No unit left; new buyers join the waitlist."""

    type: Literal["offer.sold_out"] = "offer.sold_out"
    offer_id: str


class OfferClosed(OrdersEvent):
    """The offer closed (time up or the host's word)."""

    type: Literal["offer.closed"] = "offer.closed"
    offer_id: str


class ClaimRejected(OrdersEvent):
    """A buy intent that holds no stock, with why (private to customer_id)."""

    type: Literal["claim.rejected"] = "claim.rejected"
    claim_id: str
    offer_id: str
    reason: Literal["sold_out_waitlisted", "limit_reached", "closed", "invalid", "not_found"]
    message: str


class OrderPlaced(OrdersEvent):
    """A claim held stock: an order awaiting payment by `pay_by` (private to customer_id)."""

    type: Literal["order.placed"] = "order.placed"
    order_id: str
    claim_id: str
    offer_id: str
    quantity: int = Field(ge=1)
    amount_cents: int = Field(ge=0)
    pay_by: datetime
    referrer_id: str | None = None
