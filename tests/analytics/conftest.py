"""The analytics service under test: its own app on a free port, a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.analytics.bootstrap import AnalyticsApp, build
from services.analytics.main import create_app
from services.analytics.settings import AnalyticsSettings
from services.live.adapters.tokens import HostTokens
from shared.embedded_nats import NatsServer
from shared.events import IntegrationEvent
from shared.messaging import EventPublisher
from tests.conftest import scratch_postgres
from tests.support import eventually, serving

SECRET = "test-secret-key-of-at-least-32-bytes!"
ADMIN = {"Authorization": "Bearer test-admin"}


def analytics_settings(nats_url: str, database_url: str, **overrides: Any) -> AnalyticsSettings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": database_url,
        "admin_token": "test-admin",
        "secret_key": SECRET,
    }
    return AnalyticsSettings(**{**values, **overrides})


def host_headers(host_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {HostTokens(SECRET).issue(host_id, 'Host')}"}


@dataclass
class Analytics:
    url: str
    app: AnalyticsApp
    http: httpx.AsyncClient
    bus: EventPublisher

    async def publish(self, events: Sequence[IntegrationEvent]) -> None:
        await asyncio.gather(*(self.bus.publish(e) for e in events))

    async def settled(self, applied: int, timeout: float = 15.0) -> None:
        """Wait until the projection applied this many events in all."""

        async def done() -> bool:
            return self.app.projection.applied >= applied

        await eventually(done, timeout=timeout)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.http.get(path, headers=ADMIN, params=params)
        assert response.status_code == 200, response.text
        if response.headers["content-type"].startswith("application/json"):
            return response.json()
        return response.text


@pytest.fixture
async def analytics(
    nats_server: NatsServer, nc: NatsClient, database_url: str
) -> AsyncIterator[Analytics]:
    app = build(analytics_settings(nats_server.url, database_url))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Analytics(url, app, http, EventPublisher(nc.jetstream()))


@pytest.fixture
async def other_database_url(database_url: str, tmp_path: Any) -> AsyncIterator[str]:
    """A second empty database of the same kind (a replay target)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path}/other.db"
        return
    async with scratch_postgres(database_url.rsplit("/", 1)[1] + "_other") as url:
        yield url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def dump(database_url: str, skip: tuple[str, ...] = ("analytics_reports",)) -> dict:
    """Every analytics table's rows, sorted: two databases with equal dumps are the same."""
    from sqlalchemy import select

    from services.analytics.adapters.tables import metadata
    from shared.db import make_engine

    engine = make_engine(database_url)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                if table.name in skip:
                    continue
                rows = (await conn.execute(select(table))).all()
                tables[table.name] = sorted((tuple(r) for r in rows), key=repr)
    finally:
        await engine.dispose()
    return tables
