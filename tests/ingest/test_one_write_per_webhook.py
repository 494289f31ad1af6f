"""A webhook is one acknowledged JetStream write: its ingest event, carrying the body. The
room's line follows from INGEST; the archive keeps only bodies no event carries."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from shared.events import parse_event
from shared.events.ingest import IngestEvent
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, stream_messages


def count_publishes(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The subjects of every JetStream publish ingest's bus makes from now on."""
    js = ingest.app.bus._js
    assert js is not None
    publish = js.publish
    subjects: list[str] = []

    async def counted(subject: str, *args: Any, **kwargs: Any) -> Any:
        subjects.append(subject)
        return await publish(subject, *args, **kwargs)

    monkeypatch.setattr(js, "publish", counted)
    return subjects


async def test_a_bound_line_is_one_acknowledged_write_and_still_reaches_the_room(
    ingest: Ingest, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_one")
    # The room lines consumer publishes on the same connection: held while counting.
    await ingest.app.room_lines.stop()
    published = count_publishes(ingest, monkeypatch)
    update = p.telegram_message("+1 樱桃", message_id=300)
    response = await ingest.telegram(update)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert published == ["ingest.r_one.external.message_received"]
    [stored] = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.>")]
    assert isinstance(stored, IngestEvent) and stored.in_room  # type: ignore[attr-defined]
    assert stored.raw is not None and stored.raw.body == p.encode(update)
    assert (await nc.jetstream().stream_info("INGEST_RAW")).state.messages == 0

    # The re-delivery is a duplicate in INGEST: still one write, and nothing for the room.
    again = await ingest.telegram(update)
    assert again.json()["duplicates"] == 1 and len(published) == 2

    # The consumer, back, brings the line to the room from INGEST: once.
    await ingest.app.room_lines.start(nc)
    lines = await stream_messages(nc, "LIVE", "live.r_one.chat.message_posted")
    assert [m.headers["Nats-Msg-Id"] for m in lines] == [f"chat:telegram:{p.GROUP_ID}:300"]


async def test_a_batch_carries_its_body_once_and_unbound_bodies_are_archived(
    ingest: Ingest, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ingest.bind("whatsapp", "GROUP-1", "r_batch")
    await ingest.app.room_lines.stop()
    published = count_publishes(ingest, monkeypatch)
    body = p.whatsapp_body([
        p.whatsapp_text("要2箱", message_id="wamid.B1", group_id="GROUP-1"),
        p.whatsapp_text("要1箱", message_id="wamid.B2", group_id="GROUP-1"),
    ])  # fmt: skip
    assert (await ingest.whatsapp(body)).json()["accepted"] == 2
    assert len(published) == 2 and all(s.startswith("ingest.r_batch.") for s in published)
    events = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.>")]
    carried = [e.raw for e in events if e.raw is not None]  # type: ignore[attr-defined]
    assert [r.body for r in carried] == [p.encode(body)] and carried[0].source == "whatsapp"

    # A body of a chat nobody bound gives no event: it is parked and archived (replayable).
    published.clear()
    unbound = p.whatsapp_body([p.whatsapp_text("hi", message_id="wamid.U1", group_id="G-X")])
    assert (await ingest.whatsapp(unbound)).json()["parked"] == 1
    assert published == ["ingest_raw.whatsapp"]
    [archived] = await stream_messages(nc, "INGEST_RAW", "ingest_raw.whatsapp")
    assert archived.data == p.encode(unbound)
