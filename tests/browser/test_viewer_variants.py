"""Buy with a choice, on a phone: the product's sizes as chips (sold-out ones disabled,
updated live), a quantity stepper bounded by the limit and what is left of the size, and
"+1 S" in the chat still buys."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.browser.conftest import PHONE, Platform, join_as, needs_browser, screenshot, stored
from tests.support import eventually

pytestmark = [pytest.mark.timeout(90), needs_browser]


async def test_a_viewer_chooses_xl_and_a_quantity_then_buys(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    offer = await platform.offer(
        room,
        title="Tee 短袖",
        variants=["S", "M", "XL"],
        variant_stock={"S": 2, "M": 0, "XL": 3},
        per_buyer_limit=2,
    )
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily 莉莉")
    chips = page.get_by_role("group", name="Size / colour")
    await page.get_by_role("heading", name="Tee 短袖").wait_for()
    await chips.get_by_role("radio", name="XL").wait_for(state="attached")
    assert await chips.get_by_role("radio", name=re.compile("^M")).is_disabled()  # sold out
    assert not await chips.get_by_role("radio", name="XL").is_disabled()

    # Buy without a size: the page asks for one first.
    await page.get_by_role("button", name="Buy now").click()
    await page.get_by_text("Choose a size or colour first.").wait_for()

    await page.locator("#variant-chips label", has_text="XL").click()
    assert await chips.get_by_role("radio", name="XL").is_checked()
    await page.get_by_text("XL: 3 left").wait_for()
    more = page.get_by_role("button", name="One more")
    await more.click()
    assert await page.locator("#quantity").input_value() == "2"
    assert await more.is_disabled()  # the per-buyer limit
    await screenshot(page, "viewer-variants-phone")
    await page.get_by_role("button", name="Buy now").click()
    await page.locator("#buy-status").filter(has_text=re.compile("yours", re.I)).wait_for()
    card = page.locator("#order-list li").first
    await card.get_by_text("Tee 短袖 · XL × 2").wait_for()
    kept = await stored(page, room)
    auth = {"Authorization": f"Bearer {kept['token']}"}
    order = (
        await platform.http.get(f"{platform.orders}/orders/{kept['orders'][0]}", headers=auth)
    ).json()
    assert (order["variant"], order["quantity"], order["buyer_name"]) == ("XL", 2, "Lily 莉莉")

    # Someone else takes the last XL: the chip is disabled on the page as it happens.
    other = platform.buyer_token(room, "Bob")
    taken = await platform.http.post(
        f"{platform.orders}/offers/{offer['id']}/checkout",
        headers={"Authorization": f"Bearer {other}", "Idempotency-Key": uuid.uuid4().hex},
        json={"quantity": 1, "variant": "XL"},
    )
    assert taken.status_code == 201, taken.text

    async def xl_sold_out() -> bool:
        return bool(await chips.get_by_role("radio", name=re.compile("^XL")).is_disabled())

    await eventually(xl_sold_out, timeout=15)
    assert not await chips.get_by_role("radio", name=re.compile("^XL.*sold out")).is_checked()

    # "+1 S" in the chat still buys, the size read from the line (another viewer: Lily
    # holds her limit).
    mei = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(mei, f"{platform.live}/r/{room}", "Mei")
    await mei.get_by_label("Message").fill("+1 S")
    await mei.get_by_label("Message").press("Enter")
    await mei.locator("#order-list li").get_by_text("Tee 短袖 · S × 1").wait_for(timeout=15000)
    now = (await platform.http.get(f"{platform.orders}/offers/{offer['id']}")).json()
    assert {v["name"]: v["left"] for v in now["variants"]} == {"S": 1, "M": 0, "XL": 0}
    assert platform.page_errors == []


async def test_the_variant_chips_have_no_serious_accessibility_violations(
    axe_script: Any, platform: Platform, browser: Any
) -> None:
    from tests.browser.test_accessibility import AXE_CONTEXT, SEVERE, describe, run_axe

    room = await platform.live_room()
    await platform.offer(
        room, title="Tee", variants=["S", "M", "XL"], variant_stock={"S": 1, "M": 0, "XL": 2}
    )
    page = platform.watch(await (await browser.new_context(**PHONE, **AXE_CONTEXT)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily")
    await page.locator("#variant-chips label", has_text="XL").click()
    await page.get_by_text("XL: 2 left").wait_for()
    violations = await run_axe(page, axe_script, "#product")
    severe = [v for v in violations if v["impact"] in SEVERE]
    assert not severe, describe(severe)
