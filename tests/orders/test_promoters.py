"""Promoters: referrals at the join, the host's ledger per promoter, payouts (and their
clawback after a refund), the CSV, and a buyer's own invitations."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest

from services.live.adapters.tokens import HostTokens
from services.orders.bootstrap import build
from services.orders.main import create_app
from shared import streams, subjects
from shared.embedded_nats import NatsServer
from shared.events import CommissionPaidOut, ViewerJoined, parse_event
from shared.messaging import EventPublisher
from tests.orders.conftest import ADMIN, SECRET, Orders, orders_settings
from tests.orders.test_group_buy_presale_referral import pay_and_wait
from tests.support import eventually, serving

ROOM = "promo1"


@pytest.fixture
async def shop(nats_server: NatsServer, database_url: str) -> AsyncIterator[Orders]:
    """orders with a three-level rule: 5% to the inviter, 2% to theirs, 1% to the third."""
    app = build(orders_settings(nats_server.url, database_url, commission_percent="5,2,1"))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        app.gateway.callback_url = f"{url}/payments/callback"
        yield Orders(url, app, http)


def host(host_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {HostTokens(SECRET).issue(host_id, host_id)}"}


async def buy(shop: Orders, offer_id: str, buyer: dict[str, str], **body: Any) -> str:
    placed = await shop.checkout(offer_id, buyer, **body)
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["order_id"]
    await pay_and_wait(shop, order_id, buyer, "paid")
    return order_id


async def joined(shop: Orders, nats_url: str, customer: str, referrer: str, name: str) -> None:
    """live says `customer` joined ROOM through `referrer`'s link; orders records it."""
    nc = await nats.connect(nats_url)
    try:
        event = ViewerJoined(
            room_id=ROOM, customer_id=customer, display_name=name, referrer_id=referrer
        )
        bus = EventPublisher(nc.jetstream())
        await bus.publish(event)
        await bus.publish(event.model_copy(update={"id": uuid.uuid4().hex}))  # again: no change
    finally:
        await nc.close()


async def test_my_invitations_show_who_joined_their_orders_and_three_levels(
    shop: Orders, nats_server: NatsServer
) -> None:
    offer = await shop.offer(room_id=ROOM, stock=20, price_cents=10000)
    gran = shop.buyer("gran", room_id=ROOM)
    mum = shop.buyer("mum", room_id=ROOM, referrer=gran["customer_id"])
    kid = shop.buyer("kid", room_id=ROOM, referrer=mum["customer_id"])
    baby = shop.buyer("baby", room_id=ROOM, referrer=kid["customer_id"])
    # gran's cousin joins through gran's link and never buys.
    cousin = f"web:cousin-{uuid.uuid4().hex[:6]}"
    await joined(shop, nats_server.url, cousin, gran["customer_id"], "Cousin 表哥")
    await joined(shop, nats_server.url, mum["customer_id"], gran["customer_id"], "Mum 妈妈")

    async def cousin_seen() -> dict[str, Any] | None:
        mine = await shop.get("/me/invitations", gran)
        names = {i["name"] for i in mine["invitees"]}
        return mine if {"Cousin 表哥", "Mum 妈妈"} <= names else None

    await eventually(cousin_seen)
    for who in (mum, kid, baby):
        await buy(shop, offer["id"], who)
    mine = await shop.get("/me/invitations", gran)
    invitees = {i["name"]: i for i in mine["invitees"]}
    assert len(mine["invitees"]) == 2  # the people gran invited herself, not theirs
    assert invitees["Cousin 表哥"]["orders"] == 0 and invitees["Cousin 表哥"]["paid_cents"] == 0
    assert invitees["Cousin 表哥"]["room_id"] == ROOM
    assert invitees["Mum 妈妈"]["orders"] == 1 and invitees["Mum 妈妈"]["paid_cents"] == 10000
    # gran: 5% of mum's 100.00, 2% of kid's, 1% of baby's.
    assert [(lv["level"], lv["accrued_cents"]) for lv in mine["levels"]] == [
        (1, 500),
        (2, 200),
        (3, 100),
    ]
    assert mine["owed_cents"] == 800
    assert sorted(line["level"] for line in mine["lines"]) == [1, 2, 3]
    assert all(line["title"] and line["room_id"] == ROOM for line in mine["lines"])
    # A refund lowers it: reversed on the level of kid's order.
    kid_order = next(line["order_id"] for line in mine["lines"] if line["level"] == 2)
    refunded = await shop.http.post(f"/orders/{kid_order}/refund", headers=ADMIN, json={})
    assert refunded.status_code == 200
    after = await shop.get("/me/invitations", gran)
    assert [(lv["level"], lv["reversed_cents"]) for lv in after["levels"]] == [
        (1, 0),
        (2, 200),
        (3, 0),
    ]
    assert after["owed_cents"] == 600
    # Nobody invited the cousin: an empty page, not an error.
    nobody = shop.buyer("nobody", room_id=ROOM)
    assert await shop.get("/me/invitations", nobody) == {
        "invitees": [],
        "levels": [],
        "owed_cents": 0,
        "lines": [],
    }
    # The invitations are the buyer's: no token is 401, a host token is not a viewer's.
    assert (await shop.http.get("/me/invitations")).status_code == 401
    assert (await shop.http.get("/me/invitations", headers=ADMIN)).status_code == 401


