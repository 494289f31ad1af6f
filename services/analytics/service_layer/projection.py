"""Apply bus events to the customer database, a batch per transaction, idempotently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from services.analytics.adapters.store import Applied, Store
from shared.events import IntegrationEvent

log = logging.getLogger("qunlive.analytics.projection")


class Projection:
    """The one writer of the projection: batches are applied one at a time.

    After a batch commits, the rooms it touched and those that ended in it are handed
    to the report builder, which runs outside the consumers' path.
    """

    def __init__(
        self,
        store: Store,
        on_room_ended: Callable[[str], None] | None = None,
        on_rooms_changed: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.store = store
        self.on_room_ended = on_room_ended
        self.on_rooms_changed = on_rooms_changed
        self.lock = asyncio.Lock()
        self.applied = 0
        self.duplicates = 0

    async def apply(self, events: Sequence[IntegrationEvent]) -> Applied:
        if not events:
            return Applied()
        async with self.lock:
            result = await self.store.write(self.store.prepare(events))
        self.applied += result.events
        self.duplicates += result.duplicates
        if self.on_rooms_changed is not None and result.rooms:
            self.on_rooms_changed(result.rooms)
        if self.on_room_ended is not None:
            for room_id in sorted(result.ended_rooms):
                self.on_room_ended(room_id)
        return result
