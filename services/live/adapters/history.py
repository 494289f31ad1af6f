"""A room's recent chat, read from the CHAT_HISTORY stream (survives restarts)."""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError, ServiceUnavailableError

from services.live import protocol
from shared import subjects
from shared.events import ChatMessagePosted, UnreadableEvent, parse_event
from shared.streams import CHAT_HISTORY, CHAT_HISTORY_PER_ROOM


def chat_line(event: ChatMessagePosted) -> protocol.ChatLine:
    return protocol.ChatLine(
        id=event.message_id,
        customer_id=event.customer_id,
        name=event.display_name,
        text=event.text,
        source=event.source,
        at=event.occurred_at,
    )


class ChatHistory:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def recent(self, room_id: str, limit: int) -> list[protocol.ChatLine]:
        if limit <= 0:
            return []
        subject = subjects.room_chat(room_id)
        try:
            info = await self._js.stream_info(CHAT_HISTORY.name, subjects_filter=subject)
        except NotFoundError:
            return []
        stored = sum((info.state.subjects or {}).values())
        if stored == 0:
            return []
        sub = await self._js.pull_subscribe(
            subject,
            stream=CHAT_HISTORY.name,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=10.0,
                mem_storage=True,
            ),
        )
        lines: list[protocol.ChatLine] = []
        try:
            remaining = min(stored, 2 * CHAT_HISTORY_PER_ROOM)
            while remaining > 0:
                batch = await _fetch(sub, remaining)
                remaining -= len(batch)
                for msg in batch:
                    try:
                        event = parse_event(msg.data)
                    except UnreadableEvent:
                        continue
                    if isinstance(event, ChatMessagePosted):
                        lines.append(chat_line(event))
                if batch and batch[-1].metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return lines[-limit:]


async def _fetch(sub: JetStreamContext.PullSubscription, batch: int, tries: int = 5) -> list[Msg]:
    """On a NATS cluster a just-created consumer's pull subject may not have reached the
    server this client uses yet: the first pulls answer 503 (no responders). Retry briefly."""
    for attempt in range(tries):
        try:
            return await sub.fetch(batch, timeout=2.0)
        except ServiceUnavailableError:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")
