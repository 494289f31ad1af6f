"""Per-variant stock: an offer's units split per size/colour, each sold out on its own,
its own waitlist, releases back to the variant, never oversold (docs/decisions/
0038-variant-stock.md). Both database backends (`database_url`)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.orders.adapters.tables import OrderRow
from services.orders.entrypoints.subscribers import claim_request
from shared.events import AmendClaim, PlaceClaim
from tests.orders.conftest import ADMIN, Orders
from tests.orders.test_checkout import stock_adds_up
from tests.support import eventually

SIZES = ["S", "M", "XL"]


async def counts(orders: Orders, offer_id: str) -> dict[str, Any]:
    """The offer, checked: stock = left + held + sold and left = the sum of the variants'."""
    offer = await stock_adds_up(orders, offer_id)
    lefts = [v["left"] for v in offer["variants"]]
    if lefts and lefts[0] is not None:
        assert sum(lefts) == offer["left"], offer
    return offer


def left_of(offer: dict[str, Any]) -> dict[str, int | None]:
    return {v["name"]: v["left"] for v in offer["variants"]}


async def test_an_offer_split_per_variant_shows_each_in_the_products_order(
    orders: Orders,
) -> None:
    offer = await orders.offer(variants=SIZES, stock=None, variant_stock={"xl": 2, "S": 3, "M": 0})
    assert offer["stock"] == offer["left"] == 5
    assert offer["variants"] == [
        {"name": "S", "left": 3, "sold_out": False},
        {"name": "M", "left": 0, "sold_out": True},
        {"name": "XL", "left": 2, "sold_out": False},
    ]
    shared = await orders.offer(variants=SIZES, stock=4)
    assert shared["variants"] == [{"name": v, "left": None, "sold_out": False} for v in SIZES]
    plain = await orders.offer(stock=4)
    assert plain["variants"] == []


BAD_SPLITS: list[tuple[dict[str, Any], list[str]]] = [
    ({"variant_stock": {"S": 1, "M": 1, "XL": 1, "L": 1}}, SIZES),  # not the product's
    ({"variant_stock": {"S": 1, "M": 1}}, SIZES),  # XL not named
    ({"variant_stock": {"S": 1, "M": 1, "XL": 1}, "stock": 5}, SIZES),  # not the sum
    ({"variant_stock": {"S": 1, "M": 1, "XL": 1, "xl": 1}}, SIZES),  # XL twice
    ({"variant_stock": {"S": -1, "M": 1, "XL": 1}}, SIZES),
    ({"variant_stock": {"S": "1", "M": 1, "XL": 1}}, SIZES),  # strict: no strings
    ({"variant_stock": {"S": 1.0, "M": 1, "XL": 1}}, SIZES),
    ({"variant_stock": {"S": True, "M": 1, "XL": 1}}, SIZES),
    ({"variant_stock": {"S": 1}}, []),  # a product without variants
    ({"variant_stock": None}, SIZES),  # neither stock nor variant_stock
]


async def test_a_bad_split_is_422(orders: Orders) -> None:
    # One service for all cases, a new product each: every split not refused is named.
    accepted = []
    for terms, variants in BAD_SPLITS:
        product = await orders.http.post(
            "/products", headers=ADMIN, json={"title": "Tee", "variants": variants}
        )
        body = {"product_id": product.json()["id"], "price_cents": 100, **terms}
        created = await orders.http.post("/rooms/r1/offers", headers=ADMIN, json=body)
        if not (
            created.status_code == 422
            and created.json()["code"] in ("invalid_offer", "invalid_request")
        ):
            accepted.append((terms, variants, created.status_code, created.text[:300]))
    assert not accepted, accepted


