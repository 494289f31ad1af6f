"""A background job that does one step, waits, and does it again, and that stops cleanly.

Stopping lets the step in hand finish and interrupts only the wait. A step is database
work, and a task cancelled inside SQLAlchemy's aiosqlite adapter can leave its
connection's shielded close pending forever (the event loop then never closes; seen in
CI, reproduced with a few lines, aiosqlite 0.21 and 0.22). A step that outlasts the stop
timeout is cancelled after all: a stop must end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("qunlive.background")

STOP_TIMEOUT_S = 15.0


class Periodic:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], every_s: float) -> None:
        self.name = name
        self._step = step
        self._every_s = every_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Do the next step now instead of at the end of the wait."""
        self._wake.set()

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            log.warning("a step outlasted the stop; cancelled", extra={"job": self.name})
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._step()
            except Exception:
                log.exception("step failed; the next one retries", extra={"job": self.name})
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every_s)
            self._wake.clear()
