"""The distributed topology per test, on a fresh PostgreSQL database (TEST_POSTGRES_URL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext

from tests.conftest import POSTGRES_URL, scratch_postgres
from tests.distributed.topology import Topology, build_topology


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    if not POSTGRES_URL:
        pytest.skip("distributed topology needs PostgreSQL: TEST_POSTGRES_URL is not set")
    async with scratch_postgres(f"qunlive_dist_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture
async def topology(postgres_database: str, tmp_path: Path) -> AsyncIterator[Topology]:
    """3 NATS nodes (R3 streams), live x2, orders x2, ingest, analytics: started and ready."""
    topology = build_topology(tmp_path, postgres_database)
    try:
        await topology.start()
        yield topology
    except BaseException:
        print(topology.logs())
        raise
    finally:
        topology.stop()


@pytest.fixture
async def db(postgres_database: str) -> AsyncIterator[asyncpg.Connection]:
    """The topology's database, for the tallies (read only)."""
    conn = await asyncpg.connect(postgres_database)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def js(topology: Topology) -> AsyncIterator[JetStreamContext]:
    """A client of the cluster (all three nodes: it fails over like the services)."""
    nc = await nats.connect(topology.cluster.url.split(","), max_reconnect_attempts=-1)
    try:
        yield nc.jetstream(timeout=2)
    finally:
        await nc.close()
