"""Orders and ingest start, provision and answer health checks (their features come later)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.ingest.bootstrap import build as build_ingest
from services.ingest.main import create_app as ingest_app
from services.ingest.settings import IngestSettings
from services.orders.bootstrap import build as build_orders
from services.orders.main import create_app as orders_app
from services.orders.settings import OrdersSettings
from shared.embedded_nats import NatsServer
from tests.support import eventually, serving


@pytest.mark.parametrize("service", ["orders", "ingest"])
async def test_service_is_ready_with_nats_streams_and_database(
    service: str, nats_server: NatsServer, database_url: str, tmp_path: Path
) -> None:
    if service == "orders":
        app = orders_app(
            build_orders(OrdersSettings(nats_url=nats_server.url, database_url=database_url))
        )
    else:
        app = ingest_app(
            build_ingest(IngestSettings(nats_url=nats_server.url, database_url=database_url))
        )
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "service": service}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True
        assert "paths" in (await http.get("/openapi.json")).json()


async def test_readyz_says_what_is_missing_when_nats_goes_away(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = OrdersSettings(
        nats_url=nats_server.url, database_url=f"sqlite+aiosqlite:///{tmp_path}/o.db"
    )
    async with (
        serving(orders_app(build_orders(settings))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        nats_server.stop()

        async def not_ready() -> dict | None:
            response = await http.get("/readyz")
            return response.json() if response.status_code == 503 else None

        body = await eventually(not_ready)
        assert body["checks"]["nats"] != "ok"
        assert (await http.get("/healthz")).status_code == 200
