"""HTTP, read-only, for the host console: the catalog to build a lineup from, and a
room's offers with its live sales figures."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.orders.entrypoints.deps import HostDep, OrdersDep
from services.orders.entrypoints.http import OfferOut, ProductOut, photos_out
from services.orders.service_layer import sales_figures
from shared.api import RoomIdPath, api_router

router = api_router()


class RoomSalesOut(BaseModel):
    room_id: str
    offers: list[OfferOut] = Field(description="The room's offers with stock left, held, sold.")
    claims: int = Field(description="Buy intents decided: held stock or refused (waitlisted).")
    orders: int = Field(description="Claims that held stock (any status since).")
    paid_orders: int
    gmv_cents: int = Field(description="Paid minus refunded.")


@router.get("/products", response_model=list[ProductOut], tags=["catalog"])
async def list_products(orders: OrdersDep, host: HostDep) -> list[ProductOut]:
    """The host's catalog, newest first (an admin sees every product), with their photos."""
    rows = await sales_figures.catalog(orders.infra.sessions, host.id, host.is_admin)
    photos = await orders.photos.of_products(p.id for p in rows)
    return [
        ProductOut(
            id=p.id, title=p.title, variants=p.variants, photos=photos_out(photos.get(p.id, []))
        )
        for p in rows
    ]


@router.get("/rooms/{room_id}/sales", response_model=RoomSalesOut, tags=["offers"])
async def room_sales(room_id: RoomIdPath, orders: OrdersDep, host: HostDep) -> RoomSalesOut:
    """A room's offers and its figures so far: claims, orders, paid orders, GMV."""
    sales = await sales_figures.room_sales(orders.infra.sessions, room_id, host.id, host.is_admin)
    photos = await orders.photos.of_products(o.product_id for o in sales.offers)
    return RoomSalesOut(
        room_id=room_id,
        offers=[OfferOut.of(o, photos.get(o.product_id, [])) for o in sales.offers],
        claims=sales.claims,
        orders=sales.orders,
        paid_orders=sales.paid_orders,
        gmv_cents=sales.gmv_cents,
    )
