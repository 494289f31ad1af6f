"""A Telegram Bot API `Update` (as POSTed to a webhook) into ingest items.

Documented shapes used (core.telegram.org/bots/api): Update{update_id, message |
edited_message | ...}; Message{message_id, date, chat{id, type, title}, from
(User{id, first_name, last_name, username}) or sender_chat, text | caption,
reply_to_message, edit_date, new_chat_members[], left_chat_member}.
Only group and supergroup chats are ingested; other update kinds are skipped.
"""

from __future__ import annotations

from typing import Any

from services.ingest.domain import fields as f
from services.ingest.domain.model import (
    ChatMessage,
    MemberChange,
    Normalised,
    UnknownShape,
)

PLATFORM = "telegram"
GROUP_CHATS = {"group", "supergroup"}


def normalise_update(update: Any) -> Normalised:
    body = f.obj(update, "update")
    f.integer(body, "update_id", "update")
    for kind in ("message", "edited_message"):
        if kind in body:
            return _message(f.obj(body[kind], kind), kind, edited=kind == "edited_message")
    other = next((key for key in body if key != "update_id"), None)
    if other is None:
        raise UnknownShape("update: no content besides update_id")
    return Normalised.skip(f"update kind {str(other)[:40]!r} is not ingested")


def _message(message: dict[str, Any], path: str, edited: bool) -> Normalised:
    message_id = str(f.integer(message, "message_id", path))
    at = f.unix_time(message.get("date"), f"{path}.date")
    chat = f.obj(message.get("chat"), f"{path}.chat")
    chat_id = str(f.integer(chat, "id", f"{path}.chat"))
    chat_type = f.text(chat, "type", f"{path}.chat", max_len=32)
    if chat_type not in GROUP_CHATS:
        return Normalised.skip(f"{chat_type} chats are not ingested (groups only)")
    title = f.optional_text(chat, "title")
    sender_id, sender_name = _sender(message, path)

    if "new_chat_members" in message:
        joined = f.items(message["new_chat_members"], f"{path}.new_chat_members")
        changes = []
        for i, raw in enumerate(joined):
            where = f"{path}.new_chat_members[{i}]"
            user_id, name = _user(f.obj(raw, where), where)
            by = sender_id if sender_id != user_id else None
            changes.append(
                MemberChange(PLATFORM, chat_id, message_id, user_id, name, True, at, by, title)
            )
        return Normalised(items=tuple(changes))
    if "left_chat_member" in message:
        where = f"{path}.left_chat_member"
        user_id, name = _user(f.obj(message["left_chat_member"], where), where)
        by = sender_id if sender_id != user_id else None
        return Normalised(
            items=(
                MemberChange(PLATFORM, chat_id, message_id, user_id, name, False, at, by, title),
            )
        )

    content = message.get("text", message.get("caption"))
    if not isinstance(content, str) or not content.strip():
        return Normalised.skip("message without text (photo, sticker, service message)")
    if edited:
        at = f.unix_time(message.get("edit_date"), f"{path}.edit_date")
    reply_to = None
    if isinstance(message.get("reply_to_message"), dict):
        target = message["reply_to_message"].get("message_id")
        reply_to = str(target) if isinstance(target, int) and not isinstance(target, bool) else None
    return Normalised(
        items=(
            ChatMessage(
                platform=PLATFORM,
                chat_id=chat_id,
                message_id=message_id,
                user_id=sender_id,
                user_name=sender_name,
                text=f.clip(content, 4096),
                at=at,
                reply_to=reply_to,
                edited=edited,
                chat_title=title,
            ),
        )
    )


def _sender(message: dict[str, Any], path: str) -> tuple[str, str]:
    """The author: `from`, or `sender_chat` for anonymous admins and linked channels."""
    if isinstance(message.get("from"), dict):
        return _user(message["from"], f"{path}.from")
    if isinstance(message.get("sender_chat"), dict):
        chat = message["sender_chat"]
        chat_id = str(f.integer(chat, "id", f"{path}.sender_chat"))
        return chat_id, f.clip(f.optional_text(chat, "title") or chat_id, 128)
    raise UnknownShape(f"{path}: neither from nor sender_chat")


def _user(user: dict[str, Any], path: str) -> tuple[str, str]:
    user_id = str(f.integer(user, "id", path))
    first, last = f.optional_text(user, "first_name"), f.optional_text(user, "last_name")
    name = " ".join(part for part in (first, last) if part)
    name = name or f.optional_text(user, "username") or user_id
    return user_id, f.clip(name, 128)
