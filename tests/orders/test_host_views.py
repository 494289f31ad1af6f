"""What the host console reads from orders: the catalog, and a room's sales so far.
And the browser may call orders from live's pages (CORS)."""

from __future__ import annotations

import httpx

from services.live.adapters.tokens import HostTokens
from tests.orders.conftest import ADMIN, SECRET, Orders
from tests.support import eventually


async def test_catalog_lists_the_hosts_own_products(orders: Orders) -> None:
    admin_product = await orders.http.post("/products", headers=ADMIN, json={"title": "Tea 茶"})
    async with httpx.AsyncClient(timeout=30) as http:
        # A host credential as live issues them (same secret): the host sees only theirs.
        mei = {"Authorization": f"Bearer {HostTokens(SECRET).issue('host:mei', 'Mei')}"}
        created = await http.post(
            f"{orders.url}/products", headers=mei, json={"title": "Cherries", "variants": ["xl"]}
        )
        hers = (await http.get(f"{orders.url}/products", headers=mei)).json()
        anonymous = await http.get(f"{orders.url}/products")
    everything = await orders.get("/products")
    assert hers == [
        {"id": created.json()["id"], "title": "Cherries", "variants": ["XL"], "photos": []}
    ]
    assert {p["id"] for p in everything} == {created.json()["id"], admin_product.json()["id"]}
    assert anonymous.status_code == 401


async def test_room_sales_count_claims_orders_payments_and_gmv(orders: Orders) -> None:
    offer = await orders.offer(room_id="r_sales", stock=2, per_buyer_limit=1, price_cents=4990)
    other_room = await orders.offer(room_id="r_other", stock=5)
    lily, bob, mei = (orders.buyer(name, "r_sales") for name in ("Lily", "Bob", "Mei"))
    placed = await orders.checkout(offer["id"], lily)
    assert placed.status_code == 201
    assert (await orders.checkout(offer["id"], bob)).status_code == 201
    assert (await orders.checkout(offer["id"], mei)).status_code == 409  # sold out: waitlisted
    assert (await orders.checkout(other_room["id"], mei)).status_code == 201
    paid = await orders.http.post(
        f"/orders/{placed.json()['order_id']}/pay",
        headers={"Authorization": lily["Authorization"]},
        json={"card": "4242 4242 4242 4242"},
    )
    assert paid.status_code == 202

    async def settled() -> dict:
        sales = await orders.get("/rooms/r_sales/sales")
        # (offers and orders are read one after the other: let the callback finish)
        return sales if sales["paid_orders"] == 1 and sales["offers"][0]["sold"] == 1 else {}

    sales = await eventually(settled)
    assert (sales["claims"], sales["orders"], sales["paid_orders"]) == (3, 2, 1)
    assert sales["gmv_cents"] == 4990
    assert [(o["id"], o["left"], o["held"], o["sold"]) for o in sales["offers"]] == [
        (offer["id"], 0, 1, 1)
    ]
    empty = await orders.get("/rooms/r_nothing/sales")
    assert (empty["offers"], empty["claims"], empty["gmv_cents"]) == ([], 0, 0)


async def test_pages_may_call_orders_from_the_browser(orders: Orders) -> None:
    preflight = await orders.http.options(
        "/offers/off_x/checkout",
        headers={
            "Origin": "http://127.0.0.1:8002",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
