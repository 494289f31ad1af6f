"""From ingest items to the project's events, and when a line also joins the live room."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.ingest.domain.fields import clip
from services.ingest.domain.model import ChatMessage, Item, MemberChange, Reaction, message_key
from shared.events import ChatMessageEdited, ChatMessagePosted
from shared.events.ingest import (
    ExternalMedia,
    ExternalMemberJoined,
    ExternalMemberLeft,
    ExternalMessageReceived,
    ExternalReactionPosted,
    IngestEvent,
    RawPayload,
)
from shared.events.media import PendingAttachment

Via = Literal["webhook", "import", "replay"]
# Live's chat source for each platform; any other platform came through the signed webhook.
ROOM_SOURCES = {"telegram": "telegram", "whatsapp": "whatsapp"}
LIVE_NAME_MAX = 64
LIVE_TEXT_MAX = 2000
CHAT_TITLE_MAX = 128  # IngestEvent.chat_title


def customer_ref(platform: str, user_id: str) -> str:
    """The external account as analytics will merge it: `telegram:123`."""
    return f"{platform}:{user_id}"


def ingest_event(
    item: Item, room_id: str, via: Via, in_room: bool = False, raw: RawPayload | None = None
) -> IngestEvent:
    """The item as the room's ingest event; `in_room`: its line also goes to the room (an
    edit: changes its line there, if that line is there); `raw`: the body it came in."""
    common = {
        "id": item.key,
        "room_id": room_id,
        "customer_id": customer_ref(item.platform, item.user_id),
        "occurred_at": item.at,
        "platform": item.platform,
        "chat_id": item.chat_id,
        "external_user_id": item.user_id,
        "display_name": item.user_name,
        "via": via,
        "chat_title": clip(item.chat_title, CHAT_TITLE_MAX) if item.chat_title else None,
        "raw": raw,
    }
    match item:
        case ChatMessage():
            return ExternalMessageReceived(
                **common,
                message_id=item.message_id,
                text=item.text,
                reply_to=item.reply_to,
                edited=item.edited,
                media=(
                    ExternalMedia(
                        kind=item.media.kind,
                        file_ref=item.media.file_ref,
                        content_type=item.media.content_type,
                        bytes=item.media.bytes,
                        duration_s=item.media.duration_s,
                    )
                    if item.media
                    else None
                ),
                in_room=in_room,
                original_sent_at=item.sent_at if item.edited else None,
            )
        case MemberChange(joined=True):
            return ExternalMemberJoined(**common, added_by=item.by)
        case MemberChange():
            return ExternalMemberLeft(**common, removed_by=item.by)
        case Reaction():
            return ExternalReactionPosted(
                **common,
                message_id=item.message_id,
                target_message_id=item.target_message_id,
                emoji=item.emoji,
            )
    raise TypeError(f"not an ingest item: {item!r}")


def room_chat_line(item: ChatMessage, room_id: str) -> ChatMessagePosted:
    """The same line in the room's conversation; its message_id is the dedupe key."""
    event = ingest_event(item, room_id, "webhook", in_room=True)
    assert isinstance(event, ExternalMessageReceived)
    return room_line(event)


def room_line(event: ExternalMessageReceived) -> ChatMessagePosted:
    """The room's line of an ingest chat event: the same every time it is built from the
    same event (id and content), so publishing it again is a duplicate LIVE drops. Its
    message_id is the event's id (the platform key); a picture or voice note is pending
    until ingest fetched it (chat.media_fetched, same message_id)."""
    return ChatMessagePosted(
        id=room_line_id(event.id),
        room_id=event.room_id,
        customer_id=event.customer_id,
        occurred_at=event.occurred_at,
        message_id=event.id,
        display_name=clip(event.display_name, LIVE_NAME_MAX),
        text=clip(event.text, LIVE_TEXT_MAX),
        source=ROOM_SOURCES.get(event.platform, "webhook"),
        reply_to=(
            message_key(event.platform, event.chat_id, event.reply_to) if event.reply_to else None
        ),
        attachment=PendingAttachment(media=event.media.kind) if event.media else None,
    )


def shows_in_room(item: Item, now: datetime, max_age: timedelta) -> bool:
    """Whether a stored chat line also goes to the live room (and so may become a claim).

    - only new chat lines: an edit changes its line (`may_edit_in_room`), it is never a
      line of its own (an edited "+1" must not buy twice); member changes and reactions
      stay ingest events;
    - not old lines (a late re-delivery or a backlog after downtime): a "+1" from
      before the host pinned something else must not buy the new offer.
    """
    if not isinstance(item, ChatMessage) or item.edited:
        return False
    return now - item.at <= max_age


def may_edit_in_room(item: Item, now: datetime, max_age: timedelta) -> bool:
    """Whether an edit may change its line in the room, before asking whether that line
    was shown there (`original_window`): a fresh edit (a backlog of old edits after
    downtime rewrites nothing and changes no claim, like old lines) whose original's send
    time the platform gave (Telegram `date`, the generic `sent_at`)."""
    return (
        isinstance(item, ChatMessage)
        and item.edited
        and item.sent_at is not None
        and now - item.at <= max_age
    )


# How far the original's send time (the platform's clock) may be from when LIVE stored its
# line (the NATS server's clock): the search for the line starts this much earlier.
CLOCK_MARGIN = timedelta(minutes=5)


def original_window(event: ExternalMessageReceived) -> datetime:
    """From when LIVE may hold the room line of an edit's original."""
    assert event.original_sent_at is not None
    return event.original_sent_at - CLOCK_MARGIN


def original_line_id(event: ExternalMessageReceived) -> str:
    """An edit's original's room line id (its Nats-Msg-Id in LIVE)."""
    return room_line_id(message_key(event.platform, event.chat_id, event.message_id))


def room_line_id(line_key: str) -> str:
    """The event id (Nats-Msg-Id) of the room line of the line with this key."""
    return f"chat:{line_key}"


def room_edit(event: ExternalMessageReceived) -> ChatMessageEdited:
    """The room's edit of a line: its own fact (the edit's key, so each edit is one event,
    published again it is a duplicate LIVE drops), naming the line by the original's key."""
    return ChatMessageEdited(
        id=room_line_id(event.id),
        room_id=event.room_id,
        customer_id=event.customer_id,
        occurred_at=event.occurred_at,
        message_id=message_key(event.platform, event.chat_id, event.message_id),
        text=clip(event.text, LIVE_TEXT_MAX),
        source=ROOM_SOURCES.get(event.platform, "webhook"),
    )


# Of LIVE's duplicate window, the part in which a re-delivery may re-send its room line;
# the rest absorbs a difference between ingest's clock and the NATS server's.
RESEND_SHARE = 0.75


def resends_to_room(first_stored_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether a line stored in INGEST may (still, or again) be published to the room.

    Only while the LIVE stream would still drop a second copy as a duplicate: the room
    lines consumer, a redelivery to it and the media fetcher may each publish it, and
    LIVE stores it once. The time is counted from when INGEST stored the event
    (`first_stored_at`, the server's clock, None when unknown), never from the sender's
    `sent_at`: a line dated minutes ahead would look fresh long after LIVE forgot it. A
    line later than that (the consumer stalled) stays an ingest event only: too old to
    place a claim anyway.
    """
    if first_stored_at is None:
        return False
    return now - first_stored_at < window * RESEND_SHARE
