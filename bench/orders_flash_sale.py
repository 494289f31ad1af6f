"""Flash sale: 10,000 units, 20,000 buyers arriving at once, driven by wrk.

    python -m bench.orders_flash_sale [--units 10000] [--buyers 20000] [--connections 200]
                                      [--bursts sellout,allwin] [--repeat 1]

Load generator: wrk (https://github.com/wg/wrk, `apt-get install wrk`) with
bench/flash_sale.lua; every request is a different buyer (own viewer token, own
idempotency key). The scenarios of one run:

- noop: the orders process answering GET /healthz: the ceiling of the web stack;
- checkout (sell-out): the real checkout (order row, idempotency record, per-buyer
  limit, outbox events, waitlist for the losers) on one orders process, --units for
  --buyers on a fresh offer;
- checkout_allwin: the same buyers on another fresh offer with a unit for each: every
  checkout writes an order (the costlier path);
- update: bench/stock_update_app.py, the simplest correct alternative, a bare
  conditional `UPDATE ... WHERE left > 0` per request on the same HTTP stack (its own
  process, after the orders process stopped).

PostgreSQL when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set (a fresh database
is created), else SQLite. Prints a table with medians of --repeat runs; writes
test-artifacts/bench/orders_flash_sale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.results import postgres_version, sqlite_database, wrk_version
from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from shared.embedded_nats import free_port, start_nats_server

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-of-at-least-32-bytes!"
ADMIN = {"Authorization": "Bearer bench-admin"}


@dataclass
class Figures:
    scenario: str
    requests: int
    per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    tally: str
    # The offer's counters after the sale (checkout) or the row's stock (update).
    counters: dict[str, int] | None = None


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str, lines: list[str], method: str, connections: int, workdir: Path, threads: int = 2
) -> dict[str, Any]:
    requests_file = workdir / f"requests-{uuid.uuid4().hex[:6]}.txt"
    requests_file.write_text("\n".join(lines) + "\n")
    base = url.split("/", 3)  # http:, "", host:port, path
    env = dict(
        os.environ,
        REQUESTS_FILE=str(requests_file),
        REQUEST_METHOD=method,
        REQUEST_PATH="/" + base[3],
        WRK_THREADS=str(threads),
    )
    done_file = workdir / f"done-{uuid.uuid4().hex[:6]}"
    env["DONE_FILE"] = str(done_file)
    wrk = subprocess.Popen(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            "-d600s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(REPO / "bench" / "flash_sale.lua"),
            "/".join(base[:3]),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    # wrk runs for its whole -d; once every thread has had all its answers, stop it.
    while wrk.poll() is None:
        if done_file.exists() and done_file.read_text().count("done") >= threads:
            wrk.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    out, _ = wrk.communicate(timeout=60)
    latency = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", out, re.MULTILINE))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": total,
        "per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "raw": out,
    }


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[int]:
    """A server process, once it answers `ready_url`; yields its pid."""
    with log.open("ab") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args} not ready: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def database(workdir: Path) -> Iterator[str]:
    admin_url = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if not admin_url:
        yield f"sqlite+aiosqlite:///{workdir}/bench.db"
        return
    import asyncio

    import asyncpg

    name = f"qunlive_bench_{uuid.uuid4().hex[:8]}"
    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield plain.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def buyers(n: int) -> list[str]:
    tokens = ViewerTokens(SECRET, 3600)
    lines = []
    for i in range(n):
        token, _ = tokens.issue(Viewer(room_id="bench", customer_id=f"web:b{i}", display_name="b"))
        lines.append(f"{token} bench-{i}-{uuid.uuid4().hex[:8]}")
    return lines


def sale(
    url: str,
    product_id: str,
    units: int,
    burst: str,
    lines: list[str],
    args: argparse.Namespace,
    workdir: Path,
) -> Figures:
    """One burst on a fresh offer of `units`: every buyer once, then the stock checked."""
    offer = httpx.post(
        f"{url}/rooms/bench/offers",
        headers=ADMIN,
        json={"product_id": product_id, "price_cents": 49900, "stock": units, "per_buyer_limit": 1},
    ).json()
    httpx.post(f"{url}/offers/{offer['id']}/open", headers=ADMIN).raise_for_status()
    # Keys of their own per burst: the same buyers, new requests.
    keyed = [f"{line}-{burst}" for line in lines]
    done = run_wrk(f"{url}/offers/{offer['id']}/checkout", keyed, "POST", args.connections, workdir)
    after = httpx.get(f"{url}/offers/{offer['id']}").json()
    counters = {k: int(after[k]) for k in ("left", "held", "sold")}
    counters["oversold"] = max(0, counters["held"] + counters["sold"] - units)
    assert after["left"] + after["held"] + after["sold"] == units, after
    assert after["held"] <= units
    return Figures(
        SCENARIO_LABEL[burst],
        done["requests"],
        done["per_s"],
        done["p50_ms"],
        done["p99_ms"],
        done["non_2xx"],
        f"left={after['left']} held={after['held']} sold={after['sold']}",
        counters,
    )


def orders_env(port: int, nats_url: str, db_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of an orders process under the benchmark (`python -m services.orders`)."""
    return dict(
        os.environ,
        PORT=str(port),
        NATS_URL=nats_url,
        DATABASE_URL=db_url,
        ADMIN_TOKEN="bench-admin",
        SECRET_KEY=SECRET,
        LOG_LEVEL="WARNING",
        DATA_DIR=str(data_dir),
        SWEEP_EVERY_S="5",
    )


