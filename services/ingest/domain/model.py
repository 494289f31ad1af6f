"""What ingest understands of a platform's payload: plain values, no framework.

Each platform's normaliser turns one payload into a `Normalised`: the items it
carries (chat lines, member changes, reactions) and the parts it deliberately
skips (private chats, delivery receipts, stickers), each with a reason.
A payload that is not of the platform's shape at all raises `UnknownShape`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


class UnknownShape(ValueError):
    """Not a payload this platform sends; the message says what is missing or wrong."""


def message_key(
    platform: str, chat_id: str, message_id: str, edited_at: datetime | None = None
) -> str:
    """The dedupe identity (Nats-Msg-Id): platform:chat:message, plus the edit time for edits.

    The same message from a webhook, a re-delivery, an import or a replay gets the
    same key; each edit is a new fact with its own key.
    """
    key = f"{platform}:{chat_id}:{message_id}"
    if edited_at is not None:
        key += f":edit:{int(edited_at.timestamp())}"
    return key


@dataclass(frozen=True)
class Media:
    """A picture or voice note in a message, as the platform names it: fetched later
    (Telegram getFile, WhatsApp media id) into the room's media."""

    kind: Literal["image", "voice"]
    file_ref: str  # Telegram file_id, WhatsApp media id
    content_type: str | None = None  # as the platform says, if it does
    bytes: int | None = None  # as the platform says, if it does
    duration_s: float | None = None


@dataclass(frozen=True)
class ChatMessage:
    platform: str
    chat_id: str
    message_id: str
    user_id: str
    user_name: str
    text: str
    at: datetime  # sent, or edited for an edit
    reply_to: str | None = None
    edited: bool = False
    chat_title: str | None = None
    media: Media | None = None  # text is then its caption, and may be empty
    sent_at: datetime | None = None  # an edit: when the original was sent, if the platform says

    @property
    def key(self) -> str:
        return message_key(
            self.platform, self.chat_id, self.message_id, self.at if self.edited else None
        )

    @property
    def original_key(self) -> str:
        """The key of the line as first sent (an edit's line in the room)."""
        return message_key(self.platform, self.chat_id, self.message_id)


@dataclass(frozen=True)
class MemberChange:
    platform: str
    chat_id: str
    ref: str  # the platform's id of the join/leave notice
    user_id: str
    user_name: str
    joined: bool
    at: datetime
    by: str | None = None
    chat_title: str | None = None

    @property
    def key(self) -> str:
        what = "joined" if self.joined else "left"
        return f"{message_key(self.platform, self.chat_id, self.ref)}:{what}:{self.user_id}"


@dataclass(frozen=True)
class Reaction:
    platform: str
    chat_id: str
    message_id: str
    target_message_id: str
    user_id: str
    user_name: str
    emoji: str | None
    at: datetime
    chat_title: str | None = None

    @property
    def key(self) -> str:
        return message_key(self.platform, self.chat_id, self.message_id)


Item = ChatMessage | MemberChange | Reaction


@dataclass(frozen=True)
class Normalised:
    items: tuple[Item, ...] = ()
    ignored: tuple[str, ...] = field(default=())

    @classmethod
    def skip(cls, reason: str) -> Normalised:
        return cls(ignored=(reason,))

    def __add__(self, other: Normalised) -> Normalised:
        return Normalised(self.items + other.items, self.ignored + other.ignored)
