"""Set up or check the Telegram bot's webhook: `python -m services.ingest.telegram setup
[--url URL]` and `python -m services.ingest.telegram check`.

setup: getMe (the token works), setWebhook with the URL of POST /webhooks/telegram,
secret_token = TELEGRAM_SECRET_TOKEN and the updates ingest reads, then whether the bot can
read every group message: with privacy mode on it never sees "+1", and this says how to fix
it. check: getWebhookInfo (the URL, updates waiting, Telegram's last delivery error).
Exit status: 0 when the calls went through (a privacy warning included), 1 when Telegram
refused one or could not be reached, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.ingest.adapters.channels.telegram import TelegramChannel
from services.ingest.domain.channels import DeliveryError
from services.ingest.settings import IngestSettings

# What ingest reads (services/ingest/domain/telegram.py); chat_member must be asked for by
# name, Telegram leaves it out by default, and message_reaction reaches an admin bot only.
ALLOWED_UPDATES = ("message", "edited_message", "chat_member", "my_chat_member", "message_reaction")
PRIVACY_FIX = """\
Privacy mode is on: in groups the bot sees only commands and replies to its own messages,
so it never sees a "+1". Fix it one of two ways:
  1. In Telegram, talk to @BotFather: /setprivacy, choose @{username}, then Disable.
     Telegram applies this to groups the bot joins afterwards: remove the bot from each
     bound group and add it again.
  2. Or make the bot an administrator in each group (admins see every message; it also
     lets the bot pin the show's preview)."""


@dataclass
class Outcome:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)


async def setup(
    bot: TelegramChannel,
    url: str,
    secret_token: str,
    chats: tuple[str, ...] = (),
    drop_pending_updates: bool = False,
) -> Outcome:
    outcome = Outcome()
    try:
        me = await bot.call("getMe", {})
        outcome.say(f"bot @{me.get('username')} (id {me.get('id')}): token works")
        await bot.call(
            "setWebhook",
            {
                "url": url,
                "secret_token": secret_token,
                "allowed_updates": list(ALLOWED_UPDATES),
                "drop_pending_updates": drop_pending_updates,
            },
        )
        outcome.say(f"webhook set: {url}")
        outcome.say(f"  updates: {', '.join(ALLOWED_UPDATES)}; secret token: TELEGRAM_SECRET_TOKEN")
        if me.get("can_read_all_group_messages"):
            outcome.say("privacy mode is off: the bot reads every group message")
        else:
            outcome.say(PRIVACY_FIX.format(username=me.get("username", "your_bot")))
        for chat in chats:
            outcome.say(await _membership(bot, chat, me.get("id")))
    except DeliveryError as error:
        outcome.ok = False
        outcome.say(f"error: {error}")
    return outcome


async def check(bot: TelegramChannel) -> Outcome:
    outcome = Outcome()
    try:
        info: dict[str, Any] = await bot.call("getWebhookInfo", {})
    except DeliveryError as error:
        return Outcome(False, [f"error: {error}"])
    outcome.say(f"webhook: {info.get('url') or '(none: run setup)'}")
    outcome.say(f"pending updates: {info.get('pending_update_count', 0)}")
    allowed = info.get("allowed_updates")
    if allowed is not None:
        missing = [kind for kind in ALLOWED_UPDATES if kind not in allowed]
        outcome.say(f"updates: {', '.join(allowed)}")
        if missing:
            outcome.say(f"  missing {', '.join(missing)}: run setup again")
    if info.get("last_error_message"):
        when = info.get("last_error_date")
        at = datetime.fromtimestamp(when, UTC).isoformat() if isinstance(when, int) else "?"
        outcome.say(f"last delivery error ({at}): {info['last_error_message']}")
    else:
        outcome.say("last delivery error: none")
    return outcome


async def _membership(bot: TelegramChannel, chat: str, bot_id: Any) -> str:
    try:
        member = await bot.call("getChatMember", {"chat_id": chat, "user_id": bot_id})
    except DeliveryError as error:
        return f"chat {chat}: {error.detail or error.code}"
    status = member.get("status")
    if status in ("administrator", "creator"):
        pin = "can pin" if member.get("can_pin_messages") else "cannot pin (give it that right)"
        return f"chat {chat}: admin, sees every message, {pin}"
    return f"chat {chat}: {status} (not an admin: cannot pin the preview)"


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingest.telegram", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    set_up = commands.add_parser("setup", help="getMe, setWebhook, privacy check")
    set_up.add_argument("--url", help="public https URL of /webhooks/telegram "
                        "(default: TELEGRAM_WEBHOOK_URL)")  # fmt: skip
    set_up.add_argument("--chat", action="append", default=[], help="a group to check the "
                        "bot's rights in (repeatable)")  # fmt: skip
    set_up.add_argument("--drop-pending-updates", action="store_true")
    commands.add_parser("check", help="getWebhookInfo")
    args = parser.parse_args(argv)
    settings = IngestSettings()
    bot = TelegramChannel(
        settings.telegram_api_base, settings.telegram_bot_token, settings.channel_timeout_s
    )
    try:
        if args.command == "setup":
            url = args.url or settings.telegram_webhook_url
            if not url:
                parser.error("give --url or set TELEGRAM_WEBHOOK_URL")
            outcome = await setup(
                bot, url, settings.telegram_secret_token, tuple(args.chat),
                args.drop_pending_updates,
            )  # fmt: skip
        else:
            outcome = await check(bot)
    finally:
        await bot.aclose()
    print("\n".join(outcome.lines))
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
