"""The buyer's /me page in a real browser at 375 px: one identity across rooms, my orders from
every room (pay one, cancel another), a paid pickup order's code and QR code, leaving a
waitlist; axe-core finds nothing serious on it."""

from __future__ import annotations

import io
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import segno

from tests.browser.conftest import (
    PHONE,
    Platform,
    choose_delivery,
    join_as,
    needs_browser,
    screenshot,
    stored,
)
from tests.browser.test_accessibility import AXE_CONTEXT, describe, run_axe
from tests.support import eventually

pytestmark = [pytest.mark.timeout(120), needs_browser]


async def buy_pinned(page: Any) -> None:
    await page.get_by_role("button", name="Buy now").click()
    await page.locator("#order-list li").first.get_by_text("Awaiting payment").wait_for()


async def pickup_point_for(platform: Platform, room: str) -> str:
    """A pickup point serving the room (the host's `POST /pickup-points`)."""
    made = await platform.http.post(
        f"{platform.orders}/pickup-points",
        headers={"Authorization": "Bearer test-admin"},
        json={
            "name": "Block 3 gate",
            "address": "3 Garden Rd",
            "hours": "18:00-21:00",
            "contact": "",
            "room_ids": [room],
        },
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def qr_svg(code: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(code, error="m").save(out, kind="svg", scale=8, border=2, title="Pickup code")
    return out.getvalue()


async def test_my_orders_from_two_rooms_pay_cancel_pickup_code_and_leave_the_waitlist(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    room_a = await platform.live_room("Cherry night 樱桃专场")
    room_b = await platform.live_room("Lychee night 荔枝专场")
    await platform.offer(room_a, title="Cherries 樱桃")
    await platform.offer(room_b, title="Lychees 荔枝")
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())

    # Buy in room A, then in room B: one browser, one customer id.
    await join_as(page, f"{platform.live}/r/{room_a}", "Lily 莉莉")
    await buy_pinned(page)
    await page.goto(f"{platform.live}/r/{room_b}")
    # The name is offered again from the other room; joining keeps who I am.
    assert await eventually(page.get_by_label("Your display name").input_value) == "Lily 莉莉"
    await page.get_by_role("button", name="Join", exact=True).click()
    await page.locator("#room").wait_for(state="visible")
    await buy_pinned(page)
    in_a, in_b = await stored(page, room_a), await stored(page, room_b)
    assert in_a["customer_id"] == in_b["customer_id"]
    me = in_b["customer_id"]
    order_a, order_b = in_a["orders"][0], in_b["orders"][0]
    buyer = {"Authorization": f"Bearer {in_b['token']}"}

    # Room B's order is collected at a pickup point; a sold-out offer in room A has me waiting.
    point = await pickup_point_for(platform, room_b)
    chosen = await platform.http.post(
        f"{platform.orders}/orders/{order_b}/fulfilment",
        headers=buyer,
        json={"method": "pickup", "pickup_point": point},
    )
    assert chosen.status_code == 200, chosen.text
    last = await platform.offer(room_a, pin=False, title="Last box 最后一箱", stock=1)
    other = {"Authorization": f"Bearer {platform.buyer_token(room_a, 'Wang')}"}
    for who in (other, buyer):
        await platform.http.post(
            f"{platform.orders}/offers/{last['id']}/checkout",
            headers={**who, "Idempotency-Key": uuid.uuid4().hex},
            json={"quantity": 1},
        )

    # The header's "My orders" opens /me: both orders, newest first, each with its room.
    await page.get_by_role("link", name="My orders", exact=True).click()
    await page.wait_for_url(f"{platform.live}/me")
    orders = page.locator("#my-orders > li")
    await eventually(lambda: orders.count(), timeout=15)
    assert await orders.count() == 2
    b_card = page.locator(f'li[data-order-id="{order_b}"]')
    a_card = page.locator(f'li[data-order-id="{order_a}"]')
    await b_card.get_by_text("Lychees 荔枝 × 1").wait_for()
    await a_card.get_by_text("Cherries 樱桃 × 1").wait_for()
    assert await a_card.get_by_role("link", name="Open the room").get_attribute("href") == (
        f"/r/{room_a}"
    )
    await a_card.get_by_text(re.compile(r"Pay by .+ \(1[45]:\d\d left\)")).wait_for()
    # Room B's order says where it is collected; room A's asks first (js/fulfilment.js).
    await b_card.get_by_text("Pickup at Block 3 gate, 18:00-21:00").wait_for()
    await a_card.get_by_role("group", name="Delivery or pickup").wait_for()
    assert await a_card.get_by_label("Card number").count() == 0
    await screenshot(page, "me-phone-orders")
    await choose_delivery(a_card, "8 Willow Road 柳树路8号")
    await a_card.get_by_text("Deliver to 8 Willow Road 柳树路8号").wait_for()

    # Pay room B's order; cancel room A's (after saying yes).
    await b_card.get_by_label("Card number").fill("4242 4242 4242 4242")
    await b_card.get_by_role("button", name=re.compile("^Pay ")).click()
    await b_card.get_by_text("Paid", exact=True).wait_for(timeout=20_000)
    page.once("dialog", lambda dialog: dialog.accept())
    await a_card.get_by_role("button", name="Cancel order: Cherries 樱桃").click()
    await a_card.get_by_text("Cancelled", exact=True).wait_for()
    assert await a_card.get_by_label("Card number").count() == 0

    # The paid pickup order: its code big, its QR code (the same segno makes of the code).
    code_node = b_card.locator(".pickup-code")
    await code_node.wait_for()
    code = (await code_node.inner_text()).strip()
    assert re.fullmatch(r"\d{6}", code), code
    qr = b_card.get_by_role("img", name=f"QR code of pickup code {code}")
    await qr.wait_for()
    # Shown from the SVG the page fetched with its token (a blob: URL), and drawn.
    assert (await qr.get_attribute("src") or "").startswith("blob:")
    await eventually(lambda: qr.evaluate("(img) => img.complete && img.naturalWidth > 0"))
    served = await platform.http.get(
        f"{platform.orders}/me/orders/{order_b}/pickup-qr.svg", headers=buyer
    )
    assert served.content == qr_svg(code)
    # And a QR reader reads the code off the image the buyer sees (the desk's jsQR).
    decoded = await qr.evaluate(
        """async (img) => {
            await new Promise((done, failed) => {
                const script = document.createElement('script');
                script.src = '/static/vendor/jsqr/jsQR.js';
                script.onload = done;
                script.onerror = failed;
                document.head.append(script);
            });
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth * 2;
            canvas.height = img.naturalHeight * 2;
            const context = canvas.getContext('2d');
            context.fillStyle = '#fff';
            context.fillRect(0, 0, canvas.width, canvas.height);
            context.drawImage(img, 0, 0, canvas.width, canvas.height);
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
            return window.jsQR(pixels.data, canvas.width, canvas.height)?.data ?? null;
        }"""
    )
    assert decoded == code
    answer = await platform.http.get(f"{platform.orders}/orders/{order_b}", headers=buyer)
    assert (answer.json()["status"], answer.json()["pickup_code"]) == ("paid", code)
    await screenshot(page, "me-phone-pickup")

    # The waitlist: my place, and leaving it.
    await page.get_by_role("tab", name="Waitlist").click()
    place = page.locator(f'#my-waitlist li[data-offer-id="{last["id"]}"]')
    await place.get_by_text("Place 1 in line").wait_for()
    await place.get_by_text("Last box 最后一箱 × 1").wait_for()
    await screenshot(page, "me-phone-waitlist")
    await place.get_by_role("button", name="Leave the waitlist of Last box 最后一箱").click()
    await (
        page.get_by_role("status")
        .filter(has_text="You left the waitlist of Last box 最后一箱.")
        .wait_for()
    )
    await page.get_by_text("You are not on any waitlist.").wait_for()
    waiting = await platform.http.get(f"{platform.orders}/me/waitlist", headers=buyer)
    assert waiting.json() == []

    # Handed over at the pickup point (what the desk's handover writes): said, the code goes.
    with sqlite3.connect(tmp_path / "orders.db") as db:
        db.execute("UPDATE orders_orders SET fulfilled_at = paid_at WHERE id = ?", (order_b,))
    await page.get_by_role("tab", name="My orders").click()
    await page.reload()
    await b_card.get_by_text(re.compile(r"^Handed over at .+")).wait_for()
    assert await b_card.locator(".pickup-code").count() == 0

    # My invitations: the invite link names me (the ledger comes with helper promoters).
    await page.get_by_role("tab", name="My invitations").click()
    link = await eventually(page.get_by_label("Your invite link").input_value)
    assert link.endswith(f"?ref={me.replace(':', '%3A')}") and "/r/" in link
    assert platform.page_errors == []


async def test_the_me_page_in_chinese_without_an_identity_and_its_accessibility(
    platform: Platform, browser: Any, axe_script: Any
) -> None:
    page = platform.watch(await (await browser.new_context(**PHONE, **AXE_CONTEXT)).new_page())
    await page.goto(f"{platform.live}/me?lang=zh")
    await page.get_by_text("请先在这个浏览器里进入一个直播间").wait_for()
    assert await page.locator("#me-tabs").is_hidden()

    room = await platform.live_room()
    await platform.offer(room)
    await join_as(page, f"{platform.live}/r/{room}", "Lily")
    await buy_pinned(page)
    await page.goto(f"{platform.live}/me")
    await page.locator("#my-orders > li").first.wait_for()
    # Keyboard: the arrow keys move between the tabs.
    await page.get_by_role("tab", name="My orders").focus()
    await page.keyboard.press("ArrowRight")
    assert await page.get_by_role("tab", name="Waitlist").get_attribute("aria-selected") == "true"
    await page.keyboard.press("ArrowLeft")
    violations = await run_axe(page, axe_script)
    severe = [v for v in violations if v["impact"] in ("critical", "serious")]
    assert not severe, describe(severe)
    assert platform.page_errors == []


async def test_my_invitations_show_who_joined_through_my_link_and_my_commissions(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await platform.offer(room, title="Cherries 樱桃")
    me_page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(me_page, f"{platform.live}/r/{room}", "Aunt Mei 梅姨")
    me = (await stored(me_page, room))["customer_id"]

    # A friend comes through my link, buys and pays.
    friend = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(friend, f"{platform.live}/r/{room}?ref={me}", "Friend 朋友")
    await buy_pinned(friend)
    order = friend.locator("#order-list li").first
    await choose_delivery(order)
    await order.get_by_label("Card number").fill("4242 4242 4242 4242")
    await order.get_by_role("button", name=re.compile("^Pay ")).click()
    await order.get_by_text("Paid", exact=True).wait_for(timeout=20_000)

    await me_page.goto(f"{platform.live}/me#invitations")
    panel = me_page.get_by_role("tabpanel", name="My invitations")
    invite = panel.get_by_label("Your invite link")
    link = await eventually(invite.input_value)
    assert link == f"{platform.live}/r/{room}?ref={me.replace(':', '%3A')}"

    mine = {"Authorization": f"Bearer {(await stored(me_page, room))['token']}"}

    async def accrued() -> Any:  # once the payment is folded into my commission lines
        answer = (await platform.http.get(f"{platform.orders}/me/invitations", headers=mine)).json()
        return answer if answer.get("lines") else None

    await eventually(accrued, timeout=30, interval=0.5)
    await me_page.reload()
    row = panel.get_by_role("row", name=re.compile("Level 1"))
    await row.wait_for()
    assert "¥0.00" not in (await row.inner_text()).split("\t")[1], await row.inner_text()
    await panel.get_by_text("Friend 朋友").wait_for()
    await panel.get_by_text("Orders: 1 · paid ¥49.90").wait_for()
    await panel.get_by_text(re.compile(r"Owed to you: ¥\d+\.\d\d")).wait_for()
    await panel.get_by_text("Cherries 樱桃 · Level 1").wait_for()
    await screenshot(me_page, "me-phone-invitations")
    assert platform.page_errors == []
