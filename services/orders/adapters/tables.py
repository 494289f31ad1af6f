"""orders' own tables (nobody else reads them).

Stock accounting lives on the offer row: stock = left + held + sold, changed
only by conditional UPDATEs on that row (see docs/decisions/0006-stock-authority.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from shared.db import service_table_base
from shared.events import utcnow
from shared.outbox import outbox_table

OrdersTable = service_table_base()


class ProductRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "orders_products"
    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    title: str
    variants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ProductPhotoRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """One photo of a product, in the host's order (position 0 is the card's). Its sizes are
    objects in PRODUCT_PHOTOS named by their content: two rows may share them (the same
    picture on two products), so an object goes when the last row naming it does."""

    __tablename__ = "orders_product_photos"
    id: str = Field(primary_key=True)
    product_id: str = Field(index=True)
    position: int
    alt: str = ""
    thumb: str = Field(index=True)
    card: str = Field(index=True)
    full: str = Field(index=True)
    width: int
    height: int
    created_at: datetime = Field(default_factory=utcnow)


class OfferRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "orders_offers"
    id: str = Field(primary_key=True)
    room_id: str = Field(index=True)
    product_id: str
    owner: str
    kind: str
    title: str
    status: str = "scheduled"
    price_cents: int
    stock: int
    left: int
    held: int = 0
    sold: int = 0
    per_buyer_limit: int
    pay_within_s: int = 900
    opens_at: datetime | None = None
    ends_at: datetime | None = None
    tiers: list[list[int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_group: int = 0
    buyers: int = 0  # group buy: committed buyers
    # Per-variant stock, when the host split it ({"S": 10, "XL": 4}): units left per variant,
    # under the same row lock as `left` (their sum is `left`). Empty: the variants share `left`.
    variant_left: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    deposit_cents: int = 0
    balance_from: datetime | None = None
    balance_until: datetime | None = None
    forfeit_deposit: bool = True
    settled: bool = False
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class OrderRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "orders_orders"
    # The pickup desk finds an order by its point and code.
    __table_args__ = (Index("ix_orders_orders_pickup", "pickup_point", "pickup_code"),)
    id: str = Field(primary_key=True)
    offer_id: str = Field(index=True)
    room_id: str
    customer_id: str = Field(index=True)
    kind: str
    quantity: int
    variant: str | None = None
    unit_price_cents: int
    amount_cents: int  # what is due now (the deposit, for a pre-sale)
    balance_cents: int = 0  # pre-sale: what is due in the balance window
    paid_cents: int = 0
    refunded_cents: int = 0
    # awaiting_payment -> paid | expired | cancelled; paid -> refunded;
    # pre-sale: awaiting_payment -> deposit_paid -> paid | forfeited
    status: str = Field(default="awaiting_payment", index=True)
    pay_by: datetime = Field(index=True)
    claim_id: str
    source: str = "button"
    referrer_chain: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fulfilment: str | None = None
    address: str | None = None
    pickup_point: str | None = None  # a PickupPointRow id
    pickup_code: str | None = None
    from_waitlist: bool = False
    # The name the buyer showed when ordering (for the desk and the host's list).
    buyer_name: str = Field(default="", sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = None  # handed over at the pickup point (order.fulfilled)


class CheckoutRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """One row per idempotency key: the outcome a retry gets back."""

    __tablename__ = "orders_checkouts"
    key: str = Field(primary_key=True)
    customer_id: str
    offer_id: str
    order_id: str | None = None
    reason: str | None = None
    message: str = ""  # the answer's message, word for word
    # The request the key was first used for (CheckoutRequest.fingerprint); the same key with
    # another request is refused. None on rows from before it was kept.
    fingerprint: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class WaitlistRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "orders_waitlist"
    __table_args__ = (UniqueConstraint("offer_id", "claim_key"),)
    seq: int | None = Field(default=None, primary_key=True)
    offer_id: str = Field(index=True)
    room_id: str
    customer_id: str
    quantity: int
    variant: str | None = None
    claim_key: str
    referrer_chain: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    buyer_name: str = Field(default="", sa_column_kwargs={"server_default": ""})  # for the order
    # waiting | offered | lapsed (would pass the per-buyer limit) | left (the buyer left it)
    status: str = "waiting"
    created_at: datetime = Field(default_factory=utcnow)


class PaymentRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "orders_payments"
    id: str = Field(primary_key=True)  # the provider's payment id
    order_id: str = Field(index=True)
    stage: str  # full | deposit | balance
    amount_cents: int
    status: str = "pending"  # pending | succeeded | declined | refunded | late_refunded
    created_at: datetime = Field(default_factory=utcnow)
    settled_at: datetime | None = None


class CallbackRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """Provider callbacks already handled: a duplicate changes nothing."""

    __tablename__ = "orders_callbacks"
    event_id: str = Field(primary_key=True)
    payment_id: str
    outcome: str
    received_at: datetime = Field(default_factory=utcnow)


class ReferralRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """First touch wins: who brought this customer. Recorded when they join a room through
    an invite link (live's viewer.joined, with the join's time, room and display name) or,
    failing that, at their first checkout."""

    __tablename__ = "orders_referrals"
    customer_id: str = Field(primary_key=True)
    referrer_id: str
    created_at: datetime = Field(default_factory=utcnow)
    room_id: str | None = None  # where they joined (None: recorded at checkout)
    display_name: str = Field(default="", sa_column_kwargs={"server_default": ""})


class CommissionRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    __tablename__ = "orders_commissions"
    order_id: str = Field(primary_key=True)
    level: int = Field(primary_key=True)
    beneficiary: str = Field(index=True)
    amount_cents: int
    status: str = "accrued"  # accrued | reversed
    created_at: datetime = Field(default_factory=utcnow)
    # What a payout paid on this line (a later partial refund may leave it above amount_cents:
    # the difference is owed back, taken off the next payout).
    paid_cents: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    payout_id: str | None = Field(default=None, index=True)
    # What the line accrued at payment, before refunds lowered it (None: rows from before).
    accrued_cents: int | None = None


class PayoutRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A host paid a promoter their owed commissions (marked by the host; money moves
    outside the platform, `reference` says how)."""

    __tablename__ = "orders_payouts"
    id: str = Field(primary_key=True)
    owner: str = Field(index=True)  # the host who paid ("admin" for the platform)
    beneficiary: str = Field(index=True)
    amount_cents: int
    reference: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class PickupPointRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A community pickup point a host runs: buyers of the rooms it serves may choose it."""

    __tablename__ = "orders_pickup_points"
    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    name: str
    address: str
    hours: str = ""
    contact: str = ""
    room_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    retired_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BuyerAddressRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """The delivery address a buyer used last, offered again at their next checkout."""

    __tablename__ = "orders_buyer_addresses"
    customer_id: str = Field(primary_key=True)
    address: str
    updated_at: datetime = Field(default_factory=utcnow)


class DeskAttemptRow(OrdersTable, table=True):  # type: ignore[valid-type, misc, call-arg]
    """A wrong pickup code a desk token tried (the desk's rate limit, shared by every replica
    of orders). Rows older than the limit's window are deleted as new ones come."""

    __tablename__ = "orders_desk_attempts"
    seq: int | None = Field(default=None, primary_key=True)
    token_id: str = Field(index=True)  # the desk token's jti
    pickup_point: str
    at: datetime = Field(default_factory=utcnow, index=True)


OrdersOutbox = outbox_table(OrdersTable, "orders_outbox")
metadata = OrdersTable.metadata
