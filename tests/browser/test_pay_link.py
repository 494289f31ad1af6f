"""A group's pay link in a real browser: a Telegram member's "+1" held an order; the "Pay"
button of the group's reply opens the room page with `?pay=<token>`, which shows that order
and pays it with the test card, without joining the room."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import nats
import pytest

from shared import subjects
from shared.auth import issue_pay_token
from shared.embedded_nats import NatsServer
from shared.events import OrderPlaced, PlaceClaim, parse_event
from shared.messaging import EventPublisher
from tests.browser.conftest import LAPTOP, PHONE, Platform, needs_browser, screenshot
from tests.orders.conftest import SECRET
from tests.orders.pictures import phone_jpeg
from tests.support import eventually

pytestmark = [pytest.mark.timeout(60), needs_browser]

GROUP_BUYER = "telegram:42"


async def group_claim(nats_url: str, room: str, offer_id: str, quantity: int) -> OrderPlaced:
    """The order a "+N" in a bound Telegram group holds (ingest's PlaceClaim)."""
    nc = await nats.connect(nats_url)
    try:
        placed = await nc.subscribe(subjects.room_events("orders", room))
        claim = PlaceClaim(
            room_id=room,
            customer_id=GROUP_BUYER,
            claim_id=f"telegram:-1001234567890:{uuid.uuid4().hex[:8]}",
            offer_id=offer_id,
            quantity=quantity,
            source="telegram",
            source_text=f"+{quantity}",
        )
        await EventPublisher(nc.jetstream()).publish(claim)
        while True:
            event = parse_event((await placed.next_msg(timeout=10)).data)
            if isinstance(event, OrderPlaced) and event.claim_id == claim.claim_id:
                return event
    finally:
        await nc.close()


def pay_url(platform: Platform, order: OrderPlaced, expires_at: float | None = None) -> str:
    """The group reply's "Pay" button, as ingest builds it."""
    token = issue_pay_token(
        order.order_id,
        GROUP_BUYER,
        order.room_id,
        order.pay_by.timestamp() if expires_at is None else expires_at,
        SECRET,
    )
    return f"{platform.live}/r/{order.room_id}?pay={quote(token)}"


async def test_a_group_buyer_pays_from_the_pay_link(
    platform: Platform, browser: Any, nats_server: NatsServer
) -> None:
    room = await platform.live_room()
    product = await platform.call(
        "POST", f"{platform.orders}/products", json={"title": "Cherries 樱桃"}
    )
    await platform.call(
        "POST",
        f"{platform.orders}/products/{product['id']}/photos",
        files={"file": ("photo.jpg", phone_jpeg())},
        data={"alt": "Red cherries in a box"},
    )
    offer = await platform.offer(room, pin=False, product_id=product["id"], per_buyer_limit=2)
    order = await group_claim(nats_server.url, room, offer["id"], quantity=2)

    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await page.goto(pay_url(platform, order))
    dialog = page.get_by_role("dialog", name="Pay for your order")
    await dialog.wait_for()
    # The order as orders answers it, with the product's photo from orders.
    await dialog.get_by_role("heading", name="Cherries 樱桃 × 2").wait_for()
    await dialog.get_by_text("Awaiting payment", exact=True).wait_for()
    await dialog.get_by_text("¥99.80", exact=True).wait_for()
    await dialog.get_by_text(re.compile(r"Pay by .+ \(1[45]:\d\d left\)")).wait_for()
    photo = dialog.get_by_role("button", name="Open full size: Red cherries in a box")
    await photo.wait_for()
    src = await photo.locator("img").get_attribute("src")
    assert (src or "").startswith(f"{platform.orders}/photos/")
    # Straight to "Delivery or pickup", then the card number; a screen reader hears the
    # dialog's name and purpose.
    delivery = dialog.get_by_role("radio", name="Deliver to my address")
    await eventually(lambda: delivery.evaluate("input => document.activeElement === input"))
    assert await dialog.get_attribute("aria-describedby") == "pay-intro"
    await delivery.check()
    address = dialog.get_by_label("Delivery address")
    assert await address.input_value() == ""  # a link never reads the buyer's address
    await address.fill("8 Willow Road, Xuhui")
    await dialog.get_by_role("button", name="Continue to payment").click()
    await dialog.get_by_text("Delivery to the address given").wait_for()
    card = dialog.get_by_label("Card number")
    await eventually(lambda: card.evaluate("input => document.activeElement === input"))

    await screenshot(page, "pay-link-phone-to-pay")
    await card.fill("4242 4242 4242 4242")
    await dialog.get_by_role("button", name="Pay ¥99.80").click()
    # Paid through the simulated gateway's callback: the outcome is said, the form goes.
    await (
        dialog.get_by_role("status")
        .filter(has_text="Paid — thank you! Your order is confirmed.")
        .wait_for()
    )
    await dialog.get_by_text("Paid", exact=True).wait_for()
    assert await dialog.get_by_label("Card number").count() == 0
    assert await page.evaluate("document.activeElement.id") == "pay-close"

    answer = await platform.http.get(
        f"{platform.orders}/orders/{order.order_id}",
        headers={
            "X-Pay-Token": issue_pay_token(
                order.order_id, GROUP_BUYER, room, time.time() + 60, SECRET
            )
        },
    )
    assert (answer.json()["status"], answer.json()["paid_cents"]) == ("paid", 9980)
    sold = await platform.call("GET", f"{platform.orders}/offers/{offer['id']}")
    assert (sold["sold"], sold["held"]) == (2, 0)

    await screenshot(page, "pay-link-phone")
    await page.set_viewport_size(LAPTOP["viewport"])
    await screenshot(page, "pay-link-laptop")
    # Closed, the room's page is there to join (the link holder is not a viewer yet).
    await dialog.get_by_role("button", name="Close").click()
    await page.get_by_label("Your display name").wait_for()
    assert platform.page_errors == []


async def test_an_expired_or_broken_pay_link_says_so_in_chinese(
    platform: Platform, browser: Any, nats_server: NatsServer
) -> None:
    room = await platform.live_room()
    offer = await platform.offer(room, pin=False)
    order = await group_claim(nats_server.url, room, offer["id"], quantity=1)
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())

    await page.goto(pay_url(platform, order, expires_at=time.time() - 120) + "&lang=zh")
    dialog = page.get_by_role("dialog", name="支付你的订单")
    await (
        dialog.get_by_role("status")
        .filter(has_text="付款链接已过期：订单未在时限内付款。")
        .wait_for()
    )
    assert await dialog.get_by_label("银行卡号").count() == 0

    await page.goto(f"{platform.live}/r/{room}?pay=not-a-token&lang=zh")
    await dialog.get_by_text("付款链接无法使用。请从群里重新打开，或进入直播间购买。").wait_for()
    # A link signed with another key (not ingest's) opens nothing either.
    foreign = issue_pay_token(
        order.order_id,
        GROUP_BUYER,
        room,
        order.pay_by.timestamp(),
        "another-secret-of-at-least-32-bytes!!",
    )
    await page.goto(f"{platform.live}/r/{room}?pay={quote(foreign)}&lang=zh")
    await dialog.get_by_text("付款链接无法使用。请从群里重新打开，或进入直播间购买。").wait_for()
    assert await dialog.get_by_label("银行卡号").count() == 0
    unpaid = await platform.http.get(
        f"{platform.orders}/orders/{order.order_id}",
        headers={
            "X-Pay-Token": issue_pay_token(
                order.order_id, GROUP_BUYER, room, time.time() + 60, SECRET
            )
        },
    )
    assert unpaid.json()["status"] == "awaiting_payment"
    assert platform.page_errors == []
