"""The pickup desk's API: who may issue a desk link and use it, looking an order up by its
pickup code, the handover (once, `order.fulfilled` on the bus), refusals and the wrong-code
limit."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlmodel import col, select

from services.live.adapters.tokens import HostTokens
from services.orders.adapters.tables import DeskAttemptRow, OrderRow, PickupPointRow
from services.orders.domain import fulfilment
from tests.orders.conftest import ADMIN, SECRET, Orders
from tests.support import eventually

ROOM = "r-desk"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ANN = bearer(HostTokens(SECRET).issue("host:ann", "Ann"))
BOB = bearer(HostTokens(SECRET).issue("host:bob", "Bob"))


async def add_point(orders: Orders, owner: str = "host:ann", name: str = "Maple Court") -> str:
    """A pickup point, straight into the table (its CRUD is another part of the API)."""
    point_id = f"pp_{uuid.uuid4().hex[:10]}"
    async with orders.app.infra.sessions() as session:
        session.add(
            PickupPointRow(
                id=point_id,
                owner=owner,
                name=name,
                address="12 Maple Road, gate 3",
                hours="9:00-20:00",
                room_ids=[ROOM],
            )
        )
        await session.commit()
    return point_id


async def paid_pickup(
    orders: Orders, offer_id: str, point_id: str, name: str, **checkout: Any
) -> dict[str, Any]:
    """A buyer's order, picked up at `point_id`, paid: it has its pickup code."""
    buyer = orders.buyer(name, ROOM)
    auth = {"Authorization": buyer["Authorization"]}
    placed = await orders.checkout(offer_id, buyer, **checkout)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    chosen = await orders.http.post(
        f"/orders/{order_id}/fulfilment",
        headers=auth,
        json={"method": "pickup", "pickup_point": point_id},
    )
    assert chosen.status_code == 200, chosen.text
    async with orders.app.infra.sessions() as session:  # the name the buyer showed
        row = await session.get(OrderRow, order_id)
        assert row is not None
        row.buyer_name = name
        session.add(row)
        await session.commit()
    paying = await orders.http.post(
        f"/orders/{order_id}/pay", headers=auth, json={"card": "4242 4242 4242 4242"}
    )
    assert paying.status_code == 202, paying.text

    async def paid() -> dict[str, Any] | None:
        order = await orders.get(f"/orders/{order_id}", buyer)
        return order if order["status"] == "paid" and order["pickup_code"] else None

    order = await eventually(paid)
    assert order is not None
    return {**order, "buyer": buyer}


async def desk_link(orders: Orders, point_id: str, host: dict[str, str] = ANN) -> dict[str, str]:
    issued = await orders.http.post(f"/pickup-points/{point_id}/desk-token", headers=host, json={})
    assert issued.status_code == 201, issued.text
    return bearer(issued.json()["token"])


async def test_who_may_issue_a_desk_link(orders: Orders) -> None:
    point = await add_point(orders)
    url = f"/pickup-points/{point}/desk-token"
    issued = await orders.http.post(
        url, headers={**ANN, "Origin": "http://127.0.0.1:8002"}, json={"hours": 2}
    )
    assert issued.status_code == 201, issued.text
    link = issued.json()
    assert link["desk_url"] == f"http://127.0.0.1:8002/desk#token={link['token']}"
    lasts = datetime.fromisoformat(link["expires_at"]) - datetime.now().astimezone()
    assert 1.9 * 3600 < lasts.total_seconds() <= 2 * 3600
    assert (await orders.http.post(url, headers=ADMIN)).status_code == 201  # no body: 12 h
    # Another host's point, a viewer, no credential, an unknown point.
    assert (await orders.http.post(url, headers=BOB, json={})).json()["code"] == "forbidden"
    viewer = {"Authorization": orders.buyer("lily", ROOM)["Authorization"]}
    assert (await orders.http.post(url, headers=viewer, json={})).status_code == 403
    assert (await orders.http.post(url, json={})).status_code == 401
    unknown = await orders.http.post("/pickup-points/pp_nope/desk-token", headers=ANN, json={})
    assert unknown.status_code == 404
    # hours: a JSON integer of 1..168.
    for hours in (0, 169, "12", 1.5, True):
        refused = await orders.http.post(url, headers=ANN, json={"hours": hours})
        assert refused.status_code == 422, (hours, refused.text)
    # A desk token is not a host's credential, nor a buyer's.
    desk = bearer(link["token"])
    assert (await orders.http.post(url, headers=desk, json={})).status_code == 403
    product = await orders.http.post("/products", headers=desk, json={"title": "x"})
    assert product.status_code == 403 and product.json()["code"] == "forbidden"
    offer = await orders.offer(ROOM, host=ANN)
    bought = await orders.http.post(
        f"/offers/{offer['id']}/checkout",
        headers={**desk, "Idempotency-Key": uuid.uuid4().hex},
        json={"quantity": 1},
    )
    assert bought.status_code == 403, bought.text
    assert (await orders.http.get("/orders/ord_nope", headers=desk)).status_code == 403


