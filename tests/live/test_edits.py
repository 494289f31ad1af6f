"""A group member's edit reaches every viewer (an `edited` frame) and the history a joining
viewer gets (the new text, marked as edited); edits of live's own lines are ignored."""

from __future__ import annotations

import json

from services.live import protocol
from services.live.adapters.room_feed import RoomFeed, RoomState
from shared.embedded_nats import NatsServer
from shared.events import ChatMessageEdited, ChatMessagePosted
from tests.live.client import TestViewer, kind
from tests.live.conftest import join, open_room
from tests.live.test_history_and_moderation import bus, connect, said, telegram_line, welcome_of


def edit(
    room: str, message_id: str, text: str, n: int = 1, source: str = "telegram"
) -> ChatMessageEdited:
    return ChatMessageEdited(
        id=f"chat:{message_id}:edit:{n}",
        room_id=room,
        customer_id="telegram:7",
        message_id=message_id,
        text=text,
        source=source,
    )


async def test_an_edit_changes_the_line_for_viewers_and_in_the_history(
    live_url: str, nats_server: NatsServer
) -> None:
    room = await open_room(live_url)
    publisher, nc = await bus(nats_server)
    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    try:
        await publisher.publish(telegram_line(room, 1))
        line_id = await said(viewer, "chat line 1")
        await publisher.publish(edit(room, line_id, "+2"))
        frame = await viewer.wait_for(kind("edited"))
        protocol.ChatEdited.model_validate(frame)
        assert (frame["message_id"], frame["text"]) == (line_id, "+2")

        # Two edits: the last one stands; a joining viewer gets it in the history.
        await publisher.publish(edit(room, line_id, "+3", n=2))
        await viewer.wait_for(lambda f: f["type"] == "edited" and f["text"] == "+3")
        newcomer = await connect(live_url, room, "Bo")
        [line] = [m for m in welcome_of(newcomer)["history"] if m["id"] == line_id]
        assert (line["text"], line["edited"], line["source"]) == ("+3", True, "telegram")
        await newcomer.close()
    finally:
        await viewer.close()
        await nc.close()


async def test_edits_of_the_pages_own_lines_or_unknown_lines_change_nothing(
    live_url: str, nats_server: NatsServer
) -> None:
    room = await open_room(live_url)
    publisher, nc = await bus(nats_server)
    viewer = await TestViewer.connect(live_url, await join(live_url, room, "Ana"))
    try:
        await viewer.send(type="chat", text="hello from the page")
        web_id = await said(viewer, "hello from the page")
        await publisher.publish(edit(room, web_id, "forged", source="telegram"))
        await publisher.publish(edit(room, "telegram:-100:404", "never shown"))
        await publisher.publish(telegram_line(room, 2))
        await said(viewer, "chat line 2")
        newcomer = await connect(live_url, room, "Bo")
        texts = {m["id"]: (m["text"], m["edited"]) for m in welcome_of(newcomer)["history"]}
        assert texts[web_id] == ("hello from the page", False)
        assert "telegram:-100:404" not in texts
        await newcomer.close()
    finally:
        await viewer.close()
        await nc.close()


def test_a_line_edited_before_its_chat_frame_goes_out_edited() -> None:
    """Within one tick: the pending line carries the new text, no separate frame."""
    feed = RoomFeed(RoomState(status="live"))
    line = ChatMessagePosted(
        room_id="r", message_id="telegram:-1:5", display_name="A", text="+1", source="telegram"
    )
    feed.apply(line)
    feed.apply(edit("r", "telegram:-1:5", "+2"))
    [batch] = [json.loads(out.frame) for out in feed.drain()]
    assert batch["type"] == "chat"
    assert [(m["text"], m["edited"]) for m in batch["messages"]] == [("+2", True)]
    # Once sent, an edit is its own frame.
    feed.apply(edit("r", "telegram:-1:5", "+3", n=2))
    assert [json.loads(out.frame) for out in feed.drain()] == [
        {"type": "edited", "message_id": "telegram:-1:5", "text": "+3"}
    ]
