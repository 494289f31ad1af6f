"""Pay links: a group buyer's "Pay" button opens one order, to see and to pay, nothing else.

Over real HTTP, a real nats-server and both databases: the order is placed as a group's
"+1" is (a PlaceClaim with source "telegram"), the link's token is what ingest signs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import nats

from shared import subjects
from shared.auth import issue_pay_token
from shared.embedded_nats import NatsServer
from shared.events import OrderPlaced, PlaceClaim, parse_event
from shared.messaging import EventPublisher
from tests.orders.conftest import ADMIN, SECRET, Orders
from tests.support import eventually

CARD = {"card": "4242 4242 4242 4242"}


async def group_order(
    orders: Orders, nats_url: str, room_id: str, customer_id: str = "telegram:42"
) -> OrderPlaced:
    """An order held for a Telegram member's "+1", as ingest's claim places it."""
    offer = await orders.offer(room_id=room_id)
    nc = await nats.connect(nats_url)
    try:
        placed = await nc.subscribe(subjects.room_events("orders", room_id))
        claim = PlaceClaim(
            room_id=room_id,
            customer_id=customer_id,
            claim_id=f"telegram:-100200:{uuid.uuid4().hex[:8]}",
            offer_id=offer["id"],
            quantity=2,
            source="telegram",
            source_text="+2",
        )
        await EventPublisher(nc.jetstream()).publish(claim)
        while True:
            event = parse_event((await placed.next_msg(timeout=10)).data)
            if isinstance(event, OrderPlaced) and event.claim_id == claim.claim_id:
                return event
    finally:
        await nc.close()


def pay_link(order: OrderPlaced, secret: str = SECRET, **overrides: Any) -> dict[str, str]:
    """The X-Pay-Token header of the order's link (ingest signs it; it expires with pay_by)."""
    claims: dict[str, Any] = {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "room_id": order.room_id,
        "expires_at": order.pay_by.timestamp(),
        **overrides,
    }
    return {"X-Pay-Token": issue_pay_token(secret=secret, **claims)}


async def test_a_pay_link_shows_its_order_and_pays_it_through_the_gateway(
    orders: Orders, nats_server: NatsServer
) -> None:
    order = await group_order(orders, nats_server.url, "r-group")
    link = pay_link(order)

    seen = await orders.http.get(f"/orders/{order.order_id}", headers=link)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["status"], body["quantity"], body["amount_cents"]) == (
        "awaiting_payment",
        2,
        2 * 49900,
    )
    assert body["customer_id"] == "telegram:42" and body["offer_id"] == order.offer_id

    started = await orders.http.post(f"/orders/{order.order_id}/pay", headers=link, json=CARD)
    assert started.status_code == 202, started.text
    assert started.json()["amount_cents"] == 2 * 49900

    async def paid() -> dict[str, Any] | None:  # the simulated gateway's signed callback
        answer = (await orders.http.get(f"/orders/{order.order_id}", headers=link)).json()
        return answer if answer["status"] == "paid" else None

    settled = await eventually(paid)
    assert settled is not None and settled["paid_cents"] == 2 * 49900
    offer = await orders.get(f"/offers/{order.offer_id}")
    assert (offer["sold"], offer["held"]) == (2, 0)
    again = await orders.http.post(f"/orders/{order.order_id}/pay", headers=link, json=CARD)
    assert again.status_code == 409 and again.json()["code"] == "conflict"  # nothing to pay


async def test_the_link_of_another_order_is_refused(
    orders: Orders, nats_server: NatsServer
) -> None:
    mine = await group_order(orders, nats_server.url, "r-group", "telegram:42")
    my_other = await group_order(orders, nats_server.url, "r-group", "telegram:42")
    theirs = await group_order(orders, nats_server.url, "r-group", "telegram:43")
    for other in (my_other, theirs):  # not the buyer's other orders, nor anyone else's
        for method, path, body in (
            ("GET", f"/orders/{other.order_id}", None),
            ("POST", f"/orders/{other.order_id}/pay", CARD),
        ):
            refused = await orders.http.request(method, path, headers=pay_link(mine), json=body)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "forbidden"
    # A link signed for this order but another buyer (a mistake, never a right): refused too.
    crossed = pay_link(theirs, customer_id="telegram:42")
    answer = await orders.http.get(f"/orders/{theirs.order_id}", headers=crossed)
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    for other in (my_other, theirs):
        untouched = await orders.http.get(f"/orders/{other.order_id}", headers=pay_link(other))
        assert untouched.json()["status"] == "awaiting_payment"


