"""Composition root of ingest."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.ingest.adapters.bus import Bus
from services.ingest.adapters.store import BindingStore, ParkedStore
from services.ingest.adapters.tables import metadata
from services.ingest.service_layer.bindings import Bindings
from services.ingest.service_layer.intake import Intake
from services.ingest.settings import IngestSettings
from shared.background import Periodic
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
    pruner: Periodic = field(init=False)

    def __post_init__(self) -> None:
        self.pruner = Periodic("ingest-prune-parked", self.prune_parked, PRUNE_EVERY_S)

    async def _started(self) -> None:
        self.bus.bind(self.infra.broker.connection)
        self.pruner.start()

    async def _stopping(self) -> None:
        await self.pruner.stop()

    async def prune_parked(self) -> None:
        """Parked messages of chats nobody binds are kept PARKED_RETENTION_DAYS, then dropped."""
        keep = timedelta(days=self.settings.parked_retention_days)
        pruned = await self.parked.prune(datetime.now(UTC) - keep)
        if pruned:
            log.info("pruned parked messages", extra={"count": pruned})


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
