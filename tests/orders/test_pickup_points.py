"""Pickup points and delivery-or-pickup at checkout (issue 18, part "fulfil").

Hosts run points serving rooms; a room's buyers choose one of them (or delivery to an
address, kept for their next order) until the goods are handed over; a group's pay link
may choose too but never reads the address back.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import update

from services.live.adapters.tokens import HostTokens
from services.orders.adapters.tables import OrderRow
from shared.embedded_nats import NatsServer
from shared.events import utcnow
from tests.orders.conftest import ADMIN, SECRET, Orders
from tests.orders.test_pay_links import CARD, group_order, pay_link
from tests.support import eventually

MEI = {"Authorization": f"Bearer {HostTokens(SECRET).issue('host:mei', 'Mei')}"}
JUN = {"Authorization": f"Bearer {HostTokens(SECRET).issue('host:jun', 'Jun')}"}
POINT = {
    "name": "Maple Court gate 3",
    "address": "12 Maple Court, Xuhui",
    "hours": "Mon-Sat 9:00-20:00",
    "contact": "Ms Wang 138 0000 0000",
}


async def point(orders: Orders, headers: dict[str, str] = ADMIN, **body: Any) -> dict[str, Any]:
    created = await orders.http.post(
        "/pickup-points", headers=headers, json={**POINT, "room_ids": ["r1"], **body}
    )
    assert created.status_code == 201, created.text
    return created.json()


def bearer(buyer: dict[str, str]) -> dict[str, str]:
    return {"Authorization": buyer["Authorization"]}


async def choose(
    orders: Orders, order_id: str, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    answer = await orders.http.post(f"/orders/{order_id}/fulfilment", headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_host_creates_lists_edits_and_retires_their_points(orders: Orders) -> None:
    mine = await point(orders, MEI, room_ids=["r1", "r2", "r1"])
    assert mine["id"].startswith("pp_") and mine["retired_at"] is None
    assert mine["room_ids"] == ["r1", "r2"]  # once each, in order
    assert {k: mine[k] for k in POINT} == POINT
    theirs = await point(orders, JUN, name="Willow gate")

    listed = (await orders.http.get("/pickup-points", headers=MEI)).json()
    assert [p["id"] for p in listed] == [mine["id"]]  # a host sees only theirs
    every = (await orders.http.get("/pickup-points", headers=ADMIN)).json()
    assert {mine["id"], theirs["id"]} <= {p["id"] for p in every}
    by_room = await orders.http.get("/pickup-points", headers=MEI, params={"room_id": "r2"})
    assert [p["id"] for p in by_room.json()] == [mine["id"]]
    other_room = await orders.http.get("/pickup-points", headers=MEI, params={"room_id": "r9"})
    assert other_room.json() == []

    edited = await orders.http.patch(
        f"/pickup-points/{mine['id']}",
        headers=MEI,
        json={"hours": "  Daily 8:00-21:00 ", "room_ids": ["r2"]},
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["hours"], edited.json()["room_ids"]) == ("Daily 8:00-21:00", ["r2"])
    assert edited.json()["name"] == POINT["name"]  # what was not sent stays

    retired = await orders.http.post(f"/pickup-points/{mine['id']}/retire", headers=MEI)
    assert retired.status_code == 200 and retired.json()["retired_at"]
    again = await orders.http.post(f"/pickup-points/{mine['id']}/retire", headers=MEI)
    assert again.json()["retired_at"] == retired.json()["retired_at"]
    assert (await orders.http.get("/pickup-points", headers=MEI)).json() == []
    with_retired = await orders.http.get(
        "/pickup-points", headers=MEI, params={"include_retired": "true"}
    )
    assert [p["id"] for p in with_retired.json()] == [mine["id"]]


async def test_host_routes_refuse_others_viewers_and_strangers(orders: Orders) -> None:
    theirs = await point(orders, JUN)
    lily = bearer(orders.buyer("lily"))
    for method, path, body in (
        ("PATCH", f"/pickup-points/{theirs['id']}", {"name": "Mine now"}),
        ("POST", f"/pickup-points/{theirs['id']}/retire", None),
    ):
        refused = await orders.http.request(method, path, headers=MEI, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
        unknown = await orders.http.request(
            method, path.replace(theirs["id"], "pp_nothing"), headers=MEI, json=body
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    for headers, status in ((lily, 403), ({}, 401), ({"Authorization": "Bearer junk"}, 401)):
        calls: tuple[tuple[str, str, Any], ...] = (
            ("POST", "/pickup-points", {**POINT, "room_ids": ["r1"]}),
            ("GET", "/pickup-points", None),
            ("PATCH", f"/pickup-points/{theirs['id']}", {"name": "x"}),
            ("POST", f"/pickup-points/{theirs['id']}/retire", None),
        )
        for method, path, body in calls:
            answer = await orders.http.request(method, path, headers=headers, json=body)
            assert answer.status_code == status, (method, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    seen = (await orders.http.get("/pickup-points", headers=JUN)).json()
    assert [(p["name"], p["retired_at"]) for p in seen] == [(POINT["name"], None)]


BAD_POINTS: list[dict[str, Any]] = [
    {},
    {"name": "", "address": "x"},
    {"name": "   ", "address": "x"},
    {"name": "A", "address": ""},
    {"name": "A", "address": "x", "room_ids": "r1"},
    {"name": "A", "address": "x", "room_ids": ["not a room!"]},
    {"name": "A", "address": "x", "room_ids": [1]},
    {"name": 5, "address": "x"},
    {"name": "A" * 121, "address": "x"},
    {"name": "A", "address": "x", "hours": "h" * 201},
    {"name": "A", "address": "x", "room_ids": [f"r{i}" for i in range(101)]},
]


async def test_bad_points_are_422(orders: Orders) -> None:
    # One service for all bodies (a refused body changes nothing): every body is still
    # sent, and every one not refused is named.
    accepted = []
    for body in BAD_POINTS:
        answer = await orders.http.post("/pickup-points", headers=MEI, json=body)
        problem = answer.json()
        if not (
            answer.status_code == 422
            and problem.get("code") == "invalid_request"
            and problem.get("errors")
        ):
            accepted.append((body, answer.status_code, answer.text[:300]))
    assert not accepted, accepted
    assert (await orders.http.get("/pickup-points", headers=MEI)).json() == []


async def test_bad_edits_and_queries_are_422(orders: Orders) -> None:
    mine = await point(orders, MEI)
    for body in ({"name": ""}, {"room_ids": ["bad room"]}, {"address": 3}):
        answer = await orders.http.patch(f"/pickup-points/{mine['id']}", headers=MEI, json=body)
        assert answer.status_code == 422, answer.text
    for params in ({"room_id": "bad room"}, {"include_retired": "maybe"}):
        answer = await orders.http.get("/pickup-points", headers=MEI, params=params)
        assert answer.status_code == 422, answer.text


async def test_a_room_offers_its_sellers_active_points_only(orders: Orders) -> None:
    await orders.offer(room_id="r1")  # the admin sells in r1
    ours = await point(orders, ADMIN, room_ids=["r1"])
    elsewhere = await point(orders, ADMIN, room_ids=["r2"])
    retired = await point(orders, ADMIN, name="Old gate")
    await orders.http.post(f"/pickup-points/{retired['id']}/retire", headers=ADMIN)
    stranger = await point(orders, JUN, name="Jun's shop")  # Jun sells nothing in r1

    listed = await orders.http.get("/rooms/r1/pickup-points")  # public
    assert listed.status_code == 200
    assert listed.json() == [{k: ours[k] for k in ("id", "name", "address", "hours", "contact")}]
    ids = {p["id"] for p in listed.json()}
    assert not ids & {elsewhere["id"], retired["id"], stranger["id"]}
    assert (await orders.http.get("/rooms/bad%20room/pickup-points")).status_code == 422
    # One point, even retired, as an order there shows it.
    one = await orders.http.get(f"/pickup-points/{retired['id']}")
    assert one.status_code == 200 and one.json()["name"] == "Old gate"
    assert "owner" not in one.json() and "room_ids" not in one.json()
    assert (await orders.http.get("/pickup-points/pp_nothing")).status_code == 404


async def test_pickup_at_a_point_then_pay_gives_a_code(orders: Orders) -> None:
    offer = await orders.offer()
    where = await point(orders)
    lily = orders.buyer("lily")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    chosen = await choose(orders, order_id, bearer(lily), method="pickup", pickup_point=where["id"])
    assert (chosen["fulfilment"], chosen["pickup_point"], chosen["address"]) == (
        "pickup",
        where["id"],
        None,
    )
    assert chosen["pickup_code"] is None  # not paid yet
    paid = await orders.http.post(f"/orders/{order_id}/pay", headers=bearer(lily), json=CARD)
    assert paid.status_code == 202, paid.text

    async def code() -> str:
        return str((await orders.get(f"/orders/{order_id}", lily))["pickup_code"] or "")

    assert len(await eventually(code)) == 6
    # Changing to delivery after paying is allowed (not handed over): the code goes.
    moved = await choose(orders, order_id, bearer(lily), method="delivery", address="1 Elm St")
    assert (moved["fulfilment"], moved["pickup_point"], moved["pickup_code"]) == (
        "delivery",
        None,
        None,
    )
    back = await choose(orders, order_id, bearer(lily), method="pickup", pickup_point=where["id"])
    assert len(back["pickup_code"]) == 6 and back["address"] is None


async def test_unknown_retired_foreign_or_other_room_points_are_refused(
    orders: Orders,
) -> None:
    offer = await orders.offer(room_id="r1")
    lily = orders.buyer("lily")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    retired = await point(orders, name="Old gate")
    await orders.http.post(f"/pickup-points/{retired['id']}/retire", headers=ADMIN)
    other_room = await point(orders, room_ids=["r2"])
    foreign = await point(orders, JUN)  # serves r1, but Jun does not sell this offer
    for candidate in (
        "Maple Court gate",
        "pp_nothing",
        retired["id"],
        other_room["id"],
        foreign["id"],
    ):
        refused = await orders.http.post(
            f"/orders/{order_id}/fulfilment",
            headers=bearer(lily),
            json={"method": "pickup", "pickup_point": candidate},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "unknown_pickup_point"
    order = await orders.get(f"/orders/{order_id}", lily)
    assert (order["fulfilment"], order["pickup_point"]) == (None, None)


async def test_an_order_at_a_point_keeps_it_after_the_point_retires(orders: Orders) -> None:
    offer = await orders.offer()
    where = await point(orders)
    lily = orders.buyer("lily")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    await choose(orders, order_id, bearer(lily), method="pickup", pickup_point=where["id"])
    await orders.http.post(f"/pickup-points/{where['id']}/retire", headers=ADMIN)
    order = await orders.get(f"/orders/{order_id}", lily)
    assert order["pickup_point"] == where["id"]
    assert (await orders.http.get("/rooms/r1/pickup-points")).json() == []


BAD_FULFILMENTS: list[dict[str, Any]] = [
    {"method": "delivery"},
    {"method": "delivery", "address": "   "},
    {"method": "pickup"},
    {"method": "post"},
    {"method": "delivery", "address": "x" * 501},
    {"method": "delivery", "address": 12},
    {},
]


async def test_bad_fulfilment_is_422(orders: Orders) -> None:
    # One service, a new order per body as when each had its own test.
    accepted = []
    for body in BAD_FULFILMENTS:
        offer = await orders.offer()
        lily = orders.buyer("lily")
        order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
        answer = await orders.http.post(
            f"/orders/{order_id}/fulfilment", headers=bearer(lily), json=body
        )
        if not (
            answer.status_code == 422
            and answer.headers["content-type"] == "application/problem+json"
        ):
            accepted.append((body, answer.status_code, answer.text[:300]))
    assert not accepted, accepted


async def test_the_delivery_address_is_kept_for_the_next_order(orders: Orders) -> None:
    offer = await orders.offer(per_buyer_limit=5)
    lily = orders.buyer("lily")
    assert (await orders.get("/me/delivery", lily)) == {"address": None}
    first = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    address = "Room 502, 8 Willow Road\nXuhui, Shanghai 上海"
    chosen = await choose(orders, first, bearer(lily), method="delivery", address=f" {address} ")
    assert (chosen["fulfilment"], chosen["address"]) == ("delivery", address)
    assert (await orders.get("/me/delivery", lily)) == {"address": address}
    # Another room's token of the same person reads the same address.
    elsewhere = await orders.http.get("/me/delivery", headers=bearer(orders.buyer("bob")))
    assert elsewhere.json() == {"address": None}  # another person: nothing
    second = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    await choose(orders, second, bearer(lily), method="delivery", address="9 Oak Lane")
    assert (await orders.get("/me/delivery", lily)) == {"address": "9 Oak Lane"}
    assert (await orders.get(f"/orders/{first}", lily))["address"] == address  # unchanged


async def test_me_delivery_needs_a_viewer_token(orders: Orders) -> None:
    for headers in ({}, {"Authorization": "Bearer junk"}):
        answer = await orders.http.get("/me/delivery", headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] in (
            "unauthenticated",
            "invalid_token",
        )


async def test_someone_else_s_order_is_404_and_a_handed_over_one_409(orders: Orders) -> None:
    offer = await orders.offer()
    where = await point(orders)
    lily, bob = orders.buyer("lily"), orders.buyer("bob")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    stolen = await orders.http.post(
        f"/orders/{order_id}/fulfilment",
        headers=bearer(bob),
        json={"method": "delivery", "address": "Bob's flat"},
    )
    assert stolen.status_code == 404 and stolen.json()["code"] == "not_found"
    await choose(orders, order_id, bearer(lily), method="pickup", pickup_point=where["id"])
    async with orders.app.infra.sessions() as session:  # the desk handed it over
        await session.exec(
            update(OrderRow).where(OrderRow.id == order_id).values(fulfilled_at=utcnow())
        )
        await session.commit()
    late = await orders.http.post(
        f"/orders/{order_id}/fulfilment",
        headers=bearer(lily),
        json={"method": "delivery", "address": "1 Elm St"},
    )
    assert late.status_code == 409 and late.json()["code"] == "already_fulfilled"
    cancelled_id = (await orders.checkout(offer["id"], bob)).json()["order_id"]
    await orders.http.post(f"/orders/{cancelled_id}/cancel", headers=bearer(bob))
    gone = await orders.http.post(
        f"/orders/{cancelled_id}/fulfilment",
        headers=bearer(bob),
        json={"method": "delivery", "address": "x"},
    )
    assert gone.status_code == 409 and gone.json()["code"] == "conflict"


async def test_a_pay_link_may_choose_but_never_reads_the_address(
    orders: Orders, nats_server: NatsServer
) -> None:
    order = await group_order(orders, nats_server.url, "r1")
    link = pay_link(order)
    chosen = await choose(orders, order.order_id, link, method="delivery", address="7 Pine St")
    assert chosen["fulfilment"] == "delivery" and chosen["address"] is None
    seen = (await orders.http.get(f"/orders/{order.order_id}", headers=link)).json()
    assert (seen["fulfilment"], seen["address"]) == ("delivery", None)
    async with orders.app.infra.sessions() as session:  # stored for the host all the same
        row = await session.get(OrderRow, order.order_id)
        assert row is not None and row.address == "7 Pine St"
    # A link's choice is not the buyer's saved address (anyone in the group holds it).
    assert await orders.app.pickup_points.last_address(str(order.customer_id)) is None
    where = await point(orders)
    picked = await choose(orders, order.order_id, link, method="pickup", pickup_point=where["id"])
    assert picked["pickup_point"] == where["id"]
    other = await group_order(orders, nats_server.url, "r1", "telegram:43")
    crossed = await orders.http.post(
        f"/orders/{other.order_id}/fulfilment",
        headers=link,
        json={"method": "delivery", "address": "x"},
    )
    assert crossed.status_code == 403 and crossed.json()["code"] == "forbidden"
    paid = await orders.http.post(f"/orders/{order.order_id}/pay", headers=link, json=CARD)
    assert paid.status_code == 202

    async def settled() -> dict[str, Any] | None:
        answer = (await orders.http.get(f"/orders/{order.order_id}", headers=link)).json()
        return answer if answer["status"] == "paid" else None

    assert (await eventually(settled) or {}).get("pickup_code") is None  # hidden from a link
