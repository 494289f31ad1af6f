"""Events the orders service puts out that rooms and analytics read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.envelope import IntegrationEvent
from shared.events.media import ImageSizes

PHOTOS_DESCRIPTION = "The product's photos in the host's order (the first is the card's)."


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
    photos: list[ImageSizes] = Field(
        default_factory=list, max_length=10, description=PHOTOS_DESCRIPTION
    )
    variants: list[str] = Field(
        default_factory=list, description="The product's variants (sizes, colours), in order."
    )
    variant_left: dict[str, int] = Field(
        default_factory=dict,
        description="Units left per variant when the host split the stock (their sum is "
        "`left`); empty: the variants share the offer's units.",
    )


class StockChanged(OrdersEvent):
    """Units left on an offer (coalesced: only the latest value matters)."""

    type: Literal["offer.stock_changed"] = "offer.stock_changed"
    offer_id: str
    left: int = Field(ge=0)
    variant_left: dict[str, int] = Field(
        default_factory=dict,
        description="Units left per variant when the host split the stock (their sum is "
        "`left`); empty: the variants share the offer's units.",
    )


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
    reason: Literal[
        "sold_out_waitlisted",
        "limit_reached",
        "closed",
        "not_open",
        "invalid",
        "not_found",
        "not_amended",  # an AmendClaim that changed nothing (paid already, no stock...)
    ]
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
    kind: Literal["flash_sale", "group_buy", "pre_sale"] = "flash_sale"
    variant: str | None = None
    from_waitlist: bool = Field(default=False, description="Released stock offered to you.")


class OrderAmended(OrdersEvent):
    """An unpaid order's quantity changed because its buyer edited the line that placed it
    (AmendClaim): the new quantity and amount; the same pay_by."""

    type: Literal["order.amended"] = "order.amended"
    order_id: str
    claim_id: str
    offer_id: str
    quantity: int = Field(ge=1)
    amount_cents: int = Field(ge=0)
    pay_by: datetime


class OfferUpdated(OrdersEvent):
    """The host edited a live offer (price, stock, limit, end): the new terms."""

    type: Literal["offer.updated"] = "offer.updated"
    offer_id: str
    price_cents: int = Field(ge=0)
    stock: int = Field(ge=0)
    left: int = Field(ge=0)
    per_buyer_limit: int = Field(ge=1)
    ends_at: datetime | None = None
    photos: list[ImageSizes] = Field(
        default_factory=list, max_length=10, description=PHOTOS_DESCRIPTION
    )
    variants: list[str] = Field(
        default_factory=list, description="The product's variants (sizes, colours), in order."
    )
    variant_left: dict[str, int] = Field(
        default_factory=dict,
        description="Units left per variant when the host split the stock (their sum is "
        "`left`); empty: the variants share the offer's units.",
    )


class GroupTierReached(OrdersEvent):
    """A group buy gathered enough committed buyers for a lower price tier."""

    type: Literal["group.tier_reached"] = "group.tier_reached"
    offer_id: str
    buyers: int = Field(ge=0)
    price_cents: int = Field(ge=0)
    next_tier_at: int | None = Field(default=None, description="Buyers needed for the next tier.")


class GroupFormed(OrdersEvent):
    """At the deadline the group reached its minimum: everyone pays the final tier."""

    type: Literal["group.formed"] = "group.formed"
    offer_id: str
    buyers: int
    price_cents: int


class GroupFailed(OrdersEvent):
    """At the deadline the group was too small: every commitment is released and refunded."""

    type: Literal["group.failed"] = "group.failed"
    offer_id: str
    buyers: int
    minimum: int


class OrderPaid(OrdersEvent):
    """Payment captured: the order is confirmed (a pre-sale deposit: the balance is next)."""

    type: Literal["order.paid"] = "order.paid"
    order_id: str
    offer_id: str
    amount_cents: int = Field(ge=0)
    stage: Literal["full", "deposit", "balance"] = "full"
    referrer_chain: list[str] = Field(default_factory=list)
    pickup_code: str | None = None


class OrderExpired(OrdersEvent):
    """Not paid in time: stock went back (or to the next buyer on the waitlist)."""

    type: Literal["order.expired"] = "order.expired"
    order_id: str
    offer_id: str
    quantity: int


class OrderCancelled(OrdersEvent):
    """The buyer cancelled before paying, or a pre-sale balance was not paid: units released."""

    type: Literal["order.cancelled"] = "order.cancelled"
    order_id: str
    offer_id: str
    reason: str


class OrderRefunded(OrdersEvent):
    """Money went back to the buyer: all of it, or a part (a group formed at a lower tier)."""

    type: Literal["order.refunded"] = "order.refunded"
    order_id: str
    offer_id: str
    amount_cents: int = Field(ge=0)
    reason: str


class CommissionAccrued(OrdersEvent):
    """A referrer earned a commission on a paid order (level 1 = direct referrer)."""

    type: Literal["commission.accrued"] = "commission.accrued"
    order_id: str
    level: int = Field(ge=1, le=3)
    amount_cents: int = Field(ge=0)


class CommissionReversed(OrdersEvent):
    """A commission taken back, `amount_cents` of it: all on a full refund, the rest on a part."""

    type: Literal["commission.reversed"] = "commission.reversed"
    order_id: str
    level: int = Field(ge=1, le=3)
    amount_cents: int = Field(ge=0)


class OrderFulfilled(OrdersEvent):
    """The goods reached the buyer: handed over at a pickup point (the desk scanned or typed
    the order's pickup code)."""

    type: Literal["order.fulfilled"] = "order.fulfilled"
    order_id: str
    offer_id: str
    method: Literal["pickup", "delivery"] = "pickup"
    pickup_point: str | None = Field(default=None, description="The pickup point's id.")
    quantity: int = Field(ge=1)


class CommissionPaidOut(OrdersEvent):
    """A host paid a promoter (`customer_id`) what their invitations earned: `amount_cents`
    over the commission lines of payout `payout_id` (money moved outside the platform)."""

    type: Literal["commission.paid_out"] = "commission.paid_out"
    payout_id: str
    amount_cents: int
    reference: str = ""
