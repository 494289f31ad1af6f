"""After the show: conversion, unpaid and cancelled orders, orders handed over, GMV and
commission per referrer (accrued, reversed, paid out), the exports of every buyer and of
the engaged non-buyers, and the currency, folded from real events over a real nats-server
(SQLite, and PostgreSQL where TEST_POSTGRES_URL is set).

The show: Ann buys 1 and invites Bob and Cat; Bob buys 2 (handed over at the pickup
point), Cat buys 1 and is refunded in full. Ann earns 200 on Bob's order and 100 on
Cat's (taken back on the refund); Zed, who invited Ann, brought her order and earns 50
at level 2 on Bob's; Ann is paid out 200. Fay lets her order expire, Gus cancels his,
Hal is waitlisted (sold out), Eve chats and likes, Dan only watches. The host joins as
host: staff, in no list.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.analytics.bootstrap import build
from services.analytics.domain import facts
from services.analytics.domain.fold import fold
from services.analytics.main import create_app
from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from shared.auth import issue_export_key
from shared.embedded_nats import NatsServer
from shared.events import (
    ChatMessagePosted,
    ClaimRejected,
    CommissionAccrued,
    CommissionPaidOut,
    CommissionReversed,
    IntegrationEvent,
    LikesSent,
    OfferOpened,
    OrderCancelled,
    OrderExpired,
    OrderFulfilled,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    RoomEnded,
    RoomOpened,
    RoomStarted,
    ViewerJoined,
)
from shared.messaging import EventPublisher
from tests.analytics.conftest import (
    ADMIN,
    SECRET,
    Analytics,
    analytics_settings,
    host_headers,
)
from tests.support import eventually, serving

ROOM = "r_after"
HOST = "host:h9"
T0 = datetime(2025, 6, 2, 20, 0, tzinfo=UTC)  # long over: no announcement to wait for
PRICE = 1000
EVE_NAME = '=HYPERLINK("http://evil.example","Eve")'
NAMES = {
    "web:ann": "Ann",
    "web:bob": "Bob",
    "web:cat": "Cat",
    "web:dan": "Dan",
    "web:eve": EVE_NAME,
    "web:fay": "Fay 菲",
    "web:gus": "Gus",
}
REFERRED_BY = {"web:bob": "web:ann", "web:cat": "web:ann", "web:ann": "web:zed"}


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def placed(order: str, who: str, quantity: int, minute: float) -> OrderPlaced:
    return OrderPlaced(
        room_id=ROOM,
        customer_id=who,
        order_id=order,
        claim_id=f"k-{order}",
        offer_id="o_cherry",
        quantity=quantity,
        amount_cents=PRICE * quantity,
        pay_by=at(minute + 10),
        referrer_id=REFERRED_BY.get(who),
        occurred_at=at(minute),
    )


def paid(order: str, who: str, quantity: int, minute: float) -> OrderPaid:
    chain = [REFERRED_BY[who]] if who in REFERRED_BY else []
    return OrderPaid(
        room_id=ROOM,
        customer_id=who,
        order_id=order,
        offer_id="o_cherry",
        amount_cents=PRICE * quantity,
        referrer_chain=chain,
        occurred_at=at(minute),
    )


def money_events() -> list[IntegrationEvent]:
    """Orders, commissions, the handover and the payout (what the fold is asked about)."""
    c = {"room_id": ROOM}
    return [
        placed("a1", "web:ann", 1, 3),
        paid("a1", "web:ann", 1, 4),
        placed("b1", "web:bob", 2, 3),
        paid("b1", "web:bob", 2, 5),
        placed("c1", "web:cat", 1, 4),
        paid("c1", "web:cat", 1, 6),
        OrderRefunded(
            **c,
            customer_id="web:cat",
            order_id="c1",
            offer_id="o_cherry",
            amount_cents=PRICE,
            reason="damaged",
            occurred_at=at(20),
        ),
        placed("f1", "web:fay", 1, 6),
        OrderExpired(
            **c, customer_id="web:fay", order_id="f1", offer_id="o_cherry", quantity=1,
            occurred_at=at(16),
        ),
        placed("g1", "web:gus", 1, 7),
        OrderCancelled(
            **c, customer_id="web:gus", order_id="g1", offer_id="o_cherry", reason="buyer",
            occurred_at=at(8),
        ),
        ClaimRejected(
            **c, customer_id="web:hal", claim_id="k-h1", offer_id="o_cherry",
            reason="sold_out_waitlisted", message="sold out: you are on the waitlist",
            occurred_at=at(9),
        ),
        CommissionAccrued(
            **c, customer_id="web:ann", order_id="b1", level=1, amount_cents=200, occurred_at=at(5)
        ),
        CommissionAccrued(
            **c, customer_id="web:zed", order_id="b1", level=2, amount_cents=50, occurred_at=at(5)
        ),
        CommissionAccrued(
            **c, customer_id="web:ann", order_id="c1", level=1, amount_cents=100, occurred_at=at(6)
        ),
        CommissionReversed(
            **c, customer_id="web:ann", order_id="c1", level=1, amount_cents=100,
            occurred_at=at(20),
        ),
        OrderFulfilled(
            **c, customer_id="web:bob", order_id="b1", offer_id="o_cherry", method="pickup",
            pickup_point="pp_1", quantity=2, occurred_at=at(30),
        ),
        CommissionPaidOut(
            **c, customer_id="web:ann", payout_id="po_1", amount_cents=200, reference="bank 42",
            occurred_at=at(40),
        ),
    ]  # fmt: skip


def show() -> list[IntegrationEvent]:
    return [
        RoomOpened(room_id=ROOM, title="Cherry night", host_id=HOST, occurred_at=at(-10)),
        RoomStarted(room_id=ROOM, occurred_at=at(0)),
        ViewerJoined(
            room_id=ROOM, customer_id=HOST, display_name="Host", role="host", occurred_at=at(0)
        ),
        *(
            ViewerJoined(
                room_id=ROOM,
                customer_id=who,
                display_name=name,
                referrer_id=REFERRED_BY.get(who),
                occurred_at=at(1),
            )
            for who, name in NAMES.items()
        ),
        OfferOpened(
            room_id=ROOM,
            offer_id="o_cherry",
            kind="flash_sale",
            title="Cherries 樱桃 1kg",
            price_cents=PRICE,
            stock=4,
            per_buyer_limit=3,
            occurred_at=at(2),
        ),
        ChatMessagePosted(
            room_id=ROOM,
            customer_id="web:eve",
            message_id="m1",
            display_name=EVE_NAME,
            text="so red!",
            occurred_at=at(3),
        ),
        LikesSent(room_id=ROOM, customer_id="web:eve", count=5, occurred_at=at(3)),
        *money_events(),
        RoomEnded(room_id=ROOM, occurred_at=at(25)),
    ]


def test_handovers_and_commissions_fold_the_same_in_any_order() -> None:
    events = money_events()
    fulfilled = [e for e in events if isinstance(e, OrderFulfilled)]
    commission = [
        e
        for e in events
        if isinstance(e, CommissionAccrued | CommissionReversed | CommissionPaidOut)
    ]
    seen = []
    mine: list[IntegrationEvent] = [*fulfilled, *commission]
    for order in itertools.permutations(mine):
        rows = fold(order).rows
        seen.append(rows.rows[facts.COMMISSIONS.name])
        (b1,) = rows.of(facts.ORDERS)
        assert (b1["fulfilled_at"], b1["fulfilled_units"]) == (at(30), 2)
    assert all(rows == seen[0] for rows in seen)
    by_account = {key[0]: row for key, row in seen[0].items()}
    ann = by_account["web:ann"]
    assert (ann["accrued_cents"], ann["reversed_cents"], ann["paid_out_cents"]) == (300, 100, 200)
    assert by_account["web:zed"]["accrued_cents"] == 50


async def _reported(analytics: Analytics) -> None:
    events = show()
    await analytics.publish(events)
    await analytics.settled(len(events))

    async def built() -> bool:
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_the_report_counts_conversion_unpaid_cancelled_handed_over_and_referrers(
    analytics: Analytics,
) -> None:
    await _reported(analytics)
    r = await analytics.get(f"/rooms/{ROOM}/report")

    # Viewers: the seven who joined the page (the host is staff); buyers: Ann and Bob
    # (Cat was refunded in full). Claims: five orders placed and Hal's refused claim.
    assert (r["unique_viewers"], r["funnel"]["paid"]) == (7, 2)
    assert r["conversion_rate"] == round(2 / 7, 4)
    assert (r["claims"], r["orders_placed"], r["paid_orders"]) == (6, 5, 2)
    assert r["claim_conversion"] == round(2 / 6, 4)
    assert (r["expired_orders"], r["cancelled_orders"]) == (1, 1)
    assert (r["fulfilled_orders"], r["units_fulfilled"]) == (1, 2)
    (cherry,) = r["offers"]
    assert (cherry["expired_orders"], cherry["cancelled_orders"]) == (1, 1)
    assert (cherry["fulfilled_orders"], cherry["units_fulfilled"]) == (1, 2)
    assert r["currency"] == "CNY"

    # Ann brought Bob's paid order (Cat's was refunded): GMV 2 x PRICE; her commission
    # 300 accrued, 100 reversed, 200 paid out. Zed, who invited Ann, brought Ann's order
    # and earned 50 at level 2 on Bob's.
    ann, zed = r["referrers"]
    assert ann == {
        "person_id": "web:ann",
        "display_name": "Ann",
        "buyers": 1,
        "paid_orders": 1,
        "gmv_cents": 2 * PRICE,
        "commission_accrued_cents": 300,
        "commission_reversed_cents": 100,
        "commission_cents": 200,
        "paid_out_cents": 200,
    }
    assert (zed["person_id"], zed["buyers"], zed["gmv_cents"]) == ("web:zed", 1, PRICE)
    assert (zed["commission_cents"], zed["paid_out_cents"]) == (50, 0)
    assert (r["commission_accrued_cents"], r["commission_reversed_cents"]) == (350, 100)
    assert (r["commission_cents"], r["commission_paid_out_cents"]) == (250, 200)

    page = await analytics.get(f"/rooms/{ROOM}/report.html")
    assert "Conversion (buyers / viewers)" in page and "28.6%" in page
    assert "Referrers" in page and "¥20.00" in page
    assert f"/rooms/{ROOM}/exports/buyers.csv" in page
    assert f"/rooms/{ROOM}/exports/engaged.csv" in page
    report_csv = await analytics.get(f"/rooms/{ROOM}/report.csv")
    assert "currency,CNY" in report_csv and "# referrers" in report_csv


async def test_the_exports_list_every_buyer_and_every_engaged_non_buyer(
    analytics: Analytics,
) -> None:
    await _reported(analytics)
    http = analytics.http

    buyers = _csv(await http.get(f"/rooms/{ROOM}/exports/buyers.csv", headers=ADMIN))
    assert [b["customer"] for b in buyers] == ["web:bob", "web:ann", "web:cat"]
    bob, ann, cat = buyers
    assert (bob["name"], bob["platforms"], bob["orders"], bob["units"]) == ("Bob", "web", "1", "2")
    assert (bob["paid_cents"], bob["refunded_cents"], bob["net_cents"]) == ("2000", "0", "2000")
    assert (bob["referrer"], bob["referrer_name"], bob["fulfilled_orders"]) == (
        "web:ann",
        "Ann",
        "1",
    )
    assert (bob["tier"], bob["new"], bob["currency"]) == ("ordinary", "True", "CNY")
    assert (ann["referrer"], ann["referrer_name"], ann["units"]) == ("web:zed", "", "1")
    assert (cat["paid_cents"], cat["refunded_cents"], cat["net_cents"]) == ("1000", "1000", "0")
    assert cat["units"] == "0"

    engaged = _csv(await http.get(f"/rooms/{ROOM}/exports/engaged.csv", headers=ADMIN))
    # Claimed first (Fay, Gus, Hal), then who talked; Dan only watched; the host is staff.
    assert [e["customer"] for e in engaged] == ["web:fay", "web:gus", "web:hal", "web:eve"]
    fay, gus, hal, eve = engaged
    assert (fay["name"], fay["claims"], fay["unpaid_orders"], fay["expired_orders"]) == (
        "Fay 菲",
        "1",
        "1",
        "1",
    )
    assert (gus["unpaid_orders"], gus["cancelled_orders"]) == ("1", "1")
    assert (hal["claims"], hal["unpaid_orders"], hal["waitlisted"]) == ("1", "0", "1")
    assert (eve["messages"], eve["likes"], eve["claims"]) == ("1", "5", "0")
    # A name that is a formula is text in a spreadsheet.
    assert eve["name"] == "'" + EVE_NAME
    # Nobody is in both lists.
    assert not {b["customer"] for b in buyers} & {e["customer"] for e in engaged}


async def test_the_exports_are_the_rooms_hosts_only(analytics: Analytics) -> None:
    events = [RoomOpened(room_id=ROOM, title="Cherry night", host_id=HOST, occurred_at=at(-10))]
    await analytics.publish(events)
    await analytics.settled(len(events))
    http = analytics.http
    viewer, _ = ViewerTokens(SECRET, 3600).issue(
        Viewer(room_id=ROOM, customer_id="web:ann", display_name="Ann")
    )
    for export in ("buyers", "engaged"):
        path = f"/rooms/{ROOM}/exports/{export}.csv"
        assert (await http.get(path)).status_code == 401
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert (await http.get(path, headers=as_viewer)).status_code == 403
        assert (await http.get(path, headers=host_headers("host:h2"))).status_code == 403
        mine = await http.get(path, headers=host_headers(HOST))
        assert _csv(mine) == []  # a header, no row yet
        unknown = await http.get(f"/rooms/r_nope/exports/{export}.csv", headers=ADMIN)
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "not_found"


async def test_the_report_pages_export_links_work_for_that_show_only(
    analytics: Analytics,
) -> None:
    """The report page opens from the console with no credential of its own (a blob page):
    its export links carry a key that reads that show's exports, nothing else."""
    await _reported(analytics)
    http = analytics.http
    page = await analytics.get(f"/rooms/{ROOM}/report.html")
    links = dict(re.findall(r'href="[^"]*/exports/(\w+)\.csv\?key=([^"]+)"', page))
    assert set(links) == {"buyers", "engaged"}
    buyers = await http.get(f"/rooms/{ROOM}/exports/buyers.csv", params={"key": links["buyers"]})
    assert buyers.status_code == 200
    assert [b["customer"] for b in _csv(buyers)] == ["web:bob", "web:ann", "web:cat"]
    # Another show's exports, a forged key, an expired one: 401, nothing read.
    other = await http.get("/rooms/r_other/exports/buyers.csv", params={"key": links["buyers"]})
    forged = issue_export_key(ROOM, "admin", time.time() + 60, "another-secret" * 3)
    expired = issue_export_key(ROOM, "admin", time.time() - 60, SECRET)
    for answer in (
        other,
        await http.get(f"/rooms/{ROOM}/exports/buyers.csv", params={"key": forged}),
        await http.get(f"/rooms/{ROOM}/exports/engaged.csv", params={"key": expired}),
    ):
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_token"
    # A host's link reads as that host: another host's show stays closed to it.
    theirs = issue_export_key(ROOM, "host:h2", time.time() + 60, SECRET)
    refused = await http.get(f"/rooms/{ROOM}/exports/buyers.csv", params={"key": theirs})
    assert refused.status_code == 403


@pytest.fixture
async def analytics_usd(
    nats_server: NatsServer, nc: NatsClient, database_url: str
) -> AsyncIterator[Analytics]:
    app = build(analytics_settings(nats_server.url, database_url, currency="USD"))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Analytics(url, app, http, EventPublisher(nc.jetstream()))


async def test_the_report_and_exports_are_in_the_platforms_currency(
    analytics_usd: Analytics,
) -> None:
    await _reported(analytics_usd)
    r = await analytics_usd.get(f"/rooms/{ROOM}/report")
    assert r["currency"] == "USD"
    page = await analytics_usd.get(f"/rooms/{ROOM}/report.html")
    assert "$20.00" in page  # Bob's order, GMV by Ann
    assert "¥" not in page
    assert "currency,USD" in await analytics_usd.get(f"/rooms/{ROOM}/report.csv")
    response = await analytics_usd.http.get(f"/rooms/{ROOM}/exports/buyers.csv", headers=ADMIN)
    assert {b["currency"] for b in _csv(response)} == {"USD"}
