"""The host's list of a room's orders: filters, paging, totals, CSV; who may read it; and
GET /orders/{id} for the admin and the offer's host."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from services.live.adapters.tokens import HostTokens, ViewerTokens
from services.live.domain.viewers import Viewer
from services.orders.adapters.tables import OrderRow
from shared.spreadsheet import decimal_amount, safe_cell
from tests.orders.conftest import ADMIN, SECRET, Orders
from tests.support import eventually

CARD = {"card": "4242 4242 4242 4242"}
ROOM = "r_list"


def host(host_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {HostTokens(SECRET).issue(host_id, host_id)}"}


MEI, BO = host("host:mei"), host("host:bo")


async def hosts_offer(
    orders: Orders, who: dict[str, str], title: str, room_id: str = ROOM, **terms: Any
) -> dict[str, Any]:
    product = await orders.http.post("/products", headers=who, json={"title": title})
    assert product.status_code == 201, product.text
    body = {
        "product_id": product.json()["id"],
        "price_cents": 1250,
        "stock": 50,
        "per_buyer_limit": 5,
        **terms,
    }
    created = await orders.http.post(f"/rooms/{room_id}/offers", headers=who, json=body)
    assert created.status_code == 201, created.text
    opened = await orders.http.post(f"/offers/{created.json()['id']}/open", headers=who)
    assert opened.status_code == 200, opened.text
    return opened.json()


async def order(orders: Orders, offer: dict[str, Any], name: str, quantity: int = 1) -> str:
    buyer = orders.buyer(name, ROOM)
    placed = await orders.checkout(offer["id"], buyer, quantity=quantity)
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["order_id"]
    async with orders.app.infra.sessions() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
        if not row.buyer_name:  # checkout names the buyer from issue 18 on (helper variants)
            row.buyer_name = name
            session.add(row)
            await session.commit()
    return order_id


async def paid(orders: Orders, order_id: str) -> None:
    """Pay as its buyer would (a viewer token of the order's customer), and wait for the
    provider's callback."""
    async with orders.app.infra.sessions() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
    token, _ = ViewerTokens(SECRET, 3600).issue(
        Viewer(room_id=ROOM, customer_id=row.customer_id, display_name="x")
    )
    buyer = {"Authorization": f"Bearer {token}"}
    started = await orders.http.post(f"/orders/{order_id}/pay", headers=buyer, json=CARD)
    assert started.status_code == 202, started.text

    async def settled() -> bool:
        seen = await orders.http.get(f"/orders/{order_id}", headers=buyer)
        return bool(seen.json()["status"] == "paid")

    await eventually(settled)


@pytest.fixture
async def shop(orders: Orders) -> dict[str, Any]:
    """Mei's two offers and Bo's one in the room, and one of Mei's in another room:
    Mei's orders: tea x2 paid, tea x1 awaiting, cake x3 paid then refunded 5.00;
    Bo's: one soap; another room: one tea."""
    tea = await hosts_offer(orders, MEI, "Tea 茶")
    cake = await hosts_offer(orders, MEI, "=cmd|' /C calc'!A0")
    soap = await hosts_offer(orders, BO, "Soap")
    elsewhere = await hosts_offer(orders, MEI, "Tea 茶", room_id="r_elsewhere")
    tea_paid = await order(orders, tea, "Lily", 2)
    tea_waiting = await order(orders, tea, "王小明")
    cake_paid = await order(orders, cake, "+Bob", 3)
    soap_order = await order(orders, soap, "Wei")
    other_room = await orders.checkout(elsewhere["id"], orders.buyer("Ann", "r_elsewhere"))
    assert other_room.status_code == 201
    for order_id in (tea_paid, cake_paid):
        await paid(orders, order_id)
    refund = await orders.http.post(
        f"/orders/{cake_paid}/refund", headers=MEI, json={"amount_cents": 500}
    )
    assert refund.status_code == 200, refund.text
    return {
        "tea": tea,
        "cake": cake,
        "soap": soap,
        "tea_paid": tea_paid,
        "tea_waiting": tea_waiting,
        "cake_paid": cake_paid,
        "soap_order": soap_order,
    }


async def listed(orders: Orders, who: dict[str, str], query: str = "") -> dict[str, Any]:
    answer = await orders.http.get(f"/rooms/{ROOM}/orders{query}", headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_host_lists_only_their_offers_orders_with_totals(
    orders: Orders, shop: dict[str, Any]
) -> None:
    mine = await listed(orders, MEI)
    ids = [o["id"] for o in mine["orders"]]
    assert ids == [shop["cake_paid"], shop["tea_waiting"], shop["tea_paid"]]  # newest first
    assert mine["total"] == 3
    assert mine["totals"] == {
        "orders": 3,
        "units": 6,
        "amount_cents": 6 * 1250,
        "paid_cents": 5 * 1250,
        "refunded_cents": 500,
        "by_status": {"awaiting_payment": 1, "paid": 2},
    }
    first = mine["orders"][0]
    assert first["title"] == "=cmd|' /C calc'!A0" and first["buyer_name"] == "+Bob"
    assert (first["room_id"], first["quantity"], first["refunded_cents"]) == (ROOM, 3, 500)
    assert all(o["pickup_code"] is None for o in mine["orders"])
    bos = await listed(orders, BO)
    assert [o["id"] for o in bos["orders"]] == [shop["soap_order"]]
    everything = await listed(orders, ADMIN)
    assert everything["total"] == 4
    assert {o["title"] for o in everything["orders"]} >= {"Soap", "Tea 茶"}


async def test_filters_combine_and_totals_follow_them(orders: Orders, shop: dict[str, Any]) -> None:
    tea = await listed(orders, MEI, f"?offer_id={shop['tea']['id']}")
    assert [o["id"] for o in tea["orders"]] == [shop["tea_waiting"], shop["tea_paid"]]
    assert (tea["totals"]["units"], tea["totals"]["paid_cents"]) == (3, 2 * 1250)
    paid_tea = await listed(orders, MEI, f"?offer_id={shop['tea']['id']}&status=paid")
    assert [o["id"] for o in paid_tea["orders"]] == [shop["tea_paid"]]
    several = await listed(orders, MEI, "?status=paid&status=awaiting_payment")
    assert several["total"] == 3
    assert (await listed(orders, MEI, "?status=refunded"))["total"] == 0
    none_chosen = await listed(orders, MEI, "?fulfilment=none")
    assert none_chosen["total"] == 3
    assert (await listed(orders, MEI, "?fulfilment=pickup"))["total"] == 0
    assert (await listed(orders, MEI, "?pickup_point=pp_nowhere"))["orders"] == []
    # Another host's offer named: nothing of theirs shows.
    assert (await listed(orders, MEI, f"?offer_id={shop['soap']['id']}"))["total"] == 0


async def test_paging_keeps_the_totals_of_the_whole_set(
    orders: Orders, shop: dict[str, Any]
) -> None:
    first = await listed(orders, MEI, "?limit=2")
    second = await listed(orders, MEI, "?limit=2&offset=2")
    assert len(first["orders"]) == 2 and len(second["orders"]) == 1
    assert first["total"] == second["total"] == 3
    assert first["totals"] == second["totals"]
    ids = [o["id"] for o in first["orders"] + second["orders"]]
    assert ids == [shop["cake_paid"], shop["tea_waiting"], shop["tea_paid"]]
    past = await listed(orders, MEI, "?offset=10")
    assert (past["orders"], past["total"]) == ([], 3)


BAD_FILTERS = [
    "?limit=501",
    "?limit=0",
    "?offset=-1",
    "?limit=ten",
    "?status=shipped",
    "?fulfilment=drone",
    "?offer_id=",
    "?pickup_point=",
    "?" + "&".join(["status=paid"] * 8),
    "?offer_id=" + "x" * 201,
]


async def test_bad_filters_are_422(orders: Orders) -> None:
    # Reads only: one service for all queries, every one not refused is named.
    accepted = []
    for query in BAD_FILTERS:
        for path in (f"/rooms/{ROOM}/orders{query}", f"/rooms/{ROOM}/orders.csv{query}"):
            if ("limit" in query or "offset" in query) and path.endswith(f".csv{query}"):
                continue  # the CSV has every row: no paging
            answer = await orders.http.get(path, headers=MEI)
            if not (answer.status_code == 422 and answer.json()["code"] == "invalid_request"):
                accepted.append((path, answer.status_code, answer.text[:300]))
    assert not accepted, accepted


async def test_who_may_read_the_list(orders: Orders) -> None:
    viewer = orders.buyer("Lily", ROOM)
    for path in (f"/rooms/{ROOM}/orders", f"/rooms/{ROOM}/orders.csv"):
        assert (await orders.http.get(path)).status_code == 401
        refused = await orders.http.get(path, headers={"Authorization": viewer["Authorization"]})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        garbage = await orders.http.get(path, headers={"Authorization": "Bearer nope"})
        assert garbage.status_code == 401
    bad_room = await orders.http.get("/rooms/not a room/orders", headers=MEI)
    assert bad_room.status_code == 422


async def test_get_order_answers_the_admin_and_the_offers_host_only(
    orders: Orders, shop: dict[str, Any]
) -> None:
    path = f"/orders/{shop['tea_paid']}"
    as_admin = await orders.http.get(path, headers=ADMIN)
    assert as_admin.status_code == 200, as_admin.text
    assert as_admin.json()["id"] == shop["tea_paid"] and as_admin.json()["status"] == "paid"
    as_mei = await orders.http.get(path, headers=MEI)
    assert as_mei.status_code == 200 and as_mei.json()["quantity"] == 2
    as_bo = await orders.http.get(path, headers=BO)
    assert as_bo.status_code == 403 and as_bo.json()["code"] == "forbidden"
    unknown = await orders.http.get("/orders/ord_nothing", headers=ADMIN)
    assert unknown.status_code == 404
    # A host reads; the buyer pays.
    paying = await orders.http.post(f"/orders/{shop['tea_waiting']}/pay", headers=MEI, json=CARD)
    assert paying.status_code == 403
    waiting = await orders.http.get(f"/orders/{shop['tea_waiting']}", headers=MEI)
    assert waiting.json()["status"] == "awaiting_payment"


def read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def test_the_csv_has_the_filtered_rows_a_bom_and_no_formulas(
    orders: Orders, shop: dict[str, Any]
) -> None:
    answer = await orders.http.get(f"/rooms/{ROOM}/orders.csv", headers=MEI)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = read_csv(answer.content)
    assert [r["order_id"] for r in rows] == [
        shop["cake_paid"],
        shop["tea_waiting"],
        shop["tea_paid"],
    ]
    cake, waiting, tea = rows
    assert cake["title"] == "'=cmd|' /C calc'!A0" and cake["buyer_name"] == "'+Bob"
    assert (cake["paid"], cake["refunded"], cake["currency"]) == ("37.50", "5.00", "CNY")
    assert (tea["quantity"], tea["unit_price"], tea["amount"]) == ("2", "12.50", "25.00")
    assert waiting["buyer_name"] == "王小明" and waiting["title"] == "Tea 茶"
    assert waiting["status"] == "awaiting_payment" and waiting["paid_at"] == ""
    only_paid = read_csv(
        (
            await orders.http.get(
                f"/rooms/{ROOM}/orders.csv?status=paid&offer_id={shop['tea']['id']}", headers=MEI
            )
        ).content
    )
    assert [r["order_id"] for r in only_paid] == [shop["tea_paid"]]
    everything = read_csv(
        (await orders.http.get(f"/rooms/{ROOM}/orders.csv", headers=ADMIN)).content
    )
    assert len(everything) == 4


async def test_the_csv_reads_past_one_batch(
    orders: Orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.orders.service_layer import host_orders

    monkeypatch.setattr(host_orders, "CSV_BATCH", 2)
    offer = await hosts_offer(orders, MEI, "Plums", per_buyer_limit=1)
    placed = [await order(orders, offer, f"buyer{i}") for i in range(5)]
    rows = read_csv((await orders.http.get(f"/rooms/{ROOM}/orders.csv", headers=MEI)).content)
    assert [r["order_id"] for r in rows] == placed[::-1]


def test_cells_that_would_be_formulas_are_quoted() -> None:
    for text in ("=1+1", "+86 138", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    # a plain number is no formula: "-5.00" owed back, "-1001234" a Telegram group
    for plain in ("Lily", "王小明", "1=1", "-5.00", "-1001234", "", None):
        assert safe_cell(plain) == (plain or "")
    assert [decimal_amount(c) for c in (0, 5, 1250, 100_000_001, -250)] == [
        "0.00",
        "0.05",
        "12.50",
        "1000000.01",
        "-2.50",
    ]
