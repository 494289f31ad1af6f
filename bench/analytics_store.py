"""The analytics store alone: decode, fold and write the benchmark's events in batches
into a fresh SQLite file (no NATS, no service), with the time of each phase; then, with
`--reports N`, build the show's report N times on the database it made.

A profiling aid for the projection and the report (`bench.analytics_projection` measures
the whole service); it compares batch sizes in one run, e.g.

    python -m bench.analytics_store --events 1000000 --batch 5000 20000
    python -m bench.analytics_store --events 1000000 --reports 3 --postgres "$TEST_POSTGRES_URL"
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.analytics_projection import _drop_postgres, _fresh_postgres, last_show, shows
from services.analytics.adapters.store import Store
from services.analytics.adapters.tables import metadata
from services.analytics.service_layer.reports import Reports
from shared import db
from shared.events import parse_event

ROOM = last_show(1, 1_000_000).room_id  # one show: r_bench0000


async def project(raw: list[bytes], batch: int, url: str, reports: int) -> dict[str, float]:
    engine = db.make_engine(url)
    await db.migrate(engine, metadata)
    store = Store(engine)
    phases = {"decode": 0.0, "fold": 0.0, "write": 0.0}
    started = time.perf_counter()
    try:
        for i in range(0, len(raw), batch):
            a = time.perf_counter()
            events = [parse_event(r) for r in raw[i : i + batch]]
            b = time.perf_counter()
            prepared = store.prepare(events)
            c = time.perf_counter()
            await store.write(prepared)
            d = time.perf_counter()
            phases["decode"] += b - a
            phases["fold"] += c - b
            phases["write"] += d - c
        phases["total"] = time.perf_counter() - started
        builder = Reports(store, asyncio.Lock())
        for n in range(reports):
            begun = time.perf_counter()
            await builder.build(ROOM)
            phases[f"report {n + 1}"] = time.perf_counter() - begun
    finally:
        await engine.dispose()
    return phases


async def main(args: argparse.Namespace) -> None:
    events = [e for show in shows(args.events, args.events // 10, 1_000_000) for e in show]
    raw = [e.model_dump_json().encode() for e in events]
    print(f"{len(raw):,} events, {args.events // 10:,} customers, one show")
    for batch in args.batch:
        if args.postgres:
            name, url = await _fresh_postgres(args.postgres)
            try:
                url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
                t = await project(raw, batch, url, args.reports)
            finally:
                await _drop_postgres(args.postgres, name)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'analytics.db'}"
                t = await project(raw, batch, url, args.reports)
        print(
            f"batch {batch:>6,}: {len(raw) / t['total']:>8,.0f} events/s  "
            + "  ".join(f"{k} {v:.2f} s" for k, v in t.items())
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.analytics_store", description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[20_000])
    parser.add_argument("--reports", type=int, default=0, help="report builds to time")
    parser.add_argument("--postgres", default="", help="a PostgreSQL server URL instead of SQLite")
    asyncio.run(main(parser.parse_args()))
