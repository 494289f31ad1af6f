"""The console's group section against ingest's real admin API: what a bound group hears
(kinds, language, texts, partner) is kept; a paused group says why and Resume clears it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.ingest.adapters.tables import BindingRow, OutboundRow
from tests.browser.conftest import LAPTOP, PHONE, Platform, needs_browser, screenshot
from tests.browser.test_console import log_in
from tests.ingest.payloads import encode, telegram_chat, telegram_headers, telegram_message

pytestmark = [pytest.mark.timeout(60), needs_browser]

GROUP = "-1001234567890"


async def open_room(platform: Platform, browser: Any, title: str, **context: Any) -> Any:
    """A live room, and the console logged in on it."""
    room_id = await platform.live_room(title)
    console = platform.watch(await (await browser.new_context(**(context or LAPTOP))).new_page())
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room_id}")
    await console.get_by_role("heading", name=title).wait_for()
    return console


def card(console: Any, chat: str) -> Any:
    """A bound group's card (the list item named by its heading)."""
    return console.locator("#binding-list > li").filter(
        has=console.get_by_role("heading", name=re.compile(re.escape(chat)))
    )


async def bindings(platform: Platform, room_id: str) -> dict[str, Any]:
    listed = await platform.call("GET", f"{platform.ingest}/bindings?room_id={room_id}")
    return {f"{b['platform']}:{b['chat_id']}": b for b in listed}


async def defaults(platform: Platform) -> dict[str, dict[str, Any]]:
    listed = await platform.call("GET", f"{platform.ingest}/outbound/templates")
    return {d["kind"]: d for d in listed}


async def pause(platform: Platform, chat: tuple[str, str], code: str, reason: str) -> None:
    """What the sender does when a platform refuses the bot for good (ingest's tables)."""
    async with platform.ingest_app.infra.sessions() as session:
        row = await session.get(BindingRow, chat)
        assert row is not None
        row.paused_code, row.paused_reason = code, reason
        row.paused_at = datetime.now(UTC) - timedelta(minutes=3)
        session.add(row)
        await session.commit()


async def ledger(
    platform: Platform, room_id: str, chat: tuple[str, str], *rows: dict[str, Any]
) -> None:
    """Messages to the group as the sender records them (its outbound ledger)."""
    async with platform.ingest_app.infra.sessions() as session:
        for i, row in enumerate(rows):
            at = datetime.now(UTC) - timedelta(minutes=10 - i)
            session.add(
                OutboundRow(
                    key=f"e{i}:{chat[0]}:{chat[1]}",
                    room_id=room_id,
                    platform=chat[0],
                    chat_id=chat[1],
                    source_event_id=f"e{i}",
                    created_at=at,
                    sent_at=at if row["state"] == "sent" else None,
                    **row,
                )
            )
        await session.commit()


