"""Each event once: the room's fan-out lets an event id through the first time only.

JetStream drops a re-publish with the same Nats-Msg-Id from the stream, but a core
subscription sees every publish: a platform's retry that ingest re-sends, two ingest
replicas taking the same retry, an outbox relay re-publishing after a crash. The fan-out
remembers the ids it let through for as long as the stream's own duplicate window, so
viewers see what the stream stores: each event once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Once:
    """Event ids seen within `window_s` (monotonic seconds), at most `limit` of them."""

    __slots__ = ("_clock", "_ids", "_order", "limit", "window_s")

    def __init__(
        self, window_s: float, limit: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.limit = limit
        self._clock = clock
        self._ids: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()

    def first(self, event_id: str) -> bool:
        """True the first time an id is seen (within the window), False for a repeat."""
        if event_id in self._ids:
            return False
        now = self._clock()
        order = self._order
        while order and (now - order[0][0] >= self.window_s or len(order) >= self.limit):
            self._ids.discard(order.popleft()[1])
        order.append((now, event_id))
        self._ids.add(event_id)
        return True

    def __len__(self) -> int:
        return len(self._ids)
