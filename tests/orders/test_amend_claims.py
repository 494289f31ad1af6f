"""AmendClaim: a buyer edited the group line that placed their order ("+1" -> "+2").

Only an unpaid order changes; more units only from stock, within the per-buyer limit,
under the same lock as every claim (never oversold); fewer units go back, the waitlist
first. Both database backends (`database_url`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import nats
from nats.aio.client import Client as NatsClient

from services.orders.adapters.tables import OrderRow
from services.orders.entrypoints.subscribers import claim_request
from services.orders.service_layer.amendments import Amendments, ClaimUndecided
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import (
    AmendClaim,
    ClaimRejected,
    IntegrationEvent,
    OrderAmended,
    PlaceClaim,
    parse_event,
    utcnow,
)
from shared.messaging import EventPublisher
from tests.orders.conftest import Orders
from tests.orders.test_checkout import stock_adds_up
from tests.support import eventually

ROOM = "r1"


def amendments(orders: Orders) -> Amendments:
    assert orders.app.amendments is not None
    return orders.app.amendments


def claim(offer_id: str, who: str, line: str, quantity: int = 1) -> PlaceClaim:
    return PlaceClaim(
        room_id=ROOM,
        customer_id=who,
        claim_id=line,
        offer_id=offer_id,
        quantity=quantity,
        source="telegram",
        source_text=f"+{quantity}",
    )


def amend(who: str, line: str, quantity: int, n: int = 1) -> AmendClaim:
    return AmendClaim(
        id=f"amend:{line}:edit:{n}",
        room_id=ROOM,
        customer_id=who,
        claim_id=line,
        quantity=quantity,
        source_text=f"+{quantity}",
    )


async def place(orders: Orders, command: PlaceClaim) -> str:
    result = await orders.app.checkout.place(claim_request(command))
    assert result.ok and result.order_id, result
    return result.order_id


async def order_of(orders: Orders, order_id: str) -> dict:
    async with orders.app.infra.sessions() as session:
        order = await session.get(OrderRow, order_id)
    assert order is not None
    return order.model_dump(mode="json")


async def test_more_units_then_fewer_and_a_redelivery_changes_nothing(orders: Orders) -> None:
    offer = await orders.offer(stock=10, per_buyer_limit=3, price_cents=1000)
    order_id = await place(orders, claim(offer["id"], "telegram:1", "telegram:-100:5"))
    before = await order_of(orders, order_id)

    more = await amendments(orders).amend(amend("telegram:1", "telegram:-100:5", 3))
    assert more.ok and more.order_id == order_id
    after = await order_of(orders, order_id)
    assert (after["quantity"], after["amount_cents"]) == (3, 3000)
    assert after["pay_by"] == before["pay_by"]  # the same deadline
    assert (await stock_adds_up(orders, offer["id"]))["left"] == 7

    # The same command again (a redelivery): answered the same, nothing held twice.
    again = await amendments(orders).amend(amend("telegram:1", "telegram:-100:5", 3))
    assert again.replayed and again.ok
    assert (await stock_adds_up(orders, offer["id"]))["left"] == 7

    fewer = await amendments(orders).amend(amend("telegram:1", "telegram:-100:5", 1, n=2))
    assert fewer.ok
    assert (await order_of(orders, order_id))["quantity"] == 1
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["left"], counts["held"]) == (9, 1)


async def test_refused_amendments_say_why_and_hold_nothing(orders: Orders) -> None:
    offer = await orders.offer(stock=3, per_buyer_limit=2)
    line = "telegram:-100:6"
    order_id = await place(orders, claim(offer["id"], "telegram:1", line))
    other = await place(orders, claim(offer["id"], "telegram:2", "telegram:-100:7", 2))
    assert other

    over_limit = await amendments(orders).amend(amend("telegram:1", line, 3))
    assert not over_limit.ok and "Limit 2 per buyer" in over_limit.message
    no_stock = await amendments(orders).amend(amend("telegram:1", line, 2, n=2))
    assert not no_stock.ok and "Only 0 more left" in no_stock.message
    same = await amendments(orders).amend(amend("telegram:1", line, 1, n=3))
    assert not same.ok and "already" in same.message
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["left"], counts["held"]) == (0, 3)

    # Paid (or expired, cancelled): the order is what it was.
    assert await orders.app.sweeper.cancel(other)
    gone = await amendments(orders).amend(amend("telegram:2", "telegram:-100:7", 1))
    assert not gone.ok and "no longer change: it is cancelled" in gone.message

    # No order from that line (a rejected claim, or none at all, once it is old).
    stale = amend("telegram:9", "telegram:-100:404", 2).model_copy(
        update={"occurred_at": utcnow() - timedelta(minutes=5)}
    )
    none = await amendments(orders).amend(stale)
    assert not none.ok and "No order" in none.message
    # A young amendment whose claim is not decided yet waits for it.
    try:
        await amendments(orders).amend(amend("telegram:9", "telegram:-100:405", 2))
    except ClaimUndecided:
        pass
    else:
        raise AssertionError("a young amendment without its claim should wait")
    assert order_id


async def test_fewer_units_go_to_the_waitlist_first(orders: Orders) -> None:
    offer = await orders.offer(stock=2, per_buyer_limit=2)
    line = "telegram:-100:9"
    order_id = await place(orders, claim(offer["id"], "telegram:1", line, 2))
    wei = orders.buyer("wei")
    waiting = await orders.checkout(offer["id"], wei, key="wei-key-00001")
    assert waiting.json()["code"] == "sold_out_waitlisted"

    assert (await amendments(orders).amend(amend("telegram:1", line, 1))).ok
    retry = await orders.checkout(offer["id"], wei, key="wei-key-00001")
    assert retry.json()["ok"], retry.text  # the released unit was offered to her
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["left"], counts["held"]) == (0, 2)
    assert (await order_of(orders, order_id))["quantity"] == 1


async def test_an_amendment_racing_new_claims_for_the_last_units_never_oversells(
    orders: Orders,
) -> None:
    for round_ in range(3):
        offer = await orders.offer(stock=4, per_buyer_limit=4)
        line = f"telegram:-100:{round_}"
        order_id = await place(orders, claim(offer["id"], "telegram:1", line))
        # 3 left: the amendment wants 3 more, four new buyers 1 each: 7 asked of 3.
        outcomes = await asyncio.gather(
            amendments(orders).amend(amend("telegram:1", line, 4, n=round_)),
            *(
                orders.app.checkout.place(
                    claim_request(claim(offer["id"], f"telegram:{10 + i}", f"{line}:{i}"))
                )
                for i in range(4)
            ),
        )
        amended, *claims = outcomes
        counts = await stock_adds_up(orders, offer["id"])
        assert counts["left"] >= 0
        held_by_claims = sum(1 for c in claims if getattr(c, "ok", False))
        held_by_first = 4 if getattr(amended, "ok", False) else 1
        assert held_by_first + held_by_claims == counts["held"] <= 4
        assert (await order_of(orders, order_id))["quantity"] == held_by_first


async def test_amend_claim_commands_are_answered_on_the_bus(
    orders: Orders, nats_server: NatsServer
) -> None:
    offer = await orders.offer(room_id=ROOM, stock=5, per_buyer_limit=2)
    nc: NatsClient = await nats.connect(nats_server.url)
    said = await nc.subscribe(subjects.room_events("orders", ROOM))
    bus = EventPublisher(nc.jetstream())
    seen: list[IntegrationEvent] = []

    async def heard(kind: type) -> IntegrationEvent:
        async def probe() -> Any:
            while True:
                try:
                    seen.append(parse_event((await said.next_msg(timeout=0.2)).data))
                except TimeoutError:
                    break
            return next((e for e in seen if isinstance(e, kind)), None)

        return await eventually(probe)

    try:
        line = "telegram:-100:77"
        # The amendment overtakes its claim: it waits for the order, then changes it.
        await bus.publish(amend("telegram:1", line, 2))
        await bus.publish(claim(offer["id"], "telegram:1", line))
        amended = await heard(OrderAmended)
        assert isinstance(amended, OrderAmended)
        assert (amended.claim_id, amended.quantity) == (line, 2)
        await bus.publish(amend("telegram:1", line, 3, n=2))
        rejected = await heard(ClaimRejected)
        assert isinstance(rejected, ClaimRejected) and rejected.reason == "not_amended"
        assert "Limit 2" in rejected.message
    finally:
        await nc.close()


async def test_a_payment_of_the_amount_before_an_amendment_captures_nothing(
    orders: Orders,
) -> None:
    """pay() read the order at 1 unit, the amendment to 2 landed, then the payment was
    recorded and its success came back: it paid for 1 of 2 units, so it is refunded and the
    order waits for the new amount (never 2 units for the price of 1)."""
    from services.orders.adapters.payments import CallbackEvent
    from services.orders.adapters.tables import PaymentRow

    offer = await orders.offer(stock=10, per_buyer_limit=3, price_cents=1000)
    order_id = await place(orders, claim(offer["id"], "telegram:7", "telegram:-100:70"))
    assert (await amendments(orders).amend(amend("telegram:7", "telegram:-100:70", 2))).ok
    async with orders.app.infra.sessions() as session:
        session.add(
            PaymentRow(
                id="p-before-amend", order_id=order_id, stage="full", amount_cents=1000,
                status="pending",
            )
        )  # fmt: skip
        await session.commit()
    result = await orders.app.payments.on_callback(
        CallbackEvent("e-before-amend", "p-before-amend", "succeeded", 1000)
    )
    assert result.status == "late_refunded"
    after = await order_of(orders, order_id)
    assert (after["status"], after["quantity"], after["amount_cents"]) == (
        "awaiting_payment",
        2,
        2000,
    )
    counts = await stock_adds_up(orders, offer["id"])
    assert (counts["held"], counts["sold"]) == (2, 0)
