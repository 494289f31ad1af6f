"""Checkout, payment and expiry over real HTTP, a real nats-server and the database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest

from services.orders.service_layer.catalog import NotFound
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import ClaimRejected, OrderPlaced, PlaceClaim, new_id, parse_event
from shared.messaging import EventPublisher
from tests.orders.conftest import ADMIN, Orders
from tests.support import eventually


async def stock_adds_up(orders: Orders, offer_id: str) -> dict:
    offer = await orders.get(f"/offers/{offer_id}")
    assert offer["left"] + offer["held"] + offer["sold"] == offer["stock"], offer
    return offer


async def test_checkout_holds_stock_and_a_retry_is_the_same_order(orders: Orders) -> None:
    offer = await orders.offer(variants=["XL", "x-large", "M"])
    assert (await orders.get(f"/offers/{offer['id']}"))["left"] == 10
    lily = orders.buyer("lily")
    first = await orders.checkout(offer["id"], lily, key="key-000001", variant="xlarge")
    assert first.status_code == 201, first.text
    again = await orders.checkout(offer["id"], lily, key="key-000001", variant="xlarge")
    assert again.json()["order_id"] == first.json()["order_id"] and again.json()["replayed"]
    order = await orders.get(f"/orders/{first.json()['order_id']}", lily)
    assert (order["status"], order["variant"], order["amount_cents"]) == (
        "awaiting_payment",
        "XL",
        49900,
    )
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["left"], counts["held"]) == (9, 1)


BAD_CHECKOUTS: list[tuple[dict[str, Any], int, str | None]] = [
    ({"quantity": 3}, 409, "limit_reached"),
    ({"quantity": 0}, 422, None),
    ({"quantity": -5}, 422, None),
    ({"quantity": 10**9}, 422, None),
    ({"quantity": 1, "variant": "purple"}, 409, "invalid"),
]


async def test_bad_checkouts_are_refused_clearly(orders: Orders) -> None:
    # One service, a new offer and buyer per case as when each had its own test.
    for body, status, reason in BAD_CHECKOUTS:
        offer = await orders.offer(variants=["S", "M"])
        response = await orders.checkout(offer["id"], orders.buyer("x"), **{"variant": "M", **body})
        assert response.status_code == status, (body, response.text)
        if reason:
            assert response.json()["code"] == reason and response.json()["detail"], body
        await stock_adds_up(orders, offer["id"])
        assert (await orders.get(f"/offers/{offer['id']}"))["left"] == 10, body


async def test_no_key_no_token_or_unknown_offer(orders: Orders) -> None:
    offer = await orders.offer()
    buyer = orders.buyer("a")
    no_key = await orders.http.post(
        f"/offers/{offer['id']}/checkout",
        headers={"Authorization": buyer["Authorization"]},
        json={},
    )
    assert no_key.status_code == 422
    no_token = await orders.http.post(
        f"/offers/{offer['id']}/checkout", headers={"Idempotency-Key": "k" * 10}, json={}
    )
    assert no_token.status_code == 401
    assert (await orders.checkout("off_nope", buyer)).status_code == 404
    scheduled = await orders.offer(open_now=False)
    assert (await orders.checkout(scheduled["id"], buyer)).json()["code"] == "not_open"


async def test_pay_confirm_duplicate_and_bad_callbacks(orders: Orders) -> None:
    offer = await orders.offer()
    lily = orders.buyer("lily")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    gate = await orders.http.post(
        "/pickup-points",
        headers=ADMIN,
        json={"name": "Maple Court gate", "address": "12 Maple Court", "room_ids": ["r1"]},
    )
    chosen = await orders.http.post(
        f"/orders/{order_id}/fulfilment",
        headers={"Authorization": lily["Authorization"]},
        json={"method": "pickup", "pickup_point": gate.json()["id"]},
    )
    assert chosen.status_code == 200, chosen.text
    paid = await orders.http.post(
        f"/orders/{order_id}/pay",
        headers={"Authorization": lily["Authorization"]},
        json={"card": "4242 4242 4242 4242"},
    )
    assert paid.status_code == 202 and paid.json()["status"] == "pending"

    async def confirmed() -> dict | None:
        order = await orders.get(f"/orders/{order_id}", lily)
        return order if order["status"] == "paid" else None

    order = await eventually(confirmed)
    assert order["paid_cents"] == 49900 and len(order["pickup_code"]) == 6
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["sold"], counts["held"]) == (1, 0)
    # The same callback again (a provider retry): nothing changes.
    gateway = orders.app.gateway
    body = gateway.callback_body(paid.json()["payment_id"], "succeeded", 49900)
    for expected in ("applied_or_dup", "duplicate"):
        response = await orders.http.post(
            "/payments/callback", content=body, headers={"X-Sim-Signature": gateway.sign(body)}
        )
        assert response.status_code == 200
        if expected == "duplicate":
            assert response.json()["status"] == "duplicate"
    assert (await stock_adds_up(orders, offer["id"]))["sold"] == 1
    # Forged, unknown and malformed callbacks change nothing.
    forged = await orders.http.post(
        "/payments/callback", content=body, headers={"X-Sim-Signature": "t=1,v1=00"}
    )
    assert forged.status_code == 401
    unknown = gateway.callback_body("simpay_nope", "succeeded", 1)
    response = await orders.http.post(
        "/payments/callback", content=unknown, headers={"X-Sim-Signature": gateway.sign(unknown)}
    )
    assert response.status_code == 404
    assert (await orders.http.post("/payments/callback", content=b"{")).status_code == 401


async def test_a_callback_before_the_payment_is_recorded_is_retried_and_settles(
    orders: Orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's callback can come before the merchant has recorded the payment it
    just started (under load the commit took longer than the provider's delay): the first
    attempt is a 404, and the provider tries again until it gets a 2xx."""
    offer = await orders.offer()
    lily = orders.buyer("lily")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    payments = orders.app.payments
    real_charge, real_on_callback = payments.provider.charge, payments.on_callback
    early = asyncio.Event()

    async def noting_404s(event: Any) -> Any:
        try:
            return await real_on_callback(event)
        except NotFound:
            early.set()
            raise

    async def slow_to_record(order: str, amount_cents: int, card: str, **key: str) -> Any:
        charge = await real_charge(order, amount_cents, card, **key)
        await asyncio.wait_for(early.wait(), 10)  # the row is written after the callback
        return charge

    monkeypatch.setattr(payments, "on_callback", noting_404s)
    monkeypatch.setattr(payments.provider, "charge", slow_to_record)
    paid = await orders.http.post(
        f"/orders/{order_id}/pay",
        headers={"Authorization": lily["Authorization"]},
        json={"card": "4242 4242 4242 4242"},
    )
    assert paid.status_code == 202 and early.is_set()

    async def confirmed() -> dict | None:
        order = await orders.get(f"/orders/{order_id}", lily)
        return order if order["status"] == "paid" else None

    assert (await eventually(confirmed))["paid_cents"] == 49900


