"""The stock authority under load and under failure, with two real orders processes.

5,000 concurrent checkouts for 500 units: nobody oversold, nobody over their
limit. SIGKILL one process mid-sale: every order a buyer was told is theirs
survives, retries never duplicate, and sold + held + left = stock.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from shared.embedded_nats import NatsServer
from tests.orders.conftest import ADMIN, SECRET
from tests.orders.processes import OrdersProcess, orders_process

pytestmark = pytest.mark.timeout(240)

tokens = ViewerTokens(SECRET, 3600)


def bearer(customer: str) -> str:
    token, _ = tokens.issue(Viewer(room_id="r1", customer_id=customer, display_name=customer))
    return f"Bearer {token}"


@pytest.fixture
def two_orders(
    nats_server: NatsServer, database_url: str, tmp_path: Path
) -> Iterator[list[OrdersProcess]]:
    processes = [
        orders_process(nats_server.url, database_url, tmp_path, f"orders{i}") for i in (1, 2)
    ]
    try:
        for p in processes:
            p.start()
        yield processes
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.stop()


# Requests in flight at once, no more than the client's connections: requests queued
# inside httpx's pool cost it time quadratic in their number (profiled: the test client,
# not the servers, was the bottleneck of the 5,000-checkout test at 400).
CONCURRENT = 32


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        yield client


async def flash_sale(http: httpx.AsyncClient, url: str, stock: int, limit: int) -> str:
    product = (await http.post(f"{url}/products", json={"title": "Box"}, headers=ADMIN)).json()
    offer = await http.post(
        f"{url}/rooms/r1/offers",
        headers=ADMIN,
        json={
            "product_id": product["id"],
            "price_cents": 49900,
            "stock": stock,
            "per_buyer_limit": limit,
        },
    )
    offer_id = str(offer.json()["id"])
    assert (await http.post(f"{url}/offers/{offer_id}/open", headers=ADMIN)).status_code == 200
    return offer_id


async def checkout(
    http: httpx.AsyncClient,
    url: str,
    offer_id: str,
    customer: str,
    key: str,
    auth: str,
    retries: int = 3,
) -> httpx.Response:
    """As a buyer's app does: on a network error, retry with the same idempotency key."""
    for attempt in range(retries + 1):
        try:
            return await http.post(
                f"{url}/offers/{offer_id}/checkout",
                json={"quantity": 1},
                headers={"Authorization": auth, "Idempotency-Key": key},
            )
        except httpx.TransportError:
            if attempt == retries:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def test_5000_concurrent_checkouts_for_500_units_on_two_processes(
    two_orders: list[OrdersProcess], http: httpx.AsyncClient, database_url: str
) -> None:
    # The full size on PostgreSQL (the multi-replica set-up); a fifth of it on the
    # embedded SQLite default, where two processes share one file.
    scale = 1 if database_url.startswith("postgresql") else 5
    urls = [p.url for p in two_orders]
    units = 500 // scale
    offer_id = await flash_sale(http, urls[0], stock=units, limit=1)
    buyers = [f"web:b{i}" for i in range(2500 // scale)]
    auth = {b: bearer(b) for b in buyers}
    # Every buyer tries twice at once (two keys, one on each process): 5,000 checkouts.
    jobs = [(b, f"{b}-{n}", urls[n]) for b in buyers for n in (0, 1)]
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(buyer: str, key: str, url: str) -> tuple[str, dict[str, Any]]:
        async with gate:
            response = await checkout(http, url, offer_id, buyer, key, auth[buyer])
        assert response.status_code in (201, 409), response.text
        return buyer, response.json()

    results = await asyncio.gather(*(one(*job) for job in jobs))
    won = [(buyer, r["order_id"]) for buyer, r in results if "order_id" in r]
    reasons = {r["code"] for _, r in results if "code" in r}
    assert len(won) == units, len(won)
    assert len({buyer for buyer, _ in won}) == units  # nobody over the limit of 1
    assert reasons <= {"sold_out_waitlisted", "limit_reached"}
    offer = (await http.get(f"{urls[1]}/offers/{offer_id}")).json()
    assert (offer["left"], offer["held"], offer["sold"]) == (0, units, 0)


async def test_sigkill_mid_sale_loses_and_duplicates_nothing(
    two_orders: list[OrdersProcess], http: httpx.AsyncClient
) -> None:
    victim, survivor = two_orders
    offer_id = await flash_sale(http, survivor.url, stock=300, limit=2)
    told_yours: dict[str, str] = {}  # idempotency key -> order id the buyer was given
    jobs = [(f"web:k{i}", f"key-{i}-{uuid.uuid4().hex[:6]}") for i in range(600)]
    keys = itertools.cycle([victim.url, survivor.url])
    plan = [(buyer, key, next(keys)) for buyer, key in jobs]
    gate = asyncio.Semaphore(100)

    async def one(buyer: str, key: str, url: str) -> None:
        async with gate:
            try:
                response = await checkout(http, url, offer_id, buyer, key, bearer(buyer), 0)
            except httpx.HTTPError:
                return  # the process died under us: the buyer was told nothing
        if response.status_code == 201:
            told_yours[key] = response.json()["order_id"]
            if len(told_yours) >= 60:
                mid_sale.set()

    mid_sale = asyncio.Event()  # some buyers already hold units
    tasks = [asyncio.create_task(one(*job)) for job in plan]
    await mid_sale.wait()
    victim.kill()
    await asyncio.gather(*tasks)
    victim.start()  # restarted on the same database and NATS
    # Every buyer retries with the same key, half on the restarted process.
    for (buyer, key, _), url in zip(
        plan, itertools.cycle([victim.url, survivor.url]), strict=False
    ):
        response = await checkout(http, url, offer_id, buyer, key, bearer(buyer))
        assert response.status_code in (201, 409), response.text
        if key in told_yours:
            assert response.json()["order_id"] == told_yours[key], "a confirmed order changed"
        if response.status_code == 201:
            told_yours.setdefault(key, response.json()["order_id"])
    offer = (await http.get(f"{survivor.url}/offers/{offer_id}")).json()
    assert offer["left"] + offer["held"] + offer["sold"] == offer["stock"] == 300
    assert offer["held"] == len(set(told_yours.values())) == len(told_yours)
    for key, order_id in list(told_yours.items())[:50]:
        buyer = next(b for b, k, _ in plan if k == key)
        order = await http.get(
            f"{survivor.url}/orders/{order_id}", headers={"Authorization": bearer(buyer)}
        )
        assert order.status_code == 200 and order.json()["status"] == "awaiting_payment"
