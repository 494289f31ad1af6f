"""How one event changes a customer's profile: plain rules, no framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Profile:
    customer_id: str
    display_name: str
    first_seen: datetime
    last_seen: datetime
    messages: int = 0
    rooms_joined: int = 0

    def seen(self, at: datetime, display_name: str | None = None) -> None:
        # Events may arrive out of order: widen the window, never shrink it.
        self.first_seen = min(self.first_seen, at)
        if at >= self.last_seen:
            self.last_seen = at
            if display_name:
                self.display_name = display_name

    def posted(self, at: datetime, display_name: str) -> None:
        self.messages += 1
        self.seen(at, display_name)

    def joined(self, at: datetime, display_name: str) -> None:
        self.rooms_joined += 1
        self.seen(at, display_name)