async def test_declined_card_then_expiry_releases_stock_to_the_waitlist(
    nats_server: NatsServer, database_url: str
) -> None:
    import httpx

    from services.orders.bootstrap import build
    from services.orders.main import create_app
    from tests.orders.conftest import orders_settings
    from tests.support import serving

    app = build(orders_settings(nats_server.url, database_url))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        app.gateway.callback_url = f"{url}/payments/callback"
        orders = Orders(url, app, http)
        offer = await orders.offer(stock=1, pay_within_s=5)
        lily, wei = orders.buyer("lily"), orders.buyer("wei")
        order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
        sold_out = await orders.checkout(offer["id"], wei, key="wei-key-0001")
        assert sold_out.json()["code"] == "sold_out_waitlisted"
        payment = await http.post(
            f"/orders/{order_id}/pay",
            headers={"Authorization": lily["Authorization"]},
            json={"card": "4000 0000 0000 0002"},
        )
        assert payment.status_code == 202
        await asyncio.sleep(0.5)
        assert (await orders.get(f"/orders/{order_id}", lily))["status"] == "awaiting_payment"

        async def expired() -> bool:
            return (await orders.get(f"/orders/{order_id}", lily))["status"] == "expired"

        await eventually(expired, timeout=15)
        # A late success for the expired order is refunded, never resurrects it.
        body = app.gateway.callback_body(payment.json()["payment_id"], "succeeded", 49900)
        late = await http.post(
            "/payments/callback", content=body, headers={"X-Sim-Signature": app.gateway.sign(body)}
        )
        assert late.json()["status"] in ("late_refunded", "ignored")
        assert (await orders.get(f"/orders/{order_id}", lily))["status"] == "expired"
        # The waitlisted buyer was offered the released unit.

        async def offered() -> dict | None:
            offer_now = await orders.get(f"/offers/{offer['id']}")
            return offer_now if offer_now["held"] == 1 else None

        await eventually(offered, timeout=10)
        await stock_adds_up(orders, offer["id"])
        # Wei's retry of the very same checkout now answers with the order she was given.
        retry = await orders.checkout(offer["id"], wei, key="wei-key-0001")
        assert retry.json()["ok"] and retry.json()["replayed"]
        handed = await orders.get(f"/orders/{retry.json()['order_id']}", wei)
        assert handed["from_waitlist"] and handed["status"] == "awaiting_payment"


