"""The console's Promoters section on a phone: the ledger per promoter (levels, accrued,
reversed, paid out, owed), "Mark paid" with a reference, and the CSV of who to pay."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from tests.browser.conftest import PHONE, Platform, needs_browser, screenshot
from tests.browser.test_console import log_in
from tests.orders.conftest import SECRET
from tests.support import eventually

pytestmark = [pytest.mark.timeout(90), needs_browser]

CARD = {"card": "4242 4242 4242 4242"}


def bearer(room_id: str, name: str, referrer: str | None = None) -> tuple[str, dict[str, str]]:
    customer = f"web:{name}-{uuid.uuid4().hex[:6]}"
    token, _ = ViewerTokens(SECRET, 3600).issue(
        Viewer(room_id=room_id, customer_id=customer, display_name=name, referrer_id=referrer)
    )
    return customer, {"Authorization": f"Bearer {token}"}


async def buys_and_pays(platform: Platform, offer_id: str, auth: dict[str, str]) -> str:
    placed = await platform.http.post(
        f"{platform.orders}/offers/{offer_id}/checkout",
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        json={"quantity": 1},
    )
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["order_id"]
    paying = await platform.http.post(
        f"{platform.orders}/orders/{order_id}/pay", headers=auth, json=CARD
    )
    assert paying.status_code == 202, paying.text

    async def paid() -> bool:
        order = await platform.http.get(f"{platform.orders}/orders/{order_id}", headers=auth)
        return bool(order.json()["status"] == "paid")

    await eventually(paid)
    return order_id


async def test_the_host_reads_the_ledger_marks_a_payout_and_downloads_the_csv(
    full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    room_id = await platform.live_room("Promoters night 推广之夜")
    offer = await platform.offer(room_id, price_cents=4990, stock=10)
    aunt, _ = bearer(room_id, "aunt")
    for i in range(2):
        _, friend = bearer(room_id, f"friend{i}", referrer=aunt)
        await buys_and_pays(platform, offer["id"], friend)

    console = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room_id}")
    await console.get_by_role("heading", name="Promoters night 推广之夜").wait_for()
    section = console.locator("#promoters")
    card = section.get_by_role("listitem").filter(has=console.get_by_role("heading", name=aunt))
    await card.wait_for()
    # Default rule "5,2": 5% of two 49.90 orders = 2 x 2.49 (rounded down to the cent).
    level = card.get_by_role("row", name="Level 1")
    assert [await c.inner_text() for c in await level.get_by_role("cell").all()] == [
        "¥4.98",
        "¥0.00",
        "¥0.00",
    ]
    figures = card.locator("dd")
    assert [await f.inner_text() for f in await figures.all()] == ["2", "2", "¥99.80", "¥4.98"]
    await card.scroll_into_view_if_needed()
    await screenshot(console, "console-promoters-phone")

    # Mark paid: the reference is asked for, then the payout recorded.
    await card.get_by_role("button", name="Mark paid").click()
    await card.get_by_role("button", name="Confirm payout").click()
    await section.get_by_text("Say how you paid (a reference).").wait_for()
    await card.get_by_label("Reference").fill("WeChat 转账 8812")
    await card.get_by_role("button", name="Confirm payout").click()
    await console.get_by_text("Marked ¥4.98 paid to").wait_for()
    await (
        card.get_by_role("button", name="Mark paid")
        .and_(console.locator("button:disabled"))
        .wait_for()
    )
    cells = card.get_by_role("row", name="Level 1").get_by_role("cell")
    assert [await c.inner_text() for c in await cells.all()] == ["¥4.98", "¥0.00", "¥4.98"]
    assert await figures.last.inner_text() == "¥0.00"
    detail = await platform.call("GET", f"{platform.orders}/promoters/{aunt}")
    [payout] = detail["payouts"]
    assert (payout["amount_cents"], payout["reference"]) == (498, "WeChat 转账 8812")
    assert {line["payout_id"] for line in detail["lines"]} == {payout["id"]}

    # The CSV, fetched with the console's credential and saved as a file.
    async with console.expect_download() as downloading:
        await section.get_by_role("button", name="Who to pay (CSV)").click()
    download = await downloading.value
    assert download.suggested_filename == "promoters.csv"
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (r["customer_id"], r["orders"], r["accrued"], r["paid_out"], r["owed"]) for r in rows
    ] == [(aunt, "2", "4.98", "4.98", "0.00")]
    assert platform.page_errors == []
