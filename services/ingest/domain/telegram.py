"""A Telegram Bot API `Update` (as POSTed to a webhook) into ingest items.

Documented shapes used (core.telegram.org/bots/api): Update{update_id, message |
edited_message | ...}; Message{message_id, date, chat{id, type, title}, from
(User{id, first_name, last_name, username}) or sender_chat, text | caption,
reply_to_message, edit_date, new_chat_members[], left_chat_member, photo (PhotoSize[]:
{file_id, file_unique_id, width, height, file_size?}, one per size the server made),
voice (Voice{file_id, file_unique_id, duration, mime_type?, file_size?}), audio
(Audio{file_id, file_unique_id, duration, mime_type?, file_size?, ...})}.
Only group and supergroup chats are ingested; other update kinds are skipped.

A photo, voice note or audio file becomes the line's `media` (fetched later with getFile,
which serves a bot files of up to 20 MB); the caption is the text and may be empty. A
file over that limit cannot be fetched: the line keeps its caption and a note says so.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from services.ingest.domain import fields as f
from services.ingest.domain.model import (
    ChatMessage,
    Media,
    MemberChange,
    Normalised,
    UnknownShape,
)

PLATFORM = "telegram"
GROUP_CHATS = {"group", "supergroup"}
# getFile: "For the moment, bots can download files of up to 20MB in size."
DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024
FILE_ID_MAX = 512
# What a line says of each media kind it names.
MEDIA_LABELS = {"photo": "photo", "voice": "voice message", "audio": "audio file"}


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
    content = content if isinstance(content, str) and content.strip() else ""
    media, note = _media(message, path)
    if note:
        content = f"{content}\n{note}" if content else note
    if not content and media is None:
        return Normalised.skip("message without text or media (sticker, video, service message)")
    sent_at = None
    if edited:
        sent_at, at = at, f.unix_time(message.get("edit_date"), f"{path}.edit_date")
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
                media=media,
                sent_at=sent_at,
            ),
        )
    )


def _media(message: dict[str, Any], path: str) -> tuple[Media | None, str | None]:
    """The message's photo (its largest size a bot may download), voice note or audio
    file; or, when the file is over getFile's limit, the note the line carries instead."""
    if "photo" in message:
        sizes = [
            _photo_size(f.obj(raw, f"{path}.photo[{i}]"), f"{path}.photo[{i}]")
            for i, raw in enumerate(f.items(message["photo"], f"{path}.photo"))
        ]
        if not sizes:
            raise UnknownShape(f"{path}.photo: no sizes")
        fitting = [s for s in sizes if s.file_size is None or s.file_size <= DOWNLOAD_LIMIT_BYTES]
        if not fitting:
            return None, _too_large("photo", min(s.file_size or 0 for s in sizes))
        best = max(fitting, key=lambda s: (s.width * s.height, s.file_size or 0))
        return Media("image", best.file_id, None, best.file_size), None
    for key in ("voice", "audio"):
        if key not in message:
            continue
        where = f"{path}.{key}"
        body = f.obj(message[key], where)
        file_id = f.text(body, "file_id", where, max_len=FILE_ID_MAX)
        duration = f.integer(body, "duration", where)
        size = _optional_size(body, where)
        if size is not None and size > DOWNLOAD_LIMIT_BYTES:
            return None, _too_large(key, size)
        mime = f.optional_text(body, "mime_type")
        mime = mime if mime and len(mime) <= 100 else None
        return Media("voice", file_id, mime, size, float(max(duration, 0))), None
    return None, None


class PhotoSize(NamedTuple):
    file_id: str
    width: int
    height: int
    file_size: int | None


def _photo_size(size: dict[str, Any], path: str) -> PhotoSize:
    return PhotoSize(
        f.text(size, "file_id", path, max_len=FILE_ID_MAX),
        f.integer(size, "width", path),
        f.integer(size, "height", path),
        _optional_size(size, path),
    )


def _optional_size(body: dict[str, Any], path: str) -> int | None:
    if body.get("file_size") is None:
        return None
    size = f.integer(body, "file_size", path)
    if size < 0:
        raise UnknownShape(f"{path}.file_size: expected a size")
    return size


def _too_large(key: str, size: int) -> str:
    return (
        f"[{MEDIA_LABELS[key]} not shown: {size / 1024**2:.1f} MB, over the "
        f"{DOWNLOAD_LIMIT_BYTES // 1024**2} MB a Telegram bot may download]"
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
