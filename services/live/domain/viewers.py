"""Who is in the room, as the room sees them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    HOST = "host"
    MODERATOR = "moderator"
    COMMITTEE = "committee"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)  # one per connected viewer: no __dict__ each
class Viewer:
    room_id: str
    customer_id: str
    display_name: str
    role: Role = Role.MEMBER
    referrer_id: str | None = None
    external_id: str | None = None
