"""Analytics projection: events/s into the customer database, report latency, database size.

    python -m bench.analytics_projection [--events 1000000] [--runs 1] [--batch 1000]

Generates a realistic mix of events for one customer per 10 events (1,000,000 events,
100,000 customers by default: 90% web viewers, a tenth of them also on Telegram and
declaring it when they join, 10% only in the bound Telegram groups) over one show per
25,000 events: joins and leaves, page chat, Telegram lines (and their room copies),
likes, check-ins, red packets, polls, offers, claims, orders, payments, expiries,
refusals, referrals and commissions, each built with the real event classes.

They are published to a private nats-server first (not timed). Then, in the same run:
- references: raw nats-py fetch(batch) + ack of the same events without projecting (the
  ceiling), the same with parse_event, and a FastStream subscriber per message with
  the dead-letter middleware and a no-op handler (on a sample);
- the projection: the analytics service's own composition (bootstrap.build and its
  start: durable consumers on LIVE, ORDERS, INGEST) into an empty SQLite database, and
  PostgreSQL when TEST_POSTGRES_URL is set; timed from start until every event is
  applied;
- the report: a room.ended is published for the last show once the projection caught
  up; timed until its report is built and stored;
- the database size (SQLite file after a WAL checkpoint; pg_database_size).
With --runs N the projection runs N times per database (fresh each time; medians).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import nats
from faststream.middlewares import AckPolicy as FastStreamAck
from faststream.nats import JStream, NatsBroker, PullSub
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bench import results
from services.analytics.adapters.consumer import Puller
from services.analytics.bootstrap import AnalyticsApp, build
from services.analytics.entrypoints.consumers import FEEDS
from services.analytics.settings import AnalyticsSettings
from shared import subjects
from shared.embedded_nats import start_nats_server
from shared.events import (
    ChatMessagePosted,
    CheckedIn,
    ClaimRejected,
    CommissionAccrued,
    IntegrationEvent,
    LikesSent,
    OfferClosed,
    OfferOpened,
    OfferSoldOut,
    OrderCancelled,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    PollClosed,
    PollOpened,
    ProductPinned,
    RedPacketFinished,
    RedPacketGrabbed,
    RedPacketSent,
    RoomEnded,
    RoomOpened,
    RoomStarted,
    StockChanged,
    ViewerJoined,
    ViewerLeft,
    VoteCast,
    parse_event,
)
from shared.events.ingest import ExternalMemberJoined, ExternalMessageReceived
from shared.messaging import dead_letter_middleware, decode_event
from shared.streams import provision_streams

EVENTS_PER_SHOW = 25_000
HOSTS = ("host:h1", "host:h2", "host:h3")
LINES = ("+1", "两盒", "how much?", "樱桃好甜", "still in stock?", "buy 2", "来了来了", "nice")
TITLES = (
    "Cherries 樱桃 5kg",
    "Lychee 荔枝 3kg",
    "Silk dress 真丝连衣裙",
    "Tea 龙井茶",
    "Mango 芒果 box",
    "Walnuts 核桃",
    "Sneakers 运动鞋",
    "Honey 蜂蜜",
)
FASTSTREAM_SAMPLE = 20_000


# -- the events -------------------------------------------------------------------------


class Population:
    """Customers 0..n-1: the first 90% web viewers (every 10th also on Telegram), the rest
    only in the bound Telegram groups. Popularity is skewed: a few come to every show."""

    def __init__(self, customers: int, rnd: random.Random) -> None:
        self.n, self.rnd = customers, rnd
        self.web = int(customers * 0.9)

    def pick(self) -> int:
        return min(int(self.n * self.rnd.random() ** 2), self.n - 1)

    def web_id(self, i: int) -> str:
        return f"web:c{i}"

    def telegram_of(self, i: int) -> str | None:
        if i >= self.web:
            return f"telegram:{i}"
        return f"telegram:{i}" if i % 10 == 0 else None


def show(
    k: int, budget: int, people: Population, start: datetime, end_it: bool
) -> list[IntegrationEvent]:
    """One two-hour show of about `budget` events."""
    rnd = people.rnd
    room = f"r_bench{k:04d}"
    hours = timedelta(hours=2)

    def at() -> datetime:
        return start + timedelta(seconds=rnd.random() * hours.total_seconds())

    out: list[IntegrationEvent] = [
        RoomOpened(
            room_id=room, title=f"Show {k}", host_id=HOSTS[k % len(HOSTS)], occurred_at=start
        ),
        RoomStarted(room_id=room, occurred_at=start),
    ]
    viewers: list[int] = []
    members: list[int] = []
    seen: set[int] = set()
    # A show draws a quarter of its events' worth of people, at most 60% of everyone.
    wanted, tries = min(budget // 4, int(people.n * 0.6)), 0
    while len(viewers) + len(members) < wanted and tries < 50 * wanted:
        tries += 1
        i = people.pick()
        if i in seen:
            continue
        seen.add(i)
        (viewers if i < people.web else members).append(i)
    offers = []
    for j in range(8):
        offer = f"o_{room}_{j}"
        kind = "group_buy" if j == 7 else "flash_sale"
        stock = rnd.choice((50, 200, 1000))
        offers.append((offer, kind, stock, rnd.choice((990, 4990, 9900, 29900))))
        opened = start + timedelta(minutes=10 * j)
        out.append(
            OfferOpened(
                room_id=room,
                offer_id=offer,
                kind=kind,
                title=TITLES[(k + j) % len(TITLES)],
                price_cents=offers[-1][3],
                stock=stock,
                per_buyer_limit=2,
                occurred_at=opened,
            )
        )
        out.append(ProductPinned(room_id=room, offer_id=offer, occurred_at=opened))
        out.append(OfferClosed(room_id=room, offer_id=offer, occurred_at=opened + hours / 2))
    for i in viewers:
        who, joined = people.web_id(i), at()
        tg = people.telegram_of(i)
        referrer = people.web_id(rnd.choice(viewers)) if rnd.random() < 0.05 else None
        out.append(
            ViewerJoined(
                room_id=room,
                customer_id=who,
                display_name=f"Viewer {i}",
                occurred_at=joined,
                external_id=tg if tg and rnd.random() < 0.3 else None,
                referrer_id=referrer if referrer != who else None,
            )
        )
        left = min(joined + timedelta(seconds=rnd.expovariate(1 / 1500)), start + hours)
        out.append(
            ViewerLeft(
                room_id=room,
                customer_id=who,
                watch_seconds=(left - joined).total_seconds(),
                occurred_at=left,
            )
        )
    for i in members[: len(members) // 4]:
        out.append(
            ExternalMemberJoined(
                id=f"telegram:-100{k}:{i}:joined",
                room_id=room,
                customer_id=f"telegram:{i}",
                platform="telegram",
                chat_id=f"-100{k}",
                external_user_id=str(i),
                display_name=f"Member {i}",
                occurred_at=at(),
            )
        )
    packets = [f"pk_{room}_{j}" for j in range(4)]
    for p in packets:
        out.append(
            RedPacketSent(
                room_id=room,
                customer_id=HOSTS[0],
                packet_id=p,
                total_cents=20000,
                shares=200,
                message="hot item!",
                occurred_at=at(),
            )
        )
    polls = [f"poll_{room}_{j}" for j in range(2)]
    for p in polls:
        out.append(
            PollOpened(
                room_id=room,
                poll_id=p,
                question="next?",
                options=["a", "b", "c"],
                occurred_at=at(),
            )
        )
    n_order = 0
    closing = 3 + len(packets) + len(polls) + 1  # sold out, finished, closed, ended
    while len(out) < budget - closing:
        roll = rnd.random()
        if roll < 0.40 or not members:
            i = rnd.choice(viewers)
            out.append(
                ChatMessagePosted(
                    room_id=room,
                    customer_id=people.web_id(i),
                    message_id=uuid.uuid4().hex,
                    display_name=f"Viewer {i}",
                    text=rnd.choice(LINES),
                    occurred_at=at(),
                )
            )
        elif roll < 0.55:
            i = rnd.choice(members) if rnd.random() < 0.6 else rnd.choice(viewers)
            tg = people.telegram_of(i) or f"telegram:{i}"
            key = f"telegram:-100{k}:{uuid.uuid4().hex[:12]}"
            when = at()
            out.append(
                ExternalMessageReceived(
                    id=key,
                    room_id=room,
                    customer_id=tg,
                    platform="telegram",
                    chat_id=f"-100{k}",
                    external_user_id=tg.split(":")[1],
                    display_name=f"TG {i}",
                    message_id=key.rsplit(":", 1)[1],
                    text=rnd.choice(LINES),
                    occurred_at=when,
                )
            )
            if rnd.random() < 0.5:  # a fresh line of a bound chat: copied into the room
                out.append(
                    ChatMessagePosted(
                        id=f"chat:{key}",
                        room_id=room,
                        customer_id=tg,
                        message_id=key,
                        display_name=f"TG {i}",
                        text="+1",
                        source="telegram",
                        occurred_at=when,
                    )
                )
        elif roll < 0.75:
            i = rnd.choice(viewers)
            out.append(
                LikesSent(
                    room_id=room,
                    customer_id=people.web_id(i),
                    count=rnd.randint(1, 30),
                    occurred_at=at(),
                )
            )
        elif roll < 0.78:
            i = rnd.choice(viewers)
            out.append(
                CheckedIn(
                    room_id=room,
                    customer_id=people.web_id(i),
                    day=start.date().isoformat(),
                    streak=rnd.randint(1, 30),
                    points=10,
                    occurred_at=at(),
                )
            )
        elif roll < 0.82:
            i = rnd.choice(viewers)
            out.append(
                RedPacketGrabbed(
                    room_id=room,
                    customer_id=people.web_id(i),
                    packet_id=rnd.choice(packets),
                    amount_cents=rnd.randint(1, 200),
                    remaining_shares=1,
                    occurred_at=at(),
                )
            )
        elif roll < 0.86:
            i = rnd.choice(viewers)
            out.append(
                VoteCast(
                    room_id=room,
                    customer_id=people.web_id(i),
                    poll_id=rnd.choice(polls),
                    option=rnd.randint(0, 2),
                    occurred_at=at(),
                )
            )
        elif roll < 0.88:
            i = rnd.choice(viewers)
            offer, _, _, _ = rnd.choice(offers)
            out.append(
                ClaimRejected(
                    room_id=room,
                    customer_id=people.web_id(i),
                    claim_id=uuid.uuid4().hex,
                    offer_id=offer,
                    reason=rnd.choice(("sold_out_waitlisted", "limit_reached")),
                    message="no",
                    occurred_at=at(),
                )
            )
        elif roll < 0.89:
            offer, _, _, _ = rnd.choice(offers)
            out.append(
                StockChanged(
                    room_id=room, offer_id=offer, left=rnd.randint(0, 50), occurred_at=at()
                )
            )
        else:
            i = rnd.choice(viewers)
            who = people.web_id(i)
            offer, kind, _, price = rnd.choice(offers)
            order, placed = f"{room}-o{n_order}", at()
            n_order += 1
            quantity = rnd.randint(1, 2)
            referrer = people.web_id(rnd.choice(viewers)) if rnd.random() < 0.1 else None
            referrer = referrer if referrer != who else None
            out.append(
                OrderPlaced(
                    room_id=room,
                    customer_id=who,
                    order_id=order,
                    claim_id=order,
                    offer_id=offer,
                    quantity=quantity,
                    amount_cents=price * quantity,
                    pay_by=placed + timedelta(minutes=15),
                    referrer_id=referrer,
                    kind=kind,
                    occurred_at=placed,
                )
            )
            fate = rnd.random()
            later = placed + timedelta(seconds=rnd.randint(5, 600))
            if fate < 0.75:
                out.append(
                    OrderPaid(
                        room_id=room,
                        customer_id=who,
                        order_id=order,
                        offer_id=offer,
                        amount_cents=price * quantity,
                        referrer_chain=[referrer] if referrer else [],
                        occurred_at=later,
                    )
                )
                if referrer:
                    out.append(
                        CommissionAccrued(
                            room_id=room,
                            customer_id=referrer,
                            order_id=order,
                            level=1,
                            amount_cents=price * quantity // 20,
                            occurred_at=later,
                        )
                    )
            elif fate < 0.95:
                out.append(
                    OrderExpired(
                        room_id=room,
                        customer_id=who,
                        order_id=order,
                        offer_id=offer,
                        quantity=quantity,
                        occurred_at=placed + timedelta(minutes=15),
                    )
                )
            else:
                out.append(
                    OrderCancelled(
                        room_id=room,
                        customer_id=who,
                        order_id=order,
                        offer_id=offer,
                        reason="buyer",
                        occurred_at=later,
                    )
                )
    for offer, _, _, _ in offers[:3]:
        out.append(OfferSoldOut(room_id=room, offer_id=offer, occurred_at=at()))
    for p in packets:
        out.append(
            RedPacketFinished(
                room_id=room,
                customer_id=people.web_id(rnd.choice(viewers)),
                packet_id=p,
                luckiest_amount_cents=199,
                occurred_at=start + hours,
            )
        )
    for p in polls:
        out.append(
            PollClosed(room_id=room, poll_id=p, results=[1, 2, 3], occurred_at=start + hours)
        )
    if end_it:
        out.append(RoomEnded(room_id=room, occurred_at=start + hours))
    return out


def show_count(total: int, per_show: int) -> int:
    return max(1, round(total / per_show))


def shows(
    total: int, customers: int, per_show: int = EVENTS_PER_SHOW, seed: int = 42
) -> Iterator[list[IntegrationEvent]]:
    people = Population(customers, random.Random(seed))
    n = show_count(total, per_show)
    first = FIRST_SHOW
    left = total
    for k in range(n):
        budget = left if k == n - 1 else total // n
        left -= budget
        events = show(k, budget, people, first + timedelta(days=k), end_it=k < n - 1)
        yield events


FIRST_SHOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def last_show(total: int, per_show: int) -> RoomEnded:
    """The end of the last show (the generated events leave it open)."""
    k = show_count(total, per_show) - 1
    return RoomEnded(room_id=f"r_bench{k:04d}", occurred_at=FIRST_SHOW + timedelta(days=k, hours=2))


async def publish_all(
    js: JetStreamContext, total: int, customers: int, per_show: int
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for events in shows(total, customers, per_show):
        for i in range(0, len(events), 2000):
            chunk = events[i : i + 2000]
            await asyncio.gather(
                *(
                    js.publish(
                        subjects.event_subject(e),
                        e.model_dump_json().encode(),
                        headers={"Nats-Msg-Id": e.id},
                    )
                    for e in chunk
                )
            )
            for e in chunk:
                counts[e.domain] = counts.get(e.domain, 0) + 1
    return counts


# -- references --------------------------------------------------------------------------


async def raw_fetch(
    nc: NatsClient, total: int, batch: int, parse: bool, puller: bool = False
) -> float:
    """The same events over the same three streams, fetched and acked, nothing projected:
    with nats-py's fetch, or with the pull requests the projection's consumers send."""
    js = nc.jetstream()
    name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    seen = 0
    for feed in FEEDS:
        info = await js.stream_info(feed.stream.name)
        if info.state.messages == 0:
            continue
        await js.add_consumer(
            feed.stream.name,
            ConsumerConfig(
                durable_name=name,
                filter_subject=feed.subject,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                max_ack_pending=10 * batch,
            ),
        )
        if puller:
            pull = Puller(nc, feed.stream.name, name)
            await pull.start()
            fetch, stop = pull.fetch, pull.stop
        else:
            sub = await js.pull_subscribe_bind(name, stream=feed.stream.name)
            fetch, stop = sub.fetch, sub.unsubscribe
        want = info.state.messages
        got = 0
        while got < want:
            msgs = await fetch(batch, timeout=5)
            for msg in msgs:
                if parse:
                    parse_event(msg.data)
                await msg.ack()
            got += len(msgs)
        seen += got
        await stop()
        await js.delete_consumer(feed.stream.name, name)
    return seen / (time.perf_counter() - started)


async def faststream_per_message(url: str, sample: int) -> float:
    """A FastStream subscriber on LIVE as the services write them: decode_event, the
    dead-letter middleware, NACK_ON_ERROR, a no-op handler."""
    broker = NatsBroker(url, middlewares=[dead_letter_middleware("bench")], logger=None)
    done = asyncio.Event()
    count = 0

    @broker.subscriber(
        subjects.domain_events("live"),
        stream=JStream("LIVE", declare=False),
        durable=f"bench-fs-{uuid.uuid4().hex[:8]}",
        pull_sub=PullSub(batch_size=100, timeout=1.0),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_deliver=-1),
        decoder=decode_event,
        ack_policy=FastStreamAck.NACK_ON_ERROR,
    )
    async def noop(event: IntegrationEvent) -> None:
        nonlocal count
        count += 1
        if count >= sample:
            done.set()

    started = time.perf_counter()
    await broker.start()
    await done.wait()
    elapsed = time.perf_counter() - started
    await broker.stop()
    return sample / elapsed


# -- the projection ------------------------------------------------------------------------


@dataclass
class Run:
    database: str
    events: int
    seconds: float
    report_s: float
    build_s: float
    size_bytes: int

    @property
    def per_s(self) -> float:
        return self.events / self.seconds


async def _forget_durables(js: JetStreamContext) -> None:
    for feed in FEEDS:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(feed.stream.name, feed.durable)


async def _size(url: str, path: Path | None) -> int:
    if path is not None:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


async def project(
    nats_url: str,
    js: JetStreamContext,
    database_url: str,
    sqlite_path: Path | None,
    total: int,
    batch: int,
    kind: str,
    per_show: int,
) -> Run:
    await _forget_durables(js)
    settings = AnalyticsSettings(nats_url=nats_url, database_url=database_url, batch_size=batch)
    app: AnalyticsApp = build(settings)
    started = time.perf_counter()
    await app.infra.start()
    try:

        async def projected() -> bool:
            return app.projection.applied + app.projection.duplicates >= total

        async def quiet() -> bool:  # reports of the shows that ended, built after catching up
            return app.reports.building == 0

        await until(projected)
        seconds = time.perf_counter() - started
        await until(quiet)
        ended = last_show(total, per_show)
        room = ended.room_id
        before = app.projection.applied
        sent = time.perf_counter()
        await js.publish(
            subjects.event_subject(ended),
            ended.model_dump_json().encode(),
            headers={"Nats-Msg-Id": ended.id},
        )

        async def ready() -> bool:
            return (
                app.projection.applied > before
                and app.reports.building == 0
                and await app.reports.is_ready(room)
            )

        await until(ready, 0.02)
        report_s = time.perf_counter() - sent
        build_s = app.reports.last_build_s or 0.0
    finally:
        await app.infra.stop()
    if sqlite_path is not None:
        import sqlite3

        with sqlite3.connect(sqlite_path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = await _size(database_url, sqlite_path)
    return Run(kind, app.projection.applied, seconds, report_s, build_s, size)


async def _fresh_postgres(base: str) -> tuple[str, str]:
    name = f"qunlive_bench_{uuid.uuid4().hex[:8]}"
    admin = base.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, f"{admin.rsplit('/', 1)[0]}/{name}"


async def _drop_postgres(base: str, name: str) -> None:
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def reference(label: str, per_s: float) -> None:
    print(f"reference  {label:<44} {per_s:>9,.0f} events/s", flush=True)


async def until(probe: Callable[[], Awaitable[bool]], interval: float = 0.05) -> None:
    """Poll until probe() is true."""
    for _ in itertools.count():
        if await probe():
            return
        await asyncio.sleep(interval)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    total, customers = args.events, args.customers or max(10, args.events // 10)
    postgres = os.environ.get("TEST_POSTGRES_URL", "") if not args.sqlite_only else ""
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp:
        server = start_nats_server(Path(tmp) / "jetstream")
        try:
            nc = await nats.connect(server.url)
            js = nc.jetstream(timeout=30)
            await provision_streams(js)
            started = time.perf_counter()
            counts = await publish_all(js, total, customers, args.events_per_show)
            total = sum(counts.values())
            published_s = time.perf_counter() - started
            print(
                f"published {total:,} events for {customers:,} customers in "
                f"{show_count(total, args.events_per_show)} shows (not timed: "
                f"{published_s:.0f} s): "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())),
                flush=True,
            )
            fetched = await raw_fetch(nc, total, args.batch, parse=False)
            reference(f"nats-py fetch({args.batch}) + ack", fetched)
            ceiling = await raw_fetch(nc, total, args.batch, parse=False, puller=True)
            reference(f"pull request({args.batch}) + ack: the ceiling", ceiling)
            parsed = await raw_fetch(nc, total, args.batch, parse=True, puller=True)
            reference("pull request + parse_event + ack", parsed)
            references = [
                ("fetch", f"nats-py fetch({args.batch}) + ack", fetched),
                ("ceiling", f"pull request({args.batch}) + ack: the ceiling", ceiling),
                ("parse", "pull request + parse_event + ack", parsed),
            ]
            if not args.skip_faststream:
                sample = min(FASTSTREAM_SAMPLE, counts.get("live", 0))
                per_message = await faststream_per_message(server.url, sample)
                reference(f"FastStream per message, no-op ({sample:,})", per_message)
                references.append(
                    ("faststream", f"FastStream per message, no-op ({sample:,})", per_message)
                )
            runs: dict[str, list[Run]] = {}
            for n in range(args.runs):
                targets: list[tuple[str, str, Path | None, str | None]] = []
                path = Path(tmp) / f"analytics-{n}.db"
                targets.append(("sqlite", f"sqlite+aiosqlite:///{path}", path, None))
                if postgres:
                    name, url = await _fresh_postgres(postgres)
                    targets.append(("postgres", url, None, name))
                for kind, url, sqlite_path, pg_name in targets:
                    try:
                        run = await project(
                            server.url,
                            js,
                            url,
                            sqlite_path,
                            total,
                            args.batch,
                            kind,
                            args.events_per_show,
                        )
                    finally:
                        if pg_name:
                            await _drop_postgres(postgres, pg_name)
                    runs.setdefault(kind, []).append(run)
                    print(
                        f"projection {kind:<8} run {n + 1}: {run.per_s:>9,.0f} events/s "
                        f"({run.events:,} in {run.seconds:.1f} s); report ready "
                        f"{run.report_s:.2f} s after room.ended (build {run.build_s:.2f} s); "
                        f"database {_mb(run.size_bytes)}",
                        flush=True,
                    )
            for kind, done in runs.items():
                print(
                    f"median     {kind:<8} ({len(done)} run{'s' if len(done) > 1 else ''}): "
                    f"{statistics.median(r.per_s for r in done):,.0f} events/s, report ready "
                    f"{statistics.median(r.report_s for r in done):.2f} s, database "
                    f"{_mb(int(statistics.median(r.size_bytes for r in done)))}; "
                    f"{statistics.median(r.per_s for r in done) / ceiling:.0%} of the ceiling, "
                    f"{statistics.median(r.per_s for r in done) / fetched:.0%} of nats-py fetch"
                )
            await nc.close()
        finally:
            server.stop()
    await write_results(args, total, customers, counts, published_s, references, runs, postgres)


async def write_results(
    args: argparse.Namespace,
    total: int,
    customers: int,
    counts: dict[str, int],
    published_s: float,
    references: list[tuple[str, str, float]],
    runs: dict[str, list[Run]],
    postgres: str,
) -> None:
    """test-artifacts/bench/analytics_projection.json; the references are measured once."""
    by_key = {key: per_s for key, _, per_s in references}
    scenarios = [
        results.scenario(key, label, "reference", [{"per_s": per_s}])
        for key, label, per_s in references
    ]
    ratios = []
    for kind, done in runs.items():
        scenarios.append(
            results.scenario(
                f"projection_{kind}",
                f"projection into {'PostgreSQL' if kind == 'postgres' else 'SQLite'}",
                "measured",
                [
                    {
                        "per_s": r.per_s,
                        "events": r.events,
                        "seconds": r.seconds,
                        "report_s": r.report_s,
                        "build_s": r.build_s,
                        "size_mb": round(r.size_bytes / 1024 / 1024, 1),
                    }
                    for r in done
                ],
            )
        )
        for ref in ("ceiling", "fetch"):
            ratios.append(
                results.ratio(
                    f"projection_{kind}_vs_{ref}",
                    f"projection ({kind}) events/s / {ref} events/s",
                    [r.per_s / by_key[ref] for r in done],
                )
            )
    databases = [results.sqlite_database()]
    if postgres:
        databases.append(
            {"kind": "PostgreSQL", "version": await results.postgres_version(postgres)}
        )
    results.write(
        "analytics_projection",
        title="Analytics projection and report",
        parameters={
            **vars(args),
            "events": total,
            "customers": customers,
            "events_per_show": args.events_per_show,
            "events_by_domain": counts,
        },
        load_generator={
            "name": "nats-py",
            "version": f"nats-py {results.package_version('nats-py')}",
            "how": f"{total:,} events pre-published to a private nats-server (not timed, "
            f"{published_s:.0f} s with their generation), then consumed from LIVE, ORDERS and "
            "INGEST",
        },
        run_count=args.runs,
        scenarios=scenarios,
        ratios=ratios,
        databases=databases,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: events / 10")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--batch", type=int, default=AnalyticsSettings.model_fields["batch_size"].default
    )
    parser.add_argument(
        "--events-per-show",
        type=int,
        default=EVENTS_PER_SHOW,
        help="the report is timed on the last show: --events-per-show 1000000 makes it one show",
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--skip-faststream", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
