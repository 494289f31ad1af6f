"""One bad row never stops a periodic job: rows written before the edge validation existed
(an offer for the room id "r_x ", which no event can carry) fail their own step, are
dead-lettered, and every other offer still closes, every group buy still settles, every
pre-sale still forfeits, every event still leaves the outbox."""

from __future__ import annotations

import json
from datetime import timedelta

import nats
import pytest

from services.orders.adapters.tables import OfferRow, OrderRow, OrdersOutbox
from shared import background, subjects
from shared.embedded_nats import NatsServer
from shared.events import OfferClosed, parse_event, utcnow
from shared.messaging import H_REASON
from tests.orders.conftest import ADMIN, Orders
from tests.orders.test_group_buy_presale_referral import pay_and_wait
from tests.support import eventually

BAD_ROOM = "r_x "  # a space: not a subject token


async def poison(orders: Orders) -> dict[str, str]:
    """What the database of an older version could hold: rows for a malformed room id."""
    past = utcnow() - timedelta(minutes=5)
    common = {"room_id": BAD_ROOM, "product_id": "prod_gone", "owner": "admin", "title": "x"}
    offers = [
        OfferRow(id="off_poison_open", kind="flash_sale", status="open", price_cents=100,
                 stock=5, left=4, held=1, per_buyer_limit=1, ends_at=past, **common),
        OfferRow(id="off_poison_sched", kind="flash_sale", status="scheduled", price_cents=100,
                 stock=5, left=5, per_buyer_limit=1, opens_at=past, **common),
        OfferRow(id="off_poison_group", kind="group_buy", status="closed", price_cents=100,
                 stock=5, left=5, per_buyer_limit=1, tiers=[[1, 100]], min_group=1,
                 ends_at=past, **common),
    ]  # fmt: skip
    order = OrderRow(
        id="ord_poison", offer_id="off_poison_open", room_id=BAD_ROOM, customer_id="web:old",
        kind="flash_sale", quantity=1, unit_price_cents=100, amount_cents=100,
        pay_by=past, claim_id="old-claim",
    )  # fmt: skip
    outbox = OrdersOutbox(
        event_id="evt_poison",
        subject=f"orders.{BAD_ROOM}.offer.closed",
        payload=OfferClosed(room_id="r1", offer_id="off_poison_open").model_dump_json(),
    )
    async with orders.app.infra.sessions() as session:
        session.add_all([*offers, order, outbox])
        await session.commit()
    return {"order": order.id, "outbox": outbox.event_id, **{o.id: o.id for o in offers}}


async def test_a_poisoned_row_fails_alone_and_the_others_still_close_settle_and_forfeit(
    orders: Orders, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "ITEM_BACKOFF_S", (0.05, 0.05, 0.05, 0.05), raising=False)
    nc = await nats.connect(nats_server.url)
    dead = await nc.subscribe(subjects.dead_letters("orders"))
    closed_in_r2 = await nc.subscribe(subjects.room_event("orders", "r2", "offer.closed"))
    poisoned = await poison(orders)
    # Another room's flash sale whose time is up.
    flash = await orders.offer(room_id="r2", duration_s=3600)
    # A group buy in a third room: one paid member, too few, the deadline passes.
    tiers = [{"min_buyers": 1, "price_cents": 5900}]
    group = await orders.offer(
        room_id="r3", kind="group_buy", stock=9, tiers=tiers, min_group=2, duration_s=3600
    )
    member = orders.buyer("member", "r3")
    member_order = (await orders.checkout(group["id"], member)).json()["order_id"]
    await pay_and_wait(orders, member_order, member, "paid")
    # A pre-sale whose balance window closes in a moment, deposit paid, balance never.
    now = utcnow()
    presale = await orders.offer(
        room_id="r4",
        kind="pre_sale",
        price_cents=49900,
        deposit_cents=5000,
        stock=3,
        balance_from=(now - timedelta(minutes=2)).isoformat(),
        balance_until=(now + timedelta(seconds=2)).isoformat(),
    )
    late = orders.buyer("late", "r4")
    late_order = (await orders.checkout(presale["id"], late)).json()["order_id"]
    await pay_and_wait(orders, late_order, late, "deposit_paid")
    past = (utcnow() - timedelta(seconds=1)).isoformat()
    for offer in (flash, group):
        edited = await orders.http.patch(
            f"/offers/{offer['id']}", headers=ADMIN, json={"ends_at": past}
        )
        assert edited.status_code == 200, edited.text

    async def closed() -> bool:
        return (await orders.get(f"/offers/{flash['id']}"))["status"] == "closed"

    async def refunded() -> bool:
        return (await orders.get(f"/orders/{member_order}", member))["status"] == "refunded"

    async def forfeited() -> bool:
        return (await orders.get(f"/orders/{late_order}", late))["status"] == "forfeited"

    await eventually(closed, timeout=15)
    await eventually(refunded, timeout=15)
    await eventually(forfeited, timeout=15)
    # The outbox went past its poisoned row too: the close was told.
    told = parse_event((await closed_in_r2.next_msg(timeout=10)).data)
    assert isinstance(told, OfferClosed) and told.offer_id == flash["id"]
    # Each poisoned row is in dead letters, once, with why; nothing else is.
    expected = {
        f"expire:{poisoned['order']}",
        "open:off_poison_sched",
        "close:off_poison_open",
        "settle:off_poison_group",
        poisoned["outbox"],
    }
    seen: dict[str, str] = {}
    while set(seen) != expected:
        msg = await dead.next_msg(timeout=15)
        body = msg.data.decode()
        item = json.loads(body)["item"] if body.startswith('{"job"') else "evt_poison"
        assert item in expected, body
        seen[item] = msg.headers[H_REASON]
    assert "room_id" in seen["close:off_poison_open"], seen
    # Given up, they are not tried again every second.
    with pytest.raises(nats.errors.TimeoutError):
        await dead.next_msg(timeout=1.5)
    async with orders.app.infra.sessions() as session:
        relayed = await session.get(OrdersOutbox, 1)
        assert relayed is not None and relayed.event_id == "evt_poison" and relayed.sent_at
    await nc.close()
