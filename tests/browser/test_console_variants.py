"""The host splits an offer's stock per size in the console's offer form (optional)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PHONE, Platform, needs_browser
from tests.browser.test_console import log_in

pytestmark = [pytest.mark.timeout(60), needs_browser]


async def test_the_host_splits_the_stock_per_variant(platform: Platform, browser: Any) -> None:
    console = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await log_in(console, f"{platform.live}/console")
    await console.get_by_label("Title").fill("Tee night")
    await console.get_by_role("button", name="Create room").click()
    await console.get_by_role("heading", name="Tee night").wait_for()
    room_id = console.url.rsplit("#", 1)[1]

    await console.get_by_label("New product").fill("Tee 短袖")
    await console.get_by_label("Variants (comma-separated)").fill("S, M, XL")
    await console.get_by_role("button", name="Add to catalog").click()
    await console.get_by_label("Product", exact=True).filter(has_text="Tee 短袖").wait_for()
    split = console.get_by_label("Stock per variant (optional)")
    await split.fill("S:2, M, XL:3")
    await console.get_by_role("button", name="Add to the lineup").click()
    await console.get_by_role("alert").filter(has_text='cannot read "M"').wait_for()
    await split.fill("S:2, m:0, x-large:3")
    await console.get_by_role("button", name="Add to the lineup").click()
    row = console.locator("#lineup-rows tr").filter(has_text="Tee 短袖")
    await row.get_by_text("5 / 5").wait_for()
    room = (await platform.http.get(f"{platform.live}/rooms/{room_id}")).json()
    offer = (await platform.http.get(f"{platform.orders}/offers/{room['lineup'][0]}")).json()
    assert [(v["name"], v["left"]) for v in offer["variants"]] == [("S", 2), ("M", 0), ("XL", 3)]
    assert re.search("S:", await split.get_attribute("placeholder") or "")
    assert platform.page_errors == []
