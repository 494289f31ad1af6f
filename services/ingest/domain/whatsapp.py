"""A WhatsApp Business Cloud API webhook body into ingest items.

Documented shape (developers.facebook.com, WhatsApp webhooks, `messages` field):
{object: "whatsapp_business_account", entry: [{id, changes: [{field: "messages",
value: {messaging_product, metadata{phone_number_id, display_phone_number},
contacts: [{profile{name}, wa_id}], messages: [{from, id, timestamp, type,
text{body} | reaction{message_id, emoji} | image{id, mime_type, sha256, caption?} |
audio{id, mime_type, sha256, voice}, context{id}, group_id?}], statuses: [...]}}]}]}.

The chat is the message's `group_id` for group messages, else the business phone
number (`phone_number_id`): its one-to-one conversations form one community inbox.
Text, reactions, images (the caption is the text, maybe empty) and audio (voice notes
and audio files) are ingested; the media id is fetched later (GET /<version>/<media id>
with the access token gives a short-lived URL, downloaded with the same token). Other
message types and delivery statuses are skipped.
"""

from __future__ import annotations

from typing import Any, Literal

from services.ingest.domain import fields as f
from services.ingest.domain.model import (
    ChatMessage,
    Item,
    Media,
    Normalised,
    Reaction,
    UnknownShape,
)

PLATFORM = "whatsapp"
MEDIA_KINDS: dict[str, Literal["image", "voice"]] = {"image": "image", "audio": "voice"}


def normalise_webhook(body: Any) -> Normalised:
    root = f.obj(body, "body")
    if root.get("object") != "whatsapp_business_account":
        raise UnknownShape('body.object: expected "whatsapp_business_account"')
    result = Normalised()
    for i, entry in enumerate(f.items(root.get("entry"), "body.entry")):
        where = f"entry[{i}]"
        for j, change in enumerate(f.items(f.obj(entry, where).get("changes"), f"{where}.changes")):
            result += _change(f.obj(change, f"{where}.changes[{j}]"), f"{where}.changes[{j}]")
    return result


def _change(change: dict[str, Any], path: str) -> Normalised:
    field_name = change.get("field")
    if field_name != "messages":
        return Normalised.skip(f"webhook field {str(field_name)[:40]!r} is not ingested")
    value = f.obj(change.get("value"), f"{path}.value")
    metadata = f.obj(value.get("metadata"), f"{path}.value.metadata")
    business = f.text(metadata, "phone_number_id", f"{path}.value.metadata", max_len=64)
    names = _contact_names(value.get("contacts"))
    messages = value.get("messages")
    if messages is None:
        return Normalised.skip("delivery statuses are not ingested")
    found: list[Item] = []
    ignored: list[str] = []
    for k, raw in enumerate(f.items(messages, f"{path}.value.messages")):
        item = _message(f.obj(raw, f"{path}.value.messages[{k}]"), business, names, path, k)
        if isinstance(item, str):
            ignored.append(item)
        else:
            found.append(item)
    return Normalised(tuple(found), tuple(ignored))


def _contact_names(contacts: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        wa_id = f.optional_text(contact, "wa_id")
        profile = contact.get("profile")
        name = f.optional_text(profile, "name") if isinstance(profile, dict) else None
        if wa_id and name:
            names[wa_id] = f.clip(name, 128)
    return names


def _message(
    message: dict[str, Any], business: str, names: dict[str, str], path: str, k: int
) -> Item | str:
    where = f"{path}.value.messages[{k}]"
    sender = f.text(message, "from", where, max_len=64)
    message_id = f.text(message, "id", where, max_len=128)
    at = f.unix_time(message.get("timestamp"), f"{where}.timestamp")
    kind = f.text(message, "type", where, max_len=32)
    chat_id = business
    if "group_id" in message:
        chat_id = f.text(message, "group_id", where, max_len=128)
    name = names.get(sender, sender)
    context = message.get("context")
    reply_to = f.optional_text(context, "id") if isinstance(context, dict) else None
    if kind == "text":
        body = f.text(f.obj(message.get("text"), f"{where}.text"), "body", f"{where}.text")
        return ChatMessage(PLATFORM, chat_id, message_id, sender, name, body, at, reply_to)
    if kind in MEDIA_KINDS:
        content = f.obj(message.get(kind), f"{where}.{kind}")
        media_id = f.text(content, "id", f"{where}.{kind}", max_len=512)
        mime = f.optional_text(content, "mime_type")
        caption = f.optional_text(content, "caption") or ""
        caption = caption if caption.strip() else ""
        media = Media(MEDIA_KINDS[kind], media_id, mime if mime and len(mime) <= 100 else None)
        return ChatMessage(
            PLATFORM,
            chat_id,
            message_id,
            sender,
            name,
            f.clip(caption, 4096),
            at,
            reply_to,
            media=media,
        )
    if kind == "reaction":
        reaction = f.obj(message.get("reaction"), f"{where}.reaction")
        target = f.text(reaction, "message_id", f"{where}.reaction", max_len=128)
        emoji = f.optional_text(reaction, "emoji")  # absent: the reaction was removed
        emoji = f.clip(emoji, 32) if emoji else None
        return Reaction(PLATFORM, chat_id, message_id, target, sender, name, emoji, at)
    return f"message type {kind!r} is not ingested"
