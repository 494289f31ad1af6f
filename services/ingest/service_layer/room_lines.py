"""The room's chat lines of bound groups, derived from the INGEST stream.

A webhook stores one ingest event per item and answers; the event says whether its line
goes to the room (`in_room`, decided once at intake). This job reads those events from
INGEST (one durable consumer shared by the replicas) and publishes the room's line
(chat.message_posted, id `chat:<key>`), or for a fresh edit the line's edit
(chat.message_edited) when the original's line is in LIVE. INGEST stores each platform
key once, so a re-delivered webhook never reaches this job again: its line is not shown
twice. The job publishes a line only while LIVE would drop a second copy (its duplicate
window, counted from when INGEST stored the event), so a redelivery to this job, another
replica or the media fetcher publishing the same line store it once; a line later than
that (the job stalled) stays an ingest event: too old to place a claim anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.domain.events import (
    original_line_id,
    original_window,
    resends_to_room,
    room_edit,
    room_line,
)
from shared.events import ChatMessageEdited, ChatMessagePosted, IntegrationEvent
from shared.events.ingest import ExternalMessageReceived

log = logging.getLogger("qunlive.ingest.room_lines")

Publish = Callable[[IntegrationEvent], Awaitable[Any]]
# Whether LIVE holds the room line with this id, stored since then (room, line id, since).
HasLine = Callable[[str, str, datetime], Awaitable[bool]]


@dataclass(frozen=True)
class Stored:
    """An ingest event as read from INGEST, with when the stream stored it (server clock)."""

    event: ExternalMessageReceived
    stored_at: datetime | None


@dataclass
class Outcome:
    lines: int = 0
    edits: int = 0
    late: int = 0


class RoomLines:
    def __init__(
        self,
        publish: Publish,
        has_line: HasLine,
        live_dedupe_window: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.publish = publish
        self.has_line = has_line
        self.live_dedupe_window = live_dedupe_window
        self.clock = clock

    async def handle(self, batch: Sequence[Stored]) -> Outcome:
        """Publish the room lines (then the edits) of a batch of stored events. Raises when
        NATS did not confirm: the batch comes again, and what was published is a
        duplicate LIVE drops."""
        outcome = Outcome()
        now = self.clock()
        lines: list[ChatMessagePosted] = []
        edits: list[ExternalMessageReceived] = []
        for stored in batch:
            event = stored.event
            if not event.in_room:
                continue
            if not resends_to_room(stored.stored_at, now, self.live_dedupe_window):
                outcome.late += 1
                continue
            if not event.edited:
                lines.append(room_line(event))
            elif event.original_sent_at is not None:
                edits.append(event)
        # One connection keeps its publishes in order: the room gets its lines as sent.
        await asyncio.gather(*(self.publish(line) for line in lines))
        outcome.lines = len(lines)
        if edits:
            # After the lines: an original in the same batch is in LIVE by now.
            shown = await asyncio.gather(
                *(self.has_line(e.room_id, original_line_id(e), original_window(e)) for e in edits)
            )
            changed: list[ChatMessageEdited] = [
                room_edit(e) for e, there in zip(edits, shown, strict=True) if there
            ]
            await asyncio.gather(*(self.publish(edit) for edit in changed))
            outcome.edits = len(changed)
        if outcome.late:
            log.warning(
                "room lines too late for the room, kept as ingest events only",
                extra={"count": outcome.late},
            )
        return outcome
