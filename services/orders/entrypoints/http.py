"""HTTP: the host's catalog and offers, checkout, payment, and the provider's callbacks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, model_validator
from starlette.types import Receive, Scope, Send

from services.orders.adapters.payments import MAX_CALLBACK_AGE_S, SIGNATURE_HEADER
from services.orders.adapters.tables import CommissionRow, OfferRow, OrderRow, ProductPhotoRow
from services.orders.bootstrap import OrdersApp
from services.orders.domain.fulfilment import Fulfilment
from services.orders.domain.offers import MAX_UNITS, OfferKind, Tier, variant_views
from services.orders.entrypoints.deps import (
    BuyerDep,
    HostDep,
    OrderAccess,
    OrderAccessDep,
    OrdersDep,
    buyer_of,
)
from services.orders.service_layer.catalog import NotFound, OfferDraft, current_price, photo_sizes
from services.orders.service_layer.checkout import KEY_REUSED, CheckoutRequest
from services.orders.service_layer.host_orders import order_for_host
from shared import metrics
from shared.api import (
    MISSING,
    HandReadRoute,
    Instant,
    RoomIdPath,
    api_router,
    checked,
    json_body,
    read_body,
)
from shared.auth import TokenHolder
from shared.events import utcnow
from shared.events.media import ImageSizes
from shared.problems import (
    PROBLEM_JSON,
    ApiError,
    Problem,
    answers,
    forbidden,
    problem_body,
)

router = api_router()

MAX_CALLBACK_BYTES = 16 * 1024
StockUnits = Annotated[int, Field(strict=True, ge=0, le=MAX_UNITS)]
JSON = "application/json"


class ProductIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    variants: list[str] = Field(
        default_factory=list,
        max_length=100,
        description='Sizes/colours; "XL", "x-large" and "xlarge" are one.',
    )


class PhotoOut(ImageSizes):
    """A product photo: its sizes at `{orders_url}/photos/{name}` (JPEG, upright, no EXIF)."""

    id: str = Field(examples=["pho_3f9a1c2b7d4e"])

    @classmethod
    def of(cls, row: ProductPhotoRow) -> PhotoOut:
        return cls(id=row.id, **photo_sizes(row).model_dump())


def photos_out(rows: list[ProductPhotoRow]) -> list[PhotoOut]:
    return [PhotoOut.of(row) for row in rows]


class ProductOut(BaseModel):
    id: str
    title: str
    variants: list[str]
    photos: list[PhotoOut] = Field(
        default_factory=list, description="In the host's order; the first is the card's."
    )


class TierIn(BaseModel):
    # strict: a tier comes as a [min_buyers, price_cents] pair of JSON integers, never text
    min_buyers: int = Field(ge=1, le=1_000_000, strict=True)
    price_cents: int = Field(ge=0, le=100_000_000, strict=True)


VARIANT_STOCK = Field(
    default=None,
    max_length=100,
    description='Split the stock per variant ({"S": 10, "XL": 4}): every variant of the '
    "product named, keys spelled as the product's or any spelling of them; `stock` is then "
    "their sum (leave it out, or give the sum).",
)


class OfferIn(BaseModel):
    product_id: str
    kind: OfferKind = OfferKind.FLASH_SALE
    title: str | None = Field(default=None, max_length=200)
    price_cents: int = Field(strict=True, default=0, ge=0, le=100_000_000)
    stock: int | None = Field(
        strict=True,
        default=None,
        ge=0,
        le=10_000_000,
        description="Required without variant_stock.",
    )
    variant_stock: dict[Annotated[str, Field(max_length=40)], StockUnits] | None = VARIANT_STOCK
    per_buyer_limit: int = Field(strict=True, default=1, ge=1, le=99)
    opens_at: Instant | None = Field(default=None, description="Opens by itself at this time.")
    ends_at: Instant | None = None
    duration_s: int | None = Field(
        strict=True,
        default=None,
        ge=1,
        le=30 * 86400,
        description="Instead of ends_at: closes this long after now.",
    )
    pay_within_s: int = Field(strict=True, default=900, ge=5, le=7 * 86400)
    tiers: list[TierIn] = Field(default_factory=list, max_length=20)
    min_group: int = Field(strict=True, default=0, ge=0, le=1_000_000)
    deposit_cents: int = Field(strict=True, default=0, ge=0, le=100_000_000)
    balance_from: Instant | None = None
    balance_until: Instant | None = None
    forfeit_deposit: bool = Field(default=True, strict=True)


class OfferEdit(BaseModel):
    price_cents: int | None = Field(strict=True, default=None, ge=0, le=100_000_000)
    stock: int | None = Field(strict=True, default=None, ge=0, le=10_000_000)
    per_buyer_limit: int | None = Field(strict=True, default=None, ge=1, le=99)
    ends_at: Instant | None = None
    tiers: list[TierIn] | None = None
    variant_stock: dict[Annotated[str, Field(max_length=40)], StockUnits] | None = Field(
        default=None,
        max_length=100,
        description="The stock per variant (every variant named); no variant below what is "
        "held or sold of it (409). `stock`, if given, must be their sum.",
    )


class VariantOut(BaseModel):
    name: str = Field(examples=["XL"])
    left: int | None = Field(
        description="Units left of this variant; null when the variants share the offer's."
    )
    sold_out: bool


class OfferOut(BaseModel):
    id: str
    room_id: str
    kind: str
    title: str
    status: str
    price_cents: int
    stock: int
    left: int
    held: int
    sold: int
    per_buyer_limit: int
    ends_at: datetime | None
    tiers: list[list[int]]
    buyers: int
    current_price_cents: int
    deposit_cents: int
    photos: list[PhotoOut] = Field(
        default_factory=list, description="The product's photos; the first is the card's."
    )
    variants: list[VariantOut] = Field(
        default_factory=list,
        description="Every variant of the product, in its order, with what is left of it.",
    )

    @classmethod
    def of(
        cls,
        offer: OfferRow,
        photos: list[ProductPhotoRow] | None = None,
        variants: list[str] | None = None,
    ) -> OfferOut:
        fields = offer.model_dump(include=set(cls.model_fields) - {"photos", "variants"})
        return cls(
            current_price_cents=current_price(offer),
            photos=photos_out(photos or []),
            variants=[
                VariantOut(name=v.name, left=v.left, sold_out=v.sold_out)
                for v in variant_views(variants or [], offer.variant_left, offer.left)
            ],
            **fields,
        )


async def offer_out(orders: OrdersApp, offer: OfferRow) -> OfferOut:
    """An offer as answered, with its product's photos and variants."""
    photos = await orders.photos.of_products([offer.product_id])
    product = await orders.catalog.product(offer.product_id)
    return OfferOut.of(offer, photos.get(offer.product_id, []), product.variants)


