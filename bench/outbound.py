"""Messages to the groups: how fast the outbound queue and its limiter deliver to 100 groups,
against the ceiling of the same messages posted straight to the same server.

    python -m bench.outbound [--runs 3] [--groups 100] [--messages 1000]
                             [--telegram-messages 300] [--concurrency 64]
                             [--http-concurrency 8] [--tiny]

Each run starts, per scenario, a fresh nats-server (JetStream, file storage) and uses one
local Telegram Bot API server (tests/ingest/group_apis.py: the documented shapes, and
Telegram's limits enforced by answering 429) in a child process, uvicorn as the services
run:

- reference, `httpx`: the messages posted straight to the server's sendMessage with one
  httpx client, --http-concurrency requests at a time, limits off: the ceiling of the
  stack (the server's own cost and the HTTP round trip), no queue, no ledger, no limiter.
  8 at a time is httpx's best here: its connection pool slows down with many requests in
  flight (measured on the 2-core box: 64 at a time ~170/s, 8 at a time ~900/s);
- measured, `raised`: the same messages as SendToGroup jobs on COMMANDS, sent by ingest's
  sender (services.ingest.bootstrap: consumer `ingest-group-send` with --concurrency jobs
  in flight, the SQLite ledger, the limiter, the Telegram adapter) with the limits raised
  1000 times (OUTBOUND_LIMIT_SCALE) and the server's off: what the queue and the ledger
  cost, the limiter not the bottleneck;
- measured, `telegram`: --telegram-messages jobs with Telegram's own limits (30 a second
  overall, one a second and 20 a minute per group) on both sides: that the sender keeps
  them (the server's 429 count, the most sends it saw in any second) at close to 30 a second.

The messages round-robin over --groups bound groups (the planner queues one event to
every group, then the next). A scenario's time runs from its first publish (or request)
until the server has the last message; per_s = messages / that time.

Writes test-artifacts/bench/outbound.json (BENCH_RESULTS_DIR elsewhere); prints a table per
run and the medians. `--tiny`: a few messages, one run (tests/test_bench_outbound.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats

from bench import results
from shared.embedded_nats import free_port, start_nats_server

REPO = Path(__file__).resolve().parents[1]
TOKEN = "123456789:AAHbench-Token_x"
ROOM = "r_bench"
SCALE_RAISED = 1000.0
TELEGRAM_OVERALL_PER_S = 30


# ---- the pure parts (tests/test_bench_outbound.py) ----------------------------------------


def most_in_a_window(times: Sequence[float], per_s: float = 1.0) -> int:
    """The most sends in any half-open window [t, t + per_s) (two pointers over the sorted)."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - per_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def delivery_figures(
    messages: int, started: float, times: Sequence[float], violations: int
) -> dict[str, float]:
    """A scenario's figures from the server's arrival times (same clock as `started`)."""
    if len(times) < messages:
        raise ValueError(f"{len(times)} of {messages} messages arrived")
    done = max(times)
    seconds = done - started
    return {
        "messages": messages,
        "seconds": round(seconds, 4),
        "per_s": messages / seconds,
        "first_ms": (min(times) - started) * 1000,
        "most_in_a_second": most_in_a_window(times, 1.0),
        "violations": violations,
    }


