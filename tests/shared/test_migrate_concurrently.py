"""Replicas starting together on a fresh PostgreSQL database all run create_all at once;
the advisory lock in shared.db.migrate lets one create while the others wait."""

from __future__ import annotations

import asyncio

import pytest

from services.live.adapters.tables import metadata as live_metadata
from services.orders.adapters.tables import metadata as orders_metadata
from shared import db


async def test_replicas_migrating_one_fresh_database_at_once(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the race is PostgreSQL's (SQLite serialises writers itself)")
    engines = [db.make_engine(database_url) for _ in range(6)]
    try:
        await asyncio.gather(
            *(
                db.migrate(engine, orders_metadata if n % 2 else live_metadata)
                for n, engine in enumerate(engines)
            )
        )
        for metadata in (orders_metadata, live_metadata):
            assert await db.is_migrated(engines[0], metadata)
    finally:
        for engine in engines:
            await engine.dispose()
