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
import time
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


# A failing item rests this long after its 1st, 2nd, ... failure (the message retry policy's
# steps, docs/decisions/0003); on failure MAX_ITEM_TRIES it is given up. Read at each failure.
ITEM_BACKOFF_S: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0)
MAX_ITEM_TRIES = 5

DeadLetter = Callable[[str], Awaitable[object]]


class ItemFailures:
    """The failing items of one periodic job, kept apart so that one bad item (a row no
    event can carry, a payload NATS refuses) never stops the job's other items.

    An item that fails is logged and rests (backoff); later steps try it again. A failure
    that `transient` says is the infrastructure's (NATS or the database away) is not the
    item's fault: it is logged, not counted, and does not rest. On its MAX_ITEM_TRIES-th
    failure an item is given up: handed to its dead-letter hook (the caller's
    `dead_letter(reason)`), then skipped by this process; if the hook fails, it rests and is
    tried again. See docs/decisions/0015-periodic-jobs-isolate-items.md.
    """

    def __init__(
        self,
        job: str,
        transient: Callable[[BaseException], bool] = lambda _: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job = job
        self._transient = transient
        self._clock = clock
        self._tries: dict[str, int] = {}
        self._resting_until: dict[str, float] = {}
        self._given_up: set[str] = set()

    def skipped(self) -> set[str]:
        """Items not to try now: given up, or resting after a failure."""
        now = self._clock()
        return self._given_up | {i for i, until in self._resting_until.items() if until > now}

    def given_up(self, item: str) -> bool:
        return item in self._given_up

    async def attempt(
        self,
        item: str,
        work: Callable[[], Awaitable[object]],
        dead_letter: DeadLetter | None = None,
        once: bool = False,
    ) -> bool:
        """Run one item's work; True if it succeeded. A skipped item is not run. `once`: no
        later step will bring this item back, so a failure gives it up at once."""
        if item in self.skipped():
            return False
        try:
            await work()
        except Exception as exc:
            await self.failed(item, exc, dead_letter, once)
            return False
        self.succeeded(item)
        return True

    def succeeded(self, item: str) -> None:
        self._tries.pop(item, None)
        self._resting_until.pop(item, None)

    async def failed(
        self,
        item: str,
        exc: BaseException,
        dead_letter: DeadLetter | None = None,
        once: bool = False,
    ) -> bool:
        """Count a failure of `item`; True if the item is now given up (dead-lettered)."""
        if self._transient(exc) and not once:
            log.warning(
                "item failed on a transient error; the next step retries",
                extra={"job": self.job, "item": item, "error": repr(exc)},
            )
            return False
        tries = self._tries[item] = self._tries.get(item, 0) + 1
        if tries < MAX_ITEM_TRIES and not once:
            backoff = ITEM_BACKOFF_S[min(tries, len(ITEM_BACKOFF_S)) - 1]
            self._resting_until[item] = self._clock() + backoff
            log.warning(
                "item failed; the others go on, it is tried again later",
                extra={"job": self.job, "item": item, "attempt": tries},
                exc_info=exc,
            )
            return False
        reason = f"{self.job}: {item} failed {tries} times: {exc!r}"
        log.error(
            "item given up",
            extra={"job": self.job, "item": item, "attempt": tries},
            exc_info=exc,
        )
        if dead_letter is not None:
            try:
                await dead_letter(reason)
            except Exception:
                log.exception("could not dead-letter an item", extra={"job": self.job})
                self._resting_until[item] = self._clock() + ITEM_BACKOFF_S[-1]
                return False
        self._given_up.add(item)
        self._tries.pop(item, None)
        self._resting_until.pop(item, None)
        return True