class CheckoutIn(BaseModel):
    quantity: int = Field(strict=True, default=1, ge=1, le=99)
    variant: str | None = Field(default=None, max_length=40)


class CheckoutOut(BaseModel):
    ok: bool
    order_id: str | None
    message: str
    replayed: bool = Field(description="True when this key was seen before: the same outcome.")


class CheckoutRefused(Problem):
    """A checkout not placed: a Problem whose `code` is the reason."""

    replayed: bool | None = Field(
        default=None, description="True when this key was seen before: the same outcome."
    )


class OrderOut(BaseModel):
    id: str
    offer_id: str
    room_id: str
    customer_id: str
    buyer_name: str = Field(default="", description="The name the buyer showed when ordering.")
    kind: str
    status: str
    quantity: int
    variant: str | None
    unit_price_cents: int
    amount_cents: int
    balance_cents: int
    paid_cents: int
    refunded_cents: int
    pay_by: datetime
    referrer_chain: list[str]
    fulfilment: str | None
    address: str | None = Field(default=None, description="Delivery: where to.")
    pickup_point: str | None = Field(default=None, description="Pickup: the point's id.")
    pickup_code: str | None
    from_waitlist: bool
    created_at: datetime
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = Field(
        default=None, description="When the goods were handed over (`order.fulfilled`)."
    )

    @classmethod
    def of(cls, order: OrderRow) -> OrderOut:
        return cls(**order.model_dump(include=set(cls.model_fields)))