async def test_a_join_first_then_the_checkout_keeps_the_first_referrer(
    shop: Orders, nats_server: NatsServer
) -> None:
    offer = await shop.offer(room_id=ROOM, stock=5, price_cents=10000)
    aunt, uncle = shop.buyer("aunt"), shop.buyer("uncle")
    niece = shop.buyer("niece", room_id=ROOM, referrer=uncle["customer_id"])
    await joined(shop, nats_server.url, niece["customer_id"], aunt["customer_id"], "Niece")

    async def recorded() -> bool:
        mine = await shop.get("/me/invitations", aunt)
        return bool(mine["invitees"])

    await eventually(recorded)
    order_id = await buy(shop, offer["id"], niece)  # her token says uncle: first touch wins
    order = await shop.get(f"/orders/{order_id}", niece)
    assert order["referrer_chain"] == [aunt["customer_id"]]
    assert (await shop.get("/me/invitations", uncle))["invitees"] == []


def _lines_of(csv_bytes: bytes) -> list[dict[str, str]]:
    text = csv_bytes.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def paid_out_events(nats_url: str, room_id: str) -> list[CommissionPaidOut]:
    """The room's commission.paid_out events, read back from JetStream."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            subjects.room_event("orders", room_id, "commission.paid_out"),
            stream=streams.ORDERS.name,
            ordered_consumer=True,
        )
        found: list[CommissionPaidOut] = []
        try:
            while True:
                event = parse_event((await sub.next_msg(timeout=0.5)).data)
                assert isinstance(event, CommissionPaidOut)
                found.append(event)
        except nats.errors.TimeoutError:
            return found
    finally:
        await nc.close()


async def test_the_host_pays_a_promoter_and_a_later_refund_is_taken_off_the_next(
    shop: Orders, nats_server: NatsServer
) -> None:
    mei, lan = host("host:mei"), host("host:lan")
    products = await shop.http.post("/products", headers=mei, json={"title": "Peaches 桃"})
    created = await shop.http.post(
        f"/rooms/{ROOM}/offers",
        headers=mei,
        json={"product_id": products.json()["id"], "price_cents": 10000, "stock": 20},
    )
    offer = (await shop.http.post(f"/offers/{created.json()['id']}/open", headers=mei)).json()
    other = await shop.offer(room_id="promo2", stock=5, price_cents=10000)  # the admin's
    aunt = shop.buyer("aunt", room_id=ROOM)
    friends = [
        shop.buyer(f"friend{i}", room_id=ROOM, referrer=aunt["customer_id"]) for i in range(3)
    ]
    orders = [await buy(shop, offer["id"], f) for f in friends]
    await buy(shop, other["id"], shop.buyer("x", room_id="promo2", referrer=aunt["customer_id"]))

    # Mei sees the lines of her offers only (3 x 5.00); the admin sees all four.
    [promoter] = (await shop.http.get("/promoters", headers=mei)).json()
    assert promoter["customer_id"] == aunt["customer_id"]
    assert (promoter["invitees"], promoter["orders"], promoter["gmv_cents"]) == (3, 3, 30000)
    assert promoter["levels"] == [
        {"level": 1, "accrued_cents": 1500, "reversed_cents": 0, "paid_out_cents": 0}
    ]
    assert promoter["owed_cents"] == 1500
    assert (await shop.http.get("/promoters", headers=ADMIN)).json()[0]["owed_cents"] == 2000
    assert (await shop.http.get("/promoters", headers=lan)).json() == []
    assert (await shop.http.get(f"/promoters?room_id={ROOM}", headers=mei)).json() == [promoter]
    # Not a host: 401 without credentials, 403 with a viewer token.
    aunt_only = {"Authorization": aunt["Authorization"]}
    for method, path in [
        ("GET", "/promoters"),
        ("GET", "/promoters.csv"),
        ("GET", f"/promoters/{aunt['customer_id']}"),
        ("POST", f"/promoters/{aunt['customer_id']}/payouts"),
    ]:
        body = {"reference": "x"} if method == "POST" else None
        assert (await shop.http.request(method, path, json=body)).status_code == 401
        denied = await shop.http.request(method, path, headers=aunt_only, json=body)
        assert denied.status_code == 403 and denied.json()["code"] == "forbidden"

    # Bad input: no reference, a blank one, a room id that cannot be one.
    pay = f"/promoters/{aunt['customer_id']}/payouts"
    for bad in [{}, {"reference": "  "}, {"reference": 5}]:
        refused = await shop.http.post(pay, headers=mei, json=bad)
        assert refused.status_code == 422, refused.text
    assert (await shop.http.get("/promoters?room_id=a.b", headers=mei)).status_code == 422

    # Mei pays: every line of hers is marked; the admin's line stays owed.
    paid = await shop.http.post(pay, headers=mei, json={"reference": "WeChat 转账 001"})
    assert paid.status_code == 201, paid.text
    payout = paid.json()
    assert (payout["beneficiary"], payout["amount_cents"]) == (aunt["customer_id"], 1500)
    assert payout["reference"] == "WeChat 转账 001"
    detail = (await shop.http.get(f"/promoters/{aunt['customer_id']}", headers=mei)).json()
    assert {
        (line["paid_cents"], line["owed_cents"], line["payout_id"]) for line in detail["lines"]
    } == {(500, 0, payout["id"])}
    assert len(detail["lines"]) == 3 and all(line["room_id"] == ROOM for line in detail["lines"])
    assert [p["id"] for p in detail["payouts"]] == [payout["id"]]
    assert detail["promoter"]["owed_cents"] == 0
    assert detail["promoter"]["levels"][0]["paid_out_cents"] == 1500
    again = await shop.http.post(pay, headers=mei, json={"reference": "again"})
    assert again.status_code == 409 and again.json()["code"] == "nothing_owed"
    assert (await shop.http.post(pay, headers=lan, json={"reference": "x"})).status_code == 409
    assert (await shop.http.get(f"/promoters/{aunt['customer_id']}", headers=lan)).json()[
        "payouts"
    ] == []

    # The event, read back from JetStream: the room's part of the payout.
    async def told() -> list[CommissionPaidOut]:
        return await paid_out_events(nats_server.url, ROOM)

    [event] = await eventually(told)
    assert (event.customer_id, event.payout_id, event.amount_cents, event.reference) == (
        aunt["customer_id"],
        payout["id"],
        1500,
        "WeChat 转账 001",
    )

    # A refund after the payout: the line owes its 5.00 back ...
    refund = await shop.http.post(f"/orders/{orders[0]}/refund", headers=mei, json={})
    assert refund.status_code == 200
    [after] = (await shop.http.get("/promoters", headers=mei)).json()
    assert after["owed_cents"] == -500
    assert after["levels"][0]["reversed_cents"] == 500
    owing = await shop.http.post(pay, headers=mei, json={"reference": "x"})
    assert owing.status_code == 409 and owing.json()["code"] == "nothing_owed"
    assert "5.00 is owed back" in owing.json()["detail"]
    # ... taken off the next payout, once two more friends have bought.
    for i in range(2):
        await buy(
            shop, offer["id"], shop.buyer(f"new{i}", room_id=ROOM, referrer=aunt["customer_id"])
        )
    second = await shop.http.post(pay, headers=mei, json={"reference": "transfer 002"})
    assert second.status_code == 201 and second.json()["amount_cents"] == 500  # 10.00 - 5.00
    settled = (await shop.http.get(f"/promoters/{aunt['customer_id']}", headers=mei)).json()
    assert settled["promoter"]["owed_cents"] == 0
    assert all(line["owed_cents"] == 0 for line in settled["lines"])
    assert [p["amount_cents"] for p in settled["payouts"]] == [500, 1500]

    # The CSV: who to pay and how much (the admin's: both rooms).
    sheet = await shop.http.get("/promoters.csv", headers=ADMIN)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert "attachment" in sheet.headers["content-disposition"]
    [row] = _lines_of(sheet.content)
    assert row["customer_id"] == aunt["customer_id"]
    assert (row["orders"], row["gmv"], row["accrued"], row["reversed"]) == (
        "6",
        "500.00",
        "30.00",
        "5.00",
    )
    assert (row["paid_out"], row["owed"]) == ("20.00", "5.00")
    mine = _lines_of((await shop.http.get(f"/promoters.csv?room_id={ROOM}", headers=mei)).content)
    assert [(r["customer_id"], r["owed"]) for r in mine] == [(aunt["customer_id"], "0.00")]
