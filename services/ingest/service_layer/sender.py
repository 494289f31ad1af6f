"""Sending one queued message to its group: once, within the limits, or said why not.

One `SendToGroup` job (COMMANDS, consumer `ingest-group-send`) at a time per chat, many
chats at once. Per job (docs/decisions/0032-outbound-queue.md):
- the ledger first: `sent` -> nothing is posted again (its GroupMessageSent is published
  again, the same id: the first may have been lost); `skipped`/`failed` -> done;
- `not_before` in the future -> back in the queue until then;
- a reminder of an order no longer held, a binding gone, moved or paused -> `skipped`;
- an edit waits for the message it edits; a platform that cannot edit gets a reply to it;
- the limiter: a slot within the hold is waited for here, a later one NAKs until then;
- the platform's answer: `sent` + GroupMessageSent; a transient error -> retried on
  OUTBOUND_RETRY_DELAYS_S (a 429's retry_after honoured and the chat paused in the
  limiter); a permanent one -> `failed`, GroupDeliveryFailed, dead letters, and the
  binding paused when the group refuses the bot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.ingest.adapters.outbound_store import (
    FAILED,
    SENDING,
    SENT,
    Entry,
    OutboundStore,
)
from services.ingest.domain.channels import Channel, Delivered, DeliveryError
from services.ingest.domain.limiter import Limiter
from shared.events import IntegrationEvent
from shared.events.commands import SendToGroup
from shared.events.ingest import GroupDeliveryFailed, GroupMessageSent

log = logging.getLogger("qunlive.ingest.sender")

GiveUp = Callable[[str], Awaitable[None]]
Publish = Callable[[IntegrationEvent], Awaitable[Any]]
Progress = Callable[[], Awaitable[None]]
HELD = "held"
DETAIL_MAX = 500


@dataclass(frozen=True)
class SenderPolicy:
    retry_delays_s: tuple[float, ...]
    # Jobs of one chat waiting here at most; more come back later (they would only hold
    # workers while the chat's one-a-second slots come round).
    lane_depth: int = 16

    @property
    def tries(self) -> int:
        return len(self.retry_delays_s) + 1

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait after try `attempt` (1-based); a platform's retry_after is honoured,
        up to the schedule's longest wait (the limiter's pause holds the chat meanwhile)."""
        scheduled = self.retry_delays_s[min(max(attempt, 1), len(self.retry_delays_s)) - 1]
        if retry_after_s is None:
            return scheduled
        return min(max(scheduled, retry_after_s), max(self.retry_delays_s))


@dataclass(frozen=True)
class Retry:
    """NAK the job: it comes back after `delay_s`."""

    delay_s: float
    reason: str


def sent_event_id(key: str) -> str:
    return f"sent:{key}"


def failed_event_id(key: str) -> str:
    return f"failed:{key}"