async def test_the_desk_hands_an_order_over_once(orders: Orders, nc: NatsClient) -> None:
    point = await add_point(orders)
    offer = await orders.offer(ROOM, variants=["S", "XL"], host=ANN)
    order = await paid_pickup(orders, offer["id"], point, "Lily 莉莉", variant="XL")
    code = order["pickup_code"]
    desk = await desk_link(orders, point)
    home = await orders.http.get("/desk", headers=desk)
    assert home.status_code == 200 and home.json()["pickup_point"]["name"] == "Maple Court"

    # Only this point's desk token opens the desk: not the host, the admin, a viewer,
    # another point's desk.
    other_desk = await desk_link(orders, await add_point(orders, name="Willow Court"))
    viewer = {"Authorization": orders.buyer("wei", ROOM)["Authorization"]}
    for credential in (ANN, ADMIN, viewer):
        for method, path in (
            ("GET", "/desk"),
            ("GET", f"/desk/orders/{code}"),
            ("POST", f"/desk/orders/{code}/handover"),
        ):
            refused = await orders.http.request(method, path, headers=credential)
            assert refused.status_code == 403, (credential, path, refused.text)
    assert (await orders.http.get(f"/desk/orders/{code}")).status_code == 401
    garbage = await orders.http.get(f"/desk/orders/{code}", headers=bearer("garbage"))
    assert garbage.status_code == 401
    elsewhere = await orders.http.post(f"/desk/orders/{code}/handover", headers=other_desk)
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "unknown_code"

    seen = await orders.http.get(f"/desk/orders/{code}", headers=desk)
    assert seen.status_code == 200, seen.text
    assert seen.json() | {"paid_at": None} == {
        "order_id": order["id"],
        "code": code,
        "status": "paid",
        "title": offer["title"],
        "variant": "XL",
        "quantity": 1,
        "buyer_name": "Lily 莉莉",
        "paid_at": None,
        "fulfilled_at": None,
        "room_id": ROOM,
    }
    assert seen.json()["paid_at"]

    js = nc.jetstream()
    fulfilled = await js.subscribe(f"orders.{ROOM}.order.fulfilled", stream="ORDERS")
    handed = await orders.http.post(f"/desk/orders/{code}/handover", headers=desk)
    assert handed.status_code == 200, handed.text
    at = handed.json()["fulfilled_at"]
    assert at and handed.json()["status"] == "paid"
    event = json.loads((await fulfilled.next_msg(timeout=15)).data)
    assert {k: event[k] for k in ("type", "order_id", "offer_id", "pickup_point", "quantity")} == {
        "type": "order.fulfilled",
        "order_id": order["id"],
        "offer_id": offer["id"],
        "pickup_point": point,
        "quantity": 1,
    }
    assert event["method"] == "pickup" and event["customer_id"] == order["customer_id"]
    mine = await orders.get(f"/orders/{order['id']}", order["buyer"])
    assert mine["fulfilled_at"] and mine["status"] == "paid"

    # The second handover is refused and says when the first was.
    again = await orders.http.post(f"/desk/orders/{code}/handover", headers=desk)
    assert again.status_code == 409
    problem = again.json()
    assert problem["code"] == "already_handed_over"
    assert datetime.fromisoformat(problem["fulfilled_at"]) == datetime.fromisoformat(at)
    assert "already handed over at" in problem["detail"]
    looked = await orders.http.get(f"/desk/orders/{code}", headers=desk)
    assert looked.json()["fulfilled_at"] == handed.json()["fulfilled_at"]
    with pytest.raises(TimeoutError):  # one event, not two
        await fulfilled.next_msg(timeout=1)


