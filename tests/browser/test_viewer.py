"""The viewer page in a real browser: join by link, buy, pay, wait, chat, play, reconnect."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import (
    LAPTOP,
    PHONE,
    Platform,
    Proxy,
    choose_delivery,
    join_as,
    needs_browser,
    screenshot,
    stored,
)
from tests.live.client import TestViewer
from tests.support import eventually

pytestmark = [pytest.mark.timeout(60), needs_browser]


async def test_one_viewer_buys_the_last_unit_the_other_is_put_on_the_waitlist(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    offer = await platform.offer(room, stock=1, per_buyer_limit=1)
    pages = []
    for name in ("Lily 莉莉", "Bob"):
        context = await browser.new_context(**PHONE)
        page = platform.watch(await context.new_page())
        # Both came through Aunt Mei's invite link.
        await join_as(page, f"{platform.live}/r/{room}?ref=web:aunt-mei", name)
        await page.get_by_text("1 of 1 left").wait_for()
        pages.append(page)

    # Both tap "Buy now" at once: exactly one gets the unit.
    await asyncio.gather(*(p.get_by_role("button", name="Buy now").click() for p in pages))
    outcome = {}
    for page in pages:
        status = page.locator("#buy-status")
        await status.filter(has_text=re.compile("yours|waitlist")).wait_for()
        outcome["won" if "yours" in await status.inner_text() else "waiting"] = page
    winner, waiting = outcome["won"], outcome["waiting"]
    await waiting.get_by_text(
        "Sold out — you're on the waitlist. We'll offer you any unit that comes back."
    ).wait_for()
    await waiting.get_by_text("Sold out", exact=True).wait_for()
    await waiting.get_by_role("button", name="Join the waitlist").wait_for()

    # The winner sees the order, its payment deadline, and pays with the test card.
    order = winner.locator("#order-list li").first
    await order.get_by_text("Awaiting payment").wait_for()
    await order.get_by_text(re.compile(r"Pay by .+ \(1[45]:\d\d left\)")).wait_for()
    await choose_delivery(order)
    await order.get_by_label("Card number").fill("4242 4242 4242 4242")
    await order.get_by_role("button", name=re.compile("^Pay ")).click()
    await order.get_by_text("Paid", exact=True).wait_for()

    kept = await stored(winner, room)
    order_id = kept["orders"][0]
    paid = await platform.http.get(
        f"{platform.orders}/orders/{order_id}",
        headers={"Authorization": f"Bearer {kept['token']}"},
    )
    assert paid.json()["status"] == "paid"
    assert paid.json()["offer_id"] == offer["id"]
    assert paid.json()["referrer_chain"] == ["web:aunt-mei"]  # the link's referrer came along

    await screenshot(winner, "viewer-phone")
    await waiting.set_viewport_size(LAPTOP["viewport"])
    await screenshot(waiting, "viewer-laptop")
    assert platform.page_errors == []


async def test_viewer_chats_within_the_rules_plays_and_buys_by_writing_plus_one(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await platform.offer(room, stock=5, per_buyer_limit=2, title="Dress 连衣裙")
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily 莉莉")
    me = (await stored(page, room))["customer_id"]
    chat = page.locator("#messages")
    say = page.get_by_label("Message")

    # The pinned product: price, stock left, and a countdown.
    await page.get_by_role("heading", name="Dress 连衣裙").wait_for()
    await page.get_by_text("5 of 5 left").wait_for()
    await page.get_by_text(re.compile(r"Ends in (10:00|9:\d\d)")).wait_for()
    assert "49.90" in await page.locator("#product-price").inner_text()

    await say.fill("hello everyone 大家好")
    await say.press("Enter")
    await chat.get_by_text("hello everyone 大家好").wait_for()

    # The group rules answer kindly: no links.
    await say.fill("cheaper at www.example.com")
    await say.press("Enter")
    await page.get_by_role("alert").filter(has_text="Links aren't allowed").wait_for()

    # Likes, check-in, a red packet, a poll.
    for _ in range(3):
        await page.get_by_role("button", name="❤ Like").click()
    await page.locator("#likes-total").filter(has_text="❤ 3").wait_for()
    await page.get_by_role("button", name="✓ Check in").click()
    await page.get_by_text("Checked in: day 1 in a row, +1 points (1 in total).").wait_for()

    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/red-packets",
        json={"total_cents": 300, "shares": 3, "message": "樱桃8点半开抢"},
    )
    await page.get_by_text("樱桃8点半开抢").wait_for()
    await page.get_by_text("3 of 3 shares left").wait_for()
    await page.get_by_role("button", name="Grab").click()
    await page.get_by_text(re.compile(r"You grabbed .*\d\.\d\d!")).wait_for()

    poll = await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/polls",
        json={"question": "Next colour? 下一款颜色?", "options": ["Red 红", "Blue 蓝"]},
    )
    await page.get_by_role("heading", name="Next colour? 下一款颜色?").wait_for()
    await page.get_by_role("button", name=re.compile("Blue 蓝")).click()
    await page.get_by_text("You voted for “Blue 蓝”.").wait_for()
    await (
        page.get_by_role("button", name=re.compile("Blue 蓝"))
        .filter(has_text="1 · 100%")
        .wait_for()
    )
    await platform.call("POST", f"{platform.live}/rooms/{room}/polls/{poll['poll_id']}/close")
    await page.get_by_text("Poll closed — final results.").wait_for()

    # "+1" in the chat is a buy: the order shows up with its deadline.
    await page.get_by_role("button", name="Write +1 (buy one)").click()
    await chat.get_by_text("+1", exact=True).wait_for()
    await page.locator("#order-list li").get_by_text("Awaiting payment").wait_for()
    await page.get_by_text("4 of 5 left").wait_for()

    # My own invite link carries my customer id; a friend who uses it is counted as mine.
    await page.get_by_role("button", name="Invite friends").click()
    link = await page.get_by_label("Your invite link").input_value()
    assert link == f"{platform.live}/r/{room}?ref={quote(me, safe='')}"
    friend = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await friend.goto(link)
    await friend.get_by_text("A friend invited you — welcome!").wait_for()
    await join_as(friend, link, "Mei")
    await friend.get_by_role("button", name="Buy now").click()
    await friend.locator("#order-list li").get_by_text("Awaiting payment").wait_for()
    kept = await stored(friend, room)
    friend_order = await platform.http.get(
        f"{platform.orders}/orders/{kept['orders'][0]}",
        headers={"Authorization": f"Bearer {kept['token']}"},
    )
    assert friend_order.json()["referrer_chain"] == [me]

    # A moderator mutes Lily: she is told so, kindly; unmuted, she may talk again.
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/moderation",
        json={"action": "mute", "customer_id": me, "reason": "cool down", "minutes": 5},
    )
    await chat.get_by_text("You were muted by a moderator. cool down").wait_for()
    await say.fill("why?")
    await say.press("Enter")
    await page.get_by_role("alert").filter(has_text="You're muted for a little while").wait_for()
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/moderation",
        json={"action": "unmute", "customer_id": me},
    )
    await chat.get_by_text("You can talk again.").wait_for()

    # Too fast: the rate limit is explained, not just refused.
    await page.evaluate(
        """() => {
        const form = document.getElementById('chat-form');
        for (let n = 0; n < 14; n += 1) {
          document.getElementById('chat-input').value = `spam ${n}`;
          form.requestSubmit();
        }
      }"""
    )
    await page.get_by_role("alert").filter(has_text="Whoa, you're fast!").wait_for()

    # The page speaks Chinese too.
    await page.get_by_label("Language").select_option("zh")
    await page.get_by_role("heading", name="聊天").wait_for()
    await page.get_by_role("button", name="立即抢购").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    await screenshot(page, "viewer-phone-zh")
    assert platform.page_errors == []


async def test_group_buy_tier_moves_as_buyers_join(platform: Platform, browser: Any) -> None:
    room = await platform.live_room()
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily")
    # Opened while Lily watches: the room tells her the offer's terms.
    offer = await platform.offer(
        room,
        kind="group_buy",
        title="Apples 苹果",
        stock=50,
        min_group=3,
        tiers=[
            {"min_buyers": 1, "price_cents": 5990},
            {"min_buyers": 3, "price_cents": 4990},
            {"min_buyers": 5, "price_cents": 3990},
        ],
    )
    await page.get_by_text("Group buy", exact=True).wait_for()
    await page.get_by_role("button", name="Join the group buy").click()
    await page.locator("#order-list li").get_by_text("Awaiting payment").wait_for()
    await page.get_by_text("1 joined · 2 more and the price drops to").wait_for()

    for name in ("Bob", "Mei"):
        token = platform.buyer_token(room, name)
        response = await platform.http.post(
            f"{platform.orders}/offers/{offer['id']}/checkout",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"key-{name}-1"},
            json={"quantity": 1},
        )
        assert response.status_code == 201, response.text
    await page.get_by_text("3 joined · 2 more and the price drops to").wait_for()
    assert "49.90" in await page.locator("#product-price").inner_text()
    assert "59.90" in await page.locator("#product-was").inner_text()
    assert platform.page_errors == []


async def test_viewer_reconnects_after_a_drop_and_catches_up(
    platform: Platform, proxy: Proxy, browser: Any
) -> None:
    room = await platform.live_room()
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{proxy.url}/r/{room}", "Lily")
    me = (await stored(page, room))["customer_id"]
    await page.get_by_label("Message").fill("before the drop")
    await page.get_by_label("Message").press("Enter")
    await page.locator("#messages").get_by_text("before the drop").wait_for()

    # The network goes away for a moment; meanwhile the room moves on.
    proxy.cut(refuse=True)
    await page.get_by_text(re.compile("Connection lost — reconnecting in")).wait_for()
    grant = (
        await platform.http.post(f"{platform.live}/rooms/{room}/join", json={"display_name": "Bob"})
    ).json()
    bob = await TestViewer.connect(platform.live, grant)
    await bob.send(type="chat", text="while you were away 你不在的时候")
    await bob.wait_for(lambda f: f["type"] == "chat" and "away" in str(f))
    offer = await platform.offer(room, title="Pears 梨")
    await bob.close()
    proxy.refusing = False

    # Back by itself, same person, with what was missed.
    await page.locator("#messages").get_by_text("while you were away 你不在的时候").wait_for()
    await page.get_by_role("heading", name="Pears 梨").wait_for()
    await page.locator("#connection").wait_for(state="hidden")
    assert await page.evaluate("window.qunliveViewer.state.me.customer_id") == me
    assert await page.locator("#messages").get_by_text("before the drop").count() == 1
    await eventually(lambda: _has_offer(page, offer["id"]))
    assert platform.page_errors == []


async def _has_offer(page: Any, offer_id: str) -> bool:
    return bool(await page.evaluate(f"window.qunliveViewer.state.offers.has('{offer_id}')"))


async def test_a_list_typed_on_several_lines_keeps_its_lines(
    platform: Platform, browser: Any
) -> None:
    """A 接龙 chain is typed line by line (Shift+Enter), sent with Enter, and every page
    shows it on its lines, not run together."""
    room = await platform.live_room()
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily 莉莉")
    say = page.get_by_label("Message")
    await say.click()
    for i, line in enumerate(["接龙 cherries", "1. Wei 2 boxes", "2. Lily 1 box"]):
        if i:
            await page.keyboard.press("Shift+Enter")
        await page.keyboard.type(line)
    await screenshot(page, "viewer-chain-typing")
    await page.keyboard.press("Enter")
    shown = page.locator("#messages .line", has_text="接龙 cherries").locator(".text")
    await shown.wait_for()
    assert await shown.inner_text() == "接龙 cherries\n1. Wei 2 boxes\n2. Lily 1 box"
    assert await say.input_value() == ""  # sent, and the box is empty again
    await screenshot(page, "viewer-chain-lines")
