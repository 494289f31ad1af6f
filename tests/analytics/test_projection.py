"""The projection is idempotent and order-blind; bad input goes to dead letters and the
rest flows (SQLite, and PostgreSQL where TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

from nats.aio.client import Client as NatsClient

from services.analytics.adapters.consumer import BatchConsumer
from services.analytics.adapters.store import Store
from services.analytics.adapters.tables import metadata
from services.analytics.entrypoints.consumers import FEEDS
from shared import db, subjects
from shared.events import ChatMessagePosted, CustomersLinked, CustomersUnlinked, ViewerJoined
from shared.events.analytics import NO_ROOM
from shared.messaging import H_DELIVERIES, H_REASON
from tests.analytics import show
from tests.analytics.conftest import Analytics, dump
from tests.support import eventually


def with_decisions() -> list[Any]:
    """The show, plus a host's link then unlink of one pair and a link of another."""
    t = show.m(20)
    return [
        *show.scripted_show(),
        CustomersLinked(
            room_id=NO_ROOM,
            customer_id="admin",
            account_id=show.BO,
            other_account_id=show.ANN,
            occurred_at=t,
        ),
        CustomersUnlinked(
            room_id=NO_ROOM,
            customer_id="admin",
            account_id=show.ANN,
            other_account_id=show.BO,
            occurred_at=show.m(21),
        ),
        CustomersLinked(
            room_id=NO_ROOM,
            customer_id="admin",
            account_id=show.CAT,
            other_account_id=show.DAN,
            occurred_at=show.m(22),
        ),
    ]


async def project(database_url: str, batches: list[list[Any]]) -> None:
    engine = db.make_engine(database_url)
    try:
        await db.migrate(engine, metadata)
        store = Store(engine)
        for batch in batches:
            await store.apply(batch)
    finally:
        await engine.dispose()


async def test_any_order_any_batching_and_repeats_give_the_same_database(
    database_url: str, other_database_url: str
) -> None:
    events = with_decisions()
    await project(database_url, [events[i : i + 7] for i in range(0, len(events), 7)])

    shuffled = events[::-1] + random.Random(7).sample(events, 25)  # reversed, then repeats
    random.Random(3).shuffle(shuffled)
    await project(other_database_url, [shuffled[i : i + 3] for i in range(0, len(shuffled), 3)])

    first, second = await dump(database_url), await dump(other_database_url)
    assert first == second
    assert len(first["analytics_processed_events"]) == len(events)
    persons = {row[0]: row[1] for row in first["analytics_accounts"]}
    assert persons[show.BO] == show.BO  # linked, then unlinked by the host
    assert persons[show.ANN] == show.ANN
    assert persons[show.CAT] == persons[show.DAN] == show.CAT


async def test_an_event_twice_under_new_message_ids_counts_once(
    analytics: Analytics, nc: NatsClient
) -> None:
    line = ChatMessagePosted(
        room_id="r1", customer_id="web:lily", message_id="m1", display_name="Lily", text="+1"
    )
    joined = ViewerJoined(room_id="r1", customer_id="web:lily", display_name="Lily")
    await analytics.publish([joined, line])
    # The same events again, past JetStream's duplicate window (no Nats-Msg-Id): still once.
    js = nc.jetstream()
    for event in (line, joined, line):
        await js.publish(subjects.event_subject(event), event.model_dump_json().encode())

    async def all_seen() -> bool:
        return analytics.app.projection.applied + analytics.app.projection.duplicates >= 5

    await eventually(all_seen)
    profile = await analytics.get("/customers/web:lily")
    assert (profile["messages"], profile["rooms_attended"]) == (1, 1)
    assert analytics.app.projection.duplicates == 3


async def test_unreadable_events_go_to_dead_letters_with_why_and_the_rest_flows(
    analytics: Analytics, nc: NatsClient
) -> None:
    js = nc.jetstream()
    dead = await js.subscribe(subjects.dead_letters("analytics"), stream="DEADLETTER")
    good = [
        ChatMessagePosted(
            room_id="r1",
            customer_id="web:wei",
            message_id=f"m{i}",
            display_name="Wei",
            text="still here",
        )
        for i in range(3)
    ]
    await analytics.publish(good[:1])
    await js.publish("live.r1.chat.message_posted", b'{"type": "chat.message_posted"}')
    await js.publish("live.r1.chat.message_posted", b"not json at all")
    await js.publish("orders.r1.order.exploded", b'{"type": "order.exploded", "room_id": "r1"}')
    await js.publish("live.r1.room.ended", b'{"type": "room.ended", "room_id": "r1", "version": 9}')
    await analytics.publish(good[1:])
    reasons = {}
    for _ in range(4):
        msg = await dead.next_msg(timeout=10)
        reasons[msg.data] = msg.headers[H_REASON]
    assert "invalid chat.message_posted" in reasons[b'{"type": "chat.message_posted"}']
    assert "not a JSON object" in reasons[b"not json at all"]
    assert (
        "unknown event type 'order.exploded'"
        in reasons[b'{"type": "order.exploded", "room_id": "r1"}']
    )
    assert "version 9 is newer" in reasons[b'{"type": "room.ended", "room_id": "r1", "version": 9}']

    async def three_lines() -> bool:
        profile = await analytics.http.get(
            "/customers/web:wei", headers={"Authorization": "Bearer test-admin"}
        )
        return profile.status_code == 200 and profile.json()["messages"] == 3

    await eventually(three_lines)


class FakeMsg:
    """A fetched JetStream message on its `deliveries`-th delivery."""

    def __init__(self, data: bytes, deliveries: int, seq: int) -> None:
        self.data, self.subject = data, "live.r1.chat.message_posted"
        self.metadata = SimpleNamespace(
            num_delivered=deliveries, stream="LIVE", sequence=SimpleNamespace(stream=seq)
        )
        self.acked = False
        self.naked: float | None = None

    async def ack(self) -> None:
        self.acked = True

    async def nak(self, delay: float | None = None) -> None:
        self.naked = delay


async def test_an_event_that_keeps_failing_is_retried_then_dead_lettered(nc: NatsClient) -> None:
    lines = [
        ChatMessagePosted(
            room_id="r1", customer_id="web:a", message_id=f"m{i}", display_name="A", text="x"
        )
        for i in range(3)
    ]
    poison = lines[1].id
    applied: list[str] = []

    async def apply(events: list[Any]) -> None:
        if any(e.id == poison for e in events):
            raise RuntimeError("database said no")
        applied.extend(e.id for e in events)

    consumer = BatchConsumer(nc, FEEDS[0], apply)
    js = nc.jetstream()
    dead = await js.subscribe(subjects.dead_letters("analytics"), stream="DEADLETTER")

    first = [FakeMsg(e.model_dump_json().encode(), 1, i) for i, e in enumerate(lines)]
    await consumer.handle(first)  # type: ignore[arg-type]
    # the batch failed; the others were applied one by one, the poison NAKed with backoff
    assert applied == [lines[0].id, lines[2].id]
    assert [m.acked for m in first] == [True, False, True]
    assert first[1].naked == 0.5

    last = FakeMsg(lines[1].model_dump_json().encode(), 5, 1)
    await consumer.handle([last])  # type: ignore[arg-type]
    assert last.acked and last.naked is None
    msg = await dead.next_msg(timeout=10)
    assert "failed after 5 deliveries" in msg.headers[H_REASON]
    assert "database said no" in msg.headers[H_REASON]
    assert msg.headers[H_DELIVERIES] == "5"
