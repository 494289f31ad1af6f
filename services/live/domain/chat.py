"""Turning what a viewer typed into a chat line, or a reason it is refused."""

from __future__ import annotations

from dataclasses import dataclass

from services.live.domain.viewers import Viewer
from shared.events import ChatMessagePosted, new_id

MAX_CHAT_CHARS = 500


@dataclass(frozen=True)
class Refused:
    code: str
    message: str


def compose_chat(viewer: Viewer, text: str) -> ChatMessagePosted | Refused:
    cleaned = " ".join(text.split())
    if not cleaned:
        return Refused("empty", "Write something first.")
    if len(cleaned) > MAX_CHAT_CHARS:
        return Refused("too_long", f"Messages are limited to {MAX_CHAT_CHARS} characters.")
    return ChatMessagePosted(
        room_id=viewer.room_id,
        customer_id=viewer.customer_id,
        message_id=new_id(),
        display_name=viewer.display_name,
        text=cleaned,
        source="web",
    )
