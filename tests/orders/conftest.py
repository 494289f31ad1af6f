from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from services.orders.bootstrap import OrdersApp, build
from services.orders.main import create_app
from services.orders.settings import OrdersSettings
from shared.embedded_nats import NatsServer
from tests.support import serving

ADMIN = {"Authorization": "Bearer test-admin"}
SECRET = "test-secret-key-of-at-least-32-bytes!"


def orders_settings(nats_url: str, database_url: str, **overrides: Any) -> OrdersSettings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": database_url,
        "admin_token": "test-admin",
        "secret_key": SECRET,
        "payment_secret": "test-payment-secret",
        "sim_callback_delay_s": 0.05,
        "sim_duplicate_rate": 0.0,
        "sweep_every_s": 0.2,
    }
    return OrdersSettings(**{**values, **overrides})


@dataclass
class Orders:
    url: str
    app: OrdersApp
    http: httpx.AsyncClient

    def buyer(self, name: str, room_id: str = "r1", referrer: str | None = None) -> dict[str, str]:
        customer = f"web:{name}-{uuid.uuid4().hex[:6]}"
        token, _ = ViewerTokens(SECRET, 3600).issue(
            Viewer(room_id=room_id, customer_id=customer, display_name=name, referrer_id=referrer)
        )
        return {"Authorization": f"Bearer {token}", "customer_id": customer}

    async def offer(
        self,
        room_id: str = "r1",
        open_now: bool = True,
        variants: list[str] | None = None,
        host: dict[str, str] = ADMIN,  # whose offer (the admin's, unless a host's is needed)
        **terms: Any,
    ) -> dict[str, Any]:
        product = await self.http.post(
            "/products", headers=host, json={"title": "Cherries 樱桃", "variants": variants or []}
        )
        body = {
            "product_id": product.json()["id"],
            "price_cents": 49900,
            "stock": 10,
            "per_buyer_limit": 2,
            **terms,
        }
        created = await self.http.post(f"/rooms/{room_id}/offers", headers=host, json=body)
        assert created.status_code == 201, created.text
        offer: dict[str, Any] = created.json()
        if open_now:
            opened = await self.http.post(f"/offers/{offer['id']}/open", headers=host)
            assert opened.status_code == 200, opened.text
            offer = opened.json()
        return offer

    async def checkout(
        self, offer_id: str, buyer: dict[str, str], key: str | None = None, **body: Any
    ) -> httpx.Response:
        headers = {
            "Authorization": buyer["Authorization"],
            "Idempotency-Key": key or uuid.uuid4().hex,
        }
        return await self.http.post(
            f"/offers/{offer_id}/checkout", headers=headers, json={"quantity": 1, **body}
        )

    async def get(self, path: str, buyer: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Authorization": buyer["Authorization"]} if buyer else ADMIN
        response = await self.http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def orders(nats_server: NatsServer, database_url: str) -> AsyncIterator[Orders]:
    app = build(orders_settings(nats_server.url, database_url))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        app.gateway.callback_url = f"{url}/payments/callback"
        yield Orders(url, app, http)