class PayIn(BaseModel):
    card: str = Field(
        min_length=12,
        max_length=23,
        examples=["4242 4242 4242 4242"],
        description="Simulated gateway: 4000 0000 0000 0002 is declined.",
    )


class PayOut(BaseModel):
    payment_id: str
    status: str
    stage: str
    amount_cents: int


class FulfilmentIn(BaseModel):
    method: Literal["delivery", "pickup"]
    address: str | None = Field(default=None, max_length=500)
    pickup_point: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _complete(self) -> FulfilmentIn:
        Fulfilment(self.method, self.address, self.pickup_point)
        return self


class RefundIn(BaseModel):
    amount_cents: int | None = Field(
        strict=True,
        default=None,
        ge=1,
        le=1_000_000_000,
        description="Leave out for a full refund.",
    )
    reason: str = Field(default="refund", max_length=200)


class CommissionOut(BaseModel):
    order_id: str
    level: int
    amount_cents: int
    status: str

    @classmethod
    def of(cls, row: CommissionRow) -> CommissionOut:
        return cls(**row.model_dump(include=set(cls.model_fields)))


@router.post("/products", status_code=201, response_model=ProductOut, tags=["catalog"])
async def add_product(body: ProductIn, orders: OrdersDep, host: HostDep) -> ProductOut:
    """A product and its variants (normalised: one spelling per size); photos are added
    with `POST /products/{product_id}/photos`."""
    product = await orders.catalog.add_product(host.id, body.title, body.variants)
    return ProductOut(id=product.id, title=product.title, variants=product.variants)


@router.post(
    "/rooms/{room_id}/offers",
    status_code=201,
    response_model=OfferOut,
    tags=["offers"],
    responses=answers(422),
)
async def create_offer(
    room_id: RoomIdPath, body: OfferIn, orders: OrdersDep, host: HostDep
) -> OfferOut:
    """Attach a flash sale, group buy or pre-sale to a room (opens on `opens_at` or on /open).
    `variant_stock` splits the stock per variant (each sells out on its own); an offer
    without it sells its units in any variant."""
    ends_at = body.ends_at or (
        utcnow() + timedelta(seconds=body.duration_s) if body.duration_s else None
    )
    draft = OfferDraft(
        room_id=room_id,
        product_id=body.product_id,
        kind=body.kind,
        title=body.title,
        price_cents=body.price_cents,
        stock=body.stock,
        variant_stock=body.variant_stock,
        per_buyer_limit=body.per_buyer_limit,
        opens_at=body.opens_at,
        ends_at=ends_at,
        pay_within_s=body.pay_within_s,
        tiers=tuple(Tier(t.min_buyers, t.price_cents) for t in body.tiers),
        min_group=body.min_group,
        deposit_cents=body.deposit_cents,
        balance_from=body.balance_from,
        balance_until=body.balance_until,
        forfeit_deposit=body.forfeit_deposit,
    )
    return await offer_out(orders, await orders.catalog.create_offer(host.id, host.is_admin, draft))


@router.get("/offers/{offer_id}", response_model=OfferOut, tags=["offers"])
async def get_offer(offer_id: str, orders: OrdersDep) -> OfferOut:
    """An offer's terms and live counters (left, held, sold; group buyers and tier)."""
    return await offer_out(orders, await orders.catalog.offer(offer_id))


@router.post(
    "/offers/{offer_id}/open", response_model=OfferOut, tags=["offers"], responses=answers(409)
)
async def open_offer(offer_id: str, orders: OrdersDep, host: HostDep) -> OfferOut:
    return await offer_out(orders, await orders.catalog.open(offer_id, host.id, host.is_admin))


@router.post(
    "/offers/{offer_id}/close", response_model=OfferOut, tags=["offers"], responses=answers(409)
)
async def close_offer(offer_id: str, orders: OrdersDep, host: HostDep) -> OfferOut:
    return await offer_out(orders, await orders.catalog.close(offer_id, host.id, host.is_admin))


