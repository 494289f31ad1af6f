"""Messages to the groups, the second half: the latency a claim's reply adds, from a
Telegram "+1" to the answer in its group.

    python -m bench.claim_reply [--runs 3] [--groups 20] [--claims 300] [--rate 10]
                                [--warm-up 3] [--tiny]

Each run starts a fresh nats-server (JetStream, file storage) and orders, live and ingest
as child processes, each as it runs in production (`python -m services.<name>`:
shared.runtime.serve, uvicorn; SQLite under the run's directory), ingest's Telegram API
base at one local Telegram Bot API server (tests/ingest/group_apis.py: the documented
shapes, Telegram's limits enforced by answering 429) in another child process, the same
for every run. The show: a room opened and started (live), --groups Telegram groups bound
to it (ingest), an offer with stock for every claim (orders) opened and pinned (live);
the offer's card reaches every group (the planner and the sender, as in a show: members
answer the card). --warm-up claims in a group of their own are answered before the
measured ones (the first claim in a fresh process pays for lazy imports and first
statements). Then --claims "+1" updates, one per member, round-robin over the groups, at
a steady --rate a second, each posted on its own to ingest's webhook with the secret token
header, as Telegram delivers them. For each claim:

- t0: the webhook answered 200 (the update is stored; Telegram is done);
- t1: orders' `order.placed` for it (claim_id `telegram:<chat>:<message_id>`) seen on NATS
  by the benchmark (a core subscription to `orders.<room>.>`);
- t2: the Bot API server received the reply to that message (its arrival time: the
  server's time.monotonic, the same clock as the benchmark's on Linux, CLOCK_MONOTONIC).

Scenarios (p50/p95/p99/max over the claims of a run):

- reference, `webhook`: the request until its 200 (what Telegram waits for);
- reference, `order`: claim -> order placed, t1 - t0: what a claim cost before this step
  (live's chat-to-buy, orders' stock desk and outbox, NATS), measured in the same run;
- measured, `reply`: order placed -> reply posted, t2 - t1: what this step adds (ingest's
  planner, the COMMANDS queue, the sender's ledger and limiter, the adapter, HTTP);
- measured, `wait`: claim -> reply, t2 - t0: the member's wait. Also its counts: claims,
  replies, each claim answered exactly once (`unanswered`, `extra_replies`), the server's
  429s (`throttled`, must be 0) and the offered rate achieved.

At the defaults each group hears half a claim a second (Telegram allows one message a
second per chat) and 15 claims in 30 s plus the card (20 a minute per group): the limiter
holds nothing, and the wait is the path's. More claims per group than that, and the
limiter holds replies as Telegram demands: the wait then shows it.

Writes test-artifacts/bench/claim_reply.json (BENCH_RESULTS_DIR elsewhere); prints a table
per run and the medians. Exits 1 when a claim was not answered exactly once or a 429 was
answered (the figures are written all the same). `--tiny`: a few claims, one run
(tests/test_bench_claim_reply.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats

from bench import results
from bench.outbound import TOKEN, platform_server
from shared.embedded_nats import free_port, start_nats_server

REPO = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "bench-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET_KEY = "bench-secret-key-of-at-least-32-bytes!"
NOWHERE = "http://127.0.0.1:9"  # WhatsApp and WeCom: a closed port, never the internet
WARM_UP_CHAT = "-1009999999999"
FIRST_MESSAGE_ID = 1000
SETTLE_S = 2.0  # after the last reply: time for a double post to show
READY_S = 90.0


# ---- the pure parts (tests/test_bench_claim_reply.py) ----------------------------------------


def group_chats(groups: int) -> list[str]:
    """Supergroup ids, as the Bot API numbers them (-100 and the chat's own number)."""
    return [f"-100{1_000_000_000 + n}" for n in range(groups)]


def claim_id(chat_id: str, message_id: int | str) -> str:
    """The claim a group message makes (ingest's line key, orders' claim_id)."""
    return f"telegram:{chat_id}:{message_id}"


@dataclass
class Claim:
    chat_id: str
    message_id: int
    user_id: int
    sent_at: float = math.nan  # the webhook request sent
    answered_at: float = math.nan  # t0: its 200
    placed_at: float = math.nan  # t1: order.placed seen
    replied_at: list[float] = field(default_factory=list)  # t2: each reply's arrival
    status: int = 0
    rejected: str = ""  # claim.rejected's reason, if any

    @property
    def key(self) -> str:
        return claim_id(self.chat_id, self.message_id)


def plan(groups: int, claims: int) -> list[Claim]:
    """One claim per member, round-robin over the groups, message ids unique."""
    chats = group_chats(groups)
    return [
        Claim(chats[n % groups], FIRST_MESSAGE_ID + n, user_id=500_000 + n) for n in range(claims)
    ]


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in ms of the values present (NaN: not measured)."""
    ordered = sorted(s for s in seconds if not math.isnan(s))
    ms = [s * 1000 for s in ordered]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": ms[-1] if ms else math.nan,
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
    }


def match_replies(claims: Sequence[Claim], replies: Sequence[dict[str, Any]]) -> int:
    """Each reply's arrival onto the claim it answers; returns the replies to no claim."""
    by_key = {c.key: c for c in claims}
    stray = 0
    for reply in replies:
        claim = by_key.get(claim_id(reply["chat_id"], reply["reply_to"]))
        if claim is None:
            stray += 1
        else:
            claim.replied_at.append(float(reply["at"]))
    for claim in claims:
        claim.replied_at.sort()
    return stray


def figures(claims: Sequence[Claim], throttled: int, violations: int) -> dict[str, dict]:
    """A run's figures per scenario, from its claims (their replies matched)."""
    first = [c.replied_at[0] if c.replied_at else math.nan for c in claims]
    sent = [c.sent_at for c in claims]
    offered = max(sent) - min(sent) if len(claims) > 1 else math.nan
    wait = spread([t2 - c.answered_at for c, t2 in zip(claims, first, strict=True)])
    wait |= {
        "claims": len(claims),
        "not_200": sum(1 for c in claims if c.status != 200),
        "placed": sum(1 for c in claims if not math.isnan(c.placed_at)),
        "rejected": sum(1 for c in claims if c.rejected),
        "replies": sum(len(c.replied_at) for c in claims),
        "answered_once": sum(1 for c in claims if len(c.replied_at) == 1),
        "unanswered": sum(1 for c in claims if not c.replied_at),
        "extra_replies": sum(max(0, len(c.replied_at) - 1) for c in claims),
        "throttled": throttled,
        "violations": violations,
        "offered_per_s": (len(claims) - 1) / offered if offered else math.nan,
    }
    return {
        "webhook": spread([c.answered_at - c.sent_at for c in claims]),
        "order": spread([c.placed_at - c.answered_at for c in claims]),
        "reply": spread([t2 - c.placed_at for c, t2 in zip(claims, first, strict=True)]),
        "wait": wait,
    }


def all_answered_once(wait: dict[str, Any]) -> bool:
    return bool(
        wait["answered_once"] == wait["claims"] and wait["throttled"] == 0 and wait["rejected"] == 0
    )


# ---- the services (child processes) -----------------------------------------------------------


@contextlib.contextmanager
def service(name: str, env: dict[str, str], workdir: Path) -> Iterator[str]:
    """`python -m services.<name>` on a free port until it is ready; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / f"{name}.log"
    data = workdir / name
    data.mkdir(parents=True, exist_ok=True)
    env = os.environ | env | {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data}/{name}.db",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        "ENV": "dev",
    }  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited during start-up: {tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready in {READY_S:.0f} s: {tail(log)}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    orders: str
    live: str
    ingest: str
    nats_url: str


@contextlib.contextmanager
def stack(workdir: Path, bot_api: str) -> Iterator[Stack]:
    from tests.ingest import payloads

    server = start_nats_server(workdir / "nats")
    try:
        with service("orders", {"NATS_URL": server.url}, workdir) as orders:
            live_env = {"NATS_URL": server.url, "ORDERS_PUBLIC_URL": orders}
            with service("live", live_env, workdir) as live:
                ingest_env = {
                    "NATS_URL": server.url,
                    "TELEGRAM_API_BASE": bot_api,
                    "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_SECRET_TOKEN": payloads.TELEGRAM_SECRET,
                    "WHATSAPP_GRAPH_BASE": NOWHERE,
                    "WECOM_API_BASE": NOWHERE,
                    "LIVE_PUBLIC_URL": live,
                    "ORDERS_PUBLIC_URL": orders,
                    "OUTBOUND_LIMIT_SCALE": "1",
                }
                with service("ingest", ingest_env, workdir) as ingest:
                    yield Stack(orders, live, ingest, server.url)
    finally:
        server.stop()


# ---- a run -------------------------------------------------------------------------------------


async def ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.method} {response.request.url}: "
                           f"{response.status_code} {response.text[:500]}")  # fmt: skip
    found: dict[str, Any] = response.json()
    return found


async def until(what: str, probe: Any, timeout_s: float, every_s: float = 0.2) -> Any:
    """Poll `probe` (async, truthy when done) until done; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout_s:.0f} s")
        await asyncio.sleep(every_s)


