"""Telegram Bot API (core.telegram.org/bots/api) behind the Channel port.

- sendMessage with parse_mode HTML: every piece of our plain text goes through
  html.escape, the title in <b>, a mention as `<a href="tg://user?id=ID">name</a>`;
  a reply is `reply_parameters {message_id, allow_sending_without_reply: true}` (the buyer
  may have deleted the line: the answer still goes); buttons are an inline keyboard of URL
  buttons, one a row.
- A photo is sendPhoto with the text as its caption when that fits (1024 characters),
  else the photo alone and then the text (whose id is the message's: edits change it). A
  photo Telegram cannot fetch does not lose the message: the text goes alone.
- pin: pinChatMessage after the send, silently (the post itself already notified); a pin
  refused (the bot is no admin) is logged, never an error.
- edit: editMessageText, or editMessageCaption for a photo; "message is not modified" is
  success (a redelivered edit).

Errors: `{"ok": false, "error_code", "description", "parameters": {"retry_after",
"migrate_to_chat_id"}}` become the port's codes (see `_error`).
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import httpx

from services.ingest.adapters.channels.http import ChannelHttp, server_error, text_of
from services.ingest.domain.channels import ChannelLimits, Delivered, DeliveryError, Rate
from shared.events.commands import SendToGroup

log = logging.getLogger(__name__)

PLATFORM = "telegram"
TEXT_MAX = 4096
CAPTION_MAX = 1024
# Telegram's FAQ: about 30 messages a second overall, one a second in a chat, 20 a minute in
# a group.
LIMITS = ChannelLimits(
    overall=(Rate(30, 1.0),),
    per_chat=(Rate(1, 1.0), Rate(20, 60.0)),
)
PHOTO_REFUSED = (
    "wrong file identifier",
    "failed to get http url content",
    "wrong type of the web page content",
    "wrong remote file",
    "image_process_failed",
)
REMOVED = (
    "bot was kicked",
    "bot is not a member",
    "bot was blocked",
    "user is deactivated",
    "chat was deleted",
)
GONE = ("chat not found", "group chat was upgraded", "chat_id is empty", "peer_id_invalid")
NO_RIGHTS = ("not enough rights", "have no rights", "chat_write_forbidden", "chat_restricted")


class TelegramChannel:
    platform = PLATFORM
    limits = LIMITS
    can_edit = True

    def __init__(
        self,
        api_base: str,
        bot_token: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = f"{api_base.rstrip('/')}/bot{bot_token}"
        self._http = ChannelHttp(PLATFORM, timeout_s, transport)

    async def send(self, message: SendToGroup) -> Delivered:
        text = render(message)
        chat_id = _chat(message.chat_id)
        common: dict[str, Any] = {"chat_id": chat_id, "parse_mode": "HTML"}
        reply = _reply(message.reply_to)
        markup = _keyboard(message)
        sent: dict[str, Any] | None = None
        if message.photo_url:
            fits = visible_length(text) <= CAPTION_MAX
            try:
                sent = await self.call(
                    "sendPhoto",
                    common | reply | {"photo": message.photo_url}
                    | ({"caption": text} | markup if fits else {}),
                )  # fmt: skip
                if not fits:  # the text under the photo, answering what it answers
                    reply = {}
                    sent = None
            except DeliveryError as error:
                if not (error.code == "bad_request" and _photo_refused(error.detail)):
                    raise
                log.warning("telegram: photo not sent to %s (%s): text only", chat_id, error.detail)
        if sent is None:
            sent = await self.call("sendMessage", common | reply | markup | {"text": text})
        message_id = str(sent.get("message_id", ""))
        if not message_id:
            raise server_error(PLATFORM, 200, "no message_id in its answer")
        if message.pin:
            await self._pin(chat_id, message_id)
        return Delivered(message_id)

    async def edit(self, message: SendToGroup, platform_message_id: str) -> Delivered:
        text = render(message)
        target: dict[str, Any] = {
            "chat_id": _chat(message.chat_id),
            "message_id": _message_id(platform_message_id),
            "parse_mode": "HTML",
        } | _keyboard(message)
        as_caption = bool(message.photo_url) and visible_length(text) <= CAPTION_MAX
        order = ["editMessageCaption", "editMessageText"] if as_caption else [
            "editMessageText", "editMessageCaption"]  # fmt: skip
        for method in order:
            field = "caption" if method == "editMessageCaption" else "text"
            try:
                await self.call(method, target | {field: text})
            except DeliveryError as error:
                if "message is not modified" in error.detail:
                    break  # already so: a redelivered edit
                if f"there is no {field} in the message" in error.detail:
                    continue  # a photo's caption, or a text: the other method
                raise
            break
        return Delivered(platform_message_id)

    async def call(self, method: str, parameters: dict[str, Any]) -> Any:
        """One Bot API method; its `result`, or a DeliveryError."""
        status, body = await self._http.post(f"{self._base}/{method}", parameters)
        if status == 200 and body.get("ok") is True:
            return body.get("result")
        raise _error(method, status, body)

    async def _pin(self, chat_id: int | str, message_id: str) -> None:
        try:
            await self.call(
                "pinChatMessage",
                {"chat_id": chat_id, "message_id": int(message_id), "disable_notification": True},
            )
        except DeliveryError as error:
            log.warning("telegram: message %s not pinned in %s: %s", message_id, chat_id, error)

    async def aclose(self) -> None:
        await self._http.aclose()


def render(message: SendToGroup) -> str:
    """Our plain text as Telegram HTML: every piece escaped, the title bold, a mention a link."""
    parts = []
    if message.title:
        parts.append(f"<b>{_escape(message.title)}</b>\n")
    if message.mention:
        name = _escape(message.mention.name) or "@"
        user = message.mention.user_id
        parts.append(f'<a href="tg://user?id={user}">{name}</a> ' if user.isdigit() else f"{name} ")
    parts.append(_escape(message.text))
    return "".join(parts)


def visible_length(text: str) -> int:
    """What Telegram counts against its limits: the text after entity parsing, in UTF-16
    code units (an emoji is two)."""
    shown = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(shown.encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _chat(chat_id: str) -> int | str:
    """Telegram's chat ids are integers (-100... for supergroups), or @channelusername."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def _message_id(platform_message_id: str) -> int:
    try:
        return int(platform_message_id)
    except ValueError:
        raise DeliveryError(
            "bad_request", f"not a Telegram message id: {platform_message_id[:40]!r}",
            permanent=True,
        ) from None  # fmt: skip