@router.patch(
    "/offers/{offer_id}", response_model=OfferOut, tags=["offers"], responses=answers(409, 422)
)
async def edit_offer(offer_id: str, body: OfferEdit, orders: OrdersDep, host: HostDep) -> OfferOut:
    """Edit terms, also while live; stock cannot drop below what is held or sold, nor a
    variant's below what is held or sold of it (`variant_stock`)."""
    tiers = tuple(Tier(t.min_buyers, t.price_cents) for t in body.tiers) if body.tiers else None
    offer = await orders.catalog.edit(
        offer_id,
        host.id,
        host.is_admin,
        price_cents=body.price_cents,
        stock=body.stock,
        per_buyer_limit=body.per_buyer_limit,
        ends_at=body.ends_at,
        tiers=tiers,
        variant_stock=body.variant_stock,
    )
    return await offer_out(orders, offer)


IdempotencyKey = Annotated[str, Header(min_length=8, max_length=100)]


async def checkout(
    offer_id: str,
    body: CheckoutIn,
    buyer: BuyerDep,
    idempotency_key: IdempotencyKey,
    orders: OrdersDep,
) -> Response:
    """Hold stock and create an order awaiting payment. A retry with the same
    `Idempotency-Key` and body returns the same answer, never a second order; the same key
    with another body is refused (422, `idempotency_key_reused`)."""
    code, answer, media_type = await place_checkout(orders, offer_id, buyer, idempotency_key, body)
    return Response(answer, status_code=code, media_type=media_type)


_KEY = TypeAdapter(IdempotencyKey)
_BODY = TypeAdapter(CheckoutIn)


async def read_checkout(
    scope: Scope, receive: Receive, secret: str
) -> tuple[TokenHolder, str, CheckoutIn]:
    """`checkout`'s parameters read as FastAPI reads them for its signature, in FastAPI's
    order: the body (a JSON syntax error is 422 first), the buyer's token (401, 403), then
    the key and the body's fields (one 422 listing both)."""
    body = await read_body(receive)
    authorization = key = content_type = None
    for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"idempotency-key" and key is None:
            key = value.decode("latin-1")
        elif name == b"content-type" and content_type is None:
            content_type = value
    data = json_body(body, content_type)
    buyer = buyer_of(authorization, secret)
    errors: list[Any] = []
    idempotency_key = checked(_KEY, MISSING if key is None else key, KEY_AT, errors)
    checkout_in = checked(_BODY, data, ("body",), errors)
    if errors:
        raise RequestValidationError(errors)
    return buyer, idempotency_key, checkout_in


async def serve_checkout(scope: Scope, receive: Receive, send: Send) -> None:
    """`checkout`, its parameters read by `read_checkout`. The hottest request of a flash
    sale: this costs a fraction of FastAPI's dependency solving."""
    orders: OrdersApp = scope["app"].state.service
    buyer, idempotency_key, checkout_in = await read_checkout(
        scope, receive, orders.settings.secret_key
    )
    response = await checkout(
        scope["path_params"]["offer_id"], checkout_in, buyer, idempotency_key, orders
    )
    await response(scope, receive, send)


KEY_AT = ("header", "idempotency-key")

# Documented by FastAPI from `checkout`'s signature, served by `serve_checkout`; the app
# mounts it first (main.py). Its only way in: there is no FastAPI-solved twin.
checkout_route = HandReadRoute(
    "/offers/{offer_id}/checkout",
    checkout,
    serve=serve_checkout,
    methods=["POST"],
    status_code=201,
    response_model=CheckoutOut,
    tags=["checkout"],
    responses={
        201: {"description": "Created"},
        409: {
            "model": CheckoutRefused,
            "description": "Not placed: `code` says why (sold_out_waitlisted, limit_reached, "
            "not_open, closed, ...); `replayed` when this key was seen before.",
        },
        422: {
            "model": CheckoutRefused,
            "description": "Invalid body or headers (`invalid_request`), or "
            "`idempotency_key_reused`: the key was first used with other parameters "
            "(nothing changed).",
        },
    },
)


