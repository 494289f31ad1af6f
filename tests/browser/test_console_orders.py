"""The console's "Orders" section on a phone (375 px), against orders' real API: the room's
orders with filters and totals, a refund from the list (part, then the rest: the order
shows refunded), and the CSV of the filtered list, saved with the right rows."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, PHONE, Platform, needs_browser, screenshot
from tests.browser.test_accessibility import AXE_CONTEXT, describe, run_axe
from tests.browser.test_console import log_in
from tests.support import eventually

pytestmark = [pytest.mark.timeout(90), needs_browser]


async def place(platform: Platform, room_id: str, offer_id: str, name: str, pay: bool) -> str:
    """An order of `name` (a viewer token as live gives one), paid when `pay`."""
    buyer = {"Authorization": f"Bearer {platform.buyer_token(room_id, name)}"}
    placed = await platform.http.post(
        f"{platform.orders}/offers/{offer_id}/checkout",
        headers={**buyer, "Idempotency-Key": uuid.uuid4().hex},
        json={"quantity": 1},
    )
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["order_id"]
    if pay:
        started = await platform.http.post(
            f"{platform.orders}/orders/{order_id}/pay",
            headers=buyer,
            json={"card": "4242 4242 4242 4242"},
        )
        assert started.status_code == 202, started.text

        async def settled() -> bool:
            seen = await platform.http.get(f"{platform.orders}/orders/{order_id}", headers=buyer)
            return bool(seen.json()["status"] == "paid")

        await eventually(settled)
    return order_id


def card(console: Any, order_id: str) -> Any:
    return console.locator(f'#orders-list > li[data-order-id="{order_id}"]')


async def test_host_filters_refunds_and_exports_the_rooms_orders_on_a_phone(
    full_platform: Platform, browser: Any, axe_script: Path
) -> None:
    platform = full_platform
    room_id = await platform.live_room("Orders night 订单")
    tea = await platform.offer(room_id, title="Tea 茶", price_cents=2500, stock=10)
    plums = await platform.offer(room_id, pin=False, title="Plums", price_cents=1000, stock=10)
    lily = await place(platform, room_id, tea["id"], "Lily", pay=True)
    wang = await place(platform, room_id, tea["id"], "王小明", pay=True)
    waiting = await place(platform, room_id, tea["id"], "Bob", pay=False)
    plum = await place(platform, room_id, plums["id"], "Ann", pay=True)

    context = await browser.new_context(**PHONE, **AXE_CONTEXT, accept_downloads=True)
    console = platform.watch(await context.new_page())
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room_id}")
    await console.get_by_role("heading", name="Orders night 订单").wait_for()
    section = console.locator("#orders")
    await card(console, plum).wait_for()
    assert await console.locator("#orders-list > li").count() == 4
    assert await console.locator("#orders-total-count").text_content() == "4"

    # Filters: one offer, then its paid orders only; the totals follow.
    await section.get_by_label("Offer").select_option(label="Tea 茶")
    await console.locator("#orders-total-count").filter(has_text=re.compile("^3$")).wait_for()
    assert await console.locator("#orders-list > li").count() == 3
    await section.get_by_label("Status").select_option("paid")
    await console.locator("#orders-total-count").filter(has_text=re.compile("^2$")).wait_for()
    await card(console, waiting).wait_for(state="detached")
    assert await console.locator("#orders-total-paid").text_content() == "¥50.00"

    # A part refund from the list, confirmed in the dialog.
    await card(console, lily).get_by_role("button", name=re.compile("^Refund .*Lily")).click()
    dialog = console.get_by_role("dialog", name="Refund an order")
    await dialog.wait_for()
    await dialog.get_by_label("Part of it").check()
    await dialog.get_by_label("Amount to refund").fill("10")
    await dialog.get_by_role("button", name="Refund ¥10.00").click()
    await dialog.wait_for(state="hidden")
    await card(console, lily).get_by_text(re.compile("refunded ¥10.00")).wait_for()
    await console.locator("#orders-total-refunded").filter(has_text="¥10.00").wait_for()
    # Then the rest: the order is refunded (and leaves the "Paid" filter).
    await card(console, lily).get_by_role("button", name=re.compile("^Refund .*Lily")).click()
    await dialog.get_by_text("All that is left: ¥15.00").wait_for()
    await dialog.get_by_role("button", name="Refund ¥15.00").click()
    await card(console, lily).wait_for(state="detached")
    await section.get_by_label("Status").select_option("refunded")
    await card(console, lily).get_by_text("Refunded", exact=True).wait_for()
    assert await card(console, lily).get_by_role("button").count() == 0  # nothing left to refund
    refunded = await platform.call("GET", f"{platform.orders}/orders/{lily}")
    assert (refunded["status"], refunded["refunded_cents"]) == ("refunded", 2500)

    violations = await run_axe(console, axe_script, "#orders")
    assert not violations, describe(violations)
    await screenshot(console, "console-orders-phone")
    await section.screenshot(path=str(ARTIFACTS / "console-orders-section-phone.png"))

    # The CSV of what the filters show (Tea 茶, any status), saved from the host's fetch.
    await section.get_by_label("Status").select_option("")
    await console.locator("#orders-total-count").filter(has_text=re.compile("^3$")).wait_for()
    async with console.expect_download() as downloading:
        await section.get_by_role("button", name="Export CSV").click()
    download = await downloading.value
    assert download.suggested_filename == f"{room_id}-orders.csv"
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["order_id"] for r in rows] == [waiting, wang, lily]
    assert {r["title"] for r in rows} == {"Tea 茶"}
    assert [r["status"] for r in rows] == ["awaiting_payment", "paid", "refunded"]
    assert (rows[2]["paid"], rows[2]["refunded"], rows[2]["currency"]) == ("25.00", "25.00", "CNY")

    # In Chinese too.
    await console.locator("#lang").select_option("zh")
    await section.get_by_role("heading", name="订单").wait_for()
    assert platform.page_errors == []