async def test_a_sold_out_variant_waits_for_its_own_units_only(orders: Orders) -> None:
    offer = await orders.offer(variants=SIZES, stock=None, variant_stock={"S": 1, "M": 1, "XL": 1})
    a, b, c, d = (orders.buyer(n) for n in "abcd")
    taken_xl = await orders.checkout(offer["id"], a, variant="XL")
    assert taken_xl.status_code == 201
    taken_s = await orders.checkout(offer["id"], b, variant="S")
    assert taken_s.status_code == 201
    # XL is sold out though the offer is not: c waits for S, d for XL (c first).
    waits_s = await orders.checkout(offer["id"], c, key="c-waits-for-S", variant="S")
    waits_xl = await orders.checkout(offer["id"], d, key="d-waits-for-XL", variant="x-large")
    assert waits_s.json()["code"] == waits_xl.json()["code"] == "sold_out_waitlisted"
    now = await counts(orders, offer["id"])
    assert left_of(now) == {"S": 0, "M": 1, "XL": 0} and now["left"] == 1
    assert [v["sold_out"] for v in now["variants"]] == [True, False, True]
    # a's XL goes back: it serves d (waiting for XL), not c who came first for S.
    auth = {"Authorization": a["Authorization"]}
    cancel = await orders.http.post(f"/orders/{taken_xl.json()['order_id']}/cancel", headers=auth)
    assert cancel.status_code == 200
    d_again = await orders.checkout(offer["id"], d, key="d-waits-for-XL", variant="XL")
    assert d_again.json()["ok"] and d_again.json()["replayed"]
    handed = await orders.get(f"/orders/{d_again.json()['order_id']}", d)
    assert (handed["variant"], handed["from_waitlist"]) == ("XL", True)
    assert handed["buyer_name"] == "d"  # the name shown when they joined the waitlist
    c_again = await orders.checkout(offer["id"], c, key="c-waits-for-S", variant="S")
    assert c_again.json()["code"] == "sold_out_waitlisted"
    assert left_of(await counts(orders, offer["id"])) == {"S": 0, "M": 1, "XL": 0}


async def test_an_expired_order_gives_its_units_back_to_its_variant(orders: Orders) -> None:
    offer = await orders.offer(
        variants=SIZES, stock=None, variant_stock={"S": 2, "M": 2, "XL": 2}, pay_within_s=5
    )
    lily = orders.buyer("lily")
    placed = await orders.checkout(offer["id"], lily, variant="M", quantity=2)
    assert placed.status_code == 201
    assert left_of(await counts(orders, offer["id"])) == {"S": 2, "M": 0, "XL": 2}

    async def expired() -> bool:
        order = await orders.get(f"/orders/{placed.json()['order_id']}", lily)
        return bool(order["status"] == "expired")

    await eventually(expired, timeout=20)
    after = await counts(orders, offer["id"])
    assert left_of(after) == {"S": 2, "M": 2, "XL": 2} and after["left"] == 6


async def test_the_host_resplits_a_live_offer_never_below_what_buyers_hold(
    orders: Orders,
) -> None:
    offer = await orders.offer(variants=SIZES, stock=None, variant_stock={"S": 1, "M": 1, "XL": 1})
    a, b = orders.buyer("a"), orders.buyer("b")
    assert (await orders.checkout(offer["id"], a, variant="XL")).status_code == 201
    waiting = await orders.checkout(offer["id"], b, key="b-waits-for-XL", variant="XL")
    assert waiting.json()["code"] == "sold_out_waitlisted"
    path = f"/offers/{offer['id']}"
    below = await orders.http.patch(
        path, headers=ADMIN, json={"variant_stock": {"S": 1, "M": 1, "XL": 0}}
    )
    assert below.status_code == 409 and "XL" in below.json()["detail"], below.text
    stock_only = await orders.http.patch(path, headers=ADMIN, json={"stock": 9})
    assert stock_only.status_code == 422, stock_only.text
    not_sum = await orders.http.patch(
        path, headers=ADMIN, json={"variant_stock": {"S": 1, "M": 1, "XL": 3}, "stock": 4}
    )
    assert not_sum.status_code == 422, not_sum.text
    strict = await orders.http.patch(
        path, headers=ADMIN, json={"variant_stock": {"S": "1", "M": 1, "XL": 3}}
    )
    assert strict.status_code == 422, strict.text
    more = await orders.http.patch(
        path, headers=ADMIN, json={"variant_stock": {"S": 0, "M": 1, "x-large": 3}}
    )
    assert more.status_code == 200, more.text
    # Two more XL: the waiting buyer is served first, one is left.
    assert more.json()["stock"] == 4
    assert left_of(more.json()) == {"S": 0, "M": 1, "XL": 1}
    served = await orders.checkout(offer["id"], b, key="b-waits-for-XL", variant="XL")
    assert served.json()["ok"]
    await counts(orders, offer["id"])
    # A shared offer can be split while live too, keeping what is held of each variant.
    shared = await orders.offer(variants=SIZES, stock=5)
    assert (await orders.checkout(shared["id"], a, variant="M", quantity=2)).status_code == 201
    split = await orders.http.patch(
        f"/offers/{shared['id']}", headers=ADMIN, json={"variant_stock": {"S": 1, "M": 2, "XL": 2}}
    )
    assert split.status_code == 200, split.text
    assert left_of(split.json()) == {"S": 1, "M": 0, "XL": 2}
    await counts(orders, shared["id"])


