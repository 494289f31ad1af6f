"""Signed generic-webhook events per second, accepted and durably published, vs a no-op.

    python -m bench.ingest_webhook [--duration 10] [--connections 32] [--runs 3]

Each run starts a nats-server (JetStream, file storage) and one ingest process
served exactly as `python -m services.ingest` serves it (shared.runtime.serve:
uvicorn, uvloop, httptools, one process; SQLite), with one extra route,
POST /bench/noop, that reads the body and answers 200: the ceiling of the same
stack in the same process. A chat is bound to a room, so every event takes the
full path: signature check, then the ingest event carrying the raw body (INGEST),
confirmed by JetStream before the 200; the room's chat line (LIVE) follows from INGEST
in the same process (the ingest-room-lines consumer), so its cost is measured too.

Load generator: wrk (`apt-get install -y wrk`), not the code under test. wrk's
Lua cannot sign HMAC-SHA256 per request, so the bench pre-signs a pool of
distinct bodies (distinct message ids: nothing is deduped) with a fresh
timestamp and bench/ingest_webhook.lua cycles through them. After each run the
INGEST stream is counted: stored events must equal the 200s.
Prints one table row per run and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import nats
from fastapi import Request

from bench import results
from services.ingest.domain.signatures import sign_generic
from shared.embedded_nats import NatsServer, free_port, start_nats_server

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "bench" / "ingest_webhook.lua"
ADMIN = {"Authorization": "Bearer bench-admin"}
SECRET = "bench-webhook-secret"
CHAT = "bench-group"
ROOM = "r_bench"


@dataclass
class Figures:
    endpoint: str
    requests: int
    per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    # Events in INGEST after the run (webhook only); a few more than the 200s counted:
    # requests in flight when wrk stops are stored, their answers not counted.
    stored: int | None = None


def serve(port: int) -> None:
    """The bench's server process: the ingest app plus a no-op route, served as in production."""
    from services.ingest.bootstrap import build
    from services.ingest.main import create_app
    from services.ingest.settings import IngestSettings
    from shared.logs import configure_logging
    from shared.runtime import serve as serve_app

    settings = IngestSettings(port=port)
    configure_logging("ingest", settings.log_level)
    app = create_app(build(settings))

    @app.post("/bench/noop", include_in_schema=False)
    async def noop(request: Request) -> dict[str, bool]:
        await request.body()
        return {"ok": True}

    serve_app(app, settings)


