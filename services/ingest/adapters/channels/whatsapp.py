"""WhatsApp Cloud API (Graph API, "Send messages", "Groups API") behind the Channel port.

`POST {graph}/{version}/{phone_number_id}/messages` with `Authorization: Bearer <token>`,
`{"messaging_product": "whatsapp", "recipient_type": "group", "to": <group id>, "type": ...}`:
- text: `*title*` then the text (WhatsApp's own bold), a mention as "@name";
- one button: `interactive` `cta_url` (body, the photo as its header, display_text <= 20
  characters); more buttons than one (cta_url carries one) go as "text: url" lines;
- a photo without a button: `image` with `link` and the text as caption (<= 1024, else the
  image and then the text);
- a reply: `context.message_id`;
- no edits: `can_edit` False, the sender replies to the message instead.
Answer: `{"messaging_product", "contacts", "messages": [{"id": "wamid..."}]}`.

Outside the 24-hour window (error 131047) only a template goes. SendToGroup has no template
field, so the adapter is given one approved template (settings WHATSAPP_TEMPLATE_NAME,
WHATSAPP_TEMPLATE_LANGUAGE) with a single body parameter {{1}}, which carries the message's
text; with none configured, 131047 is `outside_window` (permanent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from services.ingest.adapters.channels.http import ChannelHttp, server_error, text_of
from services.ingest.domain.channels import ChannelLimits, Delivered, DeliveryError, Rate
from shared.events.commands import SendToGroup

PLATFORM = "whatsapp"
BODY_MAX = 4096
CAPTION_MAX = 1024  # an image's caption, an interactive message's body
BUTTON_TEXT_MAX = 20  # cta_url display_text
TEMPLATE_PARAMETER_MAX = 1024
RATE_LIMITS = {130429: 1.0, 131056: 6.0, 131048: 60.0, 80007: 60.0, 4: 60.0}  # code: wait s
REENGAGEMENT = 131047
GROUP_UNKNOWN = 131041
TRANSIENT = {1, 2, 131000, 131016, 133004}  # unknown, service unavailable, server busy
FORBIDDEN = {10, 200, 368, 131031, 131207}  # permission, blocked for policy, group suspended


@dataclass(frozen=True)
class WhatsAppTemplate:
    """An approved message template whose body is one parameter, {{1}}: our text."""

    name: str
    language: str = "en"


class WhatsAppChannel:
    platform = PLATFORM
    can_edit = False

    def __init__(
        self,
        graph_base: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        timeout_s: float,
        *,
        messages_per_s: int = 80,
        pair_per_minute: int = 10,
        template: WhatsAppTemplate | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = f"{graph_base.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self._phone_number_id = phone_number_id
        self._auth = {"Authorization": f"Bearer {access_token}"}
        self._template = template
        self._http = ChannelHttp(PLATFORM, timeout_s, transport)
        # The number's throughput (80/s by default, more once Meta raises it) and the pair
        # rate limit (about one message in 6 s to one recipient; a group counts as one).
        self.limits = ChannelLimits(
            overall=(Rate(messages_per_s, 1.0),), per_chat=(Rate(pair_per_minute, 60.0),)
        )

    async def send(self, message: SendToGroup) -> Delivered:
        if not self._phone_number_id:
            raise DeliveryError(
                "unauthorized", "WHATSAPP_PHONE_NUMBER_ID is not set", pauses_binding=True
            )
        try:
            return await self._send(message)
        except DeliveryError as error:
            if error.code != "outside_window" or self._template is None:
                raise
        return Delivered(await self._post(message, self._template_body(message)))

    async def _send(self, message: SendToGroup) -> Delivered:
        text = render(message)
        links = message.buttons
        if len(message.buttons) == 1 and len(text) <= CAPTION_MAX:
            button = message.buttons[0]
            interactive: dict[str, Any] = {
                "type": "cta_url",
                "body": {"text": text},
                "action": {
                    "name": "cta_url",
                    "parameters": {"display_text": _short(button.text), "url": button.url},
                },
            }
            if message.photo_url:
                interactive["header"] = {"type": "image", "image": {"link": message.photo_url}}
            body = {"type": "interactive", "interactive": interactive}
            return Delivered(await self._post(message, body))
        text = "\n".join([text, *(f"{b.text}: {b.url}" for b in links)])[:BODY_MAX]
        if message.photo_url:
            fits = len(text) <= CAPTION_MAX
            image = {"link": message.photo_url} | ({"caption": text} if fits else {})
            sent = await self._post(message, {"type": "image", "image": image})
            if fits:
                return Delivered(sent)
        body = {"type": "text", "text": {"body": text, "preview_url": bool(links)}}
        return Delivered(await self._post(message, body))

    def _template_body(self, message: SendToGroup) -> dict[str, Any]:
        assert self._template is not None
        # A template parameter may hold no newline, tab or more than 4 spaces in a row.
        flat = re.sub(r"\s*\n\s*", " · ", render(message)).replace("\t", " ")
        flat = re.sub(r" {4,}", "   ", flat)[:TEMPLATE_PARAMETER_MAX]
        template = {
            "name": self._template.name,
            "language": {"code": self._template.language},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": flat}]}],
        }
        return {"type": "template", "template": template}

    async def _post(self, message: SendToGroup, body: dict[str, Any]) -> str:
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "group",
            "to": message.chat_id,
        } | body
        if message.reply_to:
            payload["context"] = {"message_id": message.reply_to}
        status, answer = await self._http.post(self._url, payload, self._auth)
        if status == 200:
            messages = answer.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                message_id = messages[0].get("id")
                if isinstance(message_id, str) and message_id:
                    return message_id
            raise server_error(PLATFORM, status, "no message id in its answer")
        raise _error(status, answer)

    async def edit(self, message: SendToGroup, platform_message_id: str) -> Delivered:
        raise DeliveryError("bad_request", "WhatsApp cannot edit a sent message", permanent=True)

    async def aclose(self) -> None:
        await self._http.aclose()


def render(message: SendToGroup) -> str:
    """Our plain text in WhatsApp's formatting: the title bold (its own asterisks dropped)."""
    parts = []
    if message.title:
        title = message.title.replace("*", "").strip()
        if title:
            parts.append(f"*{title}*\n")
    if message.mention:
        parts.append(f"@{message.mention.name} ")
    parts.append(message.text)
    return "".join(parts)


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT_MAX else text[: BUTTON_TEXT_MAX - 1] + "…"


