"""A buyer's own APIs: my orders across rooms, my pickup code's QR code, my waitlist places.

Over real HTTP, a real nats-server and both databases. A buyer sees only their own: another
buyer's order (and its QR code) is 404, as an unknown one.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import segno

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from services.orders.adapters.tables import OrderRow, PickupPointRow
from shared.events import utcnow
from tests.orders.conftest import ADMIN, SECRET, Orders
from tests.support import eventually

CARD = {"card": "4242 4242 4242 4242"}


def token_of(customer_id: str, room_id: str) -> dict[str, str]:
    token, _ = ViewerTokens(SECRET, 3600).issue(
        Viewer(room_id=room_id, customer_id=customer_id, display_name="Lily")
    )
    return {"Authorization": f"Bearer {token}", "customer_id": customer_id}


async def mine_of(orders: Orders, path: str, buyer: dict[str, str]) -> list[dict[str, Any]]:
    answer = await orders.http.get(path, headers=auth(buyer))
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()
    return listed


def auth(buyer: dict[str, str]) -> dict[str, str]:
    return {"Authorization": buyer["Authorization"]}


async def place(orders: Orders, offer_id: str, buyer: dict[str, str], **body: Any) -> str:
    placed = await orders.checkout(offer_id, buyer, **body)
    assert placed.status_code == 201, placed.text
    return str(placed.json()["order_id"])


async def pickup_point(orders: Orders, room_id: str) -> str:
    point = PickupPointRow(
        id=f"pp_{uuid.uuid4().hex[:10]}",
        owner="admin",
        name="Block 3 gate 3号楼门口",
        address="3 Garden Rd",
        hours="18:00-21:00",
        room_ids=[room_id],
    )
    async with orders.app.infra.sessions() as session:
        session.add(point)
        await session.commit()
    return point.id


async def paid(orders: Orders, order_id: str, buyer: dict[str, str]) -> dict[str, Any]:
    started = await orders.http.post(f"/orders/{order_id}/pay", headers=auth(buyer), json=CARD)
    assert started.status_code == 202, started.text

    async def settled() -> dict[str, Any]:
        order = await orders.get(f"/orders/{order_id}", buyer)
        return order if order["status"] == "paid" else {}

    result: dict[str, Any] = await eventually(settled, timeout=20)
    return result


async def test_my_orders_lists_mine_across_rooms_newest_first_and_nobody_elses(
    orders: Orders,
) -> None:
    me = orders.buyer("Lily", room_id="r-a")
    other = orders.buyer("Wang", room_id="r-a")
    offer_a = await orders.offer(room_id="r-a", title="Cherries A")
    offer_b = await orders.offer(room_id="r-b", title="Lychees B")
    first = await place(orders, offer_a["id"], me)
    # The same person's token of another room (one customer id across rooms)
    me_in_b = token_of(me["customer_id"], "r-b")
    second = await place(orders, offer_b["id"], me_in_b)
    theirs = await place(orders, offer_a["id"], other)

    mine = await mine_of(orders, "/me/orders", me)
    assert [o["id"] for o in mine] == [second, first]
    assert [(o["room_id"], o["title"]) for o in mine] == [
        ("r-b", "Lychees B"),
        ("r-a", "Cherries A"),
    ]
    assert all(o["customer_id"] == me["customer_id"] and o["pickup"] is None for o in mine)
    assert theirs not in {o["id"] for o in mine}
    limited = await mine_of(orders, "/me/orders?limit=1", me)
    assert [o["id"] for o in limited] == [second]


async def test_my_orders_refuse_no_token_a_bad_token_and_bad_limits(orders: Orders) -> None:
    me = orders.buyer("Lily")
    assert (await orders.http.get("/me/orders")).status_code == 401
    bad = await orders.http.get("/me/orders", headers={"Authorization": "Bearer not.a.token"})
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_token")
    admin = await orders.http.get("/me/orders", headers={"Authorization": "Bearer test-admin"})
    assert admin.status_code == 401
    for limit in ("0", "201", "x", "1.5"):
        answer = await orders.http.get(f"/me/orders?limit={limit}", headers=auth(me))
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request"), limit


async def test_a_paid_pickup_order_shows_its_point_and_a_qr_code_of_its_code(
    orders: Orders,
) -> None:
    me = orders.buyer("Lily", room_id="r-q")
    other = orders.buyer("Wang", room_id="r-q")
    offer = await orders.offer(room_id="r-q")
    order_id = await place(orders, offer["id"], me)
    # No code before it is paid: the QR code is not there either.
    assert (
        await orders.http.get(f"/me/orders/{order_id}/pickup-qr.svg", headers=auth(me))
    ).status_code == 404
    point = await pickup_point(orders, "r-q")
    chosen = await orders.http.post(
        f"/orders/{order_id}/fulfilment",
        headers=auth(me),
        json={"method": "pickup", "pickup_point": point},
    )
    assert chosen.status_code == 200, chosen.text
    order = await paid(orders, order_id, me)
    code = order["pickup_code"]
    assert code

    mine = await mine_of(orders, "/me/orders", me)
    assert mine[0]["pickup_code"] == code
    assert mine[0]["pickup"]["id"] == point and mine[0]["pickup"]["hours"] == "18:00-21:00"

    qr = await orders.http.get(f"/me/orders/{order_id}/pickup-qr.svg", headers=auth(me))
    assert qr.status_code == 200, qr.text
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "private, no-store"
    assert qr.text.lstrip().startswith("<?xml") or "<svg" in qr.text[:200]
    # The same QR code segno makes of the code: a scanner at the desk reads the code.
    expected = io.BytesIO()
    segno.make_qr(code, error="m").save(
        expected, kind="svg", scale=8, border=2, title="Pickup code"
    )
    assert qr.content == expected.getvalue()

    # Another buyer: 404, as for an order that does not exist; no credential: 401.
    for path in (f"/me/orders/{order_id}/pickup-qr.svg", "/me/orders/ord_nope/pickup-qr.svg"):
        refused = await orders.http.get(path, headers=auth(other))
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    assert (await orders.http.get(f"/me/orders/{order_id}/pickup-qr.svg")).status_code == 401
    assert code not in str(await mine_of(orders, "/me/orders", other))

    # Refunded, the code collects nothing: no QR code either.
    refunded = await orders.http.post(f"/orders/{order_id}/refund", headers=ADMIN, json={})
    assert refunded.status_code == 200, refunded.text
    gone = await orders.http.get(f"/me/orders/{order_id}/pickup-qr.svg", headers=auth(me))
    assert gone.status_code == 404


async def test_waitlist_place_leave_and_join_again(orders: Orders) -> None:
    offer = await orders.offer(room_id="r-w", stock=1, title="Last box")
    first = orders.buyer("First", room_id="r-w")
    second = orders.buyer("Second", room_id="r-w")
    third = orders.buyer("Third", room_id="r-w")
    await place(orders, offer["id"], first)
    for buyer in (second, third):
        refused = await orders.checkout(offer["id"], buyer)
        assert refused.json()["code"] == "sold_out_waitlisted", refused.text

    (mine,) = await mine_of(orders, "/me/waitlist", third)
    assert (mine["offer_id"], mine["room_id"], mine["title"]) == (offer["id"], "r-w", "Last box")
    assert (mine["place"], mine["quantity"], mine["variant"]) == (2, 1, None)
    assert [p["place"] for p in await mine_of(orders, "/me/waitlist", second)] == [1]
    assert await mine_of(orders, "/me/waitlist", first) == []

    # Second leaves: third moves up; leaving twice, or an offer never waited on, is 404.
    left = await orders.http.delete(f"/me/waitlist/{offer['id']}", headers=auth(second))
    assert left.status_code == 204, left.text
    assert await mine_of(orders, "/me/waitlist", second) == []
    assert [p["place"] for p in await mine_of(orders, "/me/waitlist", third)] == [1]
    again = await orders.http.delete(f"/me/waitlist/{offer['id']}", headers=auth(second))
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    unknown = await orders.http.delete("/me/waitlist/off_nope", headers=auth(second))
    assert unknown.status_code == 404
    assert (await orders.http.delete(f"/me/waitlist/{offer['id']}")).status_code == 401

    # One *waiting* place per buyer: who left may join again, at the end of the queue.
    back = await orders.checkout(offer["id"], second)
    assert back.json()["code"] == "sold_out_waitlisted", back.text
    assert [p["place"] for p in await mine_of(orders, "/me/waitlist", second)] == [2]
    twice = await orders.checkout(offer["id"], second)
    assert twice.json()["code"] == "sold_out_waitlisted"
    assert len(await mine_of(orders, "/me/waitlist", second)) == 1

    # A unit released goes to the first still waiting (third), not to who left before.
    (held,) = await mine_of(orders, "/me/orders", first)
    cancelled = await orders.http.post(f"/orders/{held['id']}/cancel", headers=auth(first))
    assert cancelled.status_code == 200, cancelled.text

    async def served() -> list[dict[str, Any]]:
        return [o for o in await mine_of(orders, "/me/orders", third) if o["from_waitlist"]]

    assert await eventually(served, timeout=20)
    assert await mine_of(orders, "/me/waitlist", third) == []
    assert [p["place"] for p in await mine_of(orders, "/me/waitlist", second)] == [1]


async def test_the_place_counts_those_waiting_for_the_same_variant(orders: Orders) -> None:
    offer = await orders.offer(room_id="r-v", stock=1, variants=["S", "M"])
    await place(orders, offer["id"], orders.buyer("First", room_id="r-v"), variant="S")
    waiting = [orders.buyer(name, room_id="r-v") for name in ("M1", "S1", "M2")]
    for buyer, size in zip(waiting, ("M", "S", "M"), strict=True):
        refused = await orders.checkout(offer["id"], buyer, variant=size)
        assert refused.json()["code"] == "sold_out_waitlisted", refused.text
    places = [await mine_of(orders, "/me/waitlist", buyer) for buyer in waiting]
    assert [(p[0]["variant"], p[0]["place"]) for p in places] == [("M", 1), ("S", 1), ("M", 2)]


async def test_a_handed_over_order_says_when(orders: Orders) -> None:
    me = orders.buyer("Lily", room_id="r-h")
    offer = await orders.offer(room_id="r-h")
    order_id = await place(orders, offer["id"], me)
    point = await pickup_point(orders, "r-h")
    await orders.http.post(
        f"/orders/{order_id}/fulfilment",
        headers=auth(me),
        json={"method": "pickup", "pickup_point": point},
    )
    await paid(orders, order_id, me)
    async with orders.app.infra.sessions() as session:  # what the desk's handover writes
        row = await session.get(OrderRow, order_id)
        assert row is not None
        row.fulfilled_at = utcnow()
        session.add(row)
        await session.commit()
    (mine,) = await mine_of(orders, "/me/orders", me)
    assert mine["fulfilled_at"] is not None and mine["pickup"]["name"].startswith("Block 3")
