"""Fixtures: every test that needs NATS gets its own real nats-server on a free port.

Databases: SQLite always; PostgreSQL too where TEST_POSTGRES_URL is set (each
test gets a fresh database there, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from shared.embedded_nats import NatsServer, start_nats_server
from shared.streams import provision_streams

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
DB_BACKENDS = ["sqlite", "postgres"]


def pytest_report_header() -> str:
    where = POSTGRES_URL or "not set: PostgreSQL variants skip"
    return f"TEST_POSTGRES_URL: {where}"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = start_nats_server(tmp_path / "jetstream")
    try:
        yield server
    finally:
        server.kill()  # its store is the test's tmp_path: nothing to shut down in order


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_server.url)
    await provision_streams(client.jetstream())
    try:
        yield client
    finally:
        # Not drain(): a test's subscription read with next_msg has no callback, so messages
        # that arrive after its last read are never taken and drain waits its full 30 s for
        # them (a loaded CI run spent 30 s in one teardown). flush() still makes sure what
        # the test published reached the server.
        await client.flush()
        await client.close()


def _pg_admin_url() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(params=DB_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: SQLite file, and PostgreSQL where TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL variant: TEST_POSTGRES_URL is not set")
    async with scratch_postgres(f"qunlive_test_{uuid.uuid4().hex[:12]}") as url:
        yield url.replace("postgresql://", "postgresql+asyncpg://", 1)


@asynccontextmanager
async def scratch_postgres(name: str) -> AsyncIterator[str]:
    """A new PostgreSQL database `name` on the TEST_POSTGRES_URL server (its
    postgresql:// URL), dropped afterwards whatever still holds connections to it."""
    admin = await asyncpg.connect(_pg_admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        # Commits do not wait for the WAL flush (2-3 ms each here): only a crash of the
        # PostgreSQL server could lose them, and no test crashes it; what other sessions
        # see, locks and isolation are unchanged.
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()
    try:
        yield f"{_pg_admin_url().rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(_pg_admin_url())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
