"""An amended order (order.amended: the buyer edited the line that placed it) counts with
its last quantity and amount, up or down, whatever order or batching the events come in,
and a replay gives the same rows (SQLite, and PostgreSQL where TEST_POSTGRES_URL is set).

Lily places 2 peaches, edits her line to "+1" and pays for 1. Mei places 1, edits to
"+3", then to "+2", and lets it expire.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from services.analytics.adapters.store import Store
from services.analytics.adapters.tables import metadata
from services.analytics.cli import rebuild
from services.analytics.domain import facts
from services.analytics.domain.fold import fold
from shared import db
from shared.embedded_nats import NatsServer
from shared.events import (
    IntegrationEvent,
    OfferOpened,
    OrderAmended,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    RoomEnded,
    RoomOpened,
    RoomStarted,
)
from tests.analytics.conftest import Analytics, analytics_settings, dump
from tests.support import eventually

ROOM = "r_amend"
LILY, MEI = "web:lily", "web:mei"
T0 = datetime(2025, 6, 1, 20, 0, tzinfo=UTC)  # long over: no announcement to wait for
PRICE = 2500


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def placed(order: str, who: str, quantity: int, minute: float) -> OrderPlaced:
    return OrderPlaced(
        room_id=ROOM,
        customer_id=who,
        order_id=order,
        claim_id=f"k-{order}",
        offer_id="o_peach",
        quantity=quantity,
        amount_cents=PRICE * quantity,
        pay_by=at(20),
        occurred_at=at(minute),
    )


def amended(order: str, who: str, quantity: int, minute: float) -> OrderAmended:
    return OrderAmended(
        room_id=ROOM,
        customer_id=who,
        order_id=order,
        claim_id=f"k-{order}",
        offer_id="o_peach",
        quantity=quantity,
        amount_cents=PRICE * quantity,
        pay_by=at(20),
        occurred_at=at(minute),
    )


def orders() -> list[IntegrationEvent]:
    return [
        placed("a1", LILY, 2, 2),
        placed("a2", MEI, 1, 2.5),
        amended("a1", LILY, 1, 3),  # "+2" -> "+1": lower
        amended("a2", MEI, 3, 3.5),  # "+1" -> "+3", then "+2"
        amended("a2", MEI, 2, 4),
        OrderPaid(
            room_id=ROOM,
            customer_id=LILY,
            order_id="a1",
            offer_id="o_peach",
            amount_cents=PRICE,
            occurred_at=at(5),
        ),
        OrderExpired(
            room_id=ROOM,
            customer_id=MEI,
            order_id="a2",
            offer_id="o_peach",
            quantity=2,
            occurred_at=at(20),
        ),
    ]


def amend_show() -> list[IntegrationEvent]:
    return [
        RoomOpened(room_id=ROOM, title="Peach night", host_id="host:h3", occurred_at=at(-10)),
        RoomStarted(room_id=ROOM, occurred_at=at(0)),
        OfferOpened(
            room_id=ROOM,
            offer_id="o_peach",
            kind="flash_sale",
            title="Peaches 桃子 2kg",
            price_cents=PRICE,
            stock=5,
            per_buyer_limit=3,
            occurred_at=at(1),
        ),
        *orders(),
        RoomEnded(room_id=ROOM, occurred_at=at(25)),
    ]


def terms(rows: dict[Any, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        row["order_id"]: (row["quantity"], row["amount_cents"], row["paid_cents"])
        for row in rows.values()
    }


EXPECTED = {"a1": (1, PRICE, PRICE), "a2": (2, 2 * PRICE, 0)}


def test_the_last_terms_win_in_memory_whatever_the_order() -> None:
    events = orders()
    seen = []
    for order in itertools.permutations(events):
        rows = fold(order).rows.rows[facts.ORDERS.name]
        seen.append(rows)
        assert terms(rows) == EXPECTED
    assert all(rows == seen[0] for rows in seen)


async def _project(database_url: str, batches: list[list[IntegrationEvent]]) -> None:
    engine = db.make_engine(database_url)
    try:
        await db.migrate(engine, metadata)
        store = Store(engine)
        for batch in batches:
            await store.apply(batch)
    finally:
        await engine.dispose()


def _order_terms(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, tuple[Any, ...]]:
    columns = [c.name for c in metadata.tables["analytics_orders"].columns]
    rows = [dict(zip(columns, row, strict=True)) for row in tables["analytics_orders"]]
    return terms({row["order_id"]: row for row in rows})


async def test_amends_before_the_order_and_repeats_give_the_same_rows(
    database_url: str, other_database_url: str
) -> None:
    events = amend_show()
    await _project(database_url, [[e] for e in events])
    # The amends come first (each its own batch: merged into the stored row), the placed
    # orders after them; then everything again, shuffled, in batches (skipped as applied).
    backwards = [[e] for e in reversed(events)]
    shuffled = random.Random(5).sample(events, len(events))
    again = [shuffled[i : i + 3] for i in range(0, len(shuffled), 3)]
    await _project(other_database_url, backwards + again)

    first, second = await dump(database_url), await dump(other_database_url)
    assert _order_terms(first) == EXPECTED
    assert first == second


async def test_units_sold_count_the_amended_quantity_and_a_replay_agrees(
    analytics: Analytics, nats_server: NatsServer, database_url: str, other_database_url: str
) -> None:
    events = amend_show()
    await analytics.publish(events)
    await analytics.settled(len(events))

    async def built() -> bool:
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)
    r = await analytics.get(f"/rooms/{ROOM}/report")
    (peach,) = r["offers"]
    # Lily's 1 (placed 2) and Mei's 2 (placed 1, then 3): 3 claimed; Lily's 1 sold.
    assert (peach["orders"], peach["units_claimed"]) == (2, 3)
    assert (peach["paid_orders"], peach["units_sold"], peach["net_cents"]) == (1, 1, PRICE)
    assert peach["sell_through"] == 0.2
    assert (r["paid_orders"], r["gmv_cents"]) == (1, PRICE)
    # An amend is no new claim or order.
    assert [p["orders"] for p in r["minutes"] if p["orders"]] == [2]

    # A replay of the streams into an empty database gives the same rows.
    done = await rebuild(analytics_settings(nats_server.url, other_database_url), batch=2)
    assert done.events == len(events)
    assert await dump(other_database_url) == await dump(database_url)
