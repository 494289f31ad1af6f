"""Issue 13 items 3 and 4: times without a zone and malformed room ids are refused at the
edge (422 with the reason), never stored to fail later."""

from __future__ import annotations

from typing import Any

from tests.orders.conftest import ADMIN, Orders

NAIVE_FIELDS = {"opens_at", "ends_at", "balance_from"}


async def _product(orders: Orders) -> str:
    product = await orders.http.post("/products", headers=ADMIN, json={"title": "Cherries"})
    return str(product.json()["id"])


NAIVE_TERMS: list[dict[str, Any]] = [
    {"opens_at": "2030-01-01T20:00:00"},
    {"ends_at": "2030-01-01T20:00:00"},
    {
        "kind": "pre_sale",
        "deposit_cents": 50,
        "balance_from": "2030-01-01T20:00:00",
        "balance_until": "2030-01-02T20:00:00+08:00",
    },
]


async def test_an_offer_time_without_a_zone_is_a_422_that_says_so(orders: Orders) -> None:
    # One service for all cases, a new product each as when each had its own test.
    for terms in NAIVE_TERMS:
        body = {"product_id": await _product(orders), "price_cents": 100, "stock": 1, **terms}
        answer = await orders.http.post("/rooms/r1/offers", headers=ADMIN, json=body)
        assert answer.status_code == 422, (terms, answer.text)
        assert "timezone" in answer.text, terms
        # The same time with its zone is taken.
        zoned = {
            k: v + "Z" if k in NAIVE_FIELDS and v.endswith(":00") else v for k, v in body.items()
        }
        taken = await orders.http.post("/rooms/r1/offers", headers=ADMIN, json=zoned)
        assert taken.status_code == 201, (terms, taken.text)


async def test_an_offer_edit_without_a_zone_is_a_422(orders: Orders) -> None:
    offer = await orders.offer()
    naive = {"ends_at": "2030-01-01T20:00:00"}
    answer = await orders.http.patch(f"/offers/{offer['id']}", headers=ADMIN, json=naive)
    assert answer.status_code == 422, answer.text
    assert "timezone" in answer.text


async def test_an_offer_for_a_malformed_room_id_is_refused(orders: Orders) -> None:
    for room_id in ("r_x%20", "r.x", "r*", "x" * 65):  # one service for all: refusals store nothing
        body = {"product_id": await _product(orders), "price_cents": 100, "stock": 1}
        answer = await orders.http.post(f"/rooms/{room_id}/offers", headers=ADMIN, json=body)
        assert answer.status_code == 422, (room_id, answer.text)
        assert "room_id" in answer.text, room_id
        sales = await orders.http.get(f"/rooms/{room_id}/sales", headers=ADMIN)
        assert sales.status_code == 422, (room_id, sales.text)