def _reply(reply_to: str | None) -> dict[str, Any]:
    if not reply_to:
        return {}
    return {
        "reply_parameters": {
            "message_id": _message_id(reply_to),
            "allow_sending_without_reply": True,
        }
    }


def _keyboard(message: SendToGroup) -> dict[str, Any]:
    if not message.buttons:
        return {}
    rows = [[{"text": button.text, "url": button.url}] for button in message.buttons]
    return {"reply_markup": {"inline_keyboard": rows}}


def _photo_refused(detail: str) -> bool:
    lowered = detail.lower()
    return any(reason in lowered for reason in PHOTO_REFUSED)


def _error(method: str, status: int, body: dict[str, Any]) -> DeliveryError:
    description = text_of(body.get("description")) or f"HTTP {status}"
    error_code = body.get("error_code")
    code: int = error_code if isinstance(error_code, int) else status
    given = body.get("parameters")
    parameters: dict[str, Any] = given if isinstance(given, dict) else {}
    lowered = description.lower()
    detail = f"{method}: {description}"
    if code == 429 or status == 429:
        retry_after = parameters.get("retry_after")
        seconds = float(retry_after) if isinstance(retry_after, int | float) else None
        return DeliveryError("rate_limited", detail, retry_after_s=seconds)
    if status >= 500 or code >= 500:
        return server_error(PLATFORM, status, description)
    if status in (401, 404) or code in (401, 404):  # a wrong token answers either
        return DeliveryError("unauthorized", f"{method}: {description} (check TELEGRAM_BOT_TOKEN)",
                             pauses_binding=True)  # fmt: skip
    if any(reason in lowered for reason in REMOVED):
        return DeliveryError("bot_removed", detail, pauses_binding=True)
    if any(reason in lowered for reason in GONE):
        migrated = parameters.get("migrate_to_chat_id")
        if migrated:
            detail += f" (now chat {migrated}: bind that one)"
        return DeliveryError("chat_not_found", detail, pauses_binding=True)
    if status == 403 or code == 403 or any(reason in lowered for reason in NO_RIGHTS):
        return DeliveryError("forbidden", detail, pauses_binding=True)
    return DeliveryError("bad_request", detail, permanent=True)
