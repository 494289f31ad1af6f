"""Test payloads built from each platform's documented shapes.

Telegram: Bot API `Update` / `Message` / `User` / `Chat` / `PhotoSize` / `Voice`
(core.telegram.org/bots/api).
WhatsApp: Cloud API `messages` webhook (text, reaction, image, audio, group_id, contacts,
statuses).
Generic: this project's signed webhook schema (services/ingest/domain/generic.py).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from services.ingest.domain.signatures import meta_signature, sign_generic

TELEGRAM_SECRET = "test-telegram-secret"
WHATSAPP_APP_SECRET = "test-whatsapp-app-secret"
WHATSAPP_VERIFY_TOKEN = "test-verify-token"
WEBHOOK_SECRET = "test-webhook-secret"
GROUP_ID = -1001234567890  # a supergroup, as the Bot API numbers it
PHONE_NUMBER_ID = "106540352242922"

_update_ids = itertools.count(10_000)


def now() -> int:
    return int(time.time())


def telegram_user(user_id: int = 111, first: str = "Lily", last: str | None = "Wang") -> dict:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first}
    if last:
        user["last_name"] = last
    user["username"] = first.lower()
    user["language_code"] = "en"
    return user


def telegram_chat(chat_id: int = GROUP_ID, kind: str = "supergroup") -> dict:
    chat: dict[str, Any] = {"id": chat_id, "type": kind}
    if kind in ("group", "supergroup"):
        chat["title"] = "Aunt Mei's fruit group 梅姨水果团"
    else:
        chat["first_name"] = "Lily"
    return chat


def telegram_message(
    text: str = "+1",
    message_id: int = 42,
    chat_id: int = GROUP_ID,
    user: dict | None = None,
    date: int | None = None,
    kind: str = "supergroup",
    **extra: Any,
) -> dict:
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": message_id,
            "from": user or telegram_user(),
            "chat": telegram_chat(chat_id, kind),
            "date": date or now(),
            "text": text,
            **extra,
        },
    }


def telegram_photo(
    file_id: str = "AgACAgQAAxkBAAIBZ2cPhoto",
    caption: str | None = None,
    message_id: int = 70,
    file_size: int | None = 52_000,
    **extra: Any,
) -> dict:
    """A photo as the Bot API sends it: one PhotoSize per size the server made, smallest
    first, `file_id` of each its own (the largest here is `file_id`)."""
    update = telegram_message(message_id=message_id, **extra)
    message = update["message"]
    del message["text"]
    message["photo"] = [
        {"file_id": f"{file_id}-s", "file_unique_id": "AQADs", "file_size": 1_200,
         "width": 90, "height": 68},
        {"file_id": f"{file_id}-m", "file_unique_id": "AQADm", "file_size": 14_000,
         "width": 320, "height": 240},
        {"file_id": file_id, "file_unique_id": "AQADx", "width": 1280, "height": 960,
         **({"file_size": file_size} if file_size is not None else {})},
    ]  # fmt: skip
    if caption is not None:
        message["caption"] = caption
    return update


def telegram_voice(
    file_id: str = "AwACAgQAAxkBAAIBaGcVoice",
    duration: int = 2,
    message_id: int = 71,
    file_size: int | None = 8_130,
    key: str = "voice",
    **extra: Any,
) -> dict:
    """A voice note (Voice{file_id, file_unique_id, duration, mime_type, file_size});
    `key="audio"` for an audio file (Audio, the same fields and a few more)."""
    update = telegram_message(message_id=message_id, **extra)
    message = update["message"]
    del message["text"]
    voice: dict[str, Any] = {
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_id": file_id,
        "file_unique_id": "AgADvoice",
    }
    if file_size is not None:
        voice["file_size"] = file_size
    if key == "audio":
        voice |= {"performer": "Aunt Mei", "title": "cherries", "file_name": "c.ogg"}
    message[key] = voice
    return update


def telegram_edit(text: str, message_id: int = 42, edit_date: int | None = None) -> dict:
    update = telegram_message(text, message_id, date=now() - 30)
    message = update.pop("message")
    message["edit_date"] = edit_date or now()
    update["edited_message"] = message
    return update


def telegram_join(new_members: list[dict], message_id: int = 43) -> dict:
    update = telegram_message(message_id=message_id, user=new_members[0])
    del update["message"]["text"]
    update["message"]["new_chat_members"] = new_members
    update["message"]["new_chat_member"] = new_members[0]  # deprecated twin the API still sends
    update["message"]["new_chat_participant"] = new_members[0]
    return update


def telegram_left(member: dict, message_id: int = 44) -> dict:
    update = telegram_message(message_id=message_id, user=member)
    del update["message"]["text"]
    update["message"]["left_chat_member"] = member
    update["message"]["left_chat_participant"] = member
    return update


def whatsapp_body(messages: list[dict], names: dict[str, str] | None = None) -> dict:
    names = names or {"16505551234": "Sheena Nelson"}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [
                                {"profile": {"name": name}, "wa_id": wa_id}
                                for wa_id, name in names.items()
                            ],
                            "messages": messages,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def whatsapp_text(
    body: str = "Does it come in another color?",
    message_id: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    sender: str = "16505551234",
    group_id: str | None = None,
    reply_to: str | None = None,
) -> dict:
    message: dict[str, Any] = {
        "from": sender,
        "id": message_id,
        "timestamp": str(now()),
        "type": "text",
        "text": {"body": body},
    }
    if group_id:
        message["group_id"] = group_id
    if reply_to:
        message["context"] = {"from": "15550783881", "id": reply_to}
    return message


def whatsapp_image(
    media_id: str = "1003383421387256",
    caption: str | None = "New cherries 新到樱桃",
    message_id: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUIMAGE=",
    sender: str = "16505551234",
    group_id: str | None = None,
) -> dict:
    image: dict[str, Any] = {
        "mime_type": "image/jpeg",
        "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3",
        "id": media_id,
    }
    if caption is not None:
        image["caption"] = caption
    message: dict[str, Any] = {
        "from": sender,
        "id": message_id,
        "timestamp": str(now()),
        "type": "image",
        "image": image,
    }
    if group_id:
        message["group_id"] = group_id
    return message


def whatsapp_audio(
    media_id: str = "1003383421387999",
    voice: bool = True,
    message_id: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUIVOICE=",
    sender: str = "16505551234",
) -> dict:
    return {
        "from": sender,
        "id": message_id,
        "timestamp": str(now()),
        "type": "audio",
        "audio": {
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": "a8c2d1f0e3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
            "id": media_id,
            "voice": voice,
        },
    }


def whatsapp_reaction(target: str, emoji: str | None = "👍", message_id: str = "wamid.R1") -> dict:
    reaction: dict[str, Any] = {"message_id": target}
    if emoji is not None:
        reaction["emoji"] = emoji
    return {
        "from": "16505551234",
        "id": message_id,
        "timestamp": str(now()),
        "type": "reaction",
        "reaction": reaction,
    }


def whatsapp_statuses() -> dict:
    body = whatsapp_body([])
    value = body["entry"][0]["changes"][0]["value"]
    del value["messages"], value["contacts"]
    value["statuses"] = [
        {
            "id": "wamid.S1",
            "status": "delivered",
            "timestamp": str(now()),
            "recipient_id": "16505551234",
        }
    ]
    return body


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def whatsapp_headers(raw: bytes, secret: str = WHATSAPP_APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": meta_signature(raw, secret), "content-type": "application/json"}


def telegram_headers(secret: str = TELEGRAM_SECRET) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": secret, "content-type": "application/json"}


def generic_message(
    text: str = "+1 樱桃",
    message_id: str = "m-1001",
    chat_id: str = "line-group-7",
    platform: str = "line",
    **extra: Any,
) -> dict:
    return {
        "type": "message",
        "platform": platform,
        "chat_id": chat_id,
        "message_id": message_id,
        "user": {"id": "u-7", "name": "Lily 莉莉"},
        "text": text,
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }


def generic_headers(
    raw: bytes, timestamp: int | None = None, secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    ts = now() if timestamp is None else timestamp
    return {
        "X-Qunlive-Timestamp": str(ts),
        "X-Qunlive-Signature": sign_generic(raw, ts, secret),
        "content-type": "application/json",
    }
