"""WeCom (企业微信) group robots behind the Channel port: outbound only.

A binding's chat_id is the robot's webhook key; `POST {base}/cgi-bin/webhook/send?key=KEY`
(developer.work.weixin.qq.com/document/path/99110) answers HTTP 200 with `{"errcode",
"errmsg"}` whatever happened:
- a photo: a `news` card (title, description, picurl; a tap opens the first button's url,
  or the photo);
- a mention: `text` with `mentioned_list: [user id]` (markdown cannot notify);
- otherwise `markdown`: the title in **bold**, the buttons as [text](url) links. Our plain
  text must not turn into markup (or a `<@all>`): its markdown characters become their
  full-width forms, which read naturally in Chinese text.
- no replies (the message goes to the group, unthreaded), no edits (`can_edit` False), and
  no message id in the answer: the id recorded is one we make from the message's key.
Errors: 93000 the key is invalid (the robot was removed: the binding pauses), 45009 over
20 messages a minute, 40058 content too long, -1 busy.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import httpx

from services.ingest.adapters.channels.http import ChannelHttp, server_error, text_of
from services.ingest.domain.channels import ChannelLimits, Delivered, DeliveryError, Rate
from shared.events.commands import SendToGroup

PLATFORM = "wecom"
TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096
# A robot posts at most 20 messages a minute.
LIMITS = ChannelLimits(overall=(), per_chat=(Rate(20, 60.0),))
INVALID_KEY = {93000, 93004, 93008}  # invalid webhook url, robot disabled, not in the group
BUSY = {-1, 45033}
FREQUENCY = 45009
FULL_WIDTH = str.maketrans({"*": "＊", "_": "＿", "[": "［", "]": "］", "`": "｀",
                            "<": "＜", ">": "＞", "#": "＃", "~": "～"})  # fmt: skip


class WeComChannel:
    platform = PLATFORM
    limits = LIMITS
    can_edit = False

    def __init__(
        self, api_base: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._url = f"{api_base.rstrip('/')}/cgi-bin/webhook/send"
        self._http = ChannelHttp(PLATFORM, timeout_s, transport)

    async def send(self, message: SendToGroup) -> Delivered:
        status, answer = await self._http.post(
            f"{self._url}?key={quote(message.chat_id, safe='')}", body(message)
        )
        if status != 200:
            raise server_error(PLATFORM, status)
        code = answer.get("errcode")
        if code == 0:
            return Delivered("wecom-" + hashlib.sha256(message.key.encode()).hexdigest()[:24])
        raise _error(code if isinstance(code, int) else -1, text_of(answer.get("errmsg")))

    async def edit(self, message: SendToGroup, platform_message_id: str) -> Delivered:
        raise DeliveryError("bad_request", "a WeCom robot cannot edit a message", permanent=True)

    async def aclose(self) -> None:
        await self._http.aclose()


def body(message: SendToGroup) -> dict[str, Any]:
    """The robot's message for this SendToGroup (see the module's docstring)."""
    if message.photo_url and not message.mention:
        article = {
            "title": message.title or message.text.split("\n", 1)[0],
            "description": message.text if message.title else "",
            "url": message.buttons[0].url if message.buttons else message.photo_url,
            "picurl": message.photo_url,
        }
        return {"msgtype": "news", "news": {"articles": [article]}}
    if message.mention:
        lines = [message.title or "", f"@{message.mention.name} {message.text}"]
        lines += [f"{b.text}: {b.url}" for b in message.buttons]
        content = _cut("\n".join(line for line in lines if line), TEXT_MAX_BYTES)
        text = {"content": content, "mentioned_list": [message.mention.user_id]}
        return {"msgtype": "text", "text": text}
    parts = [f"**{_plain(message.title)}**"] if message.title else []
    parts.append(_plain(message.text))
    parts += [f"[{_plain(b.text)}]({b.url})" for b in message.buttons]
    return {
        "msgtype": "markdown",
        "markdown": {"content": _cut("\n".join(parts), MARKDOWN_MAX_BYTES)},
    }


def _plain(text: str) -> str:
    return text.translate(FULL_WIDTH)


def _cut(text: str, max_bytes: int) -> str:
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode(errors="ignore") + "…"


def _error(code: int, message: str) -> DeliveryError:
    detail = f"{code} {message}".strip()
    if code == FREQUENCY:
        return DeliveryError("rate_limited", detail, retry_after_s=60.0)
    if code in INVALID_KEY:
        return DeliveryError("bot_removed", detail, pauses_binding=True)
    if code in BUSY:
        return server_error(PLATFORM, 200, detail)
    return DeliveryError("bad_request", detail, permanent=True)
