"""The pages keep up with the room: the chat follows new lines for a viewer who came in
late, the buy button fits its card on a phone, the console's "can't reach the server"
goes away (and speaks the chosen language), and a show that ended stops selling."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.events import ChatMessagePosted, new_id
from tests.browser.conftest import (
    LAPTOP,
    PHONE,
    Platform,
    Proxy,
    join_as,
    needs_browser,
    screenshot,
)
from tests.browser.test_console import log_in
from tests.support import eventually

pytestmark = [pytest.mark.timeout(90), needs_browser]


async def _lines(platform: Platform, room: str, texts: list[str]) -> None:
    """Chat lines from a bound group, as ingest hands them to the room."""
    for text in texts:
        await platform.live_app.publisher.publish(
            ChatMessagePosted(
                room_id=room,
                customer_id="telegram:77",
                message_id=new_id(),
                display_name="Group fan",
                text=text,
                source="telegram",
            )
        )


async def _at_bottom(page: Any) -> bool:
    return bool(
        await page.evaluate(
            "(() => { const l = document.getElementById('messages');"
            " return l.scrollHeight > l.clientHeight"
            " && l.scrollHeight - l.scrollTop - l.clientHeight < 4; })()"
        )
    )


async def test_the_chat_follows_new_lines_for_a_viewer_who_came_in_late(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await _lines(platform, room, [f"earlier {i}" for i in range(30)])
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Late Lily")
    await page.locator("#messages").get_by_text("earlier 29", exact=True).wait_for()

    await _lines(platform, room, [f"new line {i}" for i in range(40)])
    await page.locator("#messages").get_by_text("new line 39", exact=True).wait_for()
    await eventually(lambda: _at_bottom(page), timeout=5)
    assert await page.locator("#messages").get_by_text("new line 39").is_visible()
    await screenshot(page, "viewer-phone-late-chat")
    assert platform.page_errors == []


async def test_the_waitlist_button_fits_its_card_on_a_phone(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await platform.offer(room, stock=1, per_buyer_limit=1)
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily")
    await page.get_by_role("button", name="Buy now").click()
    button = page.get_by_role("button", name="Join the waitlist")
    await button.wait_for()
    for lang in ("en", "zh"):
        await page.locator("#lang").select_option(lang)
        box = await page.locator("#buy").bounding_box()
        card = await page.locator("#buy").evaluate(
            "b => { const r = b.closest('.card').getBoundingClientRect();"
            " const s = getComputedStyle(b.closest('.card'));"
            " return {left: r.left + parseFloat(s.paddingLeft),"
            " right: r.right - parseFloat(s.paddingRight)}; }"
        )
        assert box["x"] >= card["left"] - 0.5, (lang, box, card)
        assert box["x"] + box["width"] <= card["right"] + 0.5, (lang, box, card)
        await screenshot(page, f"viewer-phone-waitlist-{lang}")
    assert platform.page_errors == []


async def test_the_consoles_network_error_clears_and_is_translated(
    full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    front = Proxy(int(platform.live.rsplit(":", 1)[1]))
    await front.start()
    try:
        room = await platform.live_room()
        console = platform.watch(await (await browser.new_context(**LAPTOP)).new_page())
        await log_in(console, f"{front.url}/console")
        await console.goto(f"{front.url}/console#{room}")
        await console.get_by_role("heading", name="Cherry night 樱桃专场").wait_for()

        offline = console.get_by_text("Can't reach the server — check your connection.")
        front.cut(refuse=True)
        await offline.first.wait_for()
        front.refusing = False
        await offline.first.wait_for(state="detached", timeout=15_000)
        assert await offline.count() == 0

        front.cut(refuse=True)
        await offline.first.wait_for()
        await console.locator("#lang").select_option("zh")
        await console.get_by_text("连不上服务器，请检查网络。").first.wait_for()
        assert await offline.count() == 0
        front.refusing = False
        await console.get_by_text("连不上服务器，请检查网络。").first.wait_for(
            state="detached", timeout=15_000
        )
    finally:
        await front.stop()
    # Errors while the network was away are the point of this test; none other.
    assert [e for e in platform.page_errors if "ERR_" not in e and "fetch" not in e] == []


async def test_after_the_show_ends_the_countdown_stops_and_buying_is_off(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await platform.offer(room, stock=5, duration_s=600)
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily")
    countdown = page.locator("#product-countdown")
    await countdown.filter(has_text=re.compile(r"Ends in")).wait_for()
    assert await page.locator("#plus-one").is_enabled()

    await platform.call("POST", f"{platform.live}/rooms/{room}/end")
    await page.locator("#room-status").filter(has_text=re.compile("Ended", re.I)).wait_for()
    await countdown.filter(has_text="This sale has closed.").wait_for()
    assert await page.locator("#plus-one").is_disabled()
    assert await page.get_by_role("button", name="❤ Like").is_disabled()
    assert await page.locator("#buy").is_disabled()
    assert await page.locator("#quantity").is_disabled()
    await screenshot(page, "viewer-phone-ended")
    assert platform.page_errors == []