async def test_orders_carry_the_name_the_buyer_showed(orders: Orders) -> None:
    offer = await orders.offer(variants=SIZES, stock=None, variant_stock={"S": 3, "M": 3, "XL": 3})
    lily = orders.buyer("Lily 丽丽")
    placed = await orders.checkout(offer["id"], lily, variant="XL")
    order = await orders.get(f"/orders/{placed.json()['order_id']}", lily)
    assert (order["buyer_name"], order["variant"]) == ("Lily 丽丽", "XL")
    chat = PlaceClaim(
        room_id="r1",
        customer_id="telegram:77",
        claim_id="line-77",
        offer_id=offer["id"],
        quantity=1,
        variant="xl",
        source="telegram",
        buyer_name="Aunt Wang",
    )
    result = await orders.app.checkout.place(claim_request(chat))
    assert result.ok, result.message
    async with orders.app.infra.sessions() as session:
        row = await session.get(OrderRow, result.order_id)
    assert row is not None and (row.buyer_name, row.variant) == ("Aunt Wang", "XL")


async def test_an_amendment_takes_from_and_gives_back_to_its_variant(orders: Orders) -> None:
    offer = await orders.offer(
        variants=SIZES, stock=None, variant_stock={"S": 5, "M": 5, "XL": 2}, per_buyer_limit=5
    )
    claim = PlaceClaim(
        room_id="r1",
        customer_id="telegram:5",
        claim_id="line-5",
        offer_id=offer["id"],
        quantity=1,
        variant="XL",
        source="telegram",
    )
    assert (await orders.app.checkout.place(claim_request(claim))).ok
    amendments = orders.app.amendments
    assert amendments is not None

    def amend(quantity: int, n: int) -> AmendClaim:
        return AmendClaim(
            id=f"amend:line-5:{n}",
            room_id="r1",
            customer_id="telegram:5",
            claim_id="line-5",
            quantity=quantity,
        )

    too_many = await amendments.amend(amend(3, 1))  # 2 more XL, only 1 left of XL
    assert not too_many.ok and "Only 1 more" in too_many.message
    assert (await amendments.amend(amend(2, 2))).ok
    assert left_of(await counts(orders, offer["id"])) == {"S": 5, "M": 5, "XL": 0}
    assert (await amendments.amend(amend(1, 3))).ok
    assert left_of(await counts(orders, offer["id"])) == {"S": 5, "M": 5, "XL": 1}


async def test_many_buyers_on_one_variant_never_oversell_it(orders: Orders) -> None:
    """Concurrent checkouts for one variant over HTTP: exactly its units are sold, the
    other variants are untouched, the counters add up (PostgreSQL too: `database_url`)."""
    offer = await orders.offer(
        variants=SIZES, stock=None, variant_stock={"S": 30, "M": 30, "XL": 25}
    )
    buyers = [orders.buyer(f"b{i}") for i in range(150)]
    answers = await asyncio.gather(
        *(orders.checkout(offer["id"], b, variant="XL") for b in buyers),
        *(orders.checkout(offer["id"], b, variant="S") for b in buyers[:10]),
    )
    xl = answers[: len(buyers)]
    assert sum(r.status_code == 201 for r in xl) == 25
    assert {r.json()["code"] for r in xl if r.status_code != 201} == {"sold_out_waitlisted"}
    assert all(r.status_code == 201 for r in answers[len(buyers) :])
    after = await counts(orders, offer["id"])
    assert left_of(after) == {"S": 20, "M": 30, "XL": 0}
    assert (after["held"], after["left"]) == (35, 50)