async def test_a_chat_claim_becomes_an_order_event(orders: Orders, nats_server: NatsServer) -> None:
    offer = await orders.offer(room_id="r9")
    nc = await nats.connect(nats_server.url)
    placed = await nc.subscribe(subjects.room_events("orders", "r9"))
    bus = EventPublisher(nc.jetstream())
    claim = PlaceClaim(
        room_id="r9",
        customer_id="telegram:42",
        claim_id="m-1",
        offer_id=offer["id"],
        quantity=2,
        source="chat",
        referrer_id="web:aunt",
    )
    await bus.publish(claim)
    await bus.publish(claim.model_copy(update={"id": "another-delivery"}))  # redelivered
    seen = []
    while not any(isinstance(e, OrderPlaced) for e in seen):
        seen.append(parse_event((await placed.next_msg(timeout=10)).data))
    [event] = [e for e in seen if isinstance(e, OrderPlaced)]
    assert (event.customer_id, event.quantity, event.claim_id) == ("telegram:42", 2, "m-1")
    assert event.referrer_id == "web:aunt"
    await asyncio.sleep(0.5)
    counts = await stock_adds_up(orders, offer["id"])
    assert counts["held"] == 2  # the redelivered claim did not hold twice
    await nc.close()
    _ = (ADMIN, json, ClaimRejected)


async def test_buyer_cancels_before_paying_and_the_unit_goes_back(orders: Orders) -> None:
    offer = await orders.offer(stock=1)
    lily = orders.buyer("lily")
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]
    auth = {"Authorization": lily["Authorization"]}
    cancelled = await orders.http.post(f"/orders/{order_id}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await orders.http.post(f"/orders/{order_id}/cancel", headers=auth)).status_code == 409
    other = orders.buyer("other")
    assert (
        await orders.http.post(
            f"/orders/{order_id}/cancel", headers={"Authorization": other["Authorization"]}
        )
    ).status_code == 404
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["left"], counts["held"]) == (1, 0)


async def test_a_retry_answers_exactly_what_the_first_checkout_answered(orders: Orders) -> None:
    offer = await orders.offer(stock=1)
    lily, wei = orders.buyer("lily"), orders.buyer("wei")
    for buyer, key, code in ((lily, "lily-key-01", 201), (wei, "wei-key-001", 409)):
        first = await orders.checkout(offer["id"], buyer, key=key)
        assert first.status_code == code, first.text
        again = await orders.checkout(offer["id"], buyer, key=key)
        assert again.status_code == code
        assert again.json() == {**first.json(), "replayed": True}
    assert first.json()["detail"].startswith("Sold out")
    won = await orders.checkout(offer["id"], lily, key="lily-key-01")
    assert won.json()["message"].startswith("Yours: 1 held, pay 499.00 by ")


async def test_a_key_reused_with_another_body_is_refused_not_replayed(orders: Orders) -> None:
    """Stripe's rule: an idempotency key stands for one request; the same key with other
    parameters is an error that says so, whichever way the JSON media type is spelled."""
    offer = await orders.offer(variants=["S", "L"], per_buyer_limit=5)
    lily = orders.buyer("lily")
    first = await orders.checkout(offer["id"], lily, key="reused-key-1", quantity=1, variant="S")
    assert first.status_code == 201, first.text
    url = f"/offers/{offer['id']}/checkout"
    for content_type in ("application/json", "application/json; charset=utf-8"):
        headers = {
            "Authorization": lily["Authorization"],
            "Idempotency-Key": "reused-key-1",
            "Content-Type": content_type,
        }
        other = await orders.http.post(
            url, headers=headers, content=b'{"quantity": 2, "variant": "L"}'
        )
        assert other.status_code == 422, other.text
        body = other.json()
        assert body["code"] == "idempotency_key_reused" and "order_id" not in body
        assert "same parameters" in body["detail"]
    # The same request again is still the same order (an equivalent spelling of S too).
    again = await orders.checkout(offer["id"], lily, key="reused-key-1", quantity=1, variant="s")
    assert again.status_code == 201 and again.json()["order_id"] == first.json()["order_id"]
    order = await orders.get(f"/orders/{first.json()['order_id']}", lily)
    assert (order["quantity"], order["variant"]) == (1, "S")
    counts = await stock_adds_up(orders, offer["id"])
    assert counts["held"] == 1
    # The key belongs to this offer: used on another, it is the same refusal.
    elsewhere = await orders.offer(variants=["S", "L"])
    moved = await orders.checkout(elsewhere["id"], lily, key="reused-key-1", variant="S")
    assert moved.status_code == 422 and moved.json()["code"] == "idempotency_key_reused"


