"""/metrics on every service, and the counters move: requests and latency per route,
websockets per room, frames out, messages consumed and published, checkouts and their
outcomes (button and chat claim), consumer lag per durable consumer, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.analytics.bootstrap import build as build_analytics
from services.analytics.main import create_app as analytics_app
from services.analytics.settings import AnalyticsSettings
from services.ingest.bootstrap import build as build_ingest
from services.ingest.main import create_app as ingest_app
from services.live.bootstrap import build as build_live
from services.live.main import create_app as live_app
from services.orders.bootstrap import build as build_orders
from services.orders.main import create_app as orders_app
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.metrics import MetricsMiddleware
from tests.ingest.conftest import ingest_settings
from tests.live.client import TestViewer
from tests.live.conftest import ADMIN, join, live_settings, open_room
from tests.orders.conftest import Orders, orders_settings
from tests.support import eventually, serving

pytestmark = pytest.mark.timeout(60)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def scrape(http: httpx.AsyncClient, base_url: str) -> str:
    response = await http.get(f"{base_url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@dataclass
class Platform:
    live: str
    orders: Orders
    ingest: str
    analytics: str

    @property
    def urls(self) -> dict[str, str]:
        return {
            "live": self.live,
            "orders": self.orders.url,
            "ingest": self.ingest,
            "analytics": self.analytics,
        }


@pytest.fixture
async def platform(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Platform]:
    def db(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp_path}/{name}.db"

    url = nats_server.url
    orders = build_orders(orders_settings(url, db("orders")))
    analytics = AnalyticsSettings(nats_url=url, database_url=db("analytics"))
    async with (
        serving(live_app(build_live(live_settings(url, db("live"))))) as live,
        serving(orders_app(orders)) as orders_url,
        serving(ingest_app(build_ingest(ingest_settings(url, db("ingest"))))) as ingest,
        serving(analytics_app(build_analytics(analytics))) as analytics_url,
        httpx.AsyncClient(base_url=orders_url, timeout=30) as http,
    ):
        yield Platform(live, Orders(orders_url, orders, http), ingest, analytics_url)


async def test_every_service_serves_metrics_and_the_counters_move(platform: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        before = {name: await scrape(http, url) for name, url in platform.urls.items()}
        for text in before.values():
            assert "qunlive_http_requests_total" in text
            assert "qunlive_dead_letters_total" in text

        # Live: a room, a viewer on its websocket, a chat line fanned out.
        room = await open_room(platform.live)
        offer = await platform.orders.offer(room_id=room, stock=1, per_buyer_limit=1)
        pin = await http.post(
            f"{platform.live}/rooms/{room}/pin", json={"offer_id": offer["id"]}, headers=ADMIN
        )
        assert pin.status_code == 200, pin.text
        lily = await TestViewer.connect(platform.live, await join(platform.live, room, "Lily"))
        try:
            live = await scrape(http, platform.live)
            assert sample(live, "qunlive_ws_connections", room=room) == 1
            # Chat to buy: "+1" becomes a claim that orders decides (the one unit).
            await lily.send(type="chat", text="+1")
            await lily.wait_for(lambda f: f["type"] == "notice" and f["kind"] == "order_placed")
            live = await scrape(http, platform.live)
            assert sample(live, "qunlive_ws_frames_out_total") > sample(
                before["live"], "qunlive_ws_frames_out_total"
            )
            assert sample(live, "qunlive_messages_consumed_total", consumer="room-fanout") > 0
            assert sample(live, "qunlive_messages_published_total", domain="cmd") >= 1
        finally:
            await lily.close()

        async def socket_gone() -> bool:
            text = await scrape(http, platform.live)
            return sample(text, "qunlive_ws_connections", room=room) == 0

        await eventually(socket_gone)

        # Orders: a button checkout that sells out, counted by source and outcome.
        buyer = platform.orders.buyer("Wei", room_id=room)
        refused = await platform.orders.checkout(offer["id"], buyer)
        assert refused.status_code == 409, refused.text
        orders = await scrape(http, platform.orders.url)
        old = before["orders"]
        for source, outcome in (("claim", "ok"), ("http", "sold_out_waitlisted")):
            labels = {"source": source, "outcome": outcome}
            assert sample(orders, "qunlive_checkouts_total", **labels) == 1 + sample(
                old, "qunlive_checkouts_total", **labels
            ), (source, outcome)
        route = {"method": "POST", "route": "/offers/{offer_id}/checkout"}
        assert sample(orders, "qunlive_http_requests_total", status="409", **route) >= 1
        assert sample(orders, "qunlive_http_request_duration_seconds_count", **route) >= 1
        assert sample(orders, "qunlive_messages_consumed_total", consumer="orders-claims") >= 1
        assert "qunlive_consumer_pending{" in orders
        assert 'consumer="orders-claims"' in orders

        # Raw paths never become labels.
        assert (await http.get(f"{platform.orders.url}/no/such/{uuid.uuid4().hex}")).status_code
        orders = await scrape(http, platform.orders.url)
        assert sample(orders, "qunlive_http_requests_total", route="unmatched", status="404") >= 1

        # Analytics: consumes the room's events, reports its lag, dead-letters what it can't read.
        nc = await nats.connect(platform.orders.app.settings.nats_url)
        try:
            await nc.jetstream().publish(subjects.room_event("live", room, "chat.x"), b"not json")
        finally:
            await nc.drain()

        async def analytics_caught_up() -> str:
            text = await scrape(http, platform.analytics)
            lag = sample(text, "qunlive_consumer_pending", consumer="analytics-live")
            dead = sample(text, "qunlive_dead_letters_total", service="analytics")
            consumed = sample(text, "qunlive_messages_consumed_total", consumer="analytics-live")
            return text if dead >= 1 and consumed >= 3 and lag == 0 else ""

        text = await eventually(analytics_caught_up, timeout=20, interval=0.2)
        assert 'qunlive_consumer_pending{consumer="analytics-live",stream="LIVE"}' in text

        # Ingest serves its route metrics like the others.
        assert (await http.get(f"{platform.ingest}/healthz")).status_code == 200
        ingest = await scrape(http, platform.ingest)
        assert sample(ingest, "qunlive_http_requests_total", route="/healthz", status="200") >= 1


async def test_middleware_labels_by_route_template() -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.add_middleware(MetricsMiddleware)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        from prometheus_client import generate_latest

        before = sample(
            generate_latest().decode(),
            "qunlive_http_requests_total",
            route="/things/{thing_id}",
            status="200",
        )
        for n in range(3):
            assert (await http.get(f"/things/{n}")).status_code == 200
        after = generate_latest().decode()
        labels = {"route": "/things/{thing_id}", "status": "200", "method": "GET"}
        assert sample(after, "qunlive_http_requests_total", **labels) == before + 3
        assert "/things/1" not in after