async def test_the_host_sets_what_a_group_hears_and_it_is_kept(
    full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    # The group wrote before it was bound: ingest keeps it as unbound, the console offers
    # its id (with its title) in the chat id box.
    said = await platform.http.post(
        f"{platform.ingest}/webhooks/telegram",
        content=encode(telegram_message("hello, plain message")),
        headers=telegram_headers(platform.ingest_app.settings.telegram_secret_token),
    )
    assert said.status_code == 200, said.text
    console = await open_room(platform, browser, "Cherry night 樱桃专场")
    room_id = console.url.rsplit("#", 1)[1]
    texts = await defaults(platform)
    offered = console.locator(f"#unbound-chats option[value='{GROUP}']")
    await offered.wait_for(state="attached")
    assert await offered.get_attribute("label") == telegram_chat()["title"]
    assert await console.get_by_label("Chat id").get_attribute("list") == "unbound-chats"

    # Bind the group from the console.
    await console.get_by_label("Platform").select_option("telegram")
    await console.get_by_label("Chat id").fill(GROUP)
    await console.get_by_role("button", name="Bind to this room").click()
    group = card(console, GROUP)
    await group.get_by_text("Sending", exact=True).wait_for()
    await group.get_by_text("Sent 0 · failed 0").wait_for()
    assert await offered.count() == 0  # bound now: no longer offered

    # Open its settings: a switch per kind (welcome off by default), the default texts.
    await group.get_by_text("What goes out to this group").click()
    offer = group.get_by_role("switch", name="Offer")
    assert await offer.is_checked()
    assert not await group.get_by_role("switch", name="Welcome @-mention").is_checked()
    live_text = group.get_by_label("We are live: text in English")
    await group.get_by_text("Edit the text: We are live").click()
    assert await live_text.input_value() == texts["live"]["en"]
    await group.locator(".kind", has_text="We are live").get_by_text("{room_link}").wait_for()

    # Switch the offer off, write the "live" text; a placeholder it lacks is refused by
    # ingest, and the console says so next to that text.
    await offer.uncheck()
    await live_text.fill("We are LIVE: {title}! {price}")
    await group.get_by_role("button", name="Save").click()
    refusal = group.locator(".kind", has_text="We are live").locator(".error")
    await refusal.filter(has_text="unknown placeholder {price}").wait_for()
    assert await live_text.get_attribute("aria-invalid") == "true"
    assert await live_text.evaluate("a => document.activeElement === a")
    stored = (await bindings(platform, room_id))[f"telegram:{GROUP}"]
    assert stored["outbound"]["kinds"]["offer"] is True  # nothing was saved

    await live_text.fill("We are LIVE: {title}! Come in 👋")
    assert await live_text.get_attribute("aria-invalid") is None
    await group.get_by_label("Partner (referrer) id").fill("web:partner-7")
    await group.get_by_role("button", name="Save").click()
    await group.get_by_text("Saved.").wait_for()

    # Saved: only the text the host changed goes as theirs, the others stay the defaults.
    stored = (await bindings(platform, room_id))[f"telegram:{GROUP}"]
    outbound = stored["outbound"]
    assert outbound["kinds"]["offer"] is False and outbound["kinds"]["live"] is True
    assert outbound["templates"] == {"live": "We are LIVE: {title}! Come in 👋"}
    assert outbound["language"] == "en"
    assert outbound["referrer_id"] == "web:partner-7"

    # Another language: the texts at their default follow it, the host's own stays.
    await group.get_by_label("Language of the messages").select_option("zh")
    await group.get_by_text("Edit the text: Preview").click()
    assert await group.get_by_label("Preview: text in 中文").input_value() == texts["preview"]["zh"]
    assert await group.get_by_label("We are live: text in 中文").input_value() == (
        "We are LIVE: {title}! Come in 👋"
    )
    await group.get_by_role("button", name="Save").click()
    await group.get_by_text("Saved.").wait_for()

    # Reloaded: all of it is there, from ingest.
    await console.reload()
    group = card(console, GROUP)
    await group.get_by_text("What goes out to this group").click()
    assert not await group.get_by_role("switch", name="Offer").is_checked()
    assert await group.get_by_role("switch", name="We are live").is_checked()
    assert await group.get_by_label("Language of the messages").input_value() == "zh"
    assert await group.get_by_label("Partner (referrer) id").input_value() == "web:partner-7"
    live_text = group.get_by_label("We are live: text in 中文")
    assert await live_text.input_value() == "We are LIVE: {title}! Come in 👋"
    assert await group.get_by_label("Offer: text in 中文").input_value() == texts["offer"]["zh"]
    await group.locator(".kind", has_text="We are live").get_by_text("your text").wait_for()

    # Reset to default, saved: no text of the host's remains.
    await group.get_by_text("Edit the text: We are live").click()
    await group.get_by_role("button", name="Reset to default: We are live").click()
    assert await live_text.input_value() == texts["live"]["zh"]
    await group.get_by_role("button", name="Save").click()
    await group.get_by_text("Saved.").wait_for()
    outbound = (await bindings(platform, room_id))[f"telegram:{GROUP}"]["outbound"]
    assert outbound["templates"] == {} and outbound["language"] == "zh"

    # The keyboard reaches a switch and flips it with Space.
    welcome = group.get_by_role("switch", name="Welcome @-mention")
    await welcome.focus()
    await console.keyboard.press("Space")
    assert await welcome.is_checked()

    await console.set_viewport_size(PHONE["viewport"])
    await screenshot(console, "console-groups-phone")
    assert platform.page_errors == []


async def test_a_paused_group_says_why_and_resume_clears_it(
    full_platform: Platform, browser: Any
) -> None:
    platform = full_platform
    console = await open_room(platform, browser, "Dress drop 连衣裙")
    room_id = console.url.rsplit("#", 1)[1]
    chat = ("whatsapp", "120363041234567890")
    await platform.call(
        "POST",
        f"{platform.ingest}/bindings",
        json={"platform": chat[0], "chat_id": chat[1], "room_id": room_id},
    )
    await pause(platform, chat, "bot_removed", "Forbidden: bot was kicked from the group chat")
    await ledger(
        platform,
        room_id,
        chat,
        {"kind": "preview", "state": "sent", "platform_message_id": "wamid.1"},
        {"kind": "offer", "state": "failed", "reason": "bot_removed: bot was kicked"},
        {"kind": "live", "state": "skipped", "reason": "binding paused"},
    )

    # A WeCom robot bound from the console: its webhook key is the chat id (said in the
    # hint), shown by its ends only.
    await console.get_by_label("Platform").select_option("wecom")
    await console.get_by_text("The robot's webhook key").wait_for()
    key = "693a91f6-7b3c-4bc4-97a0-0ec2cafe5aaa"
    await console.get_by_label("Chat id").fill(key)
    await console.get_by_role("button", name="Bind to this room").click()
    robot = card(console, "693a…5aaa")
    await robot.get_by_text("WeCom (企业微信) robot").wait_for()
    assert key not in await robot.inner_text()

    # The paused group: why, in the platform's words too, counts, and what to do.
    group = card(console, chat[1])
    await group.get_by_text("Paused", exact=True).wait_for()
    await group.get_by_text(
        "The bot was removed from this group: add it back, then Resume."
    ).wait_for()
    await group.get_by_text(re.compile("Forbidden: bot was kicked from the group chat")).wait_for()
    await group.get_by_text("Sent 1 · failed 1").wait_for()
    # Its recent messages, newest first, each with its state and reason.
    await group.get_by_text("Recent messages").click()
    lines = group.locator(".group-message")
    await lines.first.wait_for()
    assert [await line.get_attribute("data-state") for line in await lines.all()] == [
        "skipped",
        "failed",
        "sent",
    ]
    await lines.filter(has_text="Offer").get_by_text("bot_removed: bot was kicked").wait_for()
    # Only WhatsApp groups have the approved template.
    await group.get_by_text("What goes out to this group").click()
    await group.get_by_label("Approved WhatsApp template").fill("show_update")
    await group.get_by_role("button", name="Save").click()
    await group.get_by_text("Saved.").wait_for()
    assert await robot.get_by_label("Approved WhatsApp template").count() == 0

    await console.get_by_label("Language").first.select_option("zh")
    await group.get_by_text("机器人已被移出这个群：把它加回来，然后点“恢复”。").wait_for()
    await console.get_by_label("语言").first.select_option("en")

    # Resume: the pause is gone, here and in ingest; focus stays in the group.
    await group.get_by_role("button", name=f"Resume sending to {chat[1]}").click()
    await group.get_by_text(f"Resumed: messages go to {chat[1]} again.").wait_for()
    await group.get_by_text("Sending", exact=True).wait_for()
    assert await group.locator(".paused").is_hidden()
    assert await group.get_by_role("heading").evaluate("h => document.activeElement === h")
    stored = (await bindings(platform, room_id))[f"{chat[0]}:{chat[1]}"]
    assert stored["paused"] is None
    assert stored["outbound"]["whatsapp_template"] == "show_update"
    assert platform.page_errors == []


@pytest.fixture
async def bot_api() -> Any:
    """A local Telegram Bot API (documented shapes) that the platform's ingest posts to."""
    from tests.ingest.group_apis import GroupApis
    from tests.support import serving

    fake = GroupApis()
    async with serving(fake.app()) as url:
        fake.base_url = url
        yield fake


async def test_a_kicked_bot_pauses_its_group_and_the_console_says_why(
    nats_server: Any, tmp_path: Any, browser: Any, bot_api: Any
) -> None:
    """The real path: the host's announcement goes to both bound groups; Telegram answers
    403 for the group that removed the bot; the binding pauses and the console says why,
    while the other group got the message."""
    from tests.browser.conftest import running_platform
    from tests.ingest.group_apis import TELEGRAM_TOKEN

    overrides = {"telegram_api_base": bot_api.base_url, "telegram_bot_token": TELEGRAM_TOKEN}
    async with running_platform(nats_server.url, tmp_path, True, overrides) as platform:
        console = await open_room(platform, browser, "Tea tasting 品茶")
        room_id = console.url.rsplit("#", 1)[1]
        for chat in (GROUP, "-1009876543210"):
            await platform.call(
                "POST",
                f"{platform.ingest}/bindings",
                json={"platform": "telegram", "chat_id": chat, "room_id": room_id},
            )
        bot_api.kick(GROUP)
        await platform.call(
            "POST",
            f"{platform.live}/rooms/{room_id}/announcements",
            json={"text": "Oolong at 8 tonight"},
        )

        group = card(console, GROUP)
        await group.get_by_text("Paused", exact=True).wait_for(timeout=30_000)
        await group.get_by_text(
            "The bot was removed from this group: add it back, then Resume."
        ).wait_for()
        await group.get_by_text(re.compile("bot was kicked from the group chat")).wait_for()
        [told] = bot_api.messages("-1009876543210")
        assert "Oolong at 8 tonight" in told.plain
        assert bot_api.messages(GROUP) == []
        assert platform.page_errors == []