async def open_show(s: Stack, chats: Sequence[str], stock: int) -> str:
    """A started room, the chats bound to it, an offer opened and pinned; returns the room."""
    async with (
        httpx.AsyncClient(base_url=s.live, timeout=30, trust_env=False) as live,
        httpx.AsyncClient(base_url=s.orders, timeout=30, trust_env=False) as orders,
        httpx.AsyncClient(base_url=s.ingest, timeout=30, trust_env=False) as ingest,
    ):
        room = await ok(await live.post("/rooms", json={"title": "Cherry night"}, headers=ADMIN))
        room_id = str(room["id"])
        await ok(await live.post(f"/rooms/{room_id}/start", headers=ADMIN))
        for chat in chats:
            binding = {"platform": "telegram", "chat_id": chat, "room_id": room_id}
            await ok(await ingest.post("/bindings", json=binding, headers=ADMIN))
        product = await ok(
            await orders.post("/products", json={"title": "Cherries 樱桃"}, headers=ADMIN)
        )
        terms = {"product_id": product["id"], "price_cents": 49900, "stock": stock,
                 "per_buyer_limit": 1}  # fmt: skip
        offer = await ok(await orders.post(f"/rooms/{room_id}/offers", json=terms, headers=ADMIN))
        await ok(await orders.post(f"/offers/{offer['id']}/open", headers=ADMIN))

        async def pinned() -> bool:  # live learns of the offer from orders' events
            answer = await live.post(
                f"/rooms/{room_id}/pin", json={"offer_id": offer["id"]}, headers=ADMIN
            )
            return answer.status_code == 200

        await until("the offer pinned", pinned, 30)
        return room_id


