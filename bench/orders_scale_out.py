"""One hot offer served by 1, 2 and 3 orders processes: does checkout scale out?

    python -m bench.orders_scale_out [--procs 1,2,3] [--units 10000] [--buyers 20000]
                                     [--connections 200] [--runs 1]

Each size N gets a fresh database and N orders processes on one nats-server; the
first process creates and opens one offer, then N wrk instances (one per process,
each with its own slice of the buyers and connections/N connections) check out at
once. Figures per size: the aggregate checkouts a second (all requests over the
wall time from the first request to the last answer), each instance's p50/p99 (the
worst instance's p99 is the one reported: wrk cannot merge distributions), and the
CPU time one checkout costs in each part: the orders processes, the PostgreSQL
backends serving this database (pg_stat_activity; the server's shared writers are
not counted) and nats-server. Those per-checkout costs are what docs/CAPACITY.md
extrapolates from.

Every size checks the stock after the sale: left + held + sold = units, nothing
oversold. PostgreSQL when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set (a fresh
database per size); SQLite otherwise (one writer at a time: it cannot scale out).
Writes test-artifacts/bench/orders_scale_out.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.live_fanout import cpu_seconds
from bench.orders_flash_sale import ADMIN, buyers, database, orders_env, process, run_wrk
from bench.results import postgres_version, sqlite_database, wrk_version
from shared.embedded_nats import free_port, start_nats_server


def _postgres_url() -> str | None:
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")


def backend_pids(db_url: str) -> list[int]:
    """The PostgreSQL backends connected to this benchmark's database (not our own)."""
    if not db_url.startswith("postgresql"):
        return []
    import asyncpg

    async def ask() -> list[int]:
        conn = await asyncpg.connect(db_url)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            return [int(r["pid"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(ask())


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(pid)
    return total


def one_size(
    args: argparse.Namespace, procs: int, nats_url: str, nats_pid: int, workdir: Path
) -> dict[str, Any]:
    lines = buyers(args.buyers)
    with database(workdir) as db_url, contextlib.ExitStack() as stack:
        ports = [free_port() for _ in range(procs)]
        pids: list[int] = []
        for i, port in enumerate(ports):
            env = orders_env(port, nats_url, db_url, workdir / f"orders-{i}")
            url = f"http://127.0.0.1:{port}"
            pids.append(
                stack.enter_context(
                    process(
                        [sys.executable, "-m", "services.orders"],
                        env,
                        f"{url}/readyz",
                        workdir / f"orders-{procs}-{i}.log",
                    )
                )
            )
        first = f"http://127.0.0.1:{ports[0]}"
        product = httpx.post(f"{first}/products", json={"title": "Cherries"}, headers=ADMIN)
        offer = httpx.post(
            f"{first}/rooms/bench/offers",
            headers=ADMIN,
            json={
                "product_id": product.json()["id"],
                "price_cents": 49900,
                "stock": args.units,
                "per_buyer_limit": 1,
            },
        ).json()
        httpx.post(f"{first}/offers/{offer['id']}/open", headers=ADMIN).raise_for_status()
        backends = backend_pids(db_url)
        slices = [lines[i::procs] for i in range(procs)]
        per_instance = max(procs, args.connections // procs)
        threads = 2 if procs == 1 else 1  # wrk's threads in all: 2, 2, 3
        cpu0 = (_cpu(pids), _cpu(backends), _cpu([nats_pid]))
        started = time.monotonic()
        with ThreadPoolExecutor(procs) as pool:
            answers = list(
                pool.map(
                    lambda i: run_wrk(
                        f"http://127.0.0.1:{ports[i]}/offers/{offer['id']}/checkout",
                        slices[i],
                        "POST",
                        per_instance,
                        workdir,
                        threads=threads,
                    ),
                    range(procs),
                )
            )
        wall = time.monotonic() - started
        backends = sorted(set(backends) | set(backend_pids(db_url)))  # opened during the sale
        cpu1 = (_cpu(pids), _cpu(backends), _cpu([nats_pid]))
        after = httpx.get(f"{first}/offers/{offer['id']}").json()
    requests = sum(a["requests"] for a in answers)
    if after["left"] + after["held"] + after["sold"] != args.units:
        raise RuntimeError(f"stock does not add up after the sale: {after}")
    # wrk's own elapsed time per instance; the sale took as long as the slowest instance.
    seconds = max(a["requests"] / a["per_s"] for a in answers if a["per_s"])
    orders_cpu, pg_cpu, nats_cpu = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    return {
        "procs": procs,
        "requests": requests,
        "per_s": requests / seconds,
        "wall_s": round(wall, 2),
        "p50_ms": statistics.median(a["p50_ms"] for a in answers),
        "p99_ms": max(a["p99_ms"] for a in answers),
        "non_2xx": sum(a["non_2xx"] for a in answers),
        "held": int(after["held"]),
        "sold": int(after["sold"]),
        "left": int(after["left"]),
        "oversold": max(0, int(after["held"]) + int(after["sold"]) - args.units),
        "orders_cpu_ms": 1000 * orders_cpu / requests,
        "postgres_cpu_ms": 1000 * pg_cpu / requests if backends else None,
        "nats_cpu_ms": 1000 * nats_cpu / requests,
        "orders_cpu_percent": 100 * orders_cpu / seconds,
        "postgres_cpu_percent": 100 * pg_cpu / seconds if backends else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", default="1,2,3", help="orders processes, per size")
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=200, help="in all, split per process")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.procs.split(",") if n.strip()]
    if shutil.which("wrk") is None:
        sys.exit("wrk is the load generator: install it (`apt-get install wrk`) and run again")
    per_size: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory(prefix="qunlive-scale-") as tmp:
        workdir = Path(tmp)
        nats = start_nats_server(workdir / "nats", port=free_port())
        try:
            for _ in range(args.runs):
                for n in sizes:
                    figures = one_size(args, n, nats.url, nats.process.pid, workdir)
                    per_size[n].append(figures)
                    print(
                        f"{n} orders process(es): {figures['per_s']:,.0f} checkouts/s, "
                        f"p99 {figures['p99_ms']:,.0f} ms (worst instance), "
                        f"CPU per checkout: orders {figures['orders_cpu_ms']:.2f} ms, "
                        f"PostgreSQL {figures['postgres_cpu_ms'] or 0:.2f} ms, "
                        f"nats {figures['nats_cpu_ms']:.2f} ms; oversold {figures['oversold']}",
                        flush=True,
                    )
        finally:
            nats.stop()
    postgres = _postgres_url()
    one = per_size.get(1)
    results.write(
        "orders_scale_out",
        title="One hot offer, 1 to 3 orders processes",
        parameters=dict(vars(args)),
        load_generator={
            "name": "wrk",
            "version": wrk_version(),
            "how": "one wrk per orders process (connections split), bench/flash_sale.lua, "
            "every request a different buyer; all instances at once",
        },
        run_count=args.runs,
        scenarios=[
            results.scenario(
                f"procs_{n}",
                f"{n} orders process{'es' if n > 1 else ''}, one offer",
                "measured",
                per_size[n],
            )
            for n in sizes
        ],
        ratios=[
            results.ratio(
                f"procs_{n}_vs_1",
                f"checkouts/s with {n} processes / with 1",
                [r["per_s"] / b["per_s"] for r, b in zip(per_size[n], one, strict=True)],
            )
            for n in sizes
            if one and n != 1
        ],
        databases=[
            {"kind": "PostgreSQL", "version": asyncio.run(postgres_version(postgres))}
            if postgres
            else sqlite_database()
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
