"""Bus.store: a request's messages go out together and it returns once JetStream acked each."""

from __future__ import annotations

from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.ingest.adapters.bus import Bus, NatsUnavailable
from services.ingest.domain.events import ingest_event, room_chat_line
from services.ingest.domain.model import ChatMessage
from shared import streams
from shared.embedded_nats import NatsServer

LINE = ChatMessage(
    platform="line",
    chat_id="g1",
    message_id="m1",
    user_id="u1",
    user_name="Lily",
    text="+1",
    at=datetime(2026, 1, 1, tzinfo=UTC),
)


async def test_store_acks_in_order_archive_last_and_reports_duplicates(nc: NatsClient) -> None:
    bus = Bus("ingest", publish_timeout_s=2.0)
    await bus.bind(nc)
    event, line = ingest_event(LINE, "r1", "webhook"), room_chat_line(LINE, "r1")

    acks = await bus.store([event, line], raw=("webhook", b'{"a":1}'))

    assert [a.stream for a in acks] == ["INGEST", "LIVE", "INGEST_RAW"]
    assert not any(a.duplicate for a in acks)
    again = await bus.store([event, line], raw=("webhook", b'{"a":1}'))
    assert all(a.duplicate for a in again)  # same Nats-Msg-Ids: stored once
    stored = await nc.jetstream().get_last_msg(streams.INGEST.name, "ingest.>")
    assert stored.headers and stored.headers["Nats-Msg-Id"] == event.id
    assert not bus._waiting  # nothing left behind


async def test_store_fails_unavailable_without_a_stream_or_an_answer(
    nats_server: NatsServer,
) -> None:
    # A NATS without our streams: nothing takes the subject (no responders), then a
    # subscriber that never answers (timeout). Either way: NatsUnavailable, no 200.
    nc = await nats.connect(nats_server.url)
    try:
        bus = Bus("ingest", publish_timeout_s=0.3)
        await bus.bind(nc)
        with pytest.raises(NatsUnavailable):
            await bus.store([ingest_event(LINE, "r1", "webhook")])
        await nc.subscribe("ingest.>")
        with pytest.raises(NatsUnavailable, match="TimeoutError"):
            await bus.store([ingest_event(LINE, "r1", "webhook")], raw=("webhook", b"{}"))
        assert not bus._waiting
    finally:
        await nc.close()
