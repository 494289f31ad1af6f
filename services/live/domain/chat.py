"""A chat line from the live page: cleaned, limited, laid out as its author typed it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from services.live.domain.viewers import Viewer
from shared.events import ChatMessageEdited, ChatMessagePosted, new_id
from shared.events.media import Attachment

MAX_CHAT_CHARS = 500
# Lines written in live itself (the page's chat, system lines): nobody edits them from a
# group, so an edit naming one is ignored.
LIVE_SOURCES = frozenset({"web", "system"})
Line = TypeVar("Line")

# Control characters and invisible format characters (zero-width spaces, direction marks):
# they carry no text and can fake an empty or reordered line. Newlines are kept apart.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029\x85]")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Refused:
    code: str
    message: str


def layout(text: str) -> str:
    """Line breaks kept (a 接龙 list is one entry per line), each line trimmed, at most one
    blank line in a row, none at either end."""
    text = _INVISIBLE.sub("", _NEWLINES.sub("\n", text).replace("\t", " "))
    lines = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", lines).strip("\n")


def compose_chat(
    viewer: Viewer, text: str, attachment: Attachment | None = None
) -> ChatMessagePosted | Refused:
    """A line from the page: its text laid out; with an attachment the text is a caption,
    which may be empty."""
    cleaned = layout(text)
    if not cleaned and attachment is None:
        return Refused("empty", "Write something first.")
    if len(cleaned) > MAX_CHAT_CHARS:
        what = "Captions" if attachment is not None else "Messages"
        return Refused("too_long", f"{what} are limited to {MAX_CHAT_CHARS} characters.")
    return ChatMessagePosted(
        room_id=viewer.room_id,
        customer_id=viewer.customer_id,
        message_id=new_id(),
        display_name=viewer.display_name,
        text=cleaned,
        source="web",
        attachment=attachment,
    )


WELCOME_NAMED = 5  # a line greeting more names names the latest and counts the others


def welcome_line(room_id: str, names: list[str]) -> ChatMessagePosted:
    """The system line greeting members who joined for the first time (one or several, in
    the order they came: the latest are named, they are the ones looking)."""
    shown = [f"@{name}" for name in names[-WELCOME_NAMED:]]
    more = len(names) - len(shown)
    if more:
        english = f"{', '.join(shown)} and {more} more"
        chinese = f"{'、'.join(shown)} 等 {len(names)} 位"
    else:
        english = ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
        chinese = "、".join(shown)
    return ChatMessagePosted(
        room_id=room_id,
        customer_id=None,
        message_id=new_id(),
        display_name="Qunlive",
        text=f"Welcome {english}! 欢迎 {chinese} 加入!",
        source="system",
    )


def history_window(
    lines: Sequence[Line], limit: int, is_system: Callable[[Line], bool]
) -> list[Line]:
    """The history a joining viewer gets: the last `limit` lines of the conversation, and
    system lines (welcomes) only in the places the conversation leaves free: a show's
    welcomes never push what people said out of it. Stream order is kept."""
    if limit <= 0:
        return []
    said = [line for line in lines if not is_system(line)][-limit:]
    free = limit - len(said)
    system = [line for line in lines if is_system(line)][-free:] if free else []
    kept = {id(line) for line in (*said, *system)}
    return [line for line in lines if id(line) in kept]


def is_edit_of_a_group_line(edit: ChatMessageEdited, line_source: str | None = None) -> bool:
    """An edit made in a group (Telegram, WhatsApp, a signed webhook) of a line from there
    (`line_source`, when the line is at hand)."""
    return edit.source not in LIVE_SOURCES and (
        line_source is None or line_source not in LIVE_SOURCES
    )
