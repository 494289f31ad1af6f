"""CPU per read of a chat poster's standing (decision 0053), against its simpler forms.

    [TEST_POSTGRES_URL=postgresql://...] python -m bench.live_standing [--reads 2000] [--rounds 3]

Live reads the poster's standing (room status and rules, their role and sanctions) from the
database for every chat line. Measured in one process, alternating, per round:
- `RoomService.standing` as it is (a connection, a statement built once);
- the same query through an ORM session (how it was read before);
- SQLite only: the same SQL on a raw aiosqlite connection, the ceiling under SQLAlchemy.
CPU time is the process's (every thread: aiosqlite works in its own). SQLite in a new file;
PostgreSQL in a new database when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa

from bench.orders_flash_sale import database
from services.live.adapters.tables import LiveTable, MemberRow, RoomRow
from services.live.service_layer.rooms import STANDING, RoomService
from shared.db import make_engine, make_sessionmaker

RAW_SQL = (
    "SELECT r.status, r.rules, r.pinned_offer_id, m.role, m.muted_until, m.banned "
    "FROM live_rooms r LEFT JOIN live_members m ON m.room_id = r.id AND m.customer_id = ? "
    "WHERE r.id = ?"
)


async def measure(url: str, reads: int, rounds: int) -> dict[str, list[float]]:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(LiveTable.metadata.create_all)
        await conn.execute(
            sa.insert(RoomRow.__table__),
            [{"id": "r1", "title": "t", "host_id": "h", "lineup": [], "rules": {}}],
        )
        await conn.execute(
            sa.insert(MemberRow.__table__),
            [
                {"room_id": "r1", "customer_id": f"web:{i}", "display_name": "x"}
                for i in range(reads)
            ],
        )
    sessions = make_sessionmaker(engine)
    rooms = RoomService(sessions, outbox=None)  # type: ignore[arg-type]  # reads only

    async def orm_session(room_id: str, customer_id: str) -> Any:
        query = STANDING.params(room_id=room_id, customer_id=customer_id)
        async with sessions() as session:
            conn = await session.connection()
            return (await conn.execute(query)).first()

    forms: dict[str, Callable[[str, str], Awaitable[Any]]] = {
        "RoomService.standing": rooms.standing,
        "ORM session (before)": orm_session,
    }
    raw = None
    if url.startswith("sqlite"):
        raw = await aiosqlite.connect(url.split("///", 1)[1])

        async def raw_read(room_id: str, customer_id: str) -> Any:
            assert raw is not None
            async with raw.execute(RAW_SQL, (customer_id, room_id)) as cursor:
                return await cursor.fetchone()

        forms["raw aiosqlite, same SQL (ceiling)"] = raw_read
    cpu_us: dict[str, list[float]] = {name: [] for name in forms}
    try:
        for _ in range(rounds):
            for name, read in forms.items():
                started = time.process_time()
                for i in range(reads):
                    await read("r1", f"web:{i}")
                cpu_us[name].append(1e6 * (time.process_time() - started) / reads)
    finally:
        if raw is not None:
            await raw.close()
        await engine.dispose()
    return cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live_standing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        urls = [f"sqlite:///{workdir}/standing.db"]
        with database(Path(workdir)) as postgres:
            if postgres.startswith("postgresql"):
                urls.append(postgres)
            for url in urls:
                results = asyncio.run(measure(url, args.reads, args.rounds))
                print(f"{url.split(':')[0]}: {args.reads} reads × {args.rounds}, CPU µs per read")
                for name, values in results.items():
                    each = "; ".join(f"{v:.0f}" for v in values)
                    print(f"  {name:<45} median {statistics.median(values):5.0f}  ({each})")


if __name__ == "__main__":
    main()