async def bot_api_replies(bot: httpx.AsyncClient) -> dict[str, Any]:
    answer = await bot.get("/_bench/replies")
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


async def cards_out(bot: httpx.AsyncClient, chats: Sequence[str]) -> None:
    """Every group has the offer's card (whatever the show posted first), and nothing more
    is on its way."""
    last: dict[str, int] = {}

    async def every_group() -> bool:
        sent = (await bot_api_replies(bot))["sent"]
        settled = all(sent.get(chat) for chat in chats) and sent == last
        last.clear()
        last.update(sent)
        return settled

    await until("the offer's card in every group", every_group, 60, every_s=1.0)


class Claims:
    """Posts claims to ingest's webhook and times them: the 200, order.placed, the reply."""

    def __init__(self, s: Stack, room_id: str, http: httpx.AsyncClient) -> None:
        self.stack, self.room_id, self.http = s, room_id, http
        self.by_key: dict[str, Claim] = {}

    async def on_order_event(self, msg: Any) -> None:
        seen = time.monotonic()
        event = json.loads(msg.data)
        claim = self.by_key.get(str(event.get("claim_id")))
        if claim is None:
            return
        if event.get("type") == "order.placed" and math.isnan(claim.placed_at):
            claim.placed_at = seen
        elif event.get("type") == "claim.rejected":
            claim.rejected = str(event.get("reason"))

    async def post(self, claim: Claim) -> None:
        from tests.ingest import payloads

        self.by_key[claim.key] = claim
        user = payloads.telegram_user(claim.user_id, first=f"Member{claim.user_id}", last=None)
        update = payloads.telegram_message(
            "+1", message_id=claim.message_id, chat_id=int(claim.chat_id), user=user
        )
        body = payloads.encode(update)
        claim.sent_at = time.monotonic()
        answer = await self.http.post(
            "/webhooks/telegram", content=body, headers=payloads.telegram_headers()
        )
        claim.answered_at = time.monotonic()
        claim.status = answer.status_code

    async def steady(self, claims: Sequence[Claim], rate: float) -> None:
        """Each claim on its own at start + n / rate, whatever the earlier ones are doing."""
        start = time.monotonic()
        posts = []
        for n, claim in enumerate(claims):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            posts.append(asyncio.create_task(self.post(claim)))
        await asyncio.gather(*posts)


