"""Composition root of analytics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from services.analytics.adapters.consumer import BatchConsumer
from services.analytics.adapters.store import Store
from services.analytics.adapters.tables import metadata
from services.analytics.entrypoints.consumers import FEEDS
from services.analytics.service_layer.customers import Customers
from services.analytics.service_layer.projection import Projection
from services.analytics.service_layer.reports import Announcer, Reports
from services.analytics.settings import AnalyticsSettings
from shared.runtime import Infrastructure

# Reports of ended rooms wait while the streams hold more than this for analytics.
CAUGHT_UP = 2000


@dataclass
class AnalyticsApp:
    settings: AnalyticsSettings
    infra: Infrastructure
    store: Store
    projection: Projection
    reports: Reports
    customers: Customers
    consumers: list[BatchConsumer] = field(default_factory=list)

    def backlog(self) -> int:
        """Events the streams still hold for analytics (as of each consumer's last fetch)."""
        return sum(consumer.pending for consumer in self.consumers)

    async def _started(self) -> None:
        await self.reports.load()
        turn = asyncio.Lock()  # one batch at a time, whichever stream it came from
        for feed in FEEDS:
            consumer = BatchConsumer(
                self.infra.broker.connection,
                feed,
                self.projection.apply,
                turn=turn,
                batch=self.settings.batch_size,
            )
            await consumer.start()
            self.consumers.append(consumer)

    async def _stopping(self) -> None:
        await asyncio.gather(*(consumer.stop() for consumer in self.consumers))
        self.consumers.clear()
        await self.reports.stop()


def build(settings: AnalyticsSettings | None = None) -> AnalyticsApp:
    settings = settings or AnalyticsSettings()
    infra = Infrastructure.build(settings, metadata)
    store = Store(infra.engine)
    projection = Projection(store)
    announcer = Announcer(
        lambda: infra.publisher,
        projection.apply,
        settings.live_public_url,
        timedelta(hours=settings.report_ready_within_hours),
    )
    reports = Reports(
        store,
        projection.lock,
        busy=lambda: app.backlog() > CAUGHT_UP,
        announcer=announcer,
        currency=settings.currency,
    )
    projection.on_room_ended = reports.schedule
    projection.on_rooms_changed = reports.changed
    customers = Customers(store, projection, lambda: infra.publisher, settings.dormant_days)
    app = AnalyticsApp(settings, infra, store, projection, reports, customers)
    infra.on_start.append(app._started)
    infra.on_stop.append(app._stopping)
    return app