async def place_checkout(
    orders: OrdersApp, offer_id: str, buyer: TokenHolder, idempotency_key: str, body: CheckoutIn
) -> tuple[int, bytes, str]:
    """The checkout's answer (status, JSON, its media type): the model serialised once, as
    bytes. A refusal is a Problem whose `code` is the reason."""
    result = await orders.checkout.place(
        CheckoutRequest(
            offer_id=offer_id,
            customer_id=buyer.customer_id,
            quantity=body.quantity,
            key=f"http:{buyer.customer_id}:{idempotency_key}",
            claim_id=idempotency_key,
            variant=body.variant,
            source="button",
            referrer_id=buyer.referrer_id,
            buyer_name=buyer.display_name,
        )
    )
    metrics.CHECKOUTS.labels("http", result.reason or "ok").inc()
    if result.ok:
        answer = CheckoutOut(
            ok=True, order_id=result.order_id, message=result.message, replayed=result.replayed
        )
        return 201, answer.model_dump_json().encode(), JSON
    reason = result.reason or "refused"
    code = 404 if reason == "not_found" else 422 if reason == KEY_REUSED else 409
    replayed = result.replayed if code != 404 else None  # no offer: nothing to replay
    refusal = problem_body(code, reason, result.message, replayed=replayed)
    return code, refusal, PROBLEM_JSON


# The two operations a pay link opens (deps.order_access); every other stays the buyer's.
PAY_LINK_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No credential, or one that is not valid (`unauthenticated`, "
        "`invalid_token`), or a pay link past the order's deadline (`pay_link_expired`)."
    },
    403: {
        "description": "A pay link of another order, or not of this buyer; a host's "
        "credential on an order of another host's offer, or on paying (`forbidden`)."
    },
}


async def order_seen_by(orders: OrdersApp, order_id: str, access: OrderAccess) -> OrderRow:
    """The order, if `access` may see it: its buyer's own, the one its pay link names, or
    for a host one of an offer they own (the admin: any)."""
    if access.host is not None:
        found = await order_for_host(orders.infra.sessions, order_id)
        if found is None:
            raise NotFound(order_id)
        order, owner = found
        if not (access.host.is_admin or owner == access.host.id):
            raise forbidden("not an order of your offers")
        return order
    if access.pay_link is None:
        return await orders.payments.order(order_id, access.customer_id)
    order = await orders.payments.order(order_id)
    if order.customer_id != access.pay_link.customer_id:
        raise forbidden("this pay link is not for this order's buyer")
    return order


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    tags=["orders"],
    responses=PAY_LINK_ANSWERS,
)
async def get_order(order_id: str, orders: OrdersDep, access: OrderAccessDep) -> OrderOut:
    """An order, for its buyer (viewer token), for whoever holds its pay link
    (`X-Pay-Token`: the "Pay" button of a group's reply to a "+1"), or for the host of its
    offer (a host credential; the admin token: any order). A pay link is seen by the whole
    group: it shows neither the pickup code (it collects the goods), the delivery address,
    nor who referred the buyer. A host sees all but the pickup code (the buyer's alone)."""
    order = OrderOut.of(await order_seen_by(orders, order_id, access))
    if access.host is not None:
        return order.model_copy(update={"pickup_code": None})
    if access.pay_link is not None:
        return order.model_copy(update={"pickup_code": None, "referrer_chain": [], "address": None})
    return order


@router.post(
    "/orders/{order_id}/pay",
    status_code=202,
    response_model=PayOut,
    tags=["orders"],
    responses={**answers(409), **PAY_LINK_ANSWERS},
)
async def pay(order_id: str, body: PayIn, orders: OrdersDep, access: OrderAccessDep) -> PayOut:
    """Start paying what is due now; the outcome arrives from the provider by callback.
    Its buyer pays with their viewer token; whoever holds the order's pay link
    (`X-Pay-Token`) may pay it too."""
    if access.host is not None:
        raise forbidden("a host credential reads orders; the buyer pays (a viewer token)")
    if access.pay_link is not None:  # its buyer's own order is checked by pay() itself
        await order_seen_by(orders, order_id, access)
    payment = await orders.payments.pay(order_id, access.customer_id, body.card)
    return PayOut(
        payment_id=payment.id,
        status=payment.status,
        stage=payment.stage,
        amount_cents=payment.amount_cents,
    )