async def test_a_refunded_order_is_not_handed_over(orders: Orders) -> None:
    point = await add_point(orders)
    offer = await orders.offer(ROOM, host=ANN)
    order = await paid_pickup(orders, offer["id"], point, "Wei")
    refunded = await orders.http.post(f"/orders/{order['id']}/refund", headers=ADMIN, json={})
    assert refunded.status_code == 200, refunded.text
    desk = await desk_link(orders, point)
    seen = await orders.http.get(f"/desk/orders/{order['pickup_code']}", headers=desk)
    assert seen.status_code == 200 and seen.json()["status"] == "refunded"
    handed = await orders.http.post(f"/desk/orders/{order['pickup_code']}/handover", headers=desk)
    assert handed.status_code == 409 and handed.json()["code"] == "not_paid", handed.text


async def test_wrong_codes_are_404_then_429_per_desk_link(orders: Orders) -> None:
    point = await add_point(orders)
    offer = await orders.offer(ROOM, host=ANN)
    order = await paid_pickup(orders, offer["id"], point, "Mei")
    code = order["pickup_code"]
    desk, spare = await desk_link(orders, point), await desk_link(orders, point)
    wrong = [c for c in (f"{n:06d}" for n in range(1, 10)) if c != code][:5]
    for attempt in (*wrong[:4], "not-a-code"):
        missed = await orders.http.get(f"/desk/orders/{attempt}", headers=desk)
        assert missed.status_code == 404 and missed.json()["code"] == "unknown_code"
    # Locked out: even the right code waits (else the lock would still tell a hit).
    for path in (f"/desk/orders/{wrong[4]}", f"/desk/orders/{code}"):
        limited = await orders.http.get(path, headers=desk)
        assert limited.status_code == 429 and limited.json()["code"] == "too_many_attempts"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
    handed = await orders.http.post(f"/desk/orders/{code}/handover", headers=desk)
    assert handed.status_code == 429
    # The count is in the database (every replica sees it), per desk link.
    async with orders.app.infra.sessions() as session:
        rows = (
            await session.exec(
                select(DeskAttemptRow).where(col(DeskAttemptRow.pickup_point) == point)
            )
        ).all()
    assert len(rows) == 5
    assert (
        await orders.http.post(f"/desk/orders/{code}/handover", headers=spare)
    ).status_code == 200


async def test_codes_are_unique_among_a_points_open_orders(
    orders: Orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six random digits may repeat: never between two orders waiting at one point."""
    draws = iter(["123456", "123456", "654321", "123456"])
    monkeypatch.setattr(fulfilment, "pickup_code", lambda: next(draws))
    point, elsewhere = await add_point(orders), await add_point(orders, name="Willow Court")
    offer = await orders.offer(ROOM, host=ANN)
    first = await paid_pickup(orders, offer["id"], point, "Lily")
    second = await paid_pickup(orders, offer["id"], point, "Wei")
    third = await paid_pickup(orders, offer["id"], elsewhere, "Mei")  # another point: may repeat
    assert (first["pickup_code"], second["pickup_code"]) == ("123456", "654321")
    assert third["pickup_code"] == "123456"
