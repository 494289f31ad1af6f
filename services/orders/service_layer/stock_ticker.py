"""Stock counters are published coalesced: the latest `left` per offer, a few times a second.

A flash sale changes stock thousands of times a second; viewers need the
current number, not every step. Sold-out and every order still go out as
their own events (through the outbox); this is only the counter.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow
from shared.background import Periodic
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
        self._dirty: set[str] = set()
        self._job = Periodic("stock-ticker", self.flush, every_s)

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

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
        with contextlib.suppress(Exception):
            await self.flush()
