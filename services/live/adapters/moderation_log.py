"""A room's recent moderation decisions, read back from the LIVE stream.

Every decision (a moderator's mute, ban, delete; a message the group rules blocked)
is a `moderation.applied` event stored in JetStream, so any live instance, even a
restarted one, can show the host what happened.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared import subjects
from shared.events import ModerationApplied, UnreadableEvent, parse_event
from shared.streams import LIVE

# Read at most this many decisions per request, keeping the newest `limit` of them.
MAX_SCAN = 10_000


async def recent_decisions(
    js: JetStreamContext, room_id: str, since: datetime, limit: int
) -> list[ModerationApplied]:
    """The room's decisions since `since`, newest first, at most `limit`."""
    subject = subjects.room_event("live", room_id, _event_type())
    try:
        info = await js.stream_info(LIVE.name, subjects_filter=subject)
    except NotFoundError:
        return []
    stored = sum((info.state.subjects or {}).values())
    if stored == 0 or limit <= 0:
        return []
    sub = await js.pull_subscribe(
        subject,
        stream=LIVE.name,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=since,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=10.0,
            mem_storage=True,
        ),
    )
    found: deque[ModerationApplied] = deque(maxlen=limit)
    try:
        remaining = min(stored, MAX_SCAN)
        while remaining > 0:
            try:
                batch = await sub.fetch(min(remaining, 500), timeout=1.0)
            except TimeoutError:
                break
            remaining -= len(batch)
            for msg in batch:
                try:
                    event = parse_event(msg.data)
                except UnreadableEvent:
                    continue
                if isinstance(event, ModerationApplied):
                    found.append(event)
            if batch and batch[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return list(reversed(found))


def _event_type() -> str:
    event_type: str = ModerationApplied.model_fields["type"].default
    return event_type
