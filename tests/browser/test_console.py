"""The host console in a real browser: a whole short show, and the tools around it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    ADMIN_TOKEN,
    LAPTOP,
    PHONE,
    Platform,
    buy_pay_and_say,
    join_as,
    needs_browser,
    screenshot,
)
from tests.support import eventually

pytestmark = [pytest.mark.timeout(60), needs_browser]


async def log_in(page: Any, url: str) -> None:
    await page.goto(url)
    await page.get_by_label("Admin token or host credential").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("heading", name="Rooms").wait_for()


def figure(page: Any, name: str) -> Any:
    return page.locator("#figures div").filter(has=page.get_by_text(name, exact=True)).locator("dd")


async def test_host_runs_a_short_show_from_the_console_and_opens_the_report(
    full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    console = platform.watch(await (await browser.new_context(**LAPTOP)).new_page())
    console.on("dialog", lambda dialog: dialog.accept())
    await log_in(console, f"{platform.live}/console")

    # Create and schedule the room.
    await console.get_by_label("Title").fill("Cherry night 樱桃专场")
    await console.get_by_label("Scheduled for").fill("2030-06-01T20:00")
    await console.get_by_role("button", name="Create room").click()
    await console.get_by_role("heading", name="Cherry night 樱桃专场").wait_for()
    await console.get_by_text(re.compile("Scheduled for Jun 1")).wait_for()
    room_id = console.url.rsplit("#", 1)[1]

    # Build the lineup from the catalog: a new product, then a flash sale of it.
    await console.get_by_label("New product").fill("Cherries 樱桃 2.5 kg")
    await console.get_by_role("button", name="Add to catalog").click()
    await (
        console.get_by_label("Product", exact=True)
        .filter(has_text="Cherries 樱桃 2.5 kg")
        .wait_for()
    )
    await console.get_by_label("Price", exact=True).fill("49.90")
    await console.get_by_label("Stock", exact=True).fill("2")
    await console.get_by_label("Per buyer limit").fill("1")
    await console.get_by_role("button", name="Add to the lineup").click()
    row = console.locator("#lineup-rows tr").filter(has_text="Cherries 樱桃 2.5 kg")
    await row.get_by_text("2 / 2").wait_for()
    await row.get_by_text("Scheduled").wait_for()
    room = (await platform.http.get(f"{platform.live}/rooms/{room_id}")).json()
    assert len(room["lineup"]) == 1

    # Announce the preview (drafted from the lineup), go live, pin, open the flash sale.
    # The row can show (the room's own refresh) a moment before the draft names it.
    preview = console.get_by_label("Announcement")

    async def drafted() -> bool:
        return "Cherries 樱桃 2.5 kg" in await preview.input_value()

    assert await eventually(drafted)
    await console.get_by_role("button", name="Announce the preview").click()
    await console.get_by_text("Preview announced.").wait_for()
    await console.get_by_role("button", name="Go live").click()
    await console.locator("#show-status").filter(has_text="LIVE").wait_for()
    await row.get_by_role("button", name=re.compile("^Pin")).click()
    await row.get_by_text("Pinned").wait_for()
    await row.get_by_role("button", name=re.compile("^Open sale")).click()
    await row.get_by_text("Open", exact=True).wait_for()

    # A viewer follows the link, sees the countdown, buys and pays.
    link = await console.get_by_label("Viewer link").input_value()
    viewer = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(viewer, link, "Lily 莉莉")
    await viewer.get_by_role("heading", name="Cherries 樱桃 2.5 kg").wait_for()
    await viewer.get_by_text(re.compile(r"Ends in (30:00|29:\d\d)")).wait_for()
    await buy_pay_and_say(viewer, "太好吃了 so good")

    # The console's figures follow: viewers, chat, claims, orders, paid, GMV, stock.
    await console.locator("#console-messages").get_by_text("太好吃了 so good").wait_for()
    await figure(console, "Paid orders").filter(has_text="1").wait_for()
    assert await figure(console, "Viewers").inner_text() == "1"  # Lily; the host runs the show
    assert await figure(console, "Claims").inner_text() == "1"
    assert await figure(console, "Orders").inner_text() == "1"
    assert "49.90" in await figure(console, "GMV").inner_text()
    assert int(await figure(console, "Messages/min").inner_text()) >= 1
    await row.get_by_text("1 / 2").wait_for()
    await screenshot(console, "console-laptop")

    # Close the sale, end the show, open the report.
    await row.get_by_role("button", name=re.compile("^Close sale")).click()
    await row.get_by_text("Closed", exact=True).wait_for()
    await viewer.get_by_text("This sale has closed.").first.wait_for()
    await console.get_by_role("button", name="End the show").click()
    await console.locator("#show-status").filter(has_text="Ended").wait_for()
    await viewer.get_by_text("The show has ended — thanks for watching!").first.wait_for()
    async with console.context.expect_page() as opened:
        await console.get_by_role("button", name="Open the report").click()
    report = await opened.value
    await report.get_by_role("heading", name="Cherry night 樱桃专场").wait_for()
    assert report.url.startswith("blob:")
    assert "svg" in await report.content()  # the charts
    await screenshot(report, "report-laptop")
    async with console.expect_download() as downloading:
        await console.get_by_role("button", name="Claimed but did not pay").click()
    csv = await asyncio.to_thread(Path(await (await downloading.value).path()).read_text)
    assert "display_name" in csv.splitlines()[0], csv

    await console.set_viewport_size(PHONE["viewport"])
    await screenshot(console, "console-phone")
    assert platform.page_errors == []


async def test_console_engages_moderates_and_binds_group_chats(
    full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    room_id = await platform.live_room("Dress drop 连衣裙")
    console = platform.watch(await (await browser.new_context(**LAPTOP)).new_page())
    await log_in(console, f"{platform.live}/console")
    await console.get_by_label("Room id").fill(room_id)
    await console.get_by_role("button", name="Open", exact=True).click()
    await console.get_by_role("heading", name="Dress drop 连衣裙").wait_for()

    viewer = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(viewer, f"{platform.live}/r/{room_id}", "Bob")
    say = viewer.get_by_label("Message")
    chat = console.locator("#console-messages")

    # A red packet and a poll from the console; the viewer grabs and votes.
    await console.get_by_label("Total amount").fill("10")
    await console.get_by_label("Shares").fill("2")
    await console.get_by_label("Message", exact=True).fill("樱桃8点半开抢")
    await console.get_by_role("button", name="Send a red packet").click()
    await viewer.get_by_role("button", name="Grab").click()
    await viewer.get_by_text(re.compile("You grabbed")).wait_for()
    await console.get_by_text("Red packet: 1 of 2 shares left").wait_for()
    await console.get_by_label("Poll question").fill("Next colour? 下一款颜色?")
    await console.get_by_label("Options (one per line)").fill("Red 红\nBlue 蓝")
    await console.get_by_role("button", name="Open the poll").click()
    await viewer.get_by_role("button", name=re.compile("Red 红")).click()
    poll = console.locator("#polls > li").first
    await poll.get_by_text("Red 红: 1").wait_for()
    await poll.get_by_role("button", name="Close the poll").click()
    await viewer.get_by_text("Poll closed — final results.").wait_for()

    # A group buy in the lineup: the console shows its buyers and the next tier.
    group = await platform.offer(
        room_id,
        pin=False,
        kind="group_buy",
        title="Apples 苹果",
        stock=50,
        min_group=2,
        tiers=[{"min_buyers": 1, "price_cents": 5990}, {"min_buyers": 3, "price_cents": 4990}],
    )
    token = platform.buyer_token(room_id, "Mei")
    bought = await platform.http.post(
        f"{platform.orders}/offers/{group['id']}/checkout",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "group-mei-1"},
        json={"quantity": 1},
    )
    assert bought.status_code == 201, bought.text
    group_row = console.locator("#lineup-rows tr").filter(has_text="Apples 苹果")
    await group_row.get_by_text("1 joined · next: 3 for ¥49.90").wait_for()
    await group_row.get_by_text("49 / 50").wait_for()

    # Likes reach the room's figures.
    for _ in range(20):
        await viewer.get_by_role("button", name="❤ Like").click()
    await figure(console, "Likes").filter(has_text="20").wait_for()

    # What the group rules blocked, and a word the host adds to them.
    await say.fill("cheaper at www.example.com")
    await say.press("Enter")
    decisions = console.locator("#decisions")
    await decisions.get_by_text("link: cheaper at www.example.com").wait_for()
    await decisions.get_by_text("by the group rules").first.wait_for()
    await console.get_by_text("Group rules", exact=True).click()
    await console.get_by_label("Blocked words (comma-separated)").fill("spoiler")
    await console.get_by_role("button", name="Save rules").click()
    await console.get_by_text("Rules saved.").wait_for()
    await say.fill("spoiler: the ending")
    await say.press("Enter")
    await viewer.get_by_role("alert").filter(has_text="That word isn't allowed").wait_for()

    # Delete a line, mute and unmute, then ban.
    await say.fill("first message")
    await say.press("Enter")
    line = chat.locator("li").filter(has_text="first message")
    await line.get_by_role("button", name="Delete Bob's message").click()
    await viewer.locator("#messages").get_by_text("first message").wait_for(state="detached")
    await decisions.get_by_text("Deleted").wait_for()
    await chat.locator("li").filter(has_text="Welcome @Bob").first.wait_for()
    await say.fill("second message")
    await say.press("Enter")
    line = chat.locator("li").filter(has_text="second message")
    await line.get_by_role("button", name="Mute 10 min: Bob").click()
    await viewer.get_by_text("You were muted by a moderator.").wait_for()
    await say.fill("hello?")
    await say.press("Enter")
    await viewer.get_by_role("alert").filter(has_text="You're muted").wait_for()
    await (
        decisions.locator("li")
        .filter(has_text="Muted")
        .get_by_role("button", name="Unmute")
        .click()
    )
    await viewer.get_by_text("You can talk again.").wait_for()
    await line.get_by_role("button", name="Ban Bob").click()
    await viewer.get_by_text("You were removed from this room").wait_for()

    # External group chats: bind one to the room, see it, unbind it.
    await console.get_by_label("Platform").select_option("telegram")
    await console.get_by_label("Chat id").fill("-1001234567890")
    await console.get_by_role("button", name="Bind to this room").click()
    bound = console.locator("#binding-list li").filter(has_text="-1001234567890")
    await bound.wait_for()
    listed = await platform.call("GET", f"{platform.ingest}/bindings?room_id={room_id}")
    assert [(b["platform"], b["chat_id"]) for b in listed] == [("telegram", "-1001234567890")]
    await bound.get_by_role("button", name="Unbind chat -1001234567890").click()
    await console.get_by_text("No group chat is bound to this room.").wait_for()

    # The console speaks Chinese too.
    await console.get_by_label("Language").select_option("zh")
    await console.get_by_role("heading", name="实时数据").wait_for()
    await console.get_by_role("heading", name="聊天与管理").wait_for()
    await console.set_viewport_size(PHONE["viewport"])
    await screenshot(console, "console-phone-zh")
    assert platform.page_errors == []