def one_run(args: argparse.Namespace, nats_url: str, workdir: Path) -> list[Figures]:
    lines = buyers(args.buyers)
    figures: list[Figures] = []
    with database(workdir) as db_url:
        port = free_port()
        env = orders_env(port, nats_url, db_url, workdir)
        url = f"http://127.0.0.1:{port}"
        with process(
            [sys.executable, "-m", "services.orders"], env, f"{url}/readyz", workdir / "orders.log"
        ):
            noop = run_wrk(f"{url}/healthz", lines, "GET", args.connections, workdir)
            figures.append(
                Figures(
                    "noop (GET /healthz, same stack)",
                    noop["requests"],
                    noop["per_s"],
                    noop["p50_ms"],
                    noop["p99_ms"],
                    noop["non_2xx"],
                    "",
                )
            )
            product = httpx.post(
                f"{url}/products", json={"title": "Cherries"}, headers=ADMIN
            ).json()
            for burst in args.bursts:
                units = args.units if burst == "sellout" else args.buyers
                figures.append(sale(url, product["id"], units, burst, lines, args, workdir))
        # The sell-out solved by FastAPI, on its own database; listed last.
        via_fastapi = None
        if args.compare_fastapi:
            with database(workdir) as other_db:
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                env.update(PORT=str(port), DATABASE_URL=other_db)
                with process(
                    [sys.executable, "-m", "bench.orders_via_fastapi"],
                    env,
                    f"{url}/readyz",
                    workdir / "orders-fastapi.log",
                ):
                    product = httpx.post(
                        f"{url}/products", json={"title": "Cherries"}, headers=ADMIN
                    ).json()
                    via_fastapi = sale(
                        url, product["id"], args.units, "fastapi", lines, args, workdir
                    )
        port = free_port()
        env = dict(os.environ, DATABASE_URL=db_url, STOCK=str(args.units))
        url = f"http://127.0.0.1:{port}"
        with process(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.stock_update_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--timeout-keep-alive",
                "30",
            ],
            env,
            f"{url}/left",
            workdir / "update.log",
        ):
            update = run_wrk(f"{url}/buy", lines, "POST", args.connections, workdir)
            left = httpx.get(f"{url}/left").json()["left"]
            figures.append(
                Figures(
                    "bare conditional UPDATE (same stack)",
                    update["requests"],
                    update["per_s"],
                    update["p50_ms"],
                    update["p99_ms"],
                    update["non_2xx"],
                    f"left={left}",
                    {"left": int(left)},
                )
            )
        # The prototype's rows go to the same database as the real checkout's.
        owner = (
            owner_prototype(args, nats_url, db_url, lines, workdir) if args.owner_prototype else []
        )
    return figures + ([via_fastapi] if via_fastapi else []) + owner