async def test_a_pay_link_cannot_cancel_the_order(orders: Orders, nats_server: NatsServer) -> None:
    order = await group_order(orders, nats_server.url, "r-group")
    link = pay_link(order)
    as_bearer = {"Authorization": f"Bearer {link['X-Pay-Token']}"}
    for headers in (link, as_bearer):
        cancel = await orders.http.post(f"/orders/{order.order_id}/cancel", headers=headers)
        assert cancel.status_code == 401, cancel.text
        assert cancel.json()["code"] in ("unauthenticated", "invalid_token")
    # It may choose delivery or pickup (tests/orders/test_pickup_points.py), as X-Pay-Token.
    pickup = await orders.http.post(
        f"/orders/{order.order_id}/fulfilment",
        headers=as_bearer,
        json={"method": "delivery", "address": "1 Elm St"},
    )
    assert pickup.status_code == 401, pickup.text
    # Nor is it a viewer token where one is read as a bearer (paying included).
    paid_as_bearer = await orders.http.post(
        f"/orders/{order.order_id}/pay", headers=as_bearer, json=CARD
    )
    assert paid_as_bearer.status_code == 401
    still = await orders.http.get(f"/orders/{order.order_id}", headers=link)
    assert (still.json()["status"], still.json()["fulfilment"]) == ("awaiting_payment", None)
    offer = await orders.get(f"/offers/{order.offer_id}")
    assert (offer["held"], offer["sold"]) == (2, 0)


async def test_an_expired_or_forged_link_is_refused(
    orders: Orders, nats_server: NatsServer
) -> None:
    order = await group_order(orders, nats_server.url, "r-group")
    expired = pay_link(order, expires_at=time.time() - 120)  # past pay_by and its minute
    forged = pay_link(order, secret="another-secret-of-at-least-32-bytes!!")
    for headers, code in ((expired, "pay_link_expired"), (forged, "invalid_token")):
        for method, path, body in (
            ("GET", f"/orders/{order.order_id}", None),
            ("POST", f"/orders/{order.order_id}/pay", CARD),
        ):
            refused = await orders.http.request(method, path, headers=headers, json=body)
            assert refused.status_code == 401, refused.text
            assert refused.json()["code"] == code and refused.json()["detail"]
            assert refused.headers["www-authenticate"].startswith("Bearer")
    offer = await orders.get(f"/offers/{order.offer_id}")
    assert offer["sold"] == 0


async def test_no_credential_or_a_broken_link_is_401(
    orders: Orders, nats_server: NatsServer
) -> None:
    order = await group_order(orders, nats_server.url, "r-group")
    for headers in ({}, {"X-Pay-Token": ""}, {"X-Pay-Token": "garbage"}):  # reads: one order
        answer = await orders.http.get(f"/orders/{order.order_id}", headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json()["code"] in ("unauthenticated", "invalid_token"), headers


async def test_the_buyer_s_own_viewer_token_still_works_and_wins_nothing_from_a_link(
    orders: Orders, nats_server: NatsServer
) -> None:
    """A web buyer is unchanged; a link does not open that buyer's orders either."""
    offer = await orders.offer(room_id="r-group")
    lily = orders.buyer("lily", room_id="r-group")
    own = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    assert (await orders.get(f"/orders/{own}", lily))["status"] == "awaiting_payment"
    group = await group_order(orders, nats_server.url, "r-group")
    answer = await orders.http.get(f"/orders/{own}", headers=pay_link(group))
    assert answer.status_code == 403


async def test_a_pay_link_does_not_show_the_pickup_code(
    orders: Orders, nats_server: NatsServer
) -> None:
    """The whole group sees the link; the pickup code collects the goods: the buyer's only."""
    from services.live.adapters.tokens import ViewerTokens
    from services.live.domain.viewers import Viewer

    order = await group_order(orders, nats_server.url, "r-pickup")
    token, _ = ViewerTokens(SECRET, 3600).issue(
        Viewer(room_id="r-pickup", customer_id="telegram:42", display_name="Lily")
    )
    own = {"Authorization": f"Bearer {token}"}
    gate = await orders.http.post(
        "/pickup-points",
        headers=ADMIN,
        json={"name": "Gate 3", "address": "Willow Court", "room_ids": ["r-pickup"]},
    )
    chosen = await orders.http.post(
        f"/orders/{order.order_id}/fulfilment",
        headers=own,
        json={"method": "pickup", "pickup_point": gate.json()["id"]},
    )
    assert chosen.status_code == 200, chosen.text
    link = pay_link(order)
    started = await orders.http.post(f"/orders/{order.order_id}/pay", headers=link, json=CARD)
    assert started.status_code == 202, started.text

    async def code() -> str | None:
        return (await orders.http.get(f"/orders/{order.order_id}", headers=own)).json()[
            "pickup_code"
        ]

    assert await eventually(code)  # the buyer sees it
    seen = (await orders.http.get(f"/orders/{order.order_id}", headers=link)).json()
    assert seen["status"] == "paid" and seen["pickup_code"] is None and seen["referrer_chain"] == []
