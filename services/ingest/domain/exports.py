"""Chat-log imports: a Telegram Desktop export (result.json) and a documented CSV.

Both become the same `ChatMessage` items a webhook would give, with the same
keys, so an import and the webhook of the same message are one event.

Telegram Desktop export (single chat, JSON): {name, type, id, messages: [{id,
type: "message" | "service", date, date_unixtime, from, from_id: "user123",
text: str | [str | {type, text}], reply_to_message_id, edited, edited_unixtime}]}.
The export's chat id lacks the Bot API prefix: a supergroup 123 is -100123 to a
webhook, a basic group 123 is -123; we add it so the keys match.

CSV (UTF-8, header row, comma separated), one message per row:
    chat_id,message_id,sent_at,user_id,user_name,text[,reply_to][,edited_at]
sent_at/edited_at: ISO 8601 (UTC when no zone) or Unix seconds. The platform is
given on the command line (`--platform`); the dedupe key is platform:chat_id:message_id.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain import fields as f
from services.ingest.domain.model import ChatMessage, UnknownShape

CSV_COLUMNS = ("chat_id", "message_id", "sent_at", "user_id", "user_name", "text")
CSV_OPTIONAL = ("reply_to", "edited_at")
_SUPERGROUP_PREFIX = {
    "private_supergroup",
    "public_supergroup",
    "private_channel",
    "public_channel",
}


class BadRecord(ValueError):
    """One record of an import that cannot be read; the import skips it and says why."""


def telegram_export_chat(export: Any) -> tuple[str, str | None, list[Any]]:
    """(chat id as the Bot API names it, chat title, the messages) of a single-chat export."""
    root = f.obj(export, "export")
    if "messages" not in root:
        raise UnknownShape(
            "export: no messages; export one chat (Chat > Export chat history > JSON), "
            "not the whole account"
        )
    chat_id = f.integer(root, "id", "export")
    kind = root.get("type")
    if kind in _SUPERGROUP_PREFIX:
        bot_api_id = f"-100{chat_id}"
    elif kind == "private_group":
        bot_api_id = f"-{chat_id}"
    else:
        bot_api_id = str(chat_id)
    return bot_api_id, f.optional_text(root, "name"), f.items(root["messages"], "export.messages")


def telegram_export_message(message: Any, chat_id: str, title: str | None) -> list[ChatMessage]:
    """The message, plus its last edit as a separate item (as the webhook would have seen it)."""
    try:
        record = f.obj(message, "message")
        if record.get("type") != "message":
            return []  # service messages (joins, pins, calls)
        content = _export_text(record.get("text"))
        if not content.strip():
            return []  # media without caption
        message_id = str(f.integer(record, "id", "message"))
        user_id = _export_user(f.text(record, "from_id", "message", max_len=64))
        name = f.clip(f.optional_text(record, "from") or user_id, 128)
        at = _export_time(record, "date")
        reply = record.get("reply_to_message_id")
        reply_to = str(reply) if isinstance(reply, int) and not isinstance(reply, bool) else None
        base = ChatMessage("telegram", chat_id, message_id, user_id, name, content, at, reply_to)
        base = replace(base, chat_title=title)
        if "edited_unixtime" not in record and "edited" not in record:
            return [base]
        return [base, replace(base, at=_export_time(record, "edited"), edited=True)]
    except UnknownShape as exc:
        raise BadRecord(str(exc)) from None


def _export_text(value: Any) -> str:
    if isinstance(value, str):
        return f.clip(value, 4096)
    if isinstance(value, list):  # rich text: plain strings and {type, text} entities
        parts = (
            p if isinstance(p, str) else p.get("text") if isinstance(p, dict) else None
            for p in value
        )
        return f.clip("".join(p for p in parts if isinstance(p, str)), 4096)
    return ""


def _export_user(from_id: str) -> str:
    """user123 -> 123 (a Telegram user id); channel123 -> -100123 (as sender_chat.id)."""
    if from_id.startswith("user") and from_id[4:].isdigit():
        return from_id[4:]
    if from_id.startswith("channel") and from_id[7:].isdigit():
        return f"-100{from_id[7:]}"
    return from_id


def _export_time(record: dict[str, Any], key: str) -> datetime:
    """`<key>_unixtime` when the export has it (newer exports), else `<key>` read as UTC."""
    unix = record.get(f"{key}_unixtime")
    if unix is not None:
        return f.unix_time(unix, f"message.{key}_unixtime")
    return parse_time(record.get(key), f"message.{key}")


def parse_time(value: Any, path: str) -> datetime:
    """ISO 8601 (UTC when no zone) or Unix seconds."""
    if isinstance(value, str) and value.strip().isdecimal():
        return f.unix_time(value.strip(), path)
    if not isinstance(value, str):
        raise UnknownShape(f"{path}: expected a time")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UnknownShape(f"{path}: not ISO 8601 or Unix seconds: {value[:40]!r}") from None


def csv_header_problem(header: list[str] | None) -> str | None:
    if not header:
        return "empty file: the first row must name the columns"
    missing = [c for c in CSV_COLUMNS if c not in header]
    return f"missing columns: {', '.join(missing)}" if missing else None


def csv_message(row: dict[str, str | None], platform: str) -> list[ChatMessage]:
    """One CSV row (with the header's names) into a message, plus its edit when edited_at is set."""
    try:
        values = {k: (row.get(k) or "").strip() for k in (*CSV_COLUMNS, *CSV_OPTIONAL)}
        for column in ("chat_id", "message_id", "user_id"):
            if not values[column] or ":" in values[column] or len(values[column]) > 128:
                raise UnknownShape(f"{column}: required, at most 128 characters, no ':'")
        text = (row.get("text") or "").strip()
        if not text:
            raise UnknownShape("text: empty")
        at = parse_time(values["sent_at"], "sent_at")
        base = ChatMessage(
            platform=platform,
            chat_id=values["chat_id"],
            message_id=values["message_id"],
            user_id=values["user_id"],
            user_name=f.clip(values["user_name"] or values["user_id"], 128),
            text=f.clip(text, 4096),
            at=at,
            reply_to=values["reply_to"] or None,
        )
        if not values["edited_at"]:
            return [base]
        edited_at = parse_time(values["edited_at"], "edited_at")
        return [base, replace(base, at=edited_at, edited=True)]
    except UnknownShape as exc:
        raise BadRecord(str(exc)) from None
