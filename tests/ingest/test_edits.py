"""An edited group line changes its line in the room: one ChatMessageEdited per edit, only
for lines the room showed, over real HTTP and a real nats-server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient

from shared.events import ChatMessageEdited, ChatMessagePosted, parse_event
from shared.events.ingest import ExternalMessageReceived
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, room_lines_settled, stream_messages

LINE_KEY = f"telegram:{p.GROUP_ID}:60"


async def room_events(nc: NatsClient, room: str) -> list[ChatMessagePosted | ChatMessageEdited]:
    await room_lines_settled(nc)
    found = [parse_event(m.data) for m in await stream_messages(nc, "LIVE", f"live.{room}.>")]
    return [e for e in found if isinstance(e, ChatMessagePosted | ChatMessageEdited)]


def edits_of(events: list[ChatMessagePosted | ChatMessageEdited]) -> list[ChatMessageEdited]:
    return [e for e in events if isinstance(e, ChatMessageEdited)]


async def test_an_edit_of_a_shown_line_changes_it_in_the_room(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_ed1")
    assert (await ingest.telegram(p.telegram_message("+1", message_id=60))).status_code == 200
    edit = p.telegram_edit("+2", message_id=60, edit_date=p.now())
    response = await ingest.telegram(edit)
    assert response.json()["accepted"] == 1
    events = await room_events(nc, "r_ed1")
    assert [type(e).__name__ for e in events] == ["ChatMessagePosted", "ChatMessageEdited"]
    [line, edited] = events
    assert isinstance(edited, ChatMessageEdited)
    assert edited.message_id == line.message_id == LINE_KEY
    assert (edited.text, edited.source, edited.customer_id) == ("+2", "telegram", "telegram:111")
    assert edited.id == f"chat:{LINE_KEY}:edit:{edit['edited_message']['edit_date']}"
    # The ingest event of the edit is kept as before (not a room line itself): marked for
    # the room (a fresh edit), with the original's send time its line is searched from.
    stored = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.r_ed1.>")]
    assert isinstance(stored[1], ExternalMessageReceived)
    assert stored[1].edited and stored[1].in_room
    assert stored[1].original_sent_at == datetime.fromtimestamp(edit["edited_message"]["date"], UTC)
    assert stored[1].subject_type == "external.message_received"  # no media job for an edit

    # The platform re-delivers the edit: nothing new. A second edit is its own fact.
    assert (await ingest.telegram(edit)).json()["duplicates"] == 1
    again = p.telegram_edit("+3", message_id=60, edit_date=p.now() + 1)
    assert (await ingest.telegram(again)).json()["accepted"] == 1
    assert [e.text for e in edits_of(await room_events(nc, "r_ed1"))] == ["+2", "+3"]


async def test_edits_of_lines_the_room_never_showed_change_nothing_there(
    ingest: Ingest, nc: NatsClient
) -> None:
    # Sent while the chat was not bound yet (parked, never shown), then edited.
    assert (await ingest.telegram(p.telegram_message("+1", message_id=61))).status_code == 200
    await ingest.bind("telegram", p.GROUP_ID, "r_ed2")
    # Too old for the room when it came (an hour late), then edited.
    hour_ago = p.now() - 3600
    old = p.telegram_message("+1", message_id=62, date=hour_ago)
    assert (await ingest.telegram(old)).json()["accepted"] == 1
    for message_id in (61, 62):
        edit = p.telegram_edit("+2", message_id=message_id)
        edit["edited_message"]["date"] = hour_ago if message_id == 62 else p.now() - 5
        assert (await ingest.telegram(edit)).json()["accepted"] == 1
    # A shown line, but the edit itself comes an hour late (a backlog): nothing either.
    assert (await ingest.telegram(p.telegram_message("+1", message_id=63))).status_code == 200
    late = p.telegram_edit("+2", message_id=63, edit_date=hour_ago)
    assert (await ingest.telegram(late)).json()["accepted"] == 1

    events = await room_events(nc, "r_ed2")
    assert edits_of(events) == []
    assert [e.message_id for e in events] == [f"telegram:{p.GROUP_ID}:63"]
    # All the edits are kept as ingest events all the same.
    stored = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.r_ed2.>")]
    assert sum(isinstance(e, ExternalMessageReceived) and e.edited for e in stored) == 3


async def test_a_signed_webhook_edit_changes_its_line(ingest: Ingest, nc: NatsClient) -> None:
    await ingest.bind("line", p.GROUP_ID, "r_ed3")
    chat = str(p.GROUP_ID)
    original = p.generic_message("要2", message_id="m-9", chat_id=chat)
    assert (await ingest.generic(original)).json()["accepted"] == 1
    edit = {**original, "text": "要3", "edited_at": original["sent_at"].replace("Z", ".5Z")}
    assert (await ingest.generic(edit)).json()["accepted"] == 1
    [edited] = edits_of(await room_events(nc, "r_ed3"))
    assert (edited.message_id, edited.text, edited.source) == (f"line:{chat}:m-9", "要3", "webhook")
    await room_lines_settled(nc)
    raw = await stream_messages(nc, "LIVE", "live.r_ed3.chat.message_edited")
    assert json.loads(raw[0].data)["type"] == "chat.message_edited"
