"""`python -m services.ingest.telegram setup|check` against the local Bot API."""

from __future__ import annotations

import pytest

from services.ingest.adapters.channels.telegram import TelegramChannel
from services.ingest.telegram import ALLOWED_UPDATES, check, main, setup
from tests.ingest.group_apis import TELEGRAM_TOKEN, GroupApis
from tests.support import serving

HOOK = "https://shop.example/webhooks/telegram"


async def test_setup_sets_the_webhook_and_says_how_to_leave_privacy_mode() -> None:
    apis = GroupApis()  # privacy mode on, as a new bot has it
    async with serving(apis.app()) as url:
        bot = TelegramChannel(url, TELEGRAM_TOKEN, 5)
        outcome = await setup(bot, HOOK, "s3cret-token_1")
        await bot.aclose()
    assert outcome.ok
    assert apis.webhook["url"] == HOOK
    assert apis.webhook["secret_token"] == "s3cret-token_1"
    assert apis.webhook["allowed_updates"] == list(ALLOWED_UPDATES)
    text = "\n".join(outcome.lines)
    assert "@qunlive_test_bot" in text
    assert "/setprivacy" in text and "Disable" in text and "administrator" in text


async def test_setup_with_privacy_off_checks_the_bots_rights_in_groups() -> None:
    apis = GroupApis(can_read_all_group_messages=True)
    apis.pin_refused.add("-100222")
    apis.add_chat("-100111", "-100222")
    async with serving(apis.app()) as url:
        bot = TelegramChannel(url, TELEGRAM_TOKEN, 5)
        outcome = await setup(bot, HOOK, "tok", chats=("-100111", "-100222", "-100999"))
        await bot.aclose()
    assert outcome.ok
    text = "\n".join(outcome.lines)
    assert "privacy mode is off" in text and "/setprivacy" not in text
    assert "chat -100111: admin, sees every message, can pin" in text
    assert "chat -100222: member (not an admin: cannot pin the preview)" in text
    assert "chat -100999: getChatMember: Bad Request: chat not found" in text


@pytest.mark.parametrize(
    ("token", "hook", "says"),
    [
        ("1:wrong", HOOK, "unauthorized"),
        (TELEGRAM_TOKEN, "http://shop.example/webhooks/telegram", "An HTTPS URL must be provided"),
    ],
)
async def test_setup_fails_on_a_real_error(token: str, hook: str, says: str) -> None:
    apis = GroupApis()
    async with serving(apis.app()) as url:
        bot = TelegramChannel(url, token, 5)
        outcome = await setup(bot, hook, "tok")
        await bot.aclose()
    assert not outcome.ok
    assert says in outcome.lines[-1]
    assert "1:wrong" not in "\n".join(outcome.lines)
    assert apis.webhook == {}


async def test_check_shows_pending_updates_and_the_last_error() -> None:
    apis = GroupApis(
        pending_update_count=12,
        last_webhook_error="Wrong response from the webhook: 503 Service Unavailable",
    )
    apis.webhook = {"url": HOOK, "allowed_updates": ["message"]}
    async with serving(apis.app()) as url:
        bot = TelegramChannel(url, TELEGRAM_TOKEN, 5)
        outcome = await check(bot)
        await bot.aclose()
    text = "\n".join(outcome.lines)
    assert outcome.ok
    assert f"webhook: {HOOK}" in text
    assert "pending updates: 12" in text
    assert "missing edited_message, chat_member, my_chat_member, message_reaction" in text
    assert "503 Service Unavailable" in text


async def test_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    apis = GroupApis(can_read_all_group_messages=True)
    async with serving(apis.app()) as url:
        monkeypatch.setenv("TELEGRAM_API_BASE", url)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
        monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", "from-the-env")
        monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", HOOK)
        assert await main(["setup"]) == 0
        assert apis.webhook["secret_token"] == "from-the-env"
        assert await main(["check"]) == 0
        assert f"webhook: {HOOK}" in capsys.readouterr().out
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:wrong")
        assert await main(["check"]) == 1
        monkeypatch.delenv("TELEGRAM_WEBHOOK_URL")
        with pytest.raises(SystemExit) as usage:
            await main(["setup"])
        assert usage.value.code == 2
