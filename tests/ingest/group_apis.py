"""The group platforms' sending APIs, as documented, on a local port: what ingest's channels
talk to in tests (never the internet).

Telegram Bot API (core.telegram.org/bots/api), `GET|POST /bot<token>/<method>` with JSON or
form parameters, answers `{"ok": true, "result": ...}` or `{"ok": false, "error_code",
"description", "parameters"?}`:
- sendMessage, sendPhoto (-> Message), editMessageText, editMessageCaption (-> Message;
  "Bad Request: message is not modified: ..." when nothing changes), pinChatMessage,
  getMe, setWebhook, getWebhookInfo, deleteWebhook, getChatMember;
- parse_mode HTML is parsed as Telegram does: only its tags, entities `&lt; &gt; &amp;
  &quot;` and numeric ones; anything else is `400 Bad Request: can't parse entities: ...`
  (a text our adapter forgot to escape fails here as it would there);
- 429 `Too Many Requests: retry after N` with `parameters.retry_after`, 403 `Forbidden: bot
  was kicked from the group chat`, 400 `Bad Request: chat not found`, 401 `Unauthorized`.

WhatsApp Cloud API, `POST /<version>/<phone_number_id>/messages` with `Authorization: Bearer`
(types text, image with link, interactive cta_url, template; `recipient_type: "group"` for a
group, `context.message_id` for a reply) -> `{"messaging_product": "whatsapp", "contacts":
[{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}`; errors are Graph errors `{"error":
{"message", "type", "code", "error_data": {"messaging_product", "details"}, "fbtrace_id"}}`:
130429 throughput, 131056 pair rate limit, 131047 re-engagement (24 h window), 1320xx
template, 131041 group unknown, 100 invalid parameter, 190 token.

WeCom group robot, `POST /cgi-bin/webhook/send?key=KEY` (msgtype text, markdown, image,
news) -> always HTTP 200, `{"errcode": 0, "errmsg": "ok"}`; 93000 invalid webhook key,
45009 frequency limit (20 a minute per robot), 40058 content too long.

A chat is named by its id alone (Telegram's chat id, WhatsApp's group id, WeCom's robot
key): they do not collide. The server records every call (`calls`), keeps each chat's
messages as the members see them (`messages(chat_id)`: edits applied, pins), fails on
demand (`fail_next`, `kick`, `known_chats`) and enforces the platforms' own limits by
answering their limit errors, counted in `violations`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TELEGRAM_TOKEN = "123456789:AAHtest-Bot-Token_x"
TELEGRAM_BOT_ID = 123456789
WHATSAPP_TOKEN = "EAAGtestAccessToken"
WHATSAPP_VERSION = "v21.0"
WHATSAPP_PHONE_NUMBER_ID = "106540352242922"

# Telegram's parse_mode HTML: the tags it knows (core.telegram.org/bots/api#html-style).
TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip
SENDS = {"sendMessage", "sendPhoto", "editMessageText", "editMessageCaption"}
TAG = re.compile(r"<(/?)([a-zA-Z-]*)((?:\s[^<>]*)?)>")
ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


@dataclass(frozen=True)
class Limit:
    """At most `count` messages in any `per_s` seconds."""

    count: int
    per_s: float


@dataclass
class Call:
    platform: str  # telegram | whatsapp | wecom
    method: str  # Telegram's method; "messages" (WhatsApp); "send" (WeCom)
    chat_id: str
    body: dict[str, Any]
    at: float  # time.monotonic() on arrival
    status: int = 0  # what it was answered (HTTP status; WeCom: 200, see errcode)
    error: int | str | None = None  # the platform's error code, None when it went through


@dataclass
class GroupMessage:
    """One message in a chat, as its members see it now."""

    platform: str
    chat_id: str
    message_id: str
    kind: str  # text | photo | image | interactive | template | markdown | news
    text: str  # as sent (Telegram HTML, WeCom markdown); the caption of a photo
    plain: str  # what members read: tags dropped, entities decoded (Telegram)
    photo_url: str | None = None
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    reply_to: str | None = None
    mentions: list[str] = field(default_factory=list)  # user ids
    template: str | None = None
    pinned: bool = False
    edits: int = 0


@dataclass
class Violation:
    platform: str
    chat_id: str
    rule: str  # e.g. "telegram per chat 3/3s"
    at: float


@dataclass
class Failure:
    status: int
    retry_after: int | None = None
    code: int | None = None  # WhatsApp's Graph code, WeCom's errcode (default per status)
    description: str | None = None
    parameters: dict[str, Any] | None = None  # Telegram's, e.g. {"migrate_to_chat_id": -100..}


@dataclass
class GroupApis:
    base_url: str = ""
    telegram_token: str = TELEGRAM_TOKEN
    whatsapp_token: str = WHATSAPP_TOKEN
    whatsapp_version: str = WHATSAPP_VERSION
    whatsapp_phone_number_id: str = WHATSAPP_PHONE_NUMBER_ID
    # None: every chat exists; a set: others answer "chat not found" (WhatsApp 131041, WeCom
    # 93000 invalid key).
    known_chats: set[str] | None = None
    enforce_limits: bool = True
    # Telegram: "about one message a second" per chat, a burst of 3 tolerated; 20 a minute in
    # a group (a chat id starting with "-"); 30 a second overall (core.telegram.org/bots/faq).
    telegram_overall: tuple[Limit, ...] = (Limit(30, 1.0),)
    telegram_per_chat: tuple[Limit, ...] = (Limit(3, 3.0),)
    telegram_per_group: tuple[Limit, ...] = (Limit(20, 60.0),)
    # WhatsApp: the number's throughput (80/s by default) and the pair rate limit per chat.
    whatsapp_overall: tuple[Limit, ...] = (Limit(80, 1.0),)
    whatsapp_per_chat: tuple[Limit, ...] = (Limit(10, 60.0),)
    # WeCom: 20 messages a minute per robot.
    wecom_per_chat: tuple[Limit, ...] = (Limit(20, 60.0),)
    # Windows are this much shorter than stated: a request's arrival jitters a few ms past
    # the client's own clock, which is not what a limit is about.
    tolerance_s: float = 0.05
    # getMe's can_read_all_group_messages: False while privacy mode is on (the default).
    can_read_all_group_messages: bool = False
    # Chats where the bot is not allowed to pin (not an admin with can_pin_messages).
    pin_refused: set[str] = field(default_factory=set)
    # Photo URLs Telegram cannot fetch (sendPhoto: "failed to get HTTP URL content").
    broken_photos: set[str] = field(default_factory=set)
    # WhatsApp chats whose 24 h window is closed: only templates pass (131047 otherwise).
    window_closed: set[str] = field(default_factory=set)
    # WhatsApp templates the number has approved (name); others answer 132001.
    whatsapp_templates: set[str] = field(default_factory=lambda: {"group_update"})
    webhook: dict[str, Any] = field(default_factory=dict)  # setWebhook's parameters
    pending_update_count: int = 0
    last_webhook_error: str | None = None
    calls: list[Call] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    chats: dict[str, list[GroupMessage]] = field(default_factory=lambda: defaultdict(list))
    kicked: set[str] = field(default_factory=set)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    _stamps: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    # ---- what tests say and ask ----

    @property
    def strict_chats(self) -> bool:
        return self.known_chats is not None

    @strict_chats.setter
    def strict_chats(self, value: bool) -> None:
        self.known_chats = (self.known_chats or set()) if value else None

    def add_chat(self, *chat_ids: str | int) -> None:
        self.known_chats = (self.known_chats or set()) | {str(c) for c in chat_ids}

    def fail_next(
        self,
        chat_id: str | int,
        status: int,
        n: int = 1,
        retry_after: int | None = None,
        *,
        code: int | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """The next `n` calls about this chat answer `status` in the platform's shape: 429
        (with retry_after), 403 kicked, 400 chat not found, 401, 5xx; `code` picks the
        WhatsApp/WeCom error (e.g. 131047, 132001, 45009)."""
        self.failures[str(chat_id)].extend(
            Failure(status, retry_after, code, description, parameters) for _ in range(n)
        )

    def kick(self, chat_id: str | int) -> None:
        """The bot is removed from the chat (WeCom: the robot is deleted, its key dead)."""
        self.kicked.add(str(chat_id))

    def member_says(self, chat_id: str | int, message_id: str | int, text: str = "+1") -> None:
        """A member's message in the chat (a reply's target), as the webhook brought it in."""
        chat = str(chat_id)
        self.chats[chat].append(GroupMessage("member", chat, str(message_id), "member", text, text))

    def messages(self, chat_id: str | int) -> list[GroupMessage]:
        """The bot's messages in the chat, oldest first, as they read now."""
        return [m for m in self.chats.get(str(chat_id), []) if m.kind != "member"]

    def calls_to(self, chat_id: str | int, method: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.chat_id == str(chat_id) and (method is None or c.method == method)
        ]

    def sent_times(self, chat_id: str | int | None = None) -> list[float]:
        """Arrival times of the calls that went through and posted or edited a message."""
        return [
            c.at
            for c in self.calls
            if c.error is None
            and c.method in SENDS | {"messages", "send"}
            and (chat_id is None or c.chat_id == str(chat_id))
        ]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self.telegram, methods=["GET", "POST"]),
                Route("/{version}/{phone_number_id}/messages", self.whatsapp, methods=["POST"]),
                Route("/cgi-bin/webhook/send", self.wecom, methods=["POST"]),
            ]
        )

    # ---- shared machinery ----

    def _failure(self, chat_id: str) -> Failure | None:
        planned = self.failures.get(chat_id)
        return planned.pop(0) if planned else None

    def _admit(self, platform: str, scopes: list[tuple[str, tuple[Limit, ...]]]) -> int | None:
        """Stamp a message in every scope, or name the seconds to wait if one is full."""
        if not self.enforce_limits:
            return None
        now = time.monotonic()
        for scope, limits in scopes:
            stamps = self._stamps[(platform, scope)]
            longest = max((limit.per_s for limit in limits), default=0)
            while stamps and stamps[0] <= now - longest:
                stamps.popleft()
            for limit in limits:
                window = limit.per_s - self.tolerance_s
                inside = [t for t in stamps if t > now - window]
                if len(inside) >= limit.count:
                    rule = f"{platform} {scope.split(':')[0]} {limit.count}/{limit.per_s:g}s"
                    self.violations.append(Violation(platform, scope, rule, now))
                    wait = inside[-limit.count] + limit.per_s - now
                    return max(1, math.ceil(wait))
        for scope, _ in scopes:
            self._stamps[(platform, scope)].append(now)
        return None

    def _message(self, platform: str, chat_id: str, message_id: str) -> GroupMessage | None:
        return next((m for m in self.chats.get(chat_id, []) if m.message_id == message_id), None)

    # ---- Telegram ----

    async def telegram(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _parameters(request)
        chat_id = str(params.get("chat_id", ""))
        call = Call("telegram", method, chat_id, params, time.monotonic())
        self.calls.append(call)
        response = self._telegram(method, chat_id, params, request.path_params["token"])
        call.status = response.status_code
        if response.status_code != 200:
            call.error = response.status_code
        return response

    def _telegram(self, method: str, chat_id: str, params: dict, token: str) -> Response:
        if token != self.telegram_token:
            return _telegram_error(401, "Unauthorized")
        if method == "getMe":
            return _ok(self._telegram_bot())
        if method == "setWebhook":
            return self._set_webhook(params)
        if method == "deleteWebhook":
            self.webhook = {}
            return _ok(True, "Webhook was deleted")
        if method == "getWebhookInfo":
            return _ok(self._webhook_info())
        if method not in SENDS | {"pinChatMessage", "getChatMember"}:
            return _telegram_error(404, "Not Found")
        failure = self._failure(chat_id)
        if failure:
            return _telegram_failure(failure)
        if chat_id in self.kicked:
            return _telegram_error(403, "Forbidden: bot was kicked from the group chat")
        if not chat_id or (self.known_chats is not None and chat_id not in self.known_chats):
            return _telegram_error(400, "Bad Request: chat not found")
        if method == "getChatMember":
            return self._chat_member(chat_id, params)
        if method == "pinChatMessage":
            return self._pin(chat_id, params)
        if method in ("sendMessage", "sendPhoto"):
            return self._telegram_send(method, chat_id, params)
        return self._telegram_edit(method, chat_id, params)

    def _telegram_bot(self) -> dict:
        return {
            "id": TELEGRAM_BOT_ID,
            "is_bot": True,
            "first_name": "Qunlive",
            "username": "qunlive_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
        }

    def _set_webhook(self, params: dict) -> Response:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://"):
            return _telegram_error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            return _telegram_error(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):  # form-encoded: a JSON array in a string
            import json

            allowed = json.loads(allowed)
        self.webhook = {**params, "allowed_updates": allowed}
        return _ok(True, "Webhook was set" if url else "Webhook was deleted")

    def _webhook_info(self) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
            "max_connections": int(self.webhook.get("max_connections", 40)),
        }
        if self.webhook.get("allowed_updates") is not None:
            info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.last_webhook_error:
            info["last_error_date"] = int(time.time()) - 60
            info["last_error_message"] = self.last_webhook_error
        return info

    def _chat_member(self, chat_id: str, params: dict) -> Response:
        user_id = int(params.get("user_id", 0))
        admin = user_id == TELEGRAM_BOT_ID and chat_id not in self.pin_refused
        member: dict[str, Any] = {
            "status": "administrator" if admin else "member",
            "user": {"id": user_id, "is_bot": user_id == TELEGRAM_BOT_ID, "first_name": "x"},
        }
        if admin:
            member |= {
                "can_be_edited": False,
                "can_pin_messages": True,
                "can_delete_messages": True,
            }
        return _ok(member)

    def _pin(self, chat_id: str, params: dict) -> Response:
        if chat_id in self.pin_refused:
            return _telegram_error(
                400, "Bad Request: not enough rights to manage pinned messages in the chat"
            )
        message = self._message("telegram", chat_id, str(params.get("message_id", "")))
        if message is None:
            return _telegram_error(400, "Bad Request: message to pin not found")
        message.pinned = True
        return _ok(True)

    def _telegram_limited(self, chat_id: str) -> Response | None:
        """A 429 when this message would break a limit (checked once the request is valid)."""
        scopes = [("overall", self.telegram_overall), (f"chat:{chat_id}", self.telegram_per_chat)]
        if chat_id.startswith("-"):
            scopes.append((f"group:{chat_id}", self.telegram_per_group))
        wait = self._admit("telegram", scopes)
        if wait is None:
            return None
        return _telegram_error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def _telegram_send(self, method: str, chat_id: str, params: dict) -> Response:
        photo = method == "sendPhoto"
        text = str(params.get("caption" if photo else "text", ""))
        problem = self._telegram_text(text, params, limit=1024 if photo else 4096, caption=photo)
        if problem:
            return _telegram_error(400, problem)
        if photo and str(params.get("photo")) in self.broken_photos:
            return _telegram_error(400, "Bad Request: failed to get HTTP URL content")
        reply_to = _telegram_reply_to(params)
        chat = self.chats[chat_id]
        known = any(m.message_id == reply_to for m in chat)
        if reply_to and not known and not _allow_without_reply(params):
            return _telegram_error(400, "Bad Request: message to be replied not found")
        limited = self._telegram_limited(chat_id)
        if limited:
            return limited
        message_id = str(len(chat) + 100000)
        message = GroupMessage(
            platform="telegram",
            chat_id=chat_id,
            message_id=message_id,
            kind="photo" if photo else "text",
            text=text,
            plain=_telegram_plain(text, params),
            photo_url=str(params["photo"]) if photo else None,
            buttons=_telegram_buttons(params),
            reply_to=reply_to,
            mentions=re.findall(r'href="tg://user\?id=(\d+)"', text),
        )
        chat.append(message)
        return _ok(self._telegram_message(message))

    def _telegram_edit(self, method: str, chat_id: str, params: dict) -> Response:
        caption = method == "editMessageCaption"
        message = self._message("telegram", chat_id, str(params.get("message_id", "")))
        if message is None:
            return _telegram_error(400, "Bad Request: message to edit not found")
        if caption and message.kind != "photo":
            return _telegram_error(400, "Bad Request: there is no caption in the message to edit")
        if not caption and message.kind == "photo":
            return _telegram_error(400, "Bad Request: there is no text in the message to edit")
        text = str(params.get("caption" if caption else "text", ""))
        problem = self._telegram_text(
            text, params, limit=1024 if caption else 4096, caption=caption
        )
        if problem:
            return _telegram_error(400, problem)
        buttons = _telegram_buttons(params)
        if text == message.text and buttons == message.buttons:
            return _telegram_error(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        limited = self._telegram_limited(chat_id)
        if limited:
            return limited
        message.text, message.plain, message.buttons = text, _telegram_plain(text, params), buttons
        message.edits += 1
        return _ok(self._telegram_message(message) | {"edit_date": int(time.time())})

    def _telegram_text(self, text: str, params: dict, *, limit: int, caption: bool) -> str | None:
        if params.get("parse_mode") == "HTML":
            problem = _html_problem(text)
            if problem:
                return f"Bad Request: can't parse entities: {problem}"
        shown = _telegram_plain(text, params)
        if not caption and not shown.strip():
            return "Bad Request: message text is empty"
        if len(shown) > limit:
            return f"Bad Request: message {'caption ' if caption else ''}is too long"
        return None

    def _telegram_message(self, message: GroupMessage) -> dict:
        body: dict[str, Any] = {
            "message_id": int(message.message_id),
            "from": {"id": TELEGRAM_BOT_ID, "is_bot": True, "first_name": "Qunlive",
                     "username": "qunlive_test_bot"},
            "chat": {"id": int(message.chat_id) if message.chat_id.lstrip("-").isdigit()
                     else message.chat_id, "type": "supergroup", "title": "Test group"},
            "date": int(time.time()),
        }  # fmt: skip
        if message.kind == "photo":
            size = {"width": 800, "height": 600, "file_id": f"AgAC{message.message_id}"}
            body["photo"] = [size | {"file_unique_id": f"AQAD{message.message_id}"}]
            body["caption"] = message.plain
        else:
            body["text"] = message.plain
        if message.reply_to:
            body["reply_to_message"] = {"message_id": int(message.reply_to)}
        if message.buttons:
            body["reply_markup"] = {
                "inline_keyboard": [[{"text": t, "url": u}] for t, u in message.buttons]
            }
        return body

    # ---- WhatsApp ----

    async def whatsapp(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        chat_id = str(body.get("to", "")) if isinstance(body, dict) else ""
        call = Call("whatsapp", "messages", chat_id, body, time.monotonic())
        self.calls.append(call)
        response, code = self._whatsapp(request, body, chat_id)
        call.status, call.error = response.status_code, code
        return response

    def _whatsapp(self, request: Request, body: Any, chat_id: str) -> tuple[Response, int | None]:
        if request.headers.get("authorization") != f"Bearer {self.whatsapp_token}":
            return _graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if (
            request.path_params["version"] != self.whatsapp_version
            or request.path_params["phone_number_id"] != self.whatsapp_phone_number_id
        ):
            return _graph_error(400, 100, "Unsupported post request. Object with ID does not exist")
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp" or not chat_id:
            return _graph_error(400, 100, "(#100) Invalid parameter")
        failure = self._failure(chat_id)
        if failure:
            return _whatsapp_failure(failure)
        if chat_id in self.kicked or (
            self.known_chats is not None and chat_id not in self.known_chats
        ):
            return _graph_error(400, 131041, "Group unknown", "The group was not found, either "
                                "because it doesn't exist or you are not a member.")  # fmt: skip
        kind = body.get("type", "text")
        if chat_id in self.window_closed and kind != "template":
            return _graph_error(
                400, 131047, "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the "
                "customer last replied to this number.",
            )  # fmt: skip
        message = self._whatsapp_message(chat_id, body)
        if isinstance(message, str):
            return _graph_error(400, 100, "(#100) Invalid parameter", message)
        if isinstance(message, tuple):
            return _graph_error(400, message[0], message[1])
        wait = self._admit(
            "whatsapp",
            [("overall", self.whatsapp_overall), (f"chat:{chat_id}", self.whatsapp_per_chat)],
        )
        if wait is not None:
            last = self.violations[-1].rule
            if last.startswith("whatsapp overall"):
                return _graph_error(400, 130429, "Rate limit hit", "Cloud API message "
                                    "throughput has been reached.")  # fmt: skip
            return _graph_error(400, 131056, "(Business Account, Consumer Account) pair rate "
                                "limit hit", "Too many messages sent from the sender phone "
                                "number to the same recipient phone number in a short period "
                                "of time.")  # fmt: skip
        self.chats[chat_id].append(message)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": chat_id, "wa_id": chat_id}],
                "messages": [{"id": message.message_id}],
            }
        ), None

    def _whatsapp_message(self, chat_id: str, body: dict) -> GroupMessage | str | tuple[int, str]:
        kind = body.get("type", "text")
        message = GroupMessage("whatsapp", chat_id, _wamid(next(self._ids)), kind, "", "")
        context = body.get("context")
        if isinstance(context, dict):
            message.reply_to = str(context.get("message_id"))
        if body.get("recipient_type", "individual") not in ("individual", "group"):
            return "recipient_type must be individual or group"
        if kind == "text":
            message.text = str((body.get("text") or {}).get("body", ""))
            if not message.text or len(message.text) > 4096:
                return "text.body must have 1 to 4096 characters"
        elif kind == "image":
            image = body.get("image") or {}
            if not str(image.get("link", "")).startswith("https://") and not str(
                image.get("link", "")
            ).startswith("http://"):
                return "image.link must be a URL"
            message.photo_url, message.text = image["link"], str(image.get("caption", ""))
            if len(message.text) > 1024:
                return "image.caption must have at most 1024 characters"
        elif kind == "interactive":
            interactive = body.get("interactive") or {}
            action = interactive.get("action") or {}
            parameters = action.get("parameters") or {}
            if interactive.get("type") != "cta_url" or action.get("name") != "cta_url":
                return "interactive.type must be cta_url here"
            display = str(parameters.get("display_text", ""))
            if not display or len(display) > 20 or not parameters.get("url"):
                return "action.parameters needs display_text (<= 20) and url"
            message.text = str((interactive.get("body") or {}).get("text", ""))
            if not message.text or len(message.text) > 1024:
                return "interactive.body.text must have 1 to 1024 characters"
            header = interactive.get("header") or {}
            if header.get("type") == "image":
                message.photo_url = (header.get("image") or {}).get("link")
            message.buttons = [(display, str(parameters["url"]))]
        elif kind == "template":
            template = body.get("template") or {}
            name = str(template.get("name", ""))
            if name not in self.whatsapp_templates:
                return 132001, "Template name does not exist in the translation"
            if not (template.get("language") or {}).get("code"):
                return "template.language.code is required"
            texts = [
                str(p.get("text", ""))
                for c in template.get("components") or []
                for p in c.get("parameters") or []
                if p.get("type") == "text"
            ]
            message.template, message.text = name, "\n".join(texts)
        else:
            return f"unsupported message type {kind}"
        message.plain = message.text
        return message

    # ---- WeCom ----

    async def wecom(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        try:
            body = await request.json()
        except ValueError:
            body = {}
        call = Call("wecom", "send", key, body if isinstance(body, dict) else {}, time.monotonic())
        self.calls.append(call)
        response, code = self._wecom(key, body)
        call.status, call.error = response.status_code, code
        return response

    def _wecom(self, key: str, body: Any) -> tuple[Response, int | None]:
        failure = self._failure(key)
        if failure and failure.status >= 500:
            return Response("Bad Gateway", status_code=failure.status), failure.status
        if failure:
            code = failure.code or {429: 45009, 400: 93000, 403: 93000}.get(failure.status, -1)
            return _wecom_error(code, failure.description)
        if (
            not key
            or key in self.kicked
            or (self.known_chats is not None and key not in self.known_chats)
        ):
            return _wecom_error(93000)
        if not isinstance(body, dict):
            return _wecom_error(40008)
        kind = body.get("msgtype")
        message = GroupMessage("wecom", key, f"wecom-{next(self._ids)}", str(kind), "", "")
        content = body.get(kind) if isinstance(kind, str) else None
        if not isinstance(content, dict):
            return _wecom_error(40008)
        if kind in ("text", "markdown"):
            message.text = str(content.get("content", ""))
            limit = 2048 if kind == "text" else 4096
            if not message.text or len(message.text.encode()) > limit:
                return _wecom_error(40058)
            message.mentions = [str(m) for m in content.get("mentioned_list") or []]
            message.mentions += re.findall(r"<@([^>]+)>", message.text)
        elif kind == "image":
            if not content.get("base64") or not content.get("md5"):
                return _wecom_error(40008)
            message.text = "[image]"
        elif kind == "news":
            articles = content.get("articles") or []
            if not 1 <= len(articles) <= 8 or not all(
                a.get("title") and a.get("url") for a in articles
            ):
                return _wecom_error(40058)
            first = articles[0]
            message.text = "\n".join(filter(None, [first["title"], first.get("description")]))
            message.photo_url = first.get("picurl")
            message.buttons = [(str(a["title"]), str(a["url"])) for a in articles]
        else:
            return _wecom_error(40008)
        message.plain = message.text
        if self._admit("wecom", [(f"chat:{key}", self.wecom_per_chat)]) is not None:
            return _wecom_error(45009)
        self.chats[key].append(message)
        return JSONResponse({"errcode": 0, "errmsg": "ok"}), None


# ---- shapes ----


async def _parameters(request: Request) -> dict[str, Any]:
    """Telegram takes parameters as a query string, form fields or a JSON body."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            body = await request.json()
            if isinstance(body, dict):
                params |= body
        elif kind:
            params |= dict(await request.form())
    return params


def _ok(result: Any, description: str | None = None) -> Response:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def _telegram_error(status: int, description: str, retry_after: int | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


def _telegram_failure(failure: Failure) -> Response:
    if failure.status == 429:
        wait = failure.retry_after or 1
        return _telegram_error(429, failure.description or f"Too Many Requests: retry after {wait}",
                               retry_after=wait)  # fmt: skip
    default = {
        400: "Bad Request: chat not found",
        401: "Unauthorized",
        403: "Forbidden: bot was kicked from the group chat",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }.get(failure.status, "Error")
    response = _telegram_error(failure.status, failure.description or default)
    if failure.parameters:
        body = {
            "ok": False,
            "error_code": failure.status,
            "description": failure.description or default,
            "parameters": failure.parameters,
        }
        response = JSONResponse(body, status_code=failure.status)  # fmt: skip
    return response


def _telegram_reply_to(params: dict) -> str | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, str):
        import json

        reply = json.loads(reply)
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        return str(reply["message_id"])
    if params.get("reply_to_message_id") is not None:
        return str(params["reply_to_message_id"])
    return None


def _allow_without_reply(params: dict) -> bool:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and reply.get("allow_sending_without_reply"):
        return True
    return params.get("allow_sending_without_reply") in (True, "true", "True")


def _telegram_buttons(params: dict) -> list[tuple[str, str]]:
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        import json

        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return [
        (str(b["text"]), str(b["url"]))
        for row in markup.get("inline_keyboard") or []
        for b in row
        if "url" in b
    ]


def _telegram_plain(text: str, params: dict) -> str:
    if params.get("parse_mode") != "HTML":
        return text
    return unescape(TAG.sub("", text))


def _html_problem(text: str) -> str | None:
    """Why Telegram's HTML parser would refuse this text, or None."""
    opened: list[str] = []
    position = 0
    for match in TAG.finditer(text):
        problem = _stray(text[position : match.start()], position)
        if problem:
            return problem
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if name not in TELEGRAM_TAGS:
            return f'Unsupported start tag "{name}" at byte offset {match.start()}'
        if closing:
            if not opened or opened.pop() != name:
                return f"Unexpected end tag at byte offset {match.start()}"
        else:
            if name == "a" and not re.fullmatch(r'\s+href="[^"<>]*"\s*', attributes):
                return f"Can't find end of the entity starting at byte offset {match.start()}"
            opened.append(name)
        position = match.end()
    problem = _stray(text[position:], position)
    if problem:
        return problem
    if opened:
        return f'Can\'t find end tag corresponding to start tag "{opened[-1]}"'
    return None


def _stray(chunk: str, offset: int) -> str | None:
    for index, char in enumerate(chunk):
        if char in "<>":
            return f"Unsupported start tag at byte offset {offset + index}"
        if char == "&" and not ENTITY.match(chunk, index):
            return f"Can't find end of the entity starting at byte offset {offset + index}"
    return None


def _graph_error(
    status: int, code: int, message: str, details: str | None = None
) -> tuple[Response, int]:
    error: dict[str, Any] = {
        "message": message if message.startswith("(#") else f"(#{code}) {message}",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AtestTrace",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return JSONResponse({"error": error}, status_code=status), code


def _whatsapp_failure(failure: Failure) -> tuple[Response, int]:
    known = {
        130429: "Rate limit hit",
        131056: "(Business Account, Consumer Account) pair rate limit hit",
        131047: "Re-engagement message",
        131041: "Group unknown",
        131000: "Something went wrong",
        132000: "Number of parameters does not match the expected number of params",
        132001: "Template name does not exist in the translation",
        132015: "Template is Paused",
        132016: "Template is Disabled",
        190: "Invalid OAuth access token",
        100: "Invalid parameter",
        10: "Application does not have permission for this action",
        131026: "Message undeliverable",
    }
    code = failure.code or {429: 130429, 400: 100, 401: 190, 403: 10}.get(failure.status, 131000)
    status = 400 if failure.status == 429 and failure.code is None else failure.status
    return _graph_error(status, code, failure.description or known.get(code, "Error"))


def _wecom_error(code: int, message: str | None = None) -> tuple[Response, int]:
    default = {
        93000: "invalid webhook url, hint: [1700000000_test], from ip: 127.0.0.1",
        45009: "api freq out of limit, hint: [1700000000_test]",
        40058: "invalid Parameter, hint: [1700000000_test]",
        40008: "invalid message type, hint: [1700000000_test]",
        -1: "system busy",
    }
    return JSONResponse({"errcode": code, "errmsg": message or default.get(code, "error")}), code


def _wamid(n: int) -> str:
    return "wamid.HBgL" + hashlib.sha1(str(n).encode()).hexdigest()[:24].upper()