def round_robin(groups: int, messages: int) -> list[tuple[str, int]]:
    """(chat id, event number) for each message: event after event, each to every group."""
    chats = [f"-100{n:05d}" for n in range(groups)]
    return [(chats[n % groups], n // groups) for n in range(messages)]


# ---- the platform server (child process: `--serve PORT`) -----------------------------------


def reply_to(params: dict[str, Any]) -> str | None:
    """The message a Telegram send replies to (reply_parameters, or the older field)."""
    reply = params.get("reply_parameters")
    if isinstance(reply, str):  # form-encoded: JSON in a string
        reply = json.loads(reply)
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        return str(reply["message_id"])
    older = params.get("reply_to_message_id")
    return None if older is None else str(older)


def server_app() -> Any:
    """GroupApis plus /_bench/{stats,replies,reset}: the arrival times, the replies and the
    violations."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from tests.ingest.group_apis import GroupApis

    apis = GroupApis(telegram_token=TOKEN)

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "times": apis.sent_times(),
                "violations": len(apis.violations),
                "calls": len(apis.calls),
            }
        )

    async def replies(_: Request) -> JSONResponse:
        """The posts that went through as replies (bench.claim_reply), and the 429s."""
        return JSONResponse(
            {
                "replies": [
                    {"chat_id": c.chat_id, "reply_to": reply_to(c.body), "at": c.at}
                    for c in apis.calls
                    if c.method in ("sendMessage", "sendPhoto")
                    and c.error is None
                    and reply_to(c.body) is not None
                ],
                "sent": {chat: len(apis.sent_times(chat)) for chat in apis.chats},
                "throttled": sum(1 for c in apis.calls if c.status == 429),
                "violations": len(apis.violations),
            }
        )

    async def reset(request: Request) -> JSONResponse:
        apis.enforce_limits = request.query_params.get("enforce", "1") == "1"
        for kept in (apis.calls, apis.violations, apis.chats, apis._stamps):
            kept.clear()
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/_bench/stats", stats),
            Route("/_bench/replies", replies),
            Route("/_bench/reset", reset, methods=["POST"]),
            Mount("/", app=apis.app()),
        ]
    )


def serve(port: int) -> None:
    from shared.runtime import serve as run_service
    from shared.settings import ServiceSettings

    logging.disable(logging.INFO)
    settings = ServiceSettings(service_name="bench-groups", port=port, host="127.0.0.1")
    run_service(server_app(), settings)


@contextlib.contextmanager
def platform_server() -> Any:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.outbound", "--serve", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/_bench/stats", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the platform server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


# ---- the scenarios -----------------------------------------------------------------------


async def reset(http: httpx.AsyncClient, enforce: bool) -> None:
    (
        await http.post("/_bench/reset", params={"enforce": "1" if enforce else "0"})
    ).raise_for_status()


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    answer = await http.get("/_bench/stats")
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


async def wait_arrived(http: httpx.AsyncClient, messages: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await stats(http)
        if len(found["times"]) >= messages:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(found['times'])} of {messages} arrived in {timeout_s} s")
        await asyncio.sleep(0.05)


async def straight(url: str, groups: int, messages: int, concurrency: int) -> dict[str, float]:
    """The reference: sendMessage posted with httpx, `concurrency` at a time."""
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as http:
        await reset(http, enforce=False)
        work = round_robin(groups, messages)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as poster:
            gate = asyncio.Semaphore(concurrency)

            async def post(chat: str, event: int) -> None:
                async with gate:
                    answer = await poster.post(
                        f"/bot{TOKEN}/sendMessage",
                        json={"chat_id": chat, "text": f"message {event}", "parse_mode": "HTML"},
                    )
                    answer.raise_for_status()

            started = time.monotonic()
            await asyncio.gather(*(post(chat, event) for chat, event in work))
        found = await stats(http)
        return delivery_figures(messages, started, found["times"], found["violations"])


@dataclass
class Sender:
    """ingest, as composed for production, with only its consumers running (no HTTP)."""

    app: Any
    nc: Any


@contextlib.asynccontextmanager
async def running_sender(
    tmp: Path, url: str, scale: float, concurrency: int, groups: int
) -> AsyncIterator[Sender]:
    from services.ingest.adapters.tables import BindingRow
    from services.ingest.bootstrap import build
    from services.ingest.settings import IngestSettings

    server = start_nats_server(tmp / "nats")
    try:
        settings = IngestSettings(
            nats_url=server.url,
            database_url=f"sqlite+aiosqlite:///{tmp}/ingest.db",
            telegram_api_base=url,
            telegram_bot_token=TOKEN,
            outbound_limit_scale=scale,
            outbound_concurrency=concurrency,
            data_dir=str(tmp / "data"),
        )
        app = build(settings)
        await app.infra.start()
        try:
            async with app.infra.sessions() as session:
                for chat, _ in round_robin(groups, groups):
                    session.add(BindingRow(platform="telegram", chat_id=chat, room_id=ROOM))
                await session.commit()
            nc = await nats.connect(server.url)
            try:
                yield Sender(app, nc)
            finally:
                await nc.close()
        finally:
            await app.infra.stop()
    finally:
        server.stop()


async def through_the_queue(
    tmp: Path, url: str, groups: int, messages: int, concurrency: int, scale: float
) -> dict[str, float]:
    """SendToGroup jobs published to COMMANDS, sent by ingest's sender."""
    from shared.events.commands import SendToGroup
    from shared.messaging import EventPublisher

    enforce = scale == 1
    async with (
        httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as http,
        running_sender(tmp, url, scale, concurrency, groups) as sender,
    ):
        await reset(http, enforce=enforce)
        jobs = [
            SendToGroup(
                id=f"ev{event}:telegram:{chat}",
                key=f"ev{event}:telegram:{chat}",
                room_id=ROOM,
                platform="telegram",
                chat_id=chat,
                kind="announcement",
                source_event_id=f"ev{event}",
                text=f"message {event}",
            )
            for chat, event in round_robin(groups, messages)
        ]
        publisher = EventPublisher(sender.nc.jetstream())
        started = time.monotonic()
        await asyncio.gather(*(publisher.publish(job) for job in jobs))
        found = await wait_arrived(http, messages, timeout_s=30 + messages / 10)
        figures = delivery_figures(messages, started, found["times"], found["violations"])
        figures["requests"] = found["calls"]
        return figures


# ---- a run, the output --------------------------------------------------------------------


@dataclass
class Run:
    figures: dict[str, dict[str, float]] = field(default_factory=dict)


SCENARIOS = {
    "httpx": ("httpx straight to sendMessage, no queue (the ceiling)", "reference"),
    "raised": ("SendToGroup -> queue -> ledger -> limiter (raised x1000) -> adapter", "measured"),
    "telegram": (
        "the same with Telegram's limits (30/s overall, 1/s + 20/min a group)",
        "measured",
    ),
}


async def one_run(args: argparse.Namespace, url: str, run: int) -> Run:
    out = Run()
    with tempfile.TemporaryDirectory(prefix="qunlive-outbound-") as tmp:
        say(f"run {run + 1}: httpx straight, {args.messages} messages")
        out.figures["httpx"] = await straight(
            url, args.groups, args.messages, args.http_concurrency
        )
        say(f"run {run + 1}: through the queue, limits raised")
        out.figures["raised"] = await through_the_queue(
            Path(tmp) / "raised", url, args.groups, args.messages, args.concurrency, SCALE_RAISED
        )
        say(f"run {run + 1}: through the queue, Telegram's limits")
        out.figures["telegram"] = await through_the_queue(
            Path(tmp) / "telegram", url, args.groups, args.telegram_messages, args.concurrency, 1.0
        )
    return out


def say(what: str) -> None:
    print(f"[outbound] {what}", flush=True)


def table(run: Run, title: str) -> None:
    print(f"\n{title}")
    print(f"  {'scenario':72} {'msgs':>6} {'per s':>8} {'max/1s':>7} {'429':>4}")
    for key, fig in run.figures.items():
        print(
            f"  {SCENARIOS[key][0]:72} {fig['messages']:>6.0f} {fig['per_s']:>8.1f} "
            f"{fig['most_in_a_second']:>7.0f} {fig['violations']:>4.0f}"
        )


def median_run(runs: list[Run]) -> Run:
    return Run(
        figures={k: results.median_figures([r.figures[k] for r in runs]) for k in runs[0].figures}
    )


def ratios_of(runs: list[Run]) -> list[dict[str, Any]]:
    def each(key: str, over: str | float) -> list[float]:
        return [
            r.figures[key]["per_s"]
            / (over if isinstance(over, float) else r.figures[over]["per_s"])
            for r in runs
        ]

    return [
        results.ratio("raised_vs_httpx", "msgs/s: queue + limiter (raised) / httpx straight",
                      each("raised", "httpx")),
        results.ratio("telegram_vs_30", "msgs/s with Telegram's limits / 30 a second",
                      each("telegram", float(TELEGRAM_OVERALL_PER_S))),
    ]  # fmt: skip


def write_results(args: argparse.Namespace, runs: list[Run]) -> Path:
    scenarios = [
        results.scenario(key, label, role, [r.figures[key] for r in runs])
        for key, (label, role) in SCENARIOS.items()
    ]
    parameters = {k: v for k, v in vars(args).items() if k != "serve"}
    parameters["limit_scale_raised"] = SCALE_RAISED
    command = "python -m bench.outbound" + (" --tiny" if args.tiny else f" --runs {args.runs}")
    return results.write(
        "outbound",
        title="Messages to the groups",
        parameters=parameters,
        load_generator={
            "name": "httpx + nats-py in the benchmark's process",
            "version": f"httpx {results.package_version('httpx')}",
            "how": "the platform server (tests/ingest/group_apis.py) in a child process",
        },
        databases=[results.sqlite_database()],
        run_count=len(runs),
        scenarios=scenarios,
        ratios=ratios_of(runs),
        extra={"command": command},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--telegram-messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--http-concurrency", type=int, default=8)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.tiny:
        args.runs, args.groups, args.messages, args.telegram_messages = 1, 10, 60, 20
    logging.basicConfig(level=logging.WARNING)
    runs: list[Run] = []
    with platform_server() as url:
        for run in range(args.runs):
            runs.append(asyncio.run(one_run(args, url, run)))
            table(runs[-1], f"run {run + 1}")
    if len(runs) > 1:
        table(median_run(runs), "medians")
    path = write_results(args, runs)
    print(f"\nwrote {path}")
    speeds = [r.figures["telegram"]["per_s"] for r in runs]
    print(f"with Telegram's limits: {statistics.median(speeds):.1f} messages a second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