async def test_a_chat_claim_id_reused_for_another_claim_is_refused(
    orders: Orders, nats_server: NatsServer
) -> None:
    offer = await orders.offer(room_id="r8", per_buyer_limit=5)
    nc = await nats.connect(nats_server.url)
    said = await nc.subscribe(subjects.room_events("orders", "r8"))
    bus = EventPublisher(nc.jetstream())
    claim = PlaceClaim(
        room_id="r8",
        customer_id="telegram:77",
        claim_id="m-7",
        offer_id=offer["id"],
        quantity=1,
        source="chat",
    )
    await bus.publish(claim)
    seen: list[Any] = []
    while not any(isinstance(e, OrderPlaced) for e in seen):
        seen.append(parse_event((await said.next_msg(timeout=10)).data))
    await bus.publish(claim.model_copy(update={"id": new_id(), "quantity": 3}))
    while not any(isinstance(e, ClaimRejected) for e in seen):
        seen.append(parse_event((await said.next_msg(timeout=10)).data))
    [rejected] = [e for e in seen if isinstance(e, ClaimRejected)]
    assert (rejected.claim_id, rejected.reason) == ("m-7", "invalid")
    assert "already" in rejected.message
    assert (await stock_adds_up(orders, offer["id"]))["held"] == 1
    await nc.close()


async def test_a_waiting_buyer_holds_one_place_and_promotion_respects_the_limit(
    orders: Orders,
) -> None:
    offer = await orders.offer(stock=2, per_buyer_limit=1)
    a, b, w1, w2 = (orders.buyer(n) for n in ("a", "b", "w1", "w2"))
    order_a = (await orders.checkout(offer["id"], a)).json()["order_id"]
    order_b = (await orders.checkout(offer["id"], b)).json()["order_id"]
    for buyer, key in ((w1, "w1-key-0001"), (w1, "w1-key-0002"), (w2, "w2-key-0001")):
        waiting = await orders.checkout(offer["id"], buyer, key=key)
        assert waiting.status_code == 409 and waiting.json()["code"] == "sold_out_waitlisted"
    assert "already" in (await orders.checkout(offer["id"], w1, key="w1-key-0002")).json()["detail"]
    for order_id, buyer in ((order_b, b), (order_a, a)):
        auth = {"Authorization": buyer["Authorization"]}
        cancelled = await orders.http.post(f"/orders/{order_id}/cancel", headers=auth)
        assert cancelled.status_code == 200, cancelled.text
    w1_first = await orders.checkout(offer["id"], w1, key="w1-key-0001")
    assert w1_first.json()["ok"], w1_first.text
    w1_second = await orders.checkout(offer["id"], w1, key="w1-key-0002")
    assert w1_second.status_code == 409, w1_second.text
    w2_place = await orders.checkout(offer["id"], w2, key="w2-key-0001")
    assert w2_place.json()["ok"], w2_place.text
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["held"], counts["left"]) == (2, 0)