async def answered(
    bot: httpx.AsyncClient, claims: Sequence[Claim], timeout_s: float
) -> dict[str, Any]:
    """The Bot API's replies once every claim has one (or the time is up), and a settle."""
    keys = {c.key for c in claims}

    async def all_in() -> dict[str, Any] | None:
        found = await bot_api_replies(bot)
        got = {claim_id(r["chat_id"], r["reply_to"]) for r in found["replies"]} & keys
        return found if got == keys else None

    with contextlib.suppress(RuntimeError):
        await until("every claim answered", all_in, timeout_s, every_s=0.5)
    await asyncio.sleep(SETTLE_S)
    return await bot_api_replies(bot)


async def one_run(args: argparse.Namespace, bot_api: str, run: int) -> dict[str, dict]:
    from bench.outbound import reset

    claims = plan(args.groups, args.claims)
    warm = [Claim(WARM_UP_CHAT, n + 1, user_id=400_000 + n) for n in range(args.warm_up)]
    chats = [*group_chats(args.groups), *([WARM_UP_CHAT] if warm else [])]
    with (
        tempfile.TemporaryDirectory(prefix="qunlive-claim-reply-") as tmp,
        stack(Path(tmp), bot_api) as s,
    ):
        say(f"run {run + 1}: orders {s.orders}, live {s.live}, ingest {s.ingest}")
        async with httpx.AsyncClient(base_url=bot_api, timeout=30, trust_env=False) as bot:
            await reset(bot, enforce=True)
            room_id = await open_show(s, chats, stock=len(claims) + len(warm) + 10)
            await cards_out(bot, chats)
            nc = await nats.connect(s.nats_url)
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            try:
                async with httpx.AsyncClient(
                    base_url=s.ingest, timeout=30, limits=limits, trust_env=False
                ) as http:
                    poster = Claims(s, room_id, http)
                    await nc.subscribe(f"orders.{room_id}.>", cb=poster.on_order_event)
                    if warm:
                        say(f"run {run + 1}: {len(warm)} warm-up claims")
                        await poster.steady(warm, 1.0)
                        await answered(bot, warm, timeout_s=60)
                    say(f"run {run + 1}: {len(claims)} claims in {args.groups} groups, "
                        f"{args.rate:g} a second")  # fmt: skip
                    await poster.steady(claims, args.rate)
                    found = await answered(bot, claims, timeout_s=60 + len(claims) / args.rate)
            finally:
                await nc.close()
    match_replies(claims, found["replies"])
    return figures(claims, found["throttled"], found["violations"])


# ---- the output --------------------------------------------------------------------------------

# Labels short enough for the chart's 44 characters.
SCENARIOS = {
    "webhook": ("the webhook's 200 (what Telegram waits for)", "reference"),
    "order": ("claim -> order placed (live, orders)", "reference"),
    "reply": ("order placed -> reply posted (this step)", "measured"),
    "wait": ("claim -> reply (the member's wait)", "measured"),
}


def say(what: str) -> None:
    print(f"[claim_reply] {what}", flush=True)


