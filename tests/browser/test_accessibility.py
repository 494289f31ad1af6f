"""Accessibility measured by axe-core on the three pages people use, with realistic content:
the viewer page (joined, a pinned offer, an order to pay, a red packet, a poll, a long
chat), the host console (logged in, a live room, several viewers chatting, so every chat
line carries its moderation buttons) and the analytics report of a room that ended.

No violation of impact serious or critical may remain; moderate and minor ones are
printed with their counts (and written to test-artifacts/browser/axe-*.json) so they can
be reported. axe-core comes from npm at the version tests/browser/axe pins.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shared.events import ChatMessagePosted, new_id
from tests.browser.conftest import (
    ADMIN,
    ARTIFACTS,
    LAPTOP,
    PHONE,
    Platform,
    buy_pay_and_say,
    join_as,
    needs_browser,
)
from tests.browser.test_console import log_in
from tests.live.client import TestViewer
from tests.support import eventually

pytestmark = [pytest.mark.timeout(120), needs_browser]

SEVERE = ("critical", "serious")
IMPACTS = ("critical", "serious", "moderate", "minor")
# The page's own CSP (script-src 'self') refuses the inline script Playwright adds for
# axe; these checks read the page, they do not test its CSP (the other browser tests run
# under it), so their browser contexts bypass it.
AXE_CONTEXT = {"bypass_csp": True}


async def run_axe(page: Any, axe_js: Path, within: str | None = None) -> list[dict[str, Any]]:
    """axe.run on the whole document (or the element `within` selects); its violations
    (ids, impacts, helps, nodes)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(axe_js))
    violations: list[dict[str, Any]] = await page.evaluate(
        """async (within) => {
          const context = within ? document.querySelector(within) : document;
          const result = await axe.run(context, {resultTypes: ['violations']});
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary})),
          }));
        }""",
        within,
    )
    return violations


