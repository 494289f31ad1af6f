"""Group rules: what a message may contain, and who the rules bind.

Community operators run groups on a few plain rules (no links, no ads, stay
short, do not flood); the host and moderators are trusted to post links and
announcements, everyone else is checked before the room sees the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from services.live.domain.viewers import Role

TRUSTED = frozenset({Role.HOST, Role.MODERATOR})

_LINK = re.compile(
    r"(?:https?://|www\.|\bt\.me/|\bwa\.me/|"
    r"\b[a-z0-9-]{2,}\.(?:com|net|org|io|me|cn|ru|shop|store|xyz|top|link|ly|co|app)\b)",
    re.IGNORECASE,
)
# Ads in community groups: "add my WeChat", "vx: abc", "DM me", promo codes, phone numbers.
_AD = re.compile(
    r"(?:\b(?:add|contact)\s+(?:me|my)\b|\bdm\s+me\b|\bwechat\b|\bwx\s*[:：]|\bvx\s*[:：]|"
    r"加微|加我|私聊|\bpromo\s*code\b|\bdiscount\s*code\b|\bwhatsapp\s+me\b|"
    r"(?:\+?\d[\s-]?){10,})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RoomRules:
    blocked_words: tuple[str, ...] = ()
    block_links: bool = True
    block_ads: bool = True
    max_length: int = 300
    slow_mode_s: float = 0
    # Members (and committee) may post images, voice clips and product cards; staff always may.
    members_post_media: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RoomRules:
        """Rules as stored (a JSON object); unknown keys are ignored, missing ones default."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in known}
        if "blocked_words" in values:
            values["blocked_words"] = tuple(str(w) for w in values["blocked_words"])
        return cls(**values)


@dataclass(frozen=True)
class Allowed:
    pass


@dataclass(frozen=True)
class Blocked:
    rule: str  # blocked_word | link | ad | too_long | slow_mode
    message: str  # said to the sender, in plain words


def check_message(
    rules: RoomRules, role: Role, text: str, now: float, last_post_at: float | None
) -> Allowed | Blocked:
    """Whether a member may post `text` now (`now`/`last_post_at` in monotonic seconds)."""
    if len(text) > rules.max_length:
        return Blocked("too_long", f"Keep it under {rules.max_length} characters, please.")
    if role in TRUSTED:
        return Allowed()
    folded = text.casefold()
    for word in rules.blocked_words:
        if word and word.casefold() in folded:
            return Blocked("blocked_word", "That word is not allowed in this group.")
    if rules.block_links and _LINK.search(text):
        return Blocked("link", "Links are not allowed here; only the host can share them.")
    if rules.block_ads and _AD.search(text):
        return Blocked("ad", "No ads or contact swaps in this group, please.")
    if rules.slow_mode_s and last_post_at is not None:
        wait = rules.slow_mode_s - (now - last_post_at)
        if wait > 0:
            return Blocked("slow_mode", f"Slow mode is on: wait {wait:.0f}s, then post again.")
    return Allowed()


def check_link(rules: RoomRules, role: Role, url: str) -> Allowed | Blocked:
    """Whether a member may post a link (a `link` frame): the host and moderators always;
    others not while the room blocks links, nor one that carries a blocked word."""
    if role in TRUSTED:
        return Allowed()
    if rules.block_links:
        return Blocked("link", "Links are not allowed here; only the host can share them.")
    folded = url.casefold()
    for word in rules.blocked_words:
        if word and word.casefold() in folded:
            return Blocked("blocked_word", "That word is not allowed in this group.")
    return Allowed()


@dataclass(frozen=True)
class Standing:
    """A member's standing in a room as the database has it: checked when they post, so a
    host's decision is in force on every instance as soon as it is committed."""

    status: str
    rules: RoomRules
    pinned_offer_id: str | None
    role: Role
    muted_until: datetime | None
    banned: bool

    def muted(self, now: datetime) -> datetime | None:
        """Until when the member is muted, or None."""
        return self.muted_until if self.muted_until and self.muted_until > now else None
