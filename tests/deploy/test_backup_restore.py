"""The runbook's PostgreSQL backup and restore (deploy/README.md), run as written:
pg_dump -Fc of a database with a sale in it, pg_restore --clean --if-exists into an empty
one, and orders started on the restored database has every order and counter, and sells on."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.orders.bootstrap import build
from services.orders.main import create_app
from shared.embedded_nats import NatsServer
from tests.conftest import POSTGRES_URL, _pg_admin_url
from tests.orders.conftest import Orders, orders_settings
from tests.support import serving


async def _create(name: str) -> str:
    admin = await asyncpg.connect(_pg_admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{_pg_admin_url().rsplit('/', 1)[0]}/{name}"


@pytest.fixture
async def two_databases() -> AsyncIterator[tuple[str, str]]:
    """The live database and an empty one to restore into."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL backup/restore: TEST_POSTGRES_URL is not set")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("PostgreSQL backup/restore: pg_dump/pg_restore are not installed")
    names = [f"qunlive_restore_{uuid.uuid4().hex[:10]}_{n}" for n in (1, 2)]
    urls = [await _create(name) for name in names]
    try:
        yield urls[0], urls[1]
    finally:
        admin = await asyncpg.connect(_pg_admin_url())
        try:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_pg_dump_and_pg_restore_bring_back_every_order(
    nats_server: NatsServer, two_databases: tuple[str, str], tmp_path: Path
) -> None:
    database_url, empty_database = two_databases
    dump = tmp_path / "qunlive.dump"

    app = build(orders_settings(nats_server.url, database_url))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        orders = Orders(url, app, http)
        offer = await orders.offer(stock=5, per_buyer_limit=1)
        buyers = [orders.buyer(f"b{n}") for n in range(3)]
        placed = [(await orders.checkout(offer["id"], b)).json()["order_id"] for b in buyers]
        before = await orders.get(f"/offers/{offer['id']}")

        # While the service runs, as the runbook does.
        dumped = await asyncio.to_thread(
            subprocess.run, ["pg_dump", "-Fc", "-d", database_url, "-f", str(dump)]
        )
        assert dumped.returncode == 0

    restore = await asyncio.to_thread(
        subprocess.run,
        ["pg_restore", "--clean", "--if-exists", "-d", empty_database, str(dump)],
        capture_output=True,
        text=True,
    )
    assert restore.returncode == 0, restore.stderr

    app = build(orders_settings(nats_server.url, empty_database))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        orders = Orders(url, app, http)
        assert await orders.get(f"/offers/{offer['id']}") == before
        for buyer, order_id in zip(buyers, placed, strict=True):
            order = await orders.get(f"/orders/{order_id}", buyer)
            assert order["status"] == "awaiting_payment"
        again = await orders.checkout(offer["id"], orders.buyer("after-restore"))
        assert again.status_code == 201, again.text
        assert (await orders.get(f"/offers/{offer['id']}"))["held"] == 4
