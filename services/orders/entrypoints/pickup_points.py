"""HTTP: a host's pickup points, the points a room's buyers may choose, a buyer's saved
delivery address, and choosing delivery or pickup for an order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from services.orders.adapters.tables import PickupPointRow
from services.orders.domain.fulfilment import Fulfilment
from services.orders.entrypoints.deps import BuyerDep, HostDep, OrderAccessDep, OrdersDep
from services.orders.entrypoints.http import (
    PAY_LINK_ANSWERS,
    FulfilmentIn,
    OrderOut,
    order_seen_by,
)
from services.orders.service_layer.pickup_points import PointDraft
from shared.api import RoomIdPath, api_router
from shared.events.envelope import SUBJECT_TOKEN_PATTERN

router = api_router()

RoomId = Annotated[str, Field(pattern=SUBJECT_TOKEN_PATTERN, examples=["r_8f3a2b1c9d0e"])]
Name = Annotated[str, Field(min_length=1, max_length=120, pattern=r"\S")]
Address = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]
Line = Annotated[str, Field(max_length=200)]
Rooms = Annotated[
    list[RoomId], Field(max_length=100, description="The rooms whose buyers may choose it.")
]


class PickupPointIn(BaseModel):
    name: Name = Field(examples=["Maple Court gate 3"])
    address: Address = Field(examples=["12 Maple Court, Xuhui"])
    hours: Line = Field(default="", examples=["Mon-Sat 9:00-20:00"])
    contact: Line = Field(default="", examples=["Ms Wang 138 0000 0000"])
    room_ids: Rooms = Field(default_factory=list)


class PickupPointEdit(BaseModel):
    """Only the fields sent change; `room_ids` replaces the list."""

    name: Name | None = None
    address: Address | None = None
    hours: Line | None = None
    contact: Line | None = None
    room_ids: Rooms | None = None


class PickupPointOut(BaseModel):
    id: str = Field(examples=["pp_3f9a1c2b7d4e"])
    name: str
    address: str
    hours: str
    contact: str
    room_ids: list[str]
    retired_at: datetime | None = Field(
        default=None, description="Set once retired: no longer offered to buyers."
    )

    @classmethod
    def of(cls, row: PickupPointRow) -> PickupPointOut:
        return cls(**row.model_dump(include=set(cls.model_fields)))


class PublicPickupPointOut(BaseModel):
    """What a buyer sees of a point (not who runs it)."""

    id: str
    name: str
    address: str
    hours: str
    contact: str

    @classmethod
    def of(cls, row: PickupPointRow) -> PublicPickupPointOut:
        return cls(**row.model_dump(include=set(cls.model_fields)))


class DeliveryOut(BaseModel):
    address: str | None = Field(
        description="The delivery address this buyer used last (null: none yet)."
    )


HOST_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "A viewer token, or another host's point (`forbidden`)."},
}


@router.post(
    "/pickup-points",
    status_code=201,
    response_model=PickupPointOut,
    tags=["pickup points"],
    responses=HOST_ANSWERS,
)
async def create_point(body: PickupPointIn, orders: OrdersDep, host: HostDep) -> PickupPointOut:
    """A pickup point the host runs: the buyers of the rooms it serves may choose it at
    checkout (for that host's offers)."""
    draft = PointDraft(
        name=body.name,
        address=body.address,
        hours=body.hours,
        contact=body.contact,
        room_ids=tuple(body.room_ids),
    )
    return PickupPointOut.of(await orders.pickup_points.create(host.id, draft))


@router.get(
    "/pickup-points",
    response_model=list[PickupPointOut],
    tags=["pickup points"],
    responses=HOST_ANSWERS,
)
async def list_points(
    orders: OrdersDep,
    host: HostDep,
    room_id: Annotated[str | None, Query(pattern=SUBJECT_TOKEN_PATTERN)] = None,
    include_retired: bool = False,
) -> list[PickupPointOut]:
    """The host's points (the admin: everyone's), oldest first; `room_id`: those serving it."""
    rows = await orders.pickup_points.owned(host.id, host.is_admin, room_id, include_retired)
    return [PickupPointOut.of(row) for row in rows]


@router.get(
    "/pickup-points/{point_id}",
    response_model=PublicPickupPointOut,
    tags=["pickup points"],
)
async def get_point(point_id: str, orders: OrdersDep) -> PublicPickupPointOut:
    """One point as buyers see it, retired ones included (an order placed there shows
    where to collect it). Public: what a room's list shows anyway."""
    return PublicPickupPointOut.of(await orders.pickup_points.get(point_id))


@router.patch(
    "/pickup-points/{point_id}",
    response_model=PickupPointOut,
    tags=["pickup points"],
    responses=HOST_ANSWERS,
)
async def edit_point(
    point_id: str, body: PickupPointEdit, orders: OrdersDep, host: HostDep
) -> PickupPointOut:
    """Change a point's name, address, hours, contact or rooms (orders there follow it)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    row = await orders.pickup_points.edit(point_id, host.id, host.is_admin, changes)
    return PickupPointOut.of(row)


@router.post(
    "/pickup-points/{point_id}/retire",
    response_model=PickupPointOut,
    tags=["pickup points"],
    responses=HOST_ANSWERS,
)
async def retire_point(point_id: str, orders: OrdersDep, host: HostDep) -> PickupPointOut:
    """Stop offering the point. Orders already there keep it; retiring again changes nothing."""
    return PickupPointOut.of(await orders.pickup_points.retire(point_id, host.id, host.is_admin))


@router.get(
    "/rooms/{room_id}/pickup-points",
    response_model=list[PublicPickupPointOut],
    tags=["pickup points"],
)
async def room_points(room_id: RoomIdPath, orders: OrdersDep) -> list[PublicPickupPointOut]:
    """The points a room's buyers may choose: active, serving the room, run by one of its
    sellers. Public (the viewer page shows them before anyone pays)."""
    return [PublicPickupPointOut.of(row) for row in await orders.pickup_points.for_room(room_id)]


@router.get("/me/delivery", response_model=DeliveryOut, tags=["orders"])
async def my_delivery(orders: OrdersDep, buyer: BuyerDep) -> DeliveryOut:
    """The delivery address I used last: the checkout offers it again."""
    return DeliveryOut(address=await orders.pickup_points.last_address(buyer.customer_id))


@router.post(
    "/orders/{order_id}/fulfilment",
    response_model=OrderOut,
    tags=["orders"],
    responses={
        **PAY_LINK_ANSWERS,
        409: {
            "description": "The goods were handed over (`already_fulfilled`), or the order "
            "is expired, cancelled, refunded or forfeited (`conflict`)."
        },
        422: {
            "description": "Not delivery with an address or pickup at a point "
            "(`invalid_request`, `invalid_fulfilment`); a point that is unknown, retired, "
            "another seller's or not serving the order's room (`unknown_pickup_point`)."
        },
    },
)
async def set_fulfilment(
    order_id: str, body: FulfilmentIn, orders: OrdersDep, access: OrderAccessDep
) -> OrderOut:
    """Delivery to an address, or one of the room's pickup points (a pickup code once
    paid); it may change until the goods are handed over. Its buyer chooses (viewer token;
    a delivery address is then kept for their next order), or whoever holds the order's
    pay link (`X-Pay-Token`), whose answer, like its GET, hides the address and code."""
    await order_seen_by(orders, order_id, access)
    how = Fulfilment(body.method, body.address, body.pickup_point)
    order = OrderOut.of(
        await orders.payments.set_fulfilment(
            order_id, access.customer_id, how, remember=access.pay_link is None
        )
    )
    if access.pay_link is not None:
        return order.model_copy(update={"pickup_code": None, "referrer_chain": [], "address": None})
    return order
