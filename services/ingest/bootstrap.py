"""Composition root of ingest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.ingest.adapters.bus import Bus
from services.ingest.adapters.store import BindingStore, ParkedStore
from services.ingest.adapters.tables import metadata
from services.ingest.service_layer.bindings import Bindings
from services.ingest.service_layer.intake import Intake
from services.ingest.settings import IngestSettings
from shared.events import ChatMessagePosted, IntegrationEvent
from shared.events.ingest import INGEST_EVENTS
from shared.runtime import Infrastructure

log = logging.getLogger("qunlive.ingest")

# Ingest events, and the live room's chat line for bound chats.
PUBLISHES: tuple[type[IntegrationEvent], ...] = (*INGEST_EVENTS, ChatMessagePosted)
PRUNE_EVERY_S = 3600.0


@dataclass
class IngestApp:
    settings: IngestSettings
    infra: Infrastructure
    bus: Bus
    parked: ParkedStore
    intake: Intake
    bindings: Bindings
    _pruner: asyncio.Task[None] | None = field(default=None)

    async def _started(self) -> None:
        self.bus.bind(self.infra.broker.connection)
        self._pruner = asyncio.create_task(self._prune_loop(), name="ingest-prune-parked")

    async def _stopping(self) -> None:
        if self._pruner:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner

    async def _prune_loop(self) -> None:
        """Parked messages of chats nobody binds are kept PARKED_RETENTION_DAYS, then dropped."""
        while True:
            keep = timedelta(days=self.settings.parked_retention_days)
            try:
                pruned = await self.parked.prune(datetime.now(UTC) - keep)
                if pruned:
                    log.info("pruned parked messages", extra={"count": pruned})
            except Exception:
                log.warning("pruning parked messages failed", exc_info=True)
            await asyncio.sleep(PRUNE_EVERY_S)


def build(settings: IngestSettings | None = None) -> IngestApp:
    settings = settings or IngestSettings()
    infra = Infrastructure.build(settings, metadata)
    bus = Bus(settings.service_name, settings.publish_timeout_s)
    store = BindingStore(infra.sessions, settings.binding_cache_s)
    parked = ParkedStore(infra.sessions, infra.engine.dialect.name)
    intake = Intake(bus, store, parked, timedelta(seconds=settings.live_max_age_s))
    app = IngestApp(
        settings=settings,
        infra=infra,
        bus=bus,
        parked=parked,
        intake=intake,
        bindings=Bindings(store, parked, intake),
    )
    infra.on_start.append(app._started)
    infra.on_stop.append(app._stopping)
    return app
