"""The port every group platform's adapter implements (Telegram, WhatsApp, WeCom).

The sender speaks only this: send a message (a reply, with a photo, buttons, a mention,
pinned), edit one of ours. Each adapter turns a SendToGroup into the platform's
documented request and its answer into `Delivered` or a `DeliveryError` that says what
the sender should do: retry later, or give up and pause the binding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.events.commands import SendToGroup


@dataclass(frozen=True)
class Rate:
    """At most `count` messages in any `per_s` seconds."""

    count: int
    per_s: float


@dataclass(frozen=True)
class ChannelLimits:
    """A platform's published limits: over the whole bot/number, and per group chat."""

    overall: tuple[Rate, ...]
    per_chat: tuple[Rate, ...]


@dataclass(frozen=True)
class Delivered:
    platform_message_id: str


class DeliveryError(Exception):
    """The platform did not take the message.

    - `retry_after_s` set: the platform said when to try again (Telegram 429 retry_after);
    - `permanent` False: may pass (5xx, network, a rate limit): retried with backoff;
    - `permanent` True: will not pass by retrying (bad request, template rejected);
      `pauses_binding` when the group itself refuses the bot (removed, chat not found).
    """

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        permanent: bool = False,
        pauses_binding: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.permanent = permanent or pauses_binding
        self.pauses_binding = pauses_binding
        self.retry_after_s = retry_after_s


class Channel(Protocol):
    platform: str
    limits: ChannelLimits
    # Whether edit() changes the message in place; False: the sender replies to it instead.
    can_edit: bool

    async def send(self, message: SendToGroup) -> Delivered:
        """Post the message to message.chat_id (a reply when reply_to, pinned when pin:
        a pin the bot may not make is logged, not an error)."""
        ...

    async def edit(self, message: SendToGroup, platform_message_id: str) -> Delivered:
        """Change one of our messages to this message's text (and buttons)."""
        ...

    async def aclose(self) -> None: ...