@router.post(
    "/orders/{order_id}/cancel", response_model=OrderOut, tags=["orders"], responses=answers(409)
)
async def cancel(order_id: str, orders: OrdersDep, buyer: BuyerDep) -> OrderOut:
    """Cancel an order not paid yet; its units go to the waitlist or back on sale."""
    order = await orders.payments.order(order_id, buyer.customer_id)
    if not await orders.sweeper.cancel(order.id):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"order is {order.status}: only an order awaiting payment can be cancelled",
        )
    return OrderOut.of(await orders.payments.order(order_id, buyer.customer_id))


@router.post(
    "/orders/{order_id}/refund", response_model=OrderOut, tags=["orders"], responses=answers(409)
)
async def refund(order_id: str, body: RefundIn, orders: OrdersDep, host: HostDep) -> OrderOut:
    """Refund all or part; the referral commissions follow what was finally paid (a part
    refunded lowers them, a full refund reverses them)."""
    order = await orders.payments.refund(
        order_id, host.id, host.is_admin, body.amount_cents, body.reason
    )
    return OrderOut.of(order)


class PaymentCallback(BaseModel):
    """What the payment provider posts when a charge settles (at least once, maybe late)."""

    event_id: str = Field(description="The provider's event id: a second delivery is a duplicate.")
    payment_id: str = Field(description="`payment_id` from `POST /orders/{order_id}/pay`.")
    outcome: Literal["succeeded", "declined"]
    amount_cents: int = Field(
        strict=True, description="Must equal the payment's amount (else 409)."
    )


class CallbackAnswer(BaseModel):
    status: Literal["applied", "duplicate", "late_refunded", "declined", "ignored"] = Field(
        description="applied: the order is paid (or its deposit). duplicate: this event id "
        "was applied before; nothing changed. late_refunded: it came after the order expired; "
        "the money is refunded. declined: the charge failed; the order stays payable until "
        "its deadline. ignored: another event already settled this payment."
    )


@router.post(
    "/payments/callback",
    tags=["payments"],
    response_model=CallbackAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": PaymentCallback.model_json_schema()}},
        }
    },
    responses={
        401: {
            "description": "Signature missing, malformed, wrong or older than "
            f"{MAX_CALLBACK_AGE_S} s (`invalid_signature`): nothing changed."
        },
        404: {"description": "No payment of that `payment_id` (`not_found`)."},
        409: {"description": "`amount_cents` is not the payment's amount (`conflict`)."},
        413: {"description": f"Body over {MAX_CALLBACK_BYTES} bytes (`too_large`)."},
    },
)
async def payment_callback(
    request: Request,
    orders: OrdersDep,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description="`t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' + the raw body>`, "
            "keyed with the provider's webhook secret.",
            examples=["t=1796620553,v1=5f2b...e1"],
        ),
    ] = None,
) -> CallbackAnswer:
    """The provider's signed callback (at least once, maybe late): applied once, never twice.
    The body is read raw (the signature is over its exact bytes), then as `PaymentCallback`."""
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise ApiError(413, "callback too large")
    try:
        event = orders.payments.provider.read_callback(body, signature)
    except json.JSONDecodeError:
        raise ApiError(401, "callback refused: body is not JSON", "invalid_signature") from None
    except (KeyError, TypeError):
        raise ApiError(401, "callback refused: not a callback body", "invalid_signature") from None
    except ValueError as exc:  # the adapter's own words: missing, malformed, bad, stale
        raise ApiError(401, f"callback refused: {exc}", "invalid_signature") from None
    result = await orders.payments.on_callback(event)
    return CallbackAnswer(status=result.status)


@router.get("/commissions/{customer_id}", response_model=list[CommissionOut], tags=["referral"])
async def commissions(customer_id: str, orders: OrdersDep, host: HostDep) -> list[CommissionOut]:
    """A referrer's ledger: accrued and reversed commissions."""
    return [CommissionOut.of(row) for row in await orders.payments.ledger(customer_id)]
