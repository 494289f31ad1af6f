"""HTTP, read-only, for the host console: a room's orders, filtered and paged, with totals,
and the same as a CSV for a spreadsheet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.orders.entrypoints.deps import Host, HostDep, OrdersDep
from services.orders.entrypoints.http import OrderOut
from services.orders.service_layer import host_orders
from services.orders.service_layer.host_orders import MAX_PAGE, HostOrder, OrderFilter, Totals
from shared.api import RoomIdPath, api_router
from shared.spreadsheet import BOM, csv_line, decimal_amount, safe_cell

router = api_router()

# OrderRow.status, every value it takes.
OrderStatus = Literal[
    "awaiting_payment", "deposit_paid", "paid", "refunded", "expired", "cancelled", "forfeited"
]
FulfilmentFilter = Literal["delivery", "pickup", "none"]


class HostOrderOut(OrderOut):
    """An order as its host sees it in the list. No `pickup_code`: it collects the goods and
    is the buyer's alone (the pickup desk checks it), so it never appears in a host's list."""

    title: str = Field(description="The offer's title.")
    pickup_point_name: str | None = Field(
        default=None, description="Pickup: the point's name (its id is `pickup_point`)."
    )

    @classmethod
    def of_host(cls, row: HostOrder) -> HostOrderOut:
        order = OrderOut.of(row.order).model_dump()
        order["pickup_code"] = None
        return cls(**order, title=row.title, pickup_point_name=row.pickup_point_name)


class OrderTotalsOut(BaseModel):
    """Over every order the filters match, not only the page shown."""

    orders: int
    units: int = Field(description="Quantities added up.")
    amount_cents: int = Field(description="What the orders ask now (a pre-sale: its deposit).")
    paid_cents: int
    refunded_cents: int
    by_status: dict[str, int] = Field(description="How many orders in each status.")

    @classmethod
    def of(cls, totals: Totals) -> OrderTotalsOut:
        return cls(**totals.__dict__)


class RoomOrdersOut(BaseModel):
    orders: list[HostOrderOut] = Field(description="This page, newest first.")
    total: int = Field(description="How many orders match the filters (all pages).")
    totals: OrderTotalsOut


OfferFilter = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Only this offer's orders.")
]
StatusFilter = Annotated[
    list[OrderStatus] | None,
    Query(
        max_length=7,
        description="Only orders in this status; repeat for several: status=paid&status=refunded.",
    ),
]
HowFilter = Annotated[
    FulfilmentFilter | None,
    Query(description="delivery, pickup, or none (the buyer has not chosen yet)."),
]
PointFilter = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Only orders at this pickup point.")
]


def order_filter(
    room_id: str,
    host: Host,
    offer_id: str | None,
    status: list[OrderStatus] | None,
    fulfilment: str | None,
    pickup_point: str | None,
) -> OrderFilter:
    return OrderFilter(
        room_id=room_id,
        owner=host.id,
        is_admin=host.is_admin,
        offer_id=offer_id,
        statuses=tuple(dict.fromkeys(status or ())),
        fulfilment=fulfilment,
        pickup_point=pickup_point,
    )


@router.get("/rooms/{room_id}/orders", response_model=RoomOrdersOut, tags=["orders"])
async def room_orders(
    room_id: RoomIdPath,
    orders: OrdersDep,
    host: HostDep,
    offer_id: OfferFilter = None,
    status: StatusFilter = None,
    fulfilment: HowFilter = None,
    pickup_point: PointFilter = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RoomOrdersOut:
    """The room's orders, newest first: a host sees the orders of the offers they own, the
    admin every order. Filters combine (all must hold); `totals` count every order that
    matches, not only this page. An unknown offer or point simply matches nothing."""
    which = order_filter(room_id, host, offer_id, status, fulfilment, pickup_point)
    page = await host_orders.room_orders(orders.infra.sessions, which, limit, offset)
    return RoomOrdersOut(
        orders=[HostOrderOut.of_host(row) for row in page.orders],
        total=page.totals.orders,
        totals=OrderTotalsOut.of(page.totals),
    )


CSV_COLUMNS = (
    "order_id",
    "created_at",
    "offer_id",
    "title",
    "variant",
    "quantity",
    "buyer_name",
    "customer_id",
    "status",
    "currency",
    "unit_price",
    "amount",
    "paid",
    "refunded",
    "fulfilment",
    "pickup_point",
    "address",
    "paid_at",
    "fulfilled_at",
)


def csv_cells(row: HostOrder, currency: str) -> list[str]:
    order = row.order
    when = lambda at: at.isoformat() if at else ""  # noqa: E731
    return [
        order.id,
        when(order.created_at),
        order.offer_id,
        safe_cell(row.title),
        safe_cell(order.variant),
        str(order.quantity),
        safe_cell(order.buyer_name),
        safe_cell(order.customer_id),
        order.status,
        currency,
        decimal_amount(order.unit_price_cents),
        decimal_amount(order.amount_cents),
        decimal_amount(order.paid_cents),
        decimal_amount(order.refunded_cents),
        order.fulfilment or "",
        safe_cell(row.pickup_point_name or order.pickup_point),
        safe_cell(order.address),
        when(order.paid_at),
        when(order.fulfilled_at),
    ]


@router.get(
    "/rooms/{room_id}/orders.csv",
    response_class=StreamingResponse,
    tags=["orders"],
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 with a BOM."}},
)
async def room_orders_csv(
    room_id: RoomIdPath,
    orders: OrdersDep,
    host: HostDep,
    offer_id: OfferFilter = None,
    status: StatusFilter = None,
    fulfilment: HowFilter = None,
    pickup_point: PointFilter = None,
) -> StreamingResponse:
    """Every order `GET /rooms/{room_id}/orders` would list with these filters, newest first,
    one line each, for a spreadsheet: UTF-8 with a BOM (Excel reads Chinese names right),
    amounts as decimals with a `currency` column, and a text cell that would start a formula
    (= + - @) begins with an apostrophe. Streamed: a big show's list is not held in memory."""
    which = order_filter(room_id, host, offer_id, status, fulfilment, pickup_point)
    currency = orders.settings.currency

    async def lines() -> AsyncIterator[bytes]:
        yield (BOM + csv_line(CSV_COLUMNS)).encode()
        async for row in host_orders.all_room_orders(orders.infra.sessions, which):
            # "replace": a lone surrogate in a stored name must not break the file midway
            yield csv_line(csv_cells(row, currency)).encode("utf-8", "replace")

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{room_id}-orders.csv"'},
    )