def table(run: dict[str, dict], title: str) -> None:
    print(f"\n{title}")
    print(f"  {'latency':46} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for key, (label, _) in SCENARIOS.items():
        f = run[key]
        print(
            f"  {label:46} {f['count']:>5.0f} {f['p50_ms']:>8.1f} {f['p95_ms']:>8.1f} "
            f"{f['p99_ms']:>8.1f} {f['max_ms']:>8.1f}"
        )
    w = run["wait"]
    print(
        f"  claims {w['claims']:.0f} (offered {w['offered_per_s']:.1f}/s), non-200 "
        f"{w['not_200']:.0f}, placed {w['placed']:.0f}, rejected {w['rejected']:.0f}, "
        f"replies {w['replies']:.0f}, answered once {w['answered_once']:.0f}, unanswered "
        f"{w['unanswered']:.0f}, extra {w['extra_replies']:.0f}, 429s {w['throttled']:.0f}"
    )


def median_run(runs: list[dict[str, dict]]) -> dict[str, dict]:
    return {k: results.median_figures([r[k] for r in runs]) for k in SCENARIOS}


def ratios_of(runs: list[dict[str, dict]]) -> list[dict[str, Any]]:
    def each(top: str, bottom: str, figure: str) -> list[float]:
        return [r[top][figure] / r[bottom][figure] for r in runs if r[bottom][figure]]

    return [
        results.ratio("reply_vs_order_p50", "p50: order placed -> reply / claim -> order placed",
                      each("reply", "order", "p50_ms")),
        results.ratio("reply_vs_order_p99", "p99: order placed -> reply / claim -> order placed",
                      each("reply", "order", "p99_ms")),
    ]  # fmt: skip


def clean(figures_: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a figure not measured is null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures_.items()}


def write_results(args: argparse.Namespace, runs: list[dict[str, dict]]) -> Path:
    scenarios = [
        results.scenario(key, label, role, [clean(r[key]) for r in runs])
        for key, (label, role) in SCENARIOS.items()
    ]
    parameters = {k: v for k, v in vars(args).items()}
    parameters["limits"] = "Telegram's: 30/s overall, 1/s + 20/min a group (sender and server)"
    command = "python -m bench.claim_reply" + (" --tiny" if args.tiny else f" --runs {args.runs}")
    return results.write(
        "claim_reply",
        title="Messages to the groups: a claim's reply",
        parameters=parameters,
        load_generator={
            "name": "httpx + nats-py in the benchmark's process",
            "version": f"httpx {results.package_version('httpx')}",
            "how": "claims posted to ingest's Telegram webhook at a steady rate; the local "
            "Bot API server (tests/ingest/group_apis.py) in a child process records replies",
        },
        databases=[results.sqlite_database()],
        run_count=len(runs),
        scenarios=scenarios,
        ratios=ratios_of(runs),
        extra={"command": command},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="claims a second, all groups")
    parser.add_argument("--warm-up", type=int, default=3, help="claims answered before")
    parser.add_argument("--tiny", action="store_true", help="a few claims, one run")
    args = parser.parse_args()
    if args.tiny:
        args.runs, args.groups, args.claims, args.rate, args.warm_up = 1, 4, 12, 2.0, 1
    per_group = args.rate / args.groups
    if per_group > 1 or args.claims / args.groups > 19:
        say(
            f"{per_group:.2f} claims a second and {args.claims / args.groups:.0f} in all per "
            "group: past Telegram's limits, the limiter holds replies (the wait shows it)"
        )
    logging.basicConfig(level=logging.WARNING)
    runs: list[dict[str, dict]] = []
    with platform_server() as bot_api:
        for run in range(args.runs):
            runs.append(asyncio.run(one_run(args, bot_api, run)))
            table(runs[-1], f"run {run + 1}")
    if len(runs) > 1:
        table(median_run(runs), f"medians of {len(runs)} runs")
    path = write_results(args, runs)
    print(f"\nwrote {path}; `python -m bench.report` puts it in docs/PERFORMANCE.md")
    failed = [n + 1 for n, r in enumerate(runs) if not all_answered_once(r["wait"])]
    if failed:
        print(f"runs {failed}: not every claim answered exactly once, or a 429", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