def _error(status: int, answer: dict[str, Any]) -> DeliveryError:
    given = answer.get("error")
    error: dict[str, Any] = given if isinstance(given, dict) else {}
    code: int = error["code"] if isinstance(error.get("code"), int) else 0
    given = error.get("error_data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    detail = " ".join(
        filter(None, [f"{code}" if code else f"HTTP {status}", text_of(error.get("message")),
                      text_of(data.get("details"))])
    )  # fmt: skip
    if code in RATE_LIMITS or status == 429:
        return DeliveryError("rate_limited", detail, retry_after_s=RATE_LIMITS.get(code))
    if code == REENGAGEMENT:
        return DeliveryError("outside_window", detail, permanent=True)
    if 132000 <= code < 133000:
        return DeliveryError("template_rejected", detail, pauses_binding=True)
    if code == GROUP_UNKNOWN:
        return DeliveryError("chat_not_found", detail, pauses_binding=True)
    if code == 190 or status == 401:
        return DeliveryError(
            "unauthorized", f"{detail} (check WHATSAPP_ACCESS_TOKEN)", pauses_binding=True
        )
    if code in FORBIDDEN or status == 403:
        return DeliveryError("forbidden", detail, pauses_binding=True)
    if code in TRANSIENT or status >= 500:
        return server_error(PLATFORM, status, detail)
    return DeliveryError("bad_request", detail, permanent=True)
