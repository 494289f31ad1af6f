"""Group buys, pre-sales and referral rebates, end to end over HTTP and the sweeper."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared.events import utcnow
from tests.orders.conftest import ADMIN, Orders
from tests.support import eventually

CARD = {"card": "4242 4242 4242 4242"}


async def pay_and_wait(orders: Orders, order_id: str, buyer: dict[str, str], status: str) -> dict:
    auth = {"Authorization": buyer["Authorization"]}
    response = await orders.http.post(f"/orders/{order_id}/pay", headers=auth, json=CARD)
    assert response.status_code == 202, response.text

    async def settled() -> dict | None:
        order = await orders.get(f"/orders/{order_id}", buyer)
        return order if order["status"] == status else None

    return await eventually(settled)


async def test_group_buy_forms_and_everyone_pays_the_final_tier(orders: Orders) -> None:
    tiers = [{"min_buyers": 1, "price_cents": 5900}, {"min_buyers": 3, "price_cents": 4900}]
    offer = await orders.offer(
        kind="group_buy", stock=100, tiers=tiers, min_group=2, duration_s=3600
    )
    assert offer["current_price_cents"] == 5900
    buyers = [orders.buyer(f"g{i}") for i in range(3)]
    order_ids = []
    for buyer in buyers:
        response = await orders.checkout(offer["id"], buyer)
        assert response.status_code == 201, response.text
        order_ids.append(response.json()["order_id"])
    live = await orders.get(f"/offers/{offer['id']}")
    assert (live["buyers"], live["current_price_cents"]) == (3, 4900)
    for order_id, buyer in zip(order_ids, buyers, strict=True):
        await pay_and_wait(orders, order_id, buyer, "paid")
    # The deadline: the group formed at 49.00, each paid 59.00 and gets 10.00 back.
    await orders.http.patch(
        f"/offers/{offer['id']}",
        headers=ADMIN,
        json={"ends_at": (utcnow() - timedelta(seconds=1)).isoformat()},
    )

    async def refunded() -> list[dict] | None:
        got = [await orders.get(f"/orders/{o}", b) for o, b in zip(order_ids, buyers, strict=True)]
        return got if all(o["refunded_cents"] == 1000 for o in got) else None

    settled = await eventually(refunded, timeout=15)
    assert all(o["status"] == "paid" and o["paid_cents"] == 5900 for o in settled)


async def test_group_buy_that_fails_refunds_everyone(orders: Orders) -> None:
    tiers = [{"min_buyers": 1, "price_cents": 5900}, {"min_buyers": 10, "price_cents": 4900}]
    offer = await orders.offer(
        kind="group_buy", stock=100, tiers=tiers, min_group=5, duration_s=3600
    )
    buyer = orders.buyer("lonely")
    order_id = (await orders.checkout(offer["id"], buyer)).json()["order_id"]
    await pay_and_wait(orders, order_id, buyer, "paid")
    await orders.http.post(f"/offers/{offer['id']}/close", headers=ADMIN)

    async def refunded() -> dict | None:
        order = await orders.get(f"/orders/{order_id}", buyer)
        return order if order["status"] == "refunded" else None

    assert (await eventually(refunded, timeout=15))["refunded_cents"] == 5900


async def test_bad_group_buy_and_presale_terms_are_refused(orders: Orders) -> None:
    product = (await orders.http.post("/products", headers=ADMIN, json={"title": "x"})).json()
    bad = [
        {
            "kind": "group_buy",
            "stock": 5,
            "tiers": [{"min_buyers": 1, "price_cents": 10}, {"min_buyers": 5, "price_cents": 20}],
            "min_group": 1,
            "duration_s": 60,
        },
        {"kind": "group_buy", "stock": 5, "tiers": [], "min_group": 1, "duration_s": 60},
        {"kind": "pre_sale", "stock": 5, "price_cents": 1000, "deposit_cents": 1000},
        {"kind": "flash_sale", "stock": 5, "price_cents": 1000, "per_buyer_limit": 0},
        {"kind": "flash_sale", "stock": -1, "price_cents": 1000},
        {"kind": "flash_sale", "stock": 5, "price_cents": 10**12},
    ]
    for terms in bad:
        response = await orders.http.post(
            "/rooms/r1/offers", headers=ADMIN, json={"product_id": product["id"], **terms}
        )
        assert response.status_code == 422, (terms, response.text)


async def test_pre_sale_deposit_then_balance_in_its_window(orders: Orders) -> None:
    now = utcnow()
    offer = await orders.offer(
        kind="pre_sale",
        price_cents=49900,
        deposit_cents=5000,
        stock=10,
        balance_from=(now - timedelta(minutes=1)).isoformat(),
        balance_until=(now + timedelta(hours=1)).isoformat(),
    )
    buyer = orders.buyer("cherry")
    order_id = (await orders.checkout(offer["id"], buyer, quantity=2)).json()["order_id"]
    order = await orders.get(f"/orders/{order_id}", buyer)
    assert (order["amount_cents"], order["balance_cents"]) == (10000, 89800)
    await pay_and_wait(orders, order_id, buyer, "deposit_paid")
    assert (await orders.get(f"/offers/{offer['id']}"))["held"] == 2  # deposits hold stock
    paid = await pay_and_wait(orders, order_id, buyer, "paid")
    assert paid["paid_cents"] == 99800
    counts = await orders.get(f"/offers/{offer['id']}")
    assert (counts["sold"], counts["held"], counts["left"]) == (2, 0, 8)


async def test_pre_sale_balance_not_paid_forfeits_and_releases_stock(orders: Orders) -> None:
    now = utcnow()
    offer = await orders.offer(
        kind="pre_sale",
        price_cents=49900,
        deposit_cents=5000,
        stock=3,
        balance_from=(now - timedelta(minutes=2)).isoformat(),
        balance_until=(now + timedelta(seconds=3)).isoformat(),
    )
    buyer = orders.buyer("late")
    order_id = (await orders.checkout(offer["id"], buyer)).json()["order_id"]
    await pay_and_wait(orders, order_id, buyer, "deposit_paid")
    forfeited = None
    for _ in range(100):
        forfeited = await orders.get(f"/orders/{order_id}", buyer)
        if forfeited["status"] == "forfeited":
            break
        await asyncio.sleep(0.2)
    assert forfeited and forfeited["status"] == "forfeited"
    assert forfeited["refunded_cents"] == 0  # the offer's rule: the deposit is kept
    assert (await orders.get(f"/offers/{offer['id']}"))["left"] == 3


async def test_referral_commissions_accrue_on_payment_and_reverse_on_refund(orders: Orders) -> None:
    offer = await orders.offer(stock=10)
    grandma = orders.buyer("grandma")
    mum = orders.buyer("mum", referrer=grandma["customer_id"])
    kid = orders.buyer("kid", referrer=mum["customer_id"])
    # mum buys first (records grandma as her referrer), then kid
    mum_order = (await orders.checkout(offer["id"], mum)).json()["order_id"]
    kid_order = (await orders.checkout(offer["id"], kid)).json()["order_id"]
    assert (await orders.get(f"/orders/{kid_order}", kid))["referrer_chain"] == [
        mum["customer_id"],
        grandma["customer_id"],
    ]
    await pay_and_wait(orders, mum_order, mum, "paid")
    await pay_and_wait(orders, kid_order, kid, "paid")
    # Default rule "5,2": mum earns 5% of kid's 499.00, grandma 2% of it and 5% of mum's.

    async def ledger(who: dict[str, str]) -> list[dict]:
        return await orders.get(f"/commissions/{who['customer_id']}")

    assert [(c["level"], c["amount_cents"]) for c in await ledger(mum)] == [(1, 2495)]
    assert sorted((c["level"], c["amount_cents"]) for c in await ledger(grandma)) == [
        (1, 2495),
        (2, 998),
    ]
    refund = await orders.http.post(f"/orders/{kid_order}/refund", headers=ADMIN, json={})
    assert refund.status_code == 200 and refund.json()["status"] == "refunded"
    assert [c["status"] for c in await ledger(mum)] == ["reversed"]
    again = await orders.http.post(f"/orders/{kid_order}/refund", headers=ADMIN, json={})
    assert again.status_code == 409


async def test_editing_a_live_offer_keeps_the_books_straight(orders: Orders) -> None:
    offer = await orders.offer(stock=3)
    for i in range(3):
        await orders.checkout(offer["id"], orders.buyer(f"e{i}"))
    waiting = orders.buyer("waiting")
    assert (await orders.checkout(offer["id"], waiting)).json()["code"] == "sold_out_waitlisted"
    # The host adds 5 units: the waiting buyer is served first, then 4 are on sale.
    added = await orders.http.patch(f"/offers/{offer['id']}", headers=ADMIN, json={"stock": 8})
    assert (added.json()["left"], added.json()["held"]) == (4, 4)
    too_low = await orders.http.patch(f"/offers/{offer['id']}", headers=ADMIN, json={"stock": 2})
    assert too_low.status_code == 409
    more = await orders.http.patch(
        f"/offers/{offer['id']}",
        headers=ADMIN,
        json={"stock": 9, "price_cents": 39900, "per_buyer_limit": 3},
    )
    assert more.status_code == 200
    assert (more.json()["left"], more.json()["held"], more.json()["stock"]) == (5, 4, 9)
    assert (
        await orders.http.patch(f"/offers/{offer['id']}", headers=ADMIN, json={"price_cents": -1})
    ).status_code == 422
    assert (await orders.http.post(f"/offers/{offer['id']}/close", headers=ADMIN)).is_success
    again = await orders.http.post(f"/offers/{offer['id']}/close", headers=ADMIN)
    assert again.status_code == 200 and again.json()["status"] == "closed"  # idempotent
    scheduled = await orders.offer(open_now=False)
    refused = await orders.http.post(f"/offers/{scheduled['id']}/close", headers=ADMIN)
    assert refused.status_code == 409 and "scheduled" in refused.json()["detail"]
    closed = await orders.http.patch(f"/offers/{offer['id']}", headers=ADMIN, json={"stock": 9})
    assert closed.status_code == 409
    buyer = orders.buyer("late")
    assert (await orders.checkout(offer["id"], buyer)).json()["code"] == "closed"


async def test_commissions_follow_what_was_finally_paid_after_partial_refunds(
    orders: Orders,
) -> None:
    """Rule "5,2": a referrer earns 5% of what the buyer finally paid. A group-buy member
    refunded the tier difference, or a buyer refunded in part, earns the referrer less."""
    tiers = [{"min_buyers": 1, "price_cents": 5900}, {"min_buyers": 2, "price_cents": 4900}]
    group = await orders.offer(
        kind="group_buy", stock=100, tiers=tiers, min_group=2, duration_s=3600
    )
    aunt = orders.buyer("aunt")
    members = [orders.buyer(f"m{i}", referrer=aunt["customer_id"]) for i in range(2)]
    order_ids = [(await orders.checkout(group["id"], m)).json()["order_id"] for m in members]
    for order_id, member in zip(order_ids, members, strict=True):
        await pay_and_wait(orders, order_id, member, "paid")

    async def ledger() -> list[tuple[str, int, str]]:
        rows = await orders.get(f"/commissions/{aunt['customer_id']}")
        return sorted((c["order_id"], c["amount_cents"], c["status"]) for c in rows)

    assert await ledger() == sorted((o, 295, "accrued") for o in order_ids)
    await orders.http.patch(
        f"/offers/{group['id']}",
        headers=ADMIN,
        json={"ends_at": (utcnow() - timedelta(seconds=1)).isoformat()},
    )

    async def adjusted() -> list | None:
        now = await ledger()
        return now if now == sorted((o, 245, "accrued") for o in order_ids) else None

    await eventually(adjusted, timeout=15)  # 5% of 49.00, no longer of 59.00
    # A flash-sale order refunded in part, then in full.
    flash = await orders.offer(stock=5)
    buyer = orders.buyer("b", referrer=aunt["customer_id"])
    flash_order = (await orders.checkout(flash["id"], buyer)).json()["order_id"]
    await pay_and_wait(orders, flash_order, buyer, "paid")
    part = await orders.http.post(
        f"/orders/{flash_order}/refund", headers=ADMIN, json={"amount_cents": 9900}
    )
    assert part.status_code == 200, part.text
    assert (flash_order, 2000, "accrued") in await ledger()  # 5% of 400.00
    rest = await orders.http.post(f"/orders/{flash_order}/refund", headers=ADMIN, json={})
    assert rest.json()["status"] == "refunded"
    assert [c for c in await ledger() if c[0] == flash_order] == [(flash_order, 2000, "reversed")]