@dataclass
class _Lane:
    """One chat's jobs, one at a time, in the order they came (asyncio.Lock is FIFO)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    jobs: int = 0


class Sender:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        store: OutboundStore,
        limiter: Limiter,
        publish: Publish,
        policy: SenderPolicy,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.channels = channels
        self.store = store
        self.limiter = limiter
        self.publish = publish
        self.policy = policy
        self.clock = clock
        self.wall_clock = wall_clock
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._in_flight: set[str] = set()
        self._closing = asyncio.Event()

    async def aclose(self) -> None:
        """Stop waiting: jobs held for a slot go back to the queue at once."""
        self._closing.set()
        for channel in self.channels.values():
            await channel.aclose()

    async def handle(
        self,
        message: SendToGroup,
        deliveries: int,
        give_up: GiveUp,
        progress: Progress | None = None,
    ) -> Retry | None:
        """One delivery of the job: None when it is done (sent, skipped, or failed and said
        so), or when to try again. `deliveries`: how many times JetStream handed it out;
        `give_up(reason)` keeps it in dead letters; `progress()` tells JetStream the job
        is being worked on (its ack timer starts again)."""
        if message.not_before is not None:
            wait = (message.not_before - self.wall_clock()).total_seconds()
            if wait > 0:
                return Retry(wait, "not before its time")
        if message.key in self._in_flight:  # JetStream's ack timer ran out meanwhile
            return Retry(self.limiter.hold_s, "already being sent here")
        chat = (message.platform, message.chat_id)
        lane = self._lanes.setdefault(chat, _Lane())
        if lane.jobs >= self.policy.lane_depth:
            return Retry(self.limiter.hold_s, "the chat's queue here is full")
        lane.jobs += 1
        self._in_flight.add(message.key)
        try:
            async with lane.lock:
                if progress is not None:
                    await progress()
                return await self._handle(message, deliveries, give_up)
        except Exception as exc:  # the database or NATS away: the job waits
            log.warning(
                "send job failed, will retry", extra={"key": message.key, "error": repr(exc)}
            )
            return Retry(self.policy.delay(deliveries), f"{type(exc).__name__}: {exc}")
        finally:
            self._in_flight.discard(message.key)
            lane.jobs -= 1
            if lane.jobs == 0:
                self._lanes.pop(chat, None)

    async def _handle(self, message: SendToGroup, deliveries: int, give_up: GiveUp) -> Retry | None:
        entry = await self.store.claim(message)
        if entry.state != SENDING:
            await self._said_again(message, entry)
            return None
        skip = await self._why_not_send(message)
        if skip is not None:
            await self.store.skipped(message.key, skip)
            log.info("message skipped", extra={"key": message.key, "reason": skip})
            return None
        channel = self.channels[message.platform]
        target: str | None = None
        if message.edit_of is not None:
            earlier = await self.store.entry(message.edit_of)
            if earlier is None or earlier.state == SENDING:
                if deliveries >= self.policy.tries:
                    await self.store.skipped(message.key, "the message to edit never went")
                    return None
                return Retry(self.policy.delay(deliveries), "the message to edit has not gone yet")
            if earlier.state != SENT or earlier.platform_message_id is None:
                await self.store.skipped(message.key, f"the message to edit was {earlier.state}")
                return None
            target = earlier.platform_message_id
        attempt = await self._slot(message)
        if isinstance(attempt, Retry):
            return attempt
        try:
            delivered = await self._deliver(channel, message, target)
        except DeliveryError as exc:
            self.limiter.sent(message.platform, message.key)
            return await self._refused(message, exc, attempt, give_up)
        except Exception as exc:  # an adapter's own failure: as a network error
            self.limiter.sent(message.platform, message.key)
            error = DeliveryError("network", f"{type(exc).__name__}: {exc}")
            return await self._refused(message, error, attempt, give_up)
        self.limiter.sent(message.platform, message.key)
        await self.store.sent(message.key, delivered.platform_message_id)
        await self.publish(self._sent(message, delivered.platform_message_id, channel))
        return None

    async def _why_not_send(self, message: SendToGroup) -> str | None:
        if message.kind == "reminder" and message.order_id is not None:
            state = await self.store.order_state(message.order_id)
            if state != HELD:
                return f"the order is {state or 'not known here'}"
        binding = await self.store.binding(message.platform, message.chat_id)
        if binding is None:
            return "the group is no longer bound"
        if binding.room_id != message.room_id:
            return f"the group is bound to another room ({binding.room_id})"
        if binding.paused_code:
            return f"the binding is paused: {binding.paused_code}"
        if message.platform not in self.channels:
            return f"no channel sends to {message.platform}"
        return None

    async def _slot(self, message: SendToGroup) -> int | Retry:
        """Wait for the message's slot; the try's number, or when to come back."""
        platform, chat, key = message.platform, message.chat_id, message.key
        attempt: int | None = None
        while True:
            now = self.clock()
            slot = self.limiter.reserve(platform, chat, now, key=key)
            if not slot.near:
                # Back a little before the slot, so it is waited for here and goes on time.
                early = min(self.limiter.hold_s / 2, slot.wait_s(now))
                return Retry(slot.wait_s(now) - early, "waiting for the platform's limits")
            if attempt is None:
                attempt = await self.store.attempt(key)  # counted before the request goes
                continue  # that took a moment: look at the slot again
            wait = slot.wait_s(now)
            if wait <= 0:
                return attempt
            if await self._stopping_within(wait):
                self.limiter.release(platform, key)
                return Retry(0.5, "the service is stopping")

    async def _stopping_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _deliver(
        self, channel: Channel, message: SendToGroup, target: str | None
    ) -> Delivered:
        if target is None:
            return await channel.send(message)
        if channel.can_edit:
            return await channel.edit(message, target)
        return await channel.send(message.model_copy(update={"reply_to": target}))

    async def _refused(
        self, message: SendToGroup, exc: DeliveryError, attempt: int, give_up: GiveUp
    ) -> Retry | None:
        detail = exc.detail or exc.code
        if not exc.permanent:
            if exc.retry_after_s is not None:  # nothing more to this chat until then
                self.limiter.pause(
                    message.platform, message.chat_id, self.clock() + exc.retry_after_s
                )
            if attempt < self.policy.tries:
                log.info(
                    "message not taken, will retry",
                    extra={"key": message.key, "attempt": attempt, "reason": detail},
                )
                return Retry(self.policy.delay(attempt, exc.retry_after_s), detail)
            detail = f"gave up after {attempt} tries: {detail}"
        reason = f"{exc.code}: {detail}"
        await self.store.failed(message.key, reason)
        paused = False
        if exc.pauses_binding:
            paused = await self.store.pause(
                message.platform, message.chat_id, exc.code, exc.detail or exc.code
            )
        log.warning(
            "message not delivered", extra={"key": message.key, "reason": reason, "paused": paused}
        )
        await self.publish(self._failed(message, exc.code, detail, paused))
        await give_up(reason)
        return None

    async def _said_again(self, message: SendToGroup, entry: Entry) -> None:
        """A job already done: its event again (the same id: dropped if it was stored), in
        case the first publish was lost after the ledger was written. Nothing is posted."""
        if entry.state == SENT and entry.platform_message_id is not None:
            channel = self.channels.get(message.platform)
            await self.publish(self._sent(message, entry.platform_message_id, channel))
        elif entry.state == FAILED:
            binding = await self.store.binding(message.platform, message.chat_id)
            paused = binding is not None and binding.paused_code is not None
            code, detail = _code_and_detail(entry.reason)
            await self.publish(self._failed(message, code, detail, paused))
        # skipped: the ledger says why; nothing went out, nothing to say.

    def _sent(
        self, message: SendToGroup, platform_message_id: str, channel: Channel | None
    ) -> GroupMessageSent:
        edited = message.edit_of is not None and channel is not None and channel.can_edit
        return GroupMessageSent(
            id=sent_event_id(message.key),
            room_id=message.room_id,
            customer_id=message.customer_id,
            occurred_at=self.wall_clock(),
            platform=message.platform,
            chat_id=message.chat_id,
            kind=message.kind,
            key=message.key,
            platform_message_id=platform_message_id[:128],
            edited=edited,
            source_event_id=message.source_event_id,
            order_id=message.order_id,
        )

    def _failed(
        self, message: SendToGroup, code: str, detail: str, paused: bool
    ) -> GroupDeliveryFailed:
        return GroupDeliveryFailed(
            id=failed_event_id(message.key),
            room_id=message.room_id,
            customer_id=message.customer_id,
            occurred_at=self.wall_clock(),
            platform=message.platform,
            chat_id=message.chat_id,
            kind=message.kind,
            key=message.key,
            code=code[:64],
            detail=detail[:DETAIL_MAX],
            binding_paused=paused,
        )


def _code_and_detail(reason: str) -> tuple[str, str]:
    """A ledger's `code: detail` (as _refused writes it) back into its parts."""
    code, _, detail = reason.partition(": ")
    return code or "failed", detail