def pool_file(path: Path, size: int, tag: str) -> Path:
    """`size` distinct signed bodies, one per line: <timestamp>\\t<signature>\\t<body>."""
    ts = int(time.time())
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    with path.open("w") as out:
        for n in range(size):
            body = json.dumps(
                {
                    "type": "message",
                    "platform": "bench",
                    "chat_id": CHAT,
                    "message_id": f"{tag}-{n}",
                    "user": {"id": f"u{n % 5000}", "name": f"Member {n % 5000}"},
                    "text": f"樱桃还有吗? cherries left? line {n}",
                    "sent_at": sent_at,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            out.write(f"{ts}\t{sign_generic(body, ts, SECRET)}\t{body.decode()}\n")
    return path


def wrk(url: str, pool: Path, seconds: float, connections: int, threads: int) -> dict[str, int]:
    path = "/" + url.split("/", 3)[3]
    return results.run_wrk(LUA, url, seconds, connections, threads, str(pool), str(threads), path)


def figures(endpoint: str, result: dict[str, int]) -> Figures:
    return Figures(
        endpoint=endpoint,
        requests=result["requests"],
        per_s=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non_2xx=result["non_2xx"] + result["socket_errors"],
    )


async def count(nats_server: NatsServer, stream: str) -> int:
    nc = await nats.connect(nats_server.url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


def one_run(args: argparse.Namespace, workdir: Path, run: int) -> list[Figures]:
    import asyncio

    nats_server = start_nats_server(workdir / f"js-{run}")
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": nats_server.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/ingest-{run}.db",
        "ADMIN_TOKEN": "bench-admin",
        "WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest_webhook", "--serve", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("ingest did not become ready")
            time.sleep(0.1)
        binding = {"platform": "bench", "chat_id": CHAT, "room_id": ROOM}
        httpx.post(f"{base}/bindings", json=binding, headers=ADMIN).raise_for_status()
        tag = uuid.uuid4().hex[:6]
        warm = pool_file(workdir / "warm.txt", 5_000, f"warm{tag}")
        pool = pool_file(workdir / "pool.txt", args.pool, f"run{tag}")
        for url in (f"{base}/bench/noop", f"{base}/webhooks/generic"):  # warm both paths
            wrk(url, warm, 2, args.connections, args.threads)
        before = asyncio.run(count(nats_server, "INGEST"))
        load = (pool, args.duration, args.connections, args.threads)
        noop = figures("no-op (same process)", wrk(f"{base}/bench/noop", *load))
        webhook = figures("signed webhook, stored", wrk(f"{base}/webhooks/generic", *load))
        webhook.stored = asyncio.run(count(nats_server, "INGEST")) - before
        return [noop, webhook]
    finally:
        server.terminate()
        server.wait(20)
        nats_server.stop()


def table(rows: list[Figures], title: str) -> None:
    print(f"\n{title}")
    print(f"{'endpoint':26} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'non-2xx':>8} {'stored':>8}")  # fmt: skip
    for f in rows:
        stored = "" if f.stored is None else f"{f.stored:,}"
        print(f"{f.endpoint:26} {f.requests:>9,} {f.per_s:>8,.0f} {f.p50_ms:>8.2f} "
              f"{f.p99_ms:>8.2f} {f.non_2xx:>8,} {stored:>8}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pool", type=int, default=150_000, help="distinct signed bodies")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    runs: list[list[Figures]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for run in range(args.runs):
            rows = one_run(args, Path(tmp), run)
            runs.append(rows)
            table(rows, f"run {run + 1}/{args.runs}")
            webhook = rows[1]
            # wrk stops counting at the deadline; requests in flight then are still stored.
            if (webhook.stored or 0) < webhook.requests - webhook.non_2xx:
                print(f"  !! {webhook.stored} stored for {webhook.requests - webhook.non_2xx} 200s")
    medians = [
        Figures(
            endpoint=runs[0][i].endpoint,
            requests=int(statistics.median(r[i].requests for r in runs)),
            per_s=statistics.median(r[i].per_s for r in runs),
            p50_ms=statistics.median(r[i].p50_ms for r in runs),
            p99_ms=statistics.median(r[i].p99_ms for r in runs),
            non_2xx=int(statistics.median(r[i].non_2xx for r in runs)),
            stored=None if i == 0 else int(statistics.median(r[i].stored or 0 for r in runs)),
        )
        for i in range(2)
    ]
    table(
        medians,
        f"medians of {args.runs} runs: wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, {os.cpu_count()} CPUs shared by wrk, ingest and nats-server",
    )
    ratio = medians[1].per_s / medians[0].per_s if medians[0].per_s else 0
    print(f"stored webhook events run at {ratio:.0%} of the no-op ceiling")
    write_results(args, runs)
    return 0


def write_results(args: argparse.Namespace, runs: list[list[Figures]]) -> None:
    def row(f: Figures) -> dict[str, object]:
        out = {k: v for k, v in asdict(f).items() if k != "endpoint" and v is not None}
        if f.stored is not None:  # answered 200 but not found in INGEST afterwards
            out["unstored"] = max(0, f.requests - f.non_2xx - f.stored)
        return out

    noop, webhook = ([row(r[i]) for r in runs] for i in range(2))
    results.write(
        "ingest_webhook",
        title="Signed webhooks, durably stored",
        parameters={k: v for k, v in vars(args).items() if k != "serve"},
        load_generator={
            "name": "wrk",
            "version": results.wrk_version(),
            "how": f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
            f"bench/ingest_webhook.lua cycling through {args.pool:,} pre-signed distinct bodies",
        },
        run_count=len(runs),
        scenarios=[
            results.scenario("noop", "no-op route, same process", "reference", noop),
            results.scenario("webhook", "signed webhook, stored", "measured", webhook),
        ],
        ratios=[
            results.ratio(
                "webhook_vs_noop",
                "webhook req/s / no-op req/s",
                [r[1].per_s / r[0].per_s if r[0].per_s else 0.0 for r in runs],
            )
        ],
        databases=[results.sqlite_database()],
    )


if __name__ == "__main__":
    sys.exit(main())