def counts(violations: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per impact: how many rules were violated and on how many nodes."""
    rules = Counter(v["impact"] for v in violations)
    nodes: Counter[str] = Counter()
    for v in violations:
        nodes[v["impact"]] += len(v["nodes"])
    return {impact: {"violations": rules[impact], "nodes": nodes[impact]} for impact in IMPACTS}


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:4])
        more = f" (+{len(v['nodes']) - 4} more)" if len(v["nodes"]) > 4 else ""
        lines.append(
            f"  {v['impact']} {v['id']}: {v['help']} — {len(v['nodes'])} node(s): {targets}{more}"
        )
    return "\n".join(lines)


async def measure(page: Any, axe_js: Path, name: str, found: dict[str, Any]) -> None:
    """axe on the page as it is now: print and keep the figures, note what is severe."""
    violations = await run_axe(page, axe_js)
    version = await page.evaluate("axe.version")
    figures = counts(violations)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(
        json.dumps(
            {"page": name, "axe": version, "counts": figures, "violations": violations}, indent=1
        )
    )
    print(  # the figures the issue reports, under `pytest -s`
        f"axe-core {version} {name}: "
        + ", ".join(f"{i} {c['violations']} ({c['nodes']} nodes)" for i, c in figures.items())
    )
    if violations:
        print(describe(violations))
    found[name] = [v for v in violations if v["impact"] in SEVERE]


def assert_no_severe(found: dict[str, Any]) -> None:
    """Every state measured (all of them, so one failure shows all the others too)."""
    assert found
    severe = {name: vs for name, vs in found.items() if vs}
    assert not severe, "serious or critical axe-core violations:\n" + "\n".join(
        f"{name}:\n{describe(vs)}" for name, vs in severe.items()
    )


async def _group_lines(platform: Platform, room: str, n: int) -> None:
    """Chat lines from a bound group chat, as ingest hands them to the room."""
    for i in range(n):
        await platform.live_app.publisher.publish(
            ChatMessagePosted(
                room_id=room,
                customer_id="telegram:77",
                message_id=new_id(),
                display_name="Group fan 群友",
                text=f"接龙 {i + 1}. 樱桃 ×2",
                source="telegram",
            )
        )


async def test_the_joined_viewer_page_has_no_serious_accessibility_violations(
    axe_script: Path, platform: Platform, browser: Any
) -> None:
    found: dict[str, Any] = {}
    room = await platform.live_room()
    await platform.offer(room, stock=5, per_buyer_limit=2, title="Dress 连衣裙")
    await _group_lines(platform, room, 30)
    await platform.call(
        "POST", f"{platform.live}/rooms/{room}/announcements", json={"text": "8点半开抢樱桃!"}
    )
    page = platform.watch(await (await browser.new_context(**PHONE, **AXE_CONTEXT)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily 莉莉")
    chat = page.locator("#messages")
    await chat.get_by_text("接龙 30. 樱桃 ×2").wait_for()
    await page.get_by_label("Message").fill("hello everyone 大家好")
    await page.get_by_label("Message").press("Enter")
    await chat.get_by_text("hello everyone 大家好").wait_for()

    # An order to pay, a red packet to grab, a poll to vote in, the invite box open.
    await page.get_by_role("button", name="Buy now").click()
    await page.locator("#order-list li").get_by_text("Awaiting payment").wait_for()
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/red-packets",
        json={"total_cents": 300, "shares": 3, "message": "樱桃8点半开抢"},
    )
    await page.get_by_text("3 of 3 shares left").wait_for()
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/polls",
        json={"question": "Next colour? 下一款颜色?", "options": ["Red 红", "Blue 蓝"]},
    )
    await page.get_by_role("heading", name="Next colour? 下一款颜色?").wait_for()
    await page.get_by_role("button", name="Invite friends").click()
    await page.get_by_label("Your invite link").wait_for()
    # The chat is long enough to scroll: a keyboard user reaches it (Shift+Tab from the
    # message box) and screen readers hear it as the room's named chat log.
    assert await chat.evaluate("l => l.scrollHeight > l.clientHeight")
    await page.get_by_role("log", name="Chat").get_by_role("list", name="Chat").wait_for()
    await page.get_by_label("Message").focus()
    await page.keyboard.press("Shift+Tab")
    assert await chat.evaluate("l => document.activeElement === l")

    await measure(page, axe_script, "viewer-phone-en", found)
    await page.locator("#lang").select_option("zh")
    await page.get_by_role("heading", name="我的订单").wait_for()
    await measure(page, axe_script, "viewer-phone-zh", found)
    await page.set_viewport_size(LAPTOP["viewport"])
    await measure(page, axe_script, "viewer-laptop-zh", found)
    # Under the pointer the red packet's button keeps its contrast (CI's pointer once
    # rested on it: the plain .primary hover put dark-red text on red, 1.6:1).
    await page.locator("#grab").hover()
    await measure(page, axe_script, "viewer-laptop-zh-grab-hovered", found)
    assert_no_severe(found)
    assert platform.page_errors == []


async def test_the_console_with_a_live_room_has_no_serious_accessibility_violations(
    axe_script: Path, full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    found: dict[str, Any] = {}
    room = await platform.live_room("Dress drop 连衣裙")
    await platform.offer(room, title="Dress 连衣裙")
    await platform.offer(room, pin=False, title="Apples 苹果", stock=20)
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/polls",
        json={"question": "Next colour? 下一款颜色?", "options": ["Red 红", "Blue 蓝"]},
    )
    console = platform.watch(await (await browser.new_context(**LAPTOP, **AXE_CONTEXT)).new_page())
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room}")
    await console.get_by_role("heading", name="Dress drop 连衣裙").wait_for()

    # Several viewers chat: each of their lines gets Delete, Mute 10 min and Ban.
    names = ["Lily 莉莉", "Bob", "Mei 阿梅", "Chen 陈", "Ana", "Wang 王"]
    viewers = []
    for name in names:
        grant = (
            await platform.http.post(
                f"{platform.live}/rooms/{room}/join", json={"display_name": name}
            )
        ).json()
        viewers.append(await TestViewer.connect(platform.live, grant))
    try:
        for round_ in range(2):
            for name, viewer in zip(names, viewers, strict=True):
                await viewer.send(type="chat", text=f"{name} says hi #{round_ + 1} 你好")
        await viewers[0].send(type="chat", text="cheaper at www.example.com")  # rules block it
        chat = console.locator("#console-messages")
        await chat.get_by_text("Wang 王 says hi #2 你好").wait_for()
        mute = chat.get_by_role("button", name=re.compile("Mute"))
        await eventually(lambda: _at_least(mute, 2 * len(names)))
        await console.locator("#decisions").get_by_text(re.compile("www.example.com")).wait_for()

        await measure(console, axe_script, "console-laptop-en", found)
        await console.locator("#lang").select_option("zh")
        await console.get_by_role("heading", name="聊天与管理").wait_for()
        await measure(console, axe_script, "console-laptop-zh", found)
    finally:
        for viewer in viewers:
            await viewer.close()
    assert_no_severe(found)
    assert platform.page_errors == []


async def _at_least(locator: Any, n: int) -> bool:
    return bool(await locator.count() >= n)


async def test_the_report_of_an_ended_room_has_no_serious_accessibility_violations(
    axe_script: Path, full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    found: dict[str, Any] = {}
    room = await platform.live_room()
    await platform.offer(room, title="Cherries 樱桃 2.5 kg")
    viewer = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(viewer, f"{platform.live}/r/{room}", "Lily 莉莉")
    await buy_pay_and_say(viewer, "太好吃了 so good")
    await viewer.locator("#messages").get_by_text("太好吃了 so good").wait_for()
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/red-packets",
        json={"total_cents": 300, "shares": 3, "message": "樱桃8点半开抢"},
    )
    await viewer.get_by_role("button", name="Grab").click()
    await viewer.get_by_text(re.compile("You grabbed")).wait_for()
    poll = await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/polls",
        json={"question": "Next colour? 下一款颜色?", "options": ["Red 红", "Blue 蓝"]},
    )
    await viewer.get_by_role("button", name=re.compile("Blue 蓝")).click()
    await viewer.get_by_text("You voted for “Blue 蓝”.").wait_for()
    await platform.call("POST", f"{platform.live}/rooms/{room}/polls/{poll['poll_id']}/close")
    await platform.call("POST", f"{platform.live}/rooms/{room}/end")

    async def reported() -> bool:
        response = await platform.http.get(
            f"{platform.analytics}/rooms/{room}/report", headers=ADMIN
        )
        body = response.json() if response.status_code == 200 else {}
        return bool(body.get("paid_orders") == 1 and body.get("polls") and body.get("ended_at"))

    await eventually(reported, timeout=15)
    report = platform.watch(
        await (
            await browser.new_context(**LAPTOP, **AXE_CONTEXT, extra_http_headers=ADMIN)
        ).new_page()
    )
    await report.goto(f"{platform.analytics}/rooms/{room}/report.html")
    await report.get_by_role("heading", name="Cherry night 樱桃专场").wait_for()
    await measure(report, axe_script, "report-laptop", found)
    await report.set_viewport_size(PHONE["viewport"])
    await measure(report, axe_script, "report-phone", found)
    assert_no_severe(found)
    assert platform.page_errors == []


async def test_the_console_groups_with_their_settings_open_have_no_accessibility_violations(
    axe_script: Path, full_platform: Platform, browser: Any
) -> None:
    """The group section with everything open (a Telegram group's settings and one of its
    texts refused, a paused WhatsApp group with its recent messages): no violation at all
    in the section, nothing serious or critical on the page; English and Chinese, laptop
    and phone."""
    from tests.browser.test_console_groups import card, ledger, pause

    platform = full_platform
    found: dict[str, Any] = {}
    room = await platform.live_room("Dress drop 连衣裙")
    telegram, whatsapp = ("telegram", "-1001234567890"), ("whatsapp", "120363041234567890")
    for chat in (telegram, whatsapp):
        await platform.call(
            "POST",
            f"{platform.ingest}/bindings",
            json={"platform": chat[0], "chat_id": chat[1], "room_id": room},
        )
    await pause(platform, whatsapp, "template_rejected", "(#132001) Template name does not exist")
    await ledger(
        platform,
        room,
        whatsapp,
        {"kind": "preview", "state": "sent", "platform_message_id": "wamid.1"},
        {"kind": "offer", "state": "failed", "reason": "template_rejected: (#132001)"},
    )
    console = platform.watch(await (await browser.new_context(**LAPTOP, **AXE_CONTEXT)).new_page())
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room}")
    await console.get_by_role("heading", name="Dress drop 连衣裙").wait_for()

    group = card(console, telegram[1])
    await group.get_by_text("What goes out to this group").click()
    await group.get_by_text("Edit the text: Offer").click()
    await group.get_by_label("Offer: text in English").fill("{price} {nope}")
    await group.get_by_role("button", name="Save").click()
    await group.get_by_text(re.compile("unknown placeholder")).wait_for()
    paused = card(console, whatsapp[1])
    await paused.get_by_role("button", name=re.compile("^Resume")).wait_for()
    await paused.get_by_text("What goes out to this group").click()
    await paused.get_by_text("Recent messages").click()
    await paused.locator(".group-message").nth(1).wait_for()

    async def both(name: str) -> None:
        await measure(console, axe_script, name, found)
        violations = await run_axe(console, axe_script, "#bindings")  # any impact: none
        assert not violations, f"{name}, group section:\n{describe(violations)}"

    await both("console-groups-laptop-en")
    await console.locator("#lang").select_option("zh")
    await group.get_by_text("向这个群发送什么").wait_for()
    await both("console-groups-laptop-zh")
    await console.set_viewport_size(PHONE["viewport"])
    await both("console-groups-phone-zh")
    assert_no_severe(found)
    assert platform.page_errors == []