def owner_prototype(
    args: argparse.Namespace, nats_url: str, db_url: str, lines: list[str], workdir: Path
) -> list[Figures]:
    """Decision 0051's prototype (bench/stock_owner_app.py), same run: its own no-op, then
    each burst on a fresh offer decided in memory, the rows written behind by its writer;
    how long the rows took to follow the last answer, and whether they match."""
    import asyncio

    import asyncpg

    async def follow(offer_id: str, sold: int, answered: float) -> tuple[int, int, float]:
        """Wait for the writer's rows to catch up with the units sold: (orders, waitlist
        rows, seconds after the last answer)."""
        conn = await asyncpg.connect(db_url)
        try:
            count = "SELECT count(*) FROM {} WHERE offer_id = $1"
            while True:
                written = int(await conn.fetchval(count.format("owner_orders"), offer_id))
                if written >= sold or time.monotonic() - answered > 120:
                    break
                await asyncio.sleep(0.1)
            behind_s = time.monotonic() - answered
            waitlisted = int(await conn.fetchval(count.format("owner_waitlist"), offer_id))
            return written, waitlisted, behind_s
        finally:
            await conn.close()

    figures: list[Figures] = []
    env = dict(os.environ, NATS_URL=nats_url, DATABASE_URL=db_url, SECRET_KEY=SECRET)
    writer_log = workdir / "owner-writer.log"
    with writer_log.open("ab") as out:
        writer = subprocess.Popen(
            [sys.executable, "-m", "bench.stock_owner_app", "writer"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "writer ready" not in writer_log.read_text():
            if writer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the writer did not start: {writer_log.read_text()[-2000:]}")
            time.sleep(0.1)
        for burst in args.bursts:
            units = args.units if burst == "sellout" else args.buyers
            offer_id = f"off_{uuid.uuid4().hex[:12]}"
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            owner_env = dict(env, OFFER_ID=offer_id, STOCK=str(units), PER_BUYER_LIMIT="1")
            command = [
                sys.executable, "-m", "uvicorn", "bench.stock_owner_app:app", "--port",
                str(port), "--log-level", "warning", "--timeout-keep-alive", "30",
                "--backlog", "4096",
            ]  # fmt: skip
            with process(command, owner_env, f"{url}/healthz", workdir / "owner.log"):
                if not figures:
                    noop = run_wrk(f"{url}/healthz", lines, "GET", args.connections, workdir)
                    figures.append(
                        Figures(
                            OWNER_LABEL["noop"], noop["requests"], noop["per_s"],
                            noop["p50_ms"], noop["p99_ms"], noop["non_2xx"], "",
                        )
                    )  # fmt: skip
                keyed = [f"{line}-owner-{burst}" for line in lines]
                done = run_wrk(
                    f"{url}/offers/{offer_id}/checkout", keyed, "POST", args.connections, workdir
                )
                answered = time.monotonic()
                after = httpx.get(f"{url}/offers/{offer_id}").json()
            # The rows follow the decisions (quantity 1 each: a row per unit sold).
            written, waitlisted, behind_s = asyncio.run(follow(offer_id, after["sold"], answered))
            counters = {
                "left": int(after["left"]),
                "sold": int(after["sold"]),
                "oversold": max(0, int(after["sold"]) - units),
                "rows": written,
                "waitlisted": waitlisted,
                "appends": int(after["appends"]),
            }
            assert after["left"] + after["sold"] == units, after
            assert written == after["sold"], f"rows {written} != sold {after['sold']}"
            figures.append(
                Figures(
                    OWNER_LABEL[burst], done["requests"], done["per_s"], done["p50_ms"],
                    done["p99_ms"], done["non_2xx"],
                    f"left={after['left']} sold={after['sold']} rows={written} "
                    f"waitlisted={waitlisted} appends={after['appends']} "
                    f"rows_behind={behind_s:.1f}s",
                    counters | {"rows_behind_ms": round(behind_s * 1000)},
                )
            )  # fmt: skip
    finally:
        writer.terminate()
        writer.wait(20)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--bursts",
        default="sellout,allwin",
        help="sellout: --units for --buyers; allwin: as many units as buyers",
    )
    parser.add_argument(
        "--compare-fastapi",
        action="store_true",
        help="also the sell-out solved by FastAPI (bench/orders_via_fastapi.py), same run",
    )
    parser.add_argument(
        "--owner-prototype",
        action="store_true",
        help="also decision 0051's in-memory stock owner (bench/stock_owner_app.py), "
        "same run; needs PostgreSQL",
    )
    args = parser.parse_args()
    if args.owner_prototype and not (
        os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    ):
        print("--owner-prototype writes its rows to PostgreSQL: not run (set TEST_POSTGRES_URL)")
        args.owner_prototype = False
    args.bursts = [b.strip() for b in args.bursts.split(",") if b.strip()]
    if not args.bursts or set(args.bursts) - {"sellout", "allwin"}:
        parser.error("--bursts: sellout, allwin or both")
    if shutil.which("wrk") is None:
        sys.exit("wrk is the load generator: install it (`apt-get install wrk`) and run again")
    runs: list[list[Figures]] = []
    with tempfile.TemporaryDirectory(prefix="qunlive-bench-") as tmp:
        workdir = Path(tmp)
        nats = start_nats_server(workdir / "nats", port=free_port())
        try:
            for _ in range(args.repeat):
                runs.append(one_run(args, nats.url, workdir))
        finally:
            nats.stop()
    db = (
        "PostgreSQL"
        if os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
        else "SQLite"
    )
    print(
        f"\nflash sale: {args.units:,} units, {args.buyers:,} buyers, "
        f"wrk -t2 -c{args.connections}, {db}, medians of {len(runs)} run(s)"
    )
    print(
        f"{'scenario':40} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8}  tally"
    )
    summary = []
    for i, first in enumerate(runs[0]):
        rows = [run[i] for run in runs]
        med = Figures(
            first.scenario,
            int(statistics.median(r.requests for r in rows)),
            statistics.median(r.per_s for r in rows),
            statistics.median(r.p50_ms for r in rows),
            statistics.median(r.p99_ms for r in rows),
            int(statistics.median(r.non_2xx for r in rows)),
            rows[-1].tally,
        )
        summary.append(asdict(med))
        print(
            f"{med.scenario:40} {med.requests:>9} {med.per_s:>8.0f} {med.p50_ms:>8.1f} "
            f"{med.p99_ms:>8.1f} {med.non_2xx:>8}  {med.tally}"
        )
    write_results(args, db, runs, summary)


SCENARIO_LABEL = {
    "sellout": "orders checkout (real), sell-out",
    "allwin": "orders checkout (real), every buyer wins",
    "fastapi": "the sell-out's checkout solved by FastAPI (ref.)",
}
BURST_KEY = {"sellout": "checkout", "allwin": "checkout_allwin"}
OWNER_LABEL = {
    "noop": "owner prototype: no-op GET /healthz (its stack)",
    "sellout": "owner prototype (decision 0051), sell-out",
    "allwin": "owner prototype (decision 0051), every buyer wins",
}
OWNER_KEY = {"noop": "owner_noop", "sellout": "owner", "allwin": "owner_allwin"}


def scenarios(
    bursts: list[str], fastapi: bool = False, owner: bool = False
) -> list[tuple[str, str, str]]:
    """(key, label, role) in the order one_run lists them."""
    return [
        ("noop", "no-op GET /healthz, same stack", "reference"),
        *((BURST_KEY[b], SCENARIO_LABEL[b], "measured") for b in bursts),
        ("update", "bare conditional UPDATE, same stack", "reference"),
        *([("via_fastapi", SCENARIO_LABEL["fastapi"], "reference")] if fastapi else []),
        *(
            (OWNER_KEY[part], OWNER_LABEL[part], "prototype")
            for part in (["noop", *bursts] if owner else [])
        ),
    ]


def write_results(
    args: argparse.Namespace, db: str, runs: list[list[Figures]], summary: list[dict[str, Any]]
) -> None:
    measured = scenarios(args.bursts, args.compare_fastapi, args.owner_prototype)
    per_run = {
        key: [{**asdict(run[i]), **(run[i].counters or {})} for run in runs]
        for i, (key, _, _) in enumerate(measured)
    }
    for rows in per_run.values():
        for row in rows:
            del row["counters"], row["scenario"]
    admin_url = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if admin_url:
        import asyncio

        database = {"kind": "PostgreSQL", "version": asyncio.run(postgres_version(admin_url))}
    else:
        database = sqlite_database()

    def rate(key: str, label: str, top: str, bottom: str) -> dict[str, Any]:
        """`top`'s req/s over `bottom`'s, within each run."""
        pairs = zip(per_run[top], per_run[bottom], strict=True)
        return results.ratio(
            key, label, [a["per_s"] / b["per_s"] if b["per_s"] else 0.0 for a, b in pairs]
        )

    update_label = f"bare conditional UPDATE req/s ({db})"
    ratios = []
    for burst in args.bursts:
        key, label = BURST_KEY[burst], SCENARIO_LABEL[burst]
        ratios += [
            rate(f"{key}_vs_noop", f"{label} req/s / no-op req/s", key, "noop"),
            rate(f"{key}_vs_update", f"{label} req/s / {update_label}", key, "update"),
        ]
    if args.compare_fastapi and "sellout" in args.bursts:  # the cost of the one path's choice
        ratios.append(
            rate(
                "checkout_vs_fastapi",
                "sell-out req/s / the same checkout solved by FastAPI req/s",
                "checkout",
                "via_fastapi",
            )
        )
    for burst in args.bursts if args.owner_prototype else []:
        key, label = OWNER_KEY[burst], OWNER_LABEL[burst]
        ratios += [
            rate(f"{key}_vs_noop", f"{label} req/s / the orders no-op req/s", key, "noop"),
            rate(f"{key}_vs_own_noop", f"{label} req/s / its own no-op req/s", key, "owner_noop"),
            rate(f"{key}_vs_update", f"{label} req/s / {update_label}", key, "update"),
            rate(
                f"{key}_vs_checkout",
                f"{label} req/s / {SCENARIO_LABEL[burst]} req/s",
                key,
                BURST_KEY[burst],
            ),
        ]
    results.write(
        "orders_flash_sale",
        title="Flash-sale checkout",
        parameters=dict(vars(args)),
        load_generator={
            "name": "wrk",
            "version": wrk_version(),
            "how": f"wrk -t2 -c{args.connections} --latency, bench/flash_sale.lua: every "
            "request a different buyer (own viewer token and idempotency key), stopped once "
            "every buyer was answered",
        },
        run_count=len(runs),
        scenarios=[
            results.scenario(key, label, role, per_run[key]) for key, label, role in measured
        ],
        ratios=ratios,
        databases=[database],
        extra={
            "args": vars(args),
            "database": db,
            "runs": [[asdict(f) for f in r] for r in runs],
            "medians": summary,
        },
    )


if __name__ == "__main__":
    main()
