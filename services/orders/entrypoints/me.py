"""HTTP, for a buyer: "my orders" across rooms, a pickup code's QR code, my waitlist places.

Every route takes the buyer's viewer token (any room's, or the room-less one live's
`POST /me/token` gives): its `customer_id` is who. Nothing of anyone else is answered: another
buyer's order is 404, as an unknown one.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

import segno
from fastapi import Query, Response, status
from pydantic import BaseModel, Field

from services.orders.entrypoints.deps import BuyerDep, OrdersDep
from services.orders.entrypoints.http import OrderOut
from services.orders.entrypoints.pickup_points import PublicPickupPointOut
from services.orders.service_layer import my_orders
from shared.api import api_router

router = api_router(prefix="/me", tags=["me"])

PRIVATE = {"Cache-Control": "private, no-store"}
SVG = "image/svg+xml"


class MyOrderOut(OrderOut):
    title: str = Field(description="The offer's title.")
    pickup: PublicPickupPointOut | None = Field(
        default=None,
        description="The pickup point chosen (its address, hours, contact), as buyers see it.",
    )


class MyPlaceOut(BaseModel):
    offer_id: str
    room_id: str
    title: str
    variant: str | None
    quantity: int
    place: int = Field(
        description="1-based: my place among those waiting on this offer and variant."
    )
    joined_at: datetime


@router.get("/orders", response_model=list[MyOrderOut])
async def list_my_orders(
    orders: OrdersDep,
    buyer: BuyerDep,
    limit: Annotated[int, Query(ge=1, le=my_orders.MAX_ORDERS)] = 50,
) -> list[MyOrderOut]:
    """My orders in every room, newest first: status, amount, pay-by, the pickup point and
    code (once paid), when they were handed over."""
    mine = await my_orders.orders_of(orders.infra.sessions, buyer.customer_id, limit)
    return [
        MyOrderOut(
            **OrderOut.of(m.order).model_dump(),
            title=m.title,
            pickup=PublicPickupPointOut.of(m.pickup) if m.pickup else None,
        )
        for m in mine
    ]


@router.get(
    "/orders/{order_id}/pickup-qr.svg",
    response_class=Response,
    responses={
        200: {"content": {SVG: {}}, "description": "The pickup code as a QR code (SVG)."},
        404: {
            "description": "Not my order, unknown, or no pickup code to collect with: "
            "not paid, delivered, refunded (`not_found`)."
        },
    },
)
async def pickup_qr(order_id: str, orders: OrdersDep, buyer: BuyerDep) -> Response:
    """My order's pickup code as a QR code, to show at the pickup desk (its scanner reads
    the code). Not kept by caches: the code collects the goods."""
    code = await my_orders.pickup_code_of(orders.infra.sessions, order_id, buyer.customer_id)
    out = io.BytesIO()
    # A full QR code, never a Micro QR (segno.make's pick for six digits): phones and jsQR
    # read only full ones.
    segno.make_qr(code, error="m").save(out, kind="svg", scale=8, border=2, title="Pickup code")
    return Response(out.getvalue(), media_type=SVG, headers=PRIVATE)


@router.get("/waitlist", response_model=list[MyPlaceOut])
async def list_my_waitlist(orders: OrdersDep, buyer: BuyerDep) -> list[MyPlaceOut]:
    """The waitlists I am on (sold-out offers), with my place in each queue."""
    places = await my_orders.waitlist_of(orders.infra.sessions, buyer.customer_id)
    return [MyPlaceOut(**vars(p)) for p in places]


@router.delete(
    "/waitlist/{offer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"description": "I am not waiting on this offer (`not_found`)."}},
)
async def leave_waitlist(offer_id: str, orders: OrdersDep, buyer: BuyerDep) -> Response:
    """Leave an offer's waitlist: units released later go to the next in line. Buying the
    offer again (while it is sold out) puts me back at the end of the queue."""
    await my_orders.leave_waitlist(orders.infra.sessions, buyer.customer_id, offer_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
