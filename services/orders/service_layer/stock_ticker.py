"""Stock counters are published coalesced: the latest `left` per offer, a few times a second.

A flash sale changes stock thousands of times a second; viewers need the
current number, not every step. Sold-out and every order still go out as
their own events (through the outbox); this is only the counter.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.orders.adapters.tables import OfferRow
from shared.background import ItemFailures, Periodic
from shared.events import StockChanged
from shared.messaging import EventPublisher, is_transient_nats_error, item_dead_letter

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
        # An offer whose counter cannot be told (an event cannot carry its room id) fails
        # alone: the others' counters still go out; after a few tries it is given up.
        self._failures = ItemFailures("stock-ticker", transient=is_transient_nats_error)

    def mark(self, offer_id: str) -> None:
        self._dirty.add(offer_id)

    async def flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        dirty -= self._failures.skipped()
        if not dirty:
            return
        try:
            async with self._sessions() as session:
                offers = [await session.get(OfferRow, offer_id) for offer_id in dirty]
        except Exception:
            self._dirty |= dirty  # the next tick tells them
            raise
        for offer in offers:
            if offer is None:
                continue
            told = await self._failures.attempt(
                offer.id,
                self._teller(offer),
                item_dead_letter(
                    self._publisher, service="orders", job="stock-ticker", item=offer.id
                ),
            )
            if not told and not self._failures.given_up(offer.id):
                self._dirty.add(offer.id)

    def _teller(self, offer: OfferRow) -> Callable[[], Awaitable[object]]:
        async def tell() -> None:
            await self._publisher().publish(
                StockChanged(
                    room_id=offer.room_id,
                    offer_id=offer.id,
                    left=offer.left,
                    variant_left=dict(offer.variant_left),
                )
            )

        return tell

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
        with contextlib.suppress(Exception):
            await self.flush()