async def test_chat_plus_one_twice_while_sold_out_is_one_place(
    orders: Orders, nats_server: NatsServer
) -> None:
    offer = await orders.offer(room_id="r7", stock=2, per_buyer_limit=1)
    a, b = orders.buyer("a", "r7"), orders.buyer("b", "r7")
    order_ids = [(await orders.checkout(offer["id"], x)).json()["order_id"] for x in (a, b)]
    nc = await nats.connect(nats_server.url)
    said = await nc.subscribe(subjects.room_events("orders", "r7"))
    bus = EventPublisher(nc.jetstream())
    for claim_id in ("m-1", "m-2"):
        await bus.publish(
            PlaceClaim(
                room_id="r7",
                customer_id="telegram:5",
                claim_id=claim_id,
                offer_id=offer["id"],
                quantity=1,
                source="chat",
            )
        )
    rejected: set[str] = set()
    while len(rejected) < 2:
        event = parse_event((await said.next_msg(timeout=10)).data)
        if isinstance(event, ClaimRejected):
            assert event.reason == "sold_out_waitlisted"
            rejected.add(event.claim_id)
    for order_id, buyer in zip(order_ids, (a, b), strict=True):
        auth = {"Authorization": buyer["Authorization"]}
        assert (await orders.http.post(f"/orders/{order_id}/cancel", headers=auth)).is_success

    async def served() -> dict | None:
        offer_now = await stock_adds_up(orders, offer["id"])
        return offer_now if offer_now["left"] + offer_now["held"] == 2 else None

    counts = await eventually(served)
    assert (counts["held"], counts["left"]) == (1, 1), counts
    await nc.close()


async def test_a_waitlist_place_is_not_served_past_the_limit_the_buyer_reached_meanwhile(
    orders: Orders,
) -> None:
    offer = await orders.offer(stock=2, per_buyer_limit=2)
    a, w = orders.buyer("a"), orders.buyer("w")
    order_a = (await orders.checkout(offer["id"], a, quantity=2)).json()["order_id"]
    waiting = await orders.checkout(offer["id"], w, key="w-waits-for-2", quantity=2)
    assert waiting.json()["code"] == "sold_out_waitlisted"
    # One more unit: too few for the waiting ask of 2, so it is on sale, and w takes it.
    more = await orders.http.patch(f"/offers/{offer['id']}", headers=ADMIN, json={"stock": 3})
    assert more.json()["left"] == 1, more.text
    took = await orders.checkout(offer["id"], w, key="w-takes-one", quantity=1)
    assert took.status_code == 201, took.text
    # a's 2 units come back: w's waiting 2 would make 3, over the limit of 2.
    auth = {"Authorization": a["Authorization"]}
    assert (await orders.http.post(f"/orders/{order_a}/cancel", headers=auth)).is_success
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["held"], counts["left"]) == (1, 2), counts
    assert (
        await orders.checkout(offer["id"], w, key="w-waits-for-2", quantity=2)
    ).status_code == 409


async def test_paying_twice_charges_once_and_a_declined_card_can_be_replaced(
    orders: Orders,
) -> None:
    """A double tap on Pay (or a retry after a lost answer) is the charge already started,
    never a second charge; after a decline, another card starts a new one."""
    from sqlmodel import select

    from services.orders.adapters.tables import PaymentRow

    offer = await orders.offer()
    lily = orders.buyer("lily")
    auth = {"Authorization": lily["Authorization"]}
    order_id = (await orders.checkout(offer["id"], lily)).json()["order_id"]

    async def pay(card: str) -> dict[str, Any]:
        answer = await orders.http.post(
            f"/orders/{order_id}/pay", headers=auth, json={"card": card}
        )
        # A tap that comes after the provider's callback (50 ms) finds the order paid: a
        # 409, not a second charge. On a loaded machine any tap but the first can be late.
        if answer.status_code == 409:
            assert answer.json()["code"] == "conflict", answer.text
            return {"payment_id": None}
        assert answer.status_code == 202, answer.text
        return answer.json()  # type: ignore[no-any-return]

    declined = await pay("4000 0000 0000 0002")
    assert declined["payment_id"] is not None

    async def payments() -> list[PaymentRow]:
        async with orders.app.infra.sessions() as session:
            return list((await session.exec(select(PaymentRow))).all())

    async def settled() -> bool:
        return all(p.status != "pending" for p in await payments())

    await eventually(settled)
    good = "4242 4242 4242 4242"
    taps = await asyncio.gather(*(pay(good) for _ in range(3)))
    again = await pay(good)
    started = {t["payment_id"] for t in [*taps, again]} - {None}
    assert len(started) == 1  # every tap answered with the one charge, or found it paid
    assert started != {declined["payment_id"]}

    async def paid() -> dict | None:
        order = await orders.get(f"/orders/{order_id}", lily)
        return order if order["status"] == "paid" else None

    assert (await eventually(paid))["paid_cents"] == 49900
    await eventually(settled)
    statuses = sorted(p.status for p in await payments())
    assert statuses == ["declined", "succeeded"]  # no second charge, nothing late_refunded
