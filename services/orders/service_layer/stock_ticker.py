"""Stock counters are published coalesced: the latest `left` per offer, a few times a second.

A flash sale changes stock thousands of times a second; viewers need the
current number, not every step. Sold-out and every order still go out as
their own events (through the outbox); this is only the counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow
from shared.events import StockChanged
from shared.messaging import EventPublisher

log = logging.getLogger("qunlive.orders.stock")


class StockTicker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: Callable[[], EventPublisher],
        every_s: float = 0.25,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._every_s = every_s
        self._dirty: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def mark(self, offer_id: str) -> None:
        self._dirty.add(offer_id)

    async def flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        async with self._sessions() as session:
            offers = [await session.get(OfferRow, offer_id) for offer_id in dirty]
        for offer in offers:
            if offer is not None:
                await self._publisher().publish(
                    StockChanged(room_id=offer.room_id, offer_id=offer.id, left=offer.left)
                )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.flush()
            except Exception:
                log.warning("stock counter publish failed; next tick retries", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stock-ticker")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()
