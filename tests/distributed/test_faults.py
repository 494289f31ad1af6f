"""The production topology under faults, from processes (see topology.py):

a. a flash sale under load over both orders replicas while one NATS node is SIGKILLed;
b. an orders and a live process SIGKILLed and restarted mid-show;
c. analytics SIGKILLed mid-show and restarted after it.

Each test prints (and appends to test-artifacts/distributed-faults.txt) what was killed,
when, and the tallies.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from services.analytics.adapters.tables import metadata as analytics_metadata
from shared import subjects
from shared.db import make_engine
from shared.events import PlaceClaim
from shared.messaging import EventPublisher
from tests.conftest import POSTGRES_URL
from tests.distributed.buyers import Tally, checkout, flash_sale
from tests.distributed.topology import ADMIN, Timeline, Topology
from tests.live.client import TestViewer
from tests.support import eventually
from tests.test_metrics import sample

# Guards against a hang, not a speed check: a topology of nine processes takes 30 s to start
# and stop on a loaded 2-core machine (setup and teardown count against the timeout).
pytestmark = [pytest.mark.distributed, pytest.mark.timeout(120)]
CLAIMS_ACK_WAIT_S = 30  # services/orders/entrypoints/subscribers.py, orders-claims


async def stream_count(js: JetStreamContext, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


@pytest.mark.timeout(150)
async def test_a_flash_sale_goes_on_when_a_nats_node_is_killed(
    topology: Topology, db: asyncpg.Connection, js: JetStreamContext
) -> None:
    tl = Timeline("a: SIGKILL of one NATS node during a flash sale on two orders replicas")
    room, stock = f"r-a-{uuid.uuid4().hex[:6]}", 100
    http_buyers, claim_buyers, at_once = 250, 50, 50
    orders = [p.url for p in topology.of("orders")]
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as http:
        offer_id = await flash_sale(http, orders[0], room, stock)
        leaders = await topology.cluster.leaders(js, ("ORDERS", "COMMANDS"))
        victim = topology.cluster.node(leaders["ORDERS"])
        roles = [role for role, node in leaders.items() if node == victim.name]
        tl.mark(f"offer {offer_id}: stock {stock}, limit 1; leaders {leaders}")

        tally = Tally()
        killed = asyncio.Event()
        killed_at: list[float] = []
        killed_wall: list[float] = []
        gate = asyncio.Semaphore(at_once)

        async def buyer(n: int) -> None:
            async with gate:
                await checkout(
                    http, orders, offer_id, room, f"web:a{n}", f"a-{n}-{room}", tally, first=n
                )
            if len(tally.told_yours) >= stock // 4 and not killed.is_set():
                killed.set()
                victim.kill()
                killed_at.append(time.monotonic())
                killed_wall.append(time.time())
                tl.mark(
                    f"SIGKILL {victim.name} (led {', '.join(roles)}) after "
                    f"{len(tally.told_yours)} buyers were told 'yours'"
                )

        publish_failures: list[float] = []

        async def claimer(n: int) -> None:
            """Chat claims, as live publishes them: retried with the same id (deduped)."""
            await asyncio.sleep(n * 0.02)
            claim = PlaceClaim(
                room_id=room,
                customer_id=f"web:c{n}",
                claim_id=f"c-{n}",
                offer_id=offer_id,
                quantity=1,
                source="chat",
            )
            while True:
                try:
                    await EventPublisher(js).publish(claim)
                    return
                except Exception:
                    publish_failures.append(time.monotonic())
                    await asyncio.sleep(0.2)

        tl.mark(
            f"sale opens: {http_buyers} HTTP buyers ({at_once} at a time) "
            f"+ {claim_buyers} chat claims published to COMMANDS"
        )
        claims = asyncio.gather(*(claimer(n) for n in range(claim_buyers)))
        await asyncio.gather(*(buyer(n) for n in range(http_buyers)))
        after_kill = [t for t in tally.answered_after if killed_at and t > killed_at[0]]
        pause = tally.longest_pause_after(killed_at[0]) if killed_at else 0.0
        tl.mark(
            f"HTTP buyers done: {tally.summary()}; {len(after_kill)} told 'yours' after the "
            f"kill; longest pause between answers after the kill {pause:.2f}s"
        )
        await claims
        if publish_failures:
            outage = (min(publish_failures) - tl.t0, max(publish_failures) - tl.t0)
            window = f"failed from t={outage[0]:.2f}s to t={outage[1]:.2f}s"
        else:
            window = "never failed"
        tl.mark(
            f"all {claim_buyers} claims stored in COMMANDS; publishing {window} "
            f"({len(publish_failures)} failed tries, each retried with the same Nats-Msg-Id)"
        )
        assert killed.is_set(), "the sale ended before the kill"

        # Meanwhile the claims are decided. Every HTTP buyer asks again with the same key:
        # the same answers, no new order. The killed node comes back and catches up.
        again = Tally()
        await asyncio.gather(
            *(
                checkout(http, orders, offer_id, room, f"web:a{n}", f"a-{n}-{room}", again, n + 1)
                for n in range(http_buyers)
            )
        )
        assert again.told_yours == tally.told_yours
        tl.mark(f"all {http_buyers} HTTP buyers asked again with their key: the same answers")
        topology.cluster.restart(victim)

        async def healed() -> bool:
            try:
                info = await js.stream_info("ORDERS")
            except NatsError:  # the cluster is still settling: ask again
                return False
            peers = info.cluster.replicas if info.cluster else []
            return len(peers or []) == 2 and all(p.current for p in peers or [])

        await eventually(healed, timeout=30, interval=0.2)
        tl.mark(f"{victim.name} restarted; ORDERS back to 3 current replicas")

        # A claim that was on its way to an orders replica whose NATS node died is
        # redelivered when the consumer's ack_wait (30 s) runs out: allow for that.
        async def claims_decided() -> int:
            n = await db.fetchval(
                "SELECT count(*) FROM orders_checkouts WHERE offer_id = $1 AND key LIKE 'claim:%'",
                offer_id,
            )
            return int(n) if n == claim_buyers else 0

        await eventually(claims_decided, timeout=CLAIMS_ACK_WAIT_S + 10, interval=0.2)
        claim_orders, last = await db.fetchrow(
            "SELECT count(order_id), max(created_at) FROM orders_checkouts "
            "WHERE offer_id = $1 AND key LIKE 'claim:%'",
            offer_id,
        )
        tl.mark(
            f"all {claim_buyers} claims decided once, {claim_orders} got a unit; the last "
            f"{_utc(last).timestamp() - killed_wall[0]:.1f}s after the kill"
        )

        # Nothing a buyer was told is lost; nothing doubled; stock adds up.
        offer = (await http.get(f"{orders[1]}/offers/{offer_id}")).json()
        rows = await db.fetch(
            "SELECT id, customer_id, quantity, status FROM orders_orders WHERE offer_id = $1",
            offer_id,
        )
        by_id = {r["id"]: r for r in rows}
        for key, order_id in tally.told_yours.items():
            assert order_id in by_id, f"{key}: order {order_id} was lost"
            assert by_id[order_id]["status"] == "awaiting_payment"
        assert len({r["customer_id"] for r in rows}) == len(rows), "a buyer got two units"
        assert offer["left"] + offer["held"] + offer["sold"] == offer["stock"] == stock
        assert offer["held"] == sum(r["quantity"] for r in rows) == len(rows) <= stock
        assert offer["left"] == 0, offer
        assert len(rows) == len(tally.told_yours) + claim_orders

        # The events went out through the failover: one OrderPlaced per order in ORDERS (R3).
        placed = subjects.room_event("orders", room, "order.placed")

        async def relayed() -> int:
            try:
                count = await stream_count(js, "ORDERS", placed)
            except NatsError:
                return 0
            return count if count == len(rows) else 0

        await eventually(relayed, timeout=30, interval=0.2)
        tl.mark(
            f"ORDERS holds {len(rows)} order.placed events, one per order; offer left "
            f"{offer['left']} held {offer['held']} sold {offer['sold']} of {offer['stock']}"
        )
    print(tl.report())


async def new_room(http: httpx.AsyncClient, live_url: str, title: str) -> str:
    created = await http.post(f"{live_url}/rooms", json={"title": title}, headers=ADMIN)
    room = str(created.raise_for_status().json()["id"])
    (await http.post(f"{live_url}/rooms/{room}/start", headers=ADMIN)).raise_for_status()
    return room


async def join(http: httpx.AsyncClient, live_url: str, room: str, name: str) -> dict[str, str]:
    grant = await http.post(f"{live_url}/rooms/{room}/join", json={"display_name": name})
    return grant.raise_for_status().json()  # type: ignore[no-any-return]


def history_texts(viewer: TestViewer) -> list[str]:
    welcome = next(f for f in viewer.frames if f["type"] == "welcome")
    return [line["text"] for line in welcome["history"]]


async def all_saw(viewers: list[TestViewer], texts: list[str], timeout: float = 15) -> None:
    for viewer in viewers:

        async def saw(v: TestViewer = viewer) -> bool:
            return set(texts) <= set(v.chat_texts()) | set(history_texts(v))

        await eventually(saw, timeout=timeout)


async def all_welcomed(viewers: list[TestViewer], names: list[str], timeout: float = 15) -> None:
    """Every name is in a welcome line some viewer saw."""

    async def welcomed() -> bool:
        seen = [t for v in viewers for t in v.chat_texts() + history_texts(v)]
        greeted = {n for n in names for t in seen if t.startswith("Welcome") and f"@{n}" in t}
        assert greeted == set(names), f"not welcomed yet: {set(names) - greeted}"
        return True

    await eventually(welcomed, timeout=timeout)


async def claim_outcome(viewer: TestViewer) -> str:
    """Say "+1" on the pinned offer; the room answers privately: order_placed or claim_rejected."""
    await viewer.send(type="chat", text="+1")
    frame = await viewer.wait_for(
        lambda f: (
            (f["type"] == "notice" and f["kind"] in ("order_placed", "claim_rejected"))
            or (f["type"] == "error" and f.get("code") == "unavailable")
        ),
        timeout=20,
    )
    return str(frame.get("kind") or frame.get("code"))


async def test_b_orders_and_live_killed_mid_show_viewers_reconnect_and_the_sale_finishes(
    topology: Topology, db: asyncpg.Connection
) -> None:
    tl = Timeline("b: SIGKILL of orders-1 and live-1 mid-show, both restarted")
    live1, live2 = topology["live-1"], topology["live-2"]
    orders1 = topology["orders-1"]
    orders = [p.url for p in topology.of("orders")]
    stock, wave1, wave2 = 50, 30, 40
    viewers: dict[str, TestViewer] = {}
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        room = await new_room(http, live1.url, "Cherry night")
        offer_id = await flash_sale(http, orders[0], room, stock)
        pin = await http.post(
            f"{live2.url}/rooms/{room}/pin", json={"offer_id": offer_id}, headers=ADMIN
        )
        pin.raise_for_status()
        grants = {}
        for n in range(6):
            name = f"v{n}"
            where = live1 if n % 2 == 0 else live2
            grants[name] = await join(http, where.url, room, name)
            viewers[name] = await TestViewer.connect(where.url, grants[name])
        on_live1 = [viewers[f"v{n}"] for n in (0, 2, 4)]
        on_live2 = [viewers[f"v{n}"] for n in (1, 3, 5)]
        tl.mark(f"room {room}, offer {offer_id} (stock {stock}) pinned; 3 viewers on each live")
        before = [f"hello from v{n}" for n in range(6)]
        for n in range(6):
            await viewers[f"v{n}"].send(type="chat", text=before[n])
        await all_saw(list(viewers.values()), before)
        tl.mark("6 lines posted across both instances, every viewer saw all 6")

        tally = Tally()
        kill_now = asyncio.Event()
        gate = asyncio.Semaphore(10)

        async def buyer(n: int) -> None:
            async with gate:
                await checkout(
                    http, orders, offer_id, room, f"web:b{n}", f"b-{n}-{room}", tally, first=n
                )
            if len(tally.told_yours) >= 10:
                kill_now.set()

        first_wave = asyncio.gather(*(buyer(n) for n in range(wave1)))
        await kill_now.wait()
        orders1.kill()
        live1.kill()
        tl.mark(
            f"SIGKILL orders-1 and live-1 after {len(tally.told_yours)} of {wave1} buyers "
            "(10 at a time) were told 'yours'"
        )

        async def dropped() -> bool:
            return all(v._reader.done() for v in on_live1)

        await eventually(dropped, timeout=10)
        during = [f"while live-1 is down, v{n}" for n in (1, 3, 5)]
        for viewer, text in zip(on_live2, during, strict=True):
            await viewer.send(type="chat", text=text)
        await all_saw(on_live2, during)
        for name in ("v0", "v2", "v4"):
            await viewers[name].close()
            viewers[name] = await TestViewer.connect(live2.url, grants[name])
            assert set(before + during) <= set(history_texts(viewers[name])), name
        tl.mark("v0, v2, v4 reconnected to live-2: each welcome history has all 9 lines")
        await first_wave
        tl.mark(f"first wave done while orders-1 was down: {tally.summary()}")

        await asyncio.gather(orders1.start(), live1.start())
        tl.mark("orders-1 and live-1 restarted and ready")
        grants["v6"] = await join(http, live1.url, room, "v6")
        viewers["v6"] = await TestViewer.connect(live1.url, grants["v6"])
        assert set(before + during) <= set(history_texts(viewers["v6"]))
        tl.mark("v6 joined on the restarted live-1: the welcome history has all 9 lines")

        outcomes = await asyncio.gather(*(claim_outcome(v) for v in viewers.values()))
        assert outcomes == ["order_placed"] * len(viewers), outcomes
        await all_saw([viewers["v1"]], ["+1"])
        tl.mark(f"{len(outcomes)} viewers said '+1' on both instances: all {set(outcomes)}")
        await asyncio.gather(*(buyer(n) for n in range(wave1, wave1 + wave2)))
        served = {topology_name(topology, url): n for url, n in tally.served.items()}
        tl.mark(f"second wave done: {tally.summary()}; answers per replica {served}")

        scraped = {p.name: await http.get(f"{p.url}/metrics") for p in topology.services.values()}

    offer = await db.fetchrow(
        'SELECT stock, "left", held, sold FROM orders_offers WHERE id = $1', offer_id
    )
    rows = await db.fetch("SELECT id, customer_id FROM orders_orders WHERE offer_id = $1", offer_id)
    order_ids = {r["id"] for r in rows}
    assert set(tally.told_yours.values()) <= order_ids, "an order a buyer was told about is lost"
    assert len({r["customer_id"] for r in rows}) == len(rows)
    assert offer["left"] + offer["held"] + offer["sold"] == offer["stock"] == stock
    assert offer["held"] == len(rows) == stock, dict(offer)
    assert len(rows) == len(tally.told_yours) + len(viewers)
    assert tally.served[orders1.url] > 0, "the restarted orders-1 served nobody"
    tl.mark(
        f"tallies: {len(rows)} orders = {len(tally.told_yours)} HTTP + {len(viewers)} chat "
        f"claims = {stock} units held, left 0; none lost or doubled"
    )

    # /metrics on all six processes, the restarted ones included.
    assert all(r.status_code == 200 for r in scraped.values())
    assert sample(scraped["live-2"].text, "qunlive_ws_connections", room=room) == 6
    assert sample(scraped["live-1"].text, "qunlive_ws_connections", room=room) == 1
    claims_ok = sum(
        sample(scraped[n].text, "qunlive_checkouts_total", source="claim", outcome="ok")
        for n in ("orders-1", "orders-2")
    )
    assert claims_ok == len(viewers)
    for viewer in viewers.values():
        await viewer.close()
    print(tl.report())


def topology_name(topology: Topology, url: str) -> str:
    return next(p.name for p in topology.services.values() if p.url == url)


def consumer_gauges(text: str) -> dict[tuple[str, str], tuple[float, float]]:
    """(stream, durable) -> (pending, ack pending), as one process's /metrics reports them."""
    found: dict[tuple[str, str], list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("qunlive_consumer_pending", "qunlive_consumer_ack_pending"):
            continue
        for s in family.samples:
            slot = found.setdefault((s.labels["stream"], s.labels["consumer"]), [0.0, 0.0])
            slot[0 if family.name == "qunlive_consumer_pending" else 1] = s.value
    return {key: (v[0], v[1]) for key, v in found.items()}


async def caught_up(
    http: httpx.AsyncClient, url: str
) -> dict[tuple[str, str], tuple[float, float]]:
    """Every durable consumer of the service at url has nothing pending nor in flight."""

    async def probe() -> dict[tuple[str, str], tuple[float, float]]:
        gauges = consumer_gauges((await http.get(f"{url}/metrics")).text)
        behind = {key: v for key, v in gauges.items() if v != (0, 0)}
        assert gauges and not behind, f"(pending, ack pending) behind: {behind or gauges}"
        return gauges

    return await eventually(probe, timeout=30, interval=0.2)


async def table_rows(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every analytics table's rows, sorted; columns filled at processing time left out."""
    engine = make_engine(database_url)
    rows: dict[str, list[tuple[object, ...]]] = {}
    try:
        async with engine.connect() as conn:
            for table in analytics_metadata.sorted_tables:
                if table.name.endswith("_reports"):
                    continue  # a cache of GET /rooms/{room}/report, compared through the API
                columns = [c for c in table.columns if not (c.default and c.default.is_callable)]
                result = await conn.execute(select(*columns))
                rows[table.name] = sorted((tuple(map(_utc, r)) for r in result), key=repr)
    finally:
        await engine.dispose()
    return rows


def _utc(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def test_c_analytics_restarted_after_the_show_matches_an_uninterrupted_run(
    topology: Topology, db: asyncpg.Connection, js: JetStreamContext, postgres_database: str
) -> None:
    tl = Timeline("c: analytics SIGKILLed mid-show, restarted after it; vs an uninterrupted run")
    live1, live2, analytics = topology["live-1"], topology["live-2"], topology["analytics"]
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        room = await new_room(http, live1.url, "After-show report")
        viewers: dict[str, TestViewer] = {}
        for n in range(6):
            where = live1 if n % 2 == 0 else live2
            viewers[f"v{n}"] = await TestViewer.connect(
                where.url, await join(http, where.url, room, f"v{n}")
            )
        lines = [f"v{n} says {k}" for k in range(2) for n in range(6)]
        for text in lines:
            await viewers[text.split()[0]].send(type="chat", text=text)
        await all_saw(list(viewers.values()), lines)
        # Joiners within a second are welcomed together a second later: that line is out
        # before the kill, else analytics may hold it unacked when killed, and JetStream
        # gives it to the restarted process only after its ack wait (60 s).
        await all_welcomed(list(viewers.values()), list(viewers))
        consumers = await caught_up(http, analytics.url)
        analytics.kill()
        tl.mark(
            f"room {room}: 6 viewers, {len(lines)} lines; analytics caught up on "
            f"{sorted(c for _, c in consumers)}, then SIGKILLed"
        )

        async def no_dead_pull() -> bool:  # the dead process's pull requests expire (~1 s)
            infos = [await js.consumer_info(s, c) for s, c in consumers]
            in_flight = {i.name: i.num_ack_pending for i in infos if i.num_ack_pending}
            assert not in_flight, (
                f"unacked at the kill (redelivered after the ack wait): {in_flight}"
            )
            return all(not i.num_waiting for i in infos)

        await eventually(no_dead_pull, timeout=10, interval=0.1)
        later = [f"v{n} says {k}" for k in (2, 3) for n in range(6)]
        for text in later:
            await viewers[text.split()[0]].send(type="chat", text=text)
        for n, where in ((6, live1), (7, live2)):
            viewers[f"v{n}"] = await TestViewer.connect(
                where.url, await join(http, where.url, room, f"v{n}")
            )
            await viewers[f"v{n}"].send(type="chat", text=f"v{n} says 0")
        await all_saw([viewers["v0"]], [*later, "v6 says 0", "v7 says 0"])
        (await http.post(f"{live1.url}/rooms/{room}/end", headers=ADMIN)).raise_for_status()
        for viewer in viewers.values():
            await viewer.close()

        async def show_over() -> bool:  # the last events are in LIVE: room ended, all left
            ended = await stream_count(js, "LIVE", subjects.room_event("live", room, "room.ended"))
            left = await stream_count(js, "LIVE", subjects.room_event("live", room, "viewer.left"))
            return ended == 1 and left == len(viewers)

        await eventually(show_over, timeout=15, interval=0.1)
        backlog = {c: (await js.consumer_info(s, c)).num_pending for s, c in consumers}
        tl.mark(f"show ended with analytics down: 14 more lines, 2 more viewers; backlog {backlog}")

        await analytics.start()
        tl.mark("analytics restarted (after the show)")
        await caught_up(http, analytics.url)
        tl.mark("analytics caught up from its durable consumers")

        async def announced() -> bool:  # the report's first build after the end says so
            ready = subjects.room_event("analytics", room, "report.ready")
            return await stream_count(js, "ANALYTICS", ready) == 1

        await eventually(announced, timeout=15, interval=0.1)
        await caught_up(http, analytics.url)  # and its own announcement read back
        tl.mark("report.ready announced once and read back")
        restarted = await table_rows(postgres_database)
        answers = await analytics_answers(http, analytics.url, room, viewers.values())
        said = {name: sum(t.startswith(f"{name} ") for t in lines + later) for name in viewers}
        said |= {"v6": 1, "v7": 1}
        profiles = [answer for path, answer in answers.items() if path.startswith("/customers/")]
        assert {p["display_name"]: p["messages"] for p in profiles} == said

        # The uninterrupted run: the same analytics on a fresh database, with its durable
        # consumers created anew, so it reads every event once, in one go.
        analytics.stop()
        for stream, consumer in consumers:
            await js.delete_consumer(stream, consumer)
        reference_db = await fresh_database(db, "ref")
        try:
            analytics.env["DATABASE_URL"] = reference_db
            await analytics.start()
            await caught_up(http, analytics.url)
            tl.mark("reference analytics (uninterrupted, fresh database) caught up")
            reference = await table_rows(reference_db)
            again = await analytics_answers(http, analytics.url, room, viewers.values())
            for path, answer in answers.items():
                assert again[path] == answer, path
        finally:
            analytics.stop()
            await db.execute(
                f'DROP DATABASE IF EXISTS "{reference_db.rsplit("/", 1)[1]}" WITH (FORCE)'
            )
    assert restarted == reference
    counts = {table: len(rows) for table, rows in reference.items() if rows}
    tl.mark(
        f"the report, {len(profiles)} customer profiles and every analytics table equal the "
        f"uninterrupted run's; rows {counts}"
    )
    print(tl.report())


async def analytics_answers(
    http: httpx.AsyncClient, url: str, room: str, viewers: Iterable[TestViewer]
) -> dict[str, Any]:
    """What analytics tells a host: the room's report and each viewer's profile."""
    paths = [f"/rooms/{room}/report", *(f"/customers/{v.customer_id}" for v in viewers)]
    answers = {}
    for path in paths:
        response = await http.get(f"{url}{path}", headers=ADMIN)
        assert response.status_code == 200, (path, response.text)
        answers[path] = response.json()
    return answers


async def fresh_database(db: asyncpg.Connection, suffix: str) -> str:
    name = f"qunlive_dist_{uuid.uuid4().hex[:8]}_{suffix}"
    await db.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
