"""A join is cheap: the history comes from the hub's memory, welcomes are coalesced.

The history a joining viewer gets is the hub's `RecentChat`, folded from the room's events
(decision DRAFT-cheap-joins): it must say what the streams say, moderation included, and
each line must reach a newcomer once (in the history or in the next `chat` frame). The
welcome line greets one member at once, and the members of a join storm together.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.msg import Msg

from services.live.adapters.history import RecentChat
from services.live.adapters.hub import Connection, RoomHub
from services.live.adapters.room_feed import RoomState
from services.live.domain.chat import welcome_line
from services.live.domain.viewers import Viewer
from services.live.service_layer.welcomes import Welcomes
from shared.events import (
    ChatMediaFetched,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    IntegrationEvent,
    ViewerJoined,
    ViewerLeft,
)
from shared.events.media import PendingAttachment, VoiceAttachment
from shared.subjects import event_subject
from tests.live.conftest import delete_line, open_room
from tests.live.test_history_and_moderation import (  # noqa: F401 (fixtures)
    connect,
    fast_live,
    fast_lives,
    history_texts,
    said,
    welcome_of,
)
from tests.support import eventually

ROOM = "r_1"


def line(n: int, source: str = "telegram", **extra: object) -> ChatMessagePosted:
    return ChatMessagePosted(
        room_id=ROOM,
        customer_id=None if source == "system" else f"{source}:{n}",
        message_id=f"m{n}",
        display_name="Qunlive" if source == "system" else f"fan {n}",
        text=f"line {n}",
        source=source,
        **extra,  # type: ignore[arg-type]
    )


def texts(chat: RecentChat, limit: int = 50, leave_out: set[str] | None = None) -> list[str]:
    return [line.text for line in chat.recent(limit, leave_out or set())]


# ---- RecentChat: the fold ------------------------------------------------------------------


def test_a_deleted_line_is_out_of_the_recent_chat_and_stays_out() -> None:
    chat = RecentChat()
    for event in (line(1), line(2), ChatMessageDeleted(room_id=ROOM, message_id="m1", by="x")):
        chat.apply(event)
    assert texts(chat) == ["line 2"]
    chat.apply(line(1))  # a copy folded late (the hub's first read): still deleted
    assert texts(chat) == ["line 2"]


def test_fetched_media_and_a_groups_edit_are_merged_into_their_line() -> None:
    chat = RecentChat()
    voice = VoiceAttachment(
        object="a" * 64 + ".ogg", content_type="audio/ogg", bytes=9, duration_s=3.0
    )
    chat.apply(line(1, attachment=PendingAttachment(media="voice")))
    chat.apply(line(2, source="web"))
    chat.apply(ChatMediaFetched(room_id=ROOM, message_id="m1", attachment=voice))
    chat.apply(ChatMessageEdited(room_id=ROOM, message_id="m1", text="new", source="telegram"))
    chat.apply(ChatMessageEdited(room_id=ROOM, message_id="m2", text="nope", source="telegram"))
    first, second = chat.recent(10)
    assert (first.attachment, first.text, first.edited) == (voice, "new", True)
    assert (second.text, second.edited) == ("line 2", False)  # a web line is not edited


def test_system_lines_only_fill_the_places_the_conversation_leaves_free() -> None:
    chat = RecentChat(keep=200)
    for n in range(10):
        chat.apply(line(n, source="system" if n % 2 else "telegram"))
    assert texts(chat, limit=4) == ["line 2", "line 4", "line 6", "line 8"]
    assert texts(chat, limit=7) == [f"line {n}" for n in (0, 2, 4, 6, 7, 8, 9)]


def test_it_keeps_as_many_lines_of_each_kind_as_the_stream() -> None:
    chat = RecentChat(keep=3)
    for n in range(6):
        chat.apply(line(n))
    for n in range(10, 20):
        chat.apply(line(n, source="system"))
    assert texts(chat, limit=10) == ["line 3", "line 4", "line 5", "line 17", "line 18", "line 19"]


def test_the_lines_waiting_for_the_next_frame_are_left_out() -> None:
    chat = RecentChat()
    for n in range(4):
        chat.apply(line(n))
    assert texts(chat, limit=3, leave_out={"m3"}) == ["line 0", "line 1", "line 2"]


async def test_a_newcomer_gets_each_line_once_history_then_frame() -> None:
    """Lines that arrived since the last tick go out in the next frame, so a viewer
    attached now does not get them in their history too."""
    hub = RoomHub(ROOM, "i1", 0.05, RoomState(status="live"))
    frames: list[str] = []

    async def send(frame: str) -> None:
        frames.append(frame)

    hub._apply(line(1))
    hub.flush()
    hub._apply(line(2))  # not flushed yet
    hub.add(Connection(Viewer(room_id=ROOM, customer_id="web:a", display_name="a"), send, 10))
    assert [line.text for line in hub.history(50)] == ["line 1"]
    assert hub.feed.pending_chat_ids() == {"m2"}


async def test_joins_and_leaves_are_neither_parsed_nor_remembered_by_the_room() -> None:
    """Every instance sees every join and leave of the room on its subjects; no frame uses
    them, so the hub skips them before parsing: in a join storm, parsing them and keeping
    their ids was CPU and memory per joiner on every instance (decision 0053)."""
    hub = RoomHub(ROOM, "i1", 0.05, RoomState(status="live"))
    conn = Connection(
        Viewer(room_id=ROOM, customer_id="web:a", display_name="a"), asyncio.sleep, 10
    )
    hub.add(conn)  # not started: what the room offers it stays in its queue
    events: list[IntegrationEvent] = [
        ViewerJoined(room_id=ROOM, customer_id="web:b", display_name="b"),
        ViewerLeft(room_id=ROOM, customer_id="web:b", watch_seconds=3.0),
        line(1),
    ]
    for event in events:
        await hub._on_event(
            Msg(None, subject=event_subject(event), data=event.model_dump_json().encode())
        )  # type: ignore[arg-type]
    hub.flush()
    assert len(hub.once) == 1  # the chat line's id only
    frames = [json.loads(frame) for frame in conn._queue]
    assert [f["type"] for f in frames] == ["chat", "presence"]  # the presence: one viewer
    # A malformed one is skipped as well: nothing to parse, nothing to log.
    await hub._on_event(Msg(None, subject=f"live.{ROOM}.viewer.joined", data=b"{"))  # type: ignore[arg-type]
    assert len(hub.once) == 1


# ---- welcome lines ---------------------------------------------------------------------------


def test_a_welcome_line_names_one_member_or_the_latest_of_many() -> None:
    assert welcome_line(ROOM, ["Lily"]).text == "Welcome @Lily! 欢迎 @Lily 加入!"
    assert welcome_line(ROOM, ["A", "B"]).text == "Welcome @A and @B! 欢迎 @A、@B 加入!"
    many = welcome_line(ROOM, [f"f{i}" for i in range(12)])
    assert many.text == (
        "Welcome @f7, @f8, @f9, @f10, @f11 and 7 more! "
        "欢迎 @f7、@f8、@f9、@f10、@f11 等 12 位 加入!"
    )
    assert many.source == "system" and many.customer_id is None


async def test_a_join_storm_is_greeted_in_one_line_and_nobody_twice() -> None:
    published: list[str] = []
    welcomed: set[str] = {"web:old"}

    async def welcome_new(room_id: str, customers: list[str]) -> set[str]:
        new = set(customers) - welcomed
        welcomed.update(new)
        return new

    async def publish(event: IntegrationEvent) -> None:
        assert isinstance(event, ChatMessagePosted)
        published.append(event.text)

    welcomes = Welcomes(welcome_new, publish, window_s=0.2)
    await welcomes.joined(ROOM, "web:a", "A")
    assert published == ["Welcome @A! 欢迎 @A 加入!"]  # the first one: at once
    for name in ("B", "old", "C", "A"):
        await welcomes.joined(ROOM, f"web:{name.lower()}", name)
    assert len(published) == 1

    async def greeted_together() -> bool:
        return len(published) > 1

    assert await eventually(greeted_together, timeout=5)
    assert published[1:] == ["Welcome @B and @C! 欢迎 @B、@C 加入!"]
    await asyncio.sleep(0.25)
    await welcomes.joined(ROOM, "web:d", "D")  # a quiet window later: at once again
    assert published[2:] == ["Welcome @D! 欢迎 @D 加入!"]
    await welcomes.stop()


async def test_members_joining_together_see_one_welcome_line(fast_live: str) -> None:  # noqa: F811
    room = await open_room(fast_live)
    first = await connect(fast_live, room, "First")
    others = await asyncio.gather(*(connect(fast_live, room, f"fan{i}") for i in range(4)))
    frame = await first.wait_for(
        lambda f: (
            f["type"] == "chat"
            and any("more" in m["text"] or "@fan" in m["text"] for m in f["messages"])
        )
    )
    greeted = [m["text"] for m in frame["messages"] if m["source"] == "system"]
    assert len(greeted) == 1 and all(f"@fan{i}" in greeted[0] for i in range(4))
    newcomer = await connect(fast_live, room, "newcomer")
    welcomes = history_texts(welcome_of(newcomer), system=True)
    assert welcomes[0] == "Welcome @First! 欢迎 @First 加入!" and welcomes[1] == greeted[0]
    for viewer in (first, *others, newcomer):
        await viewer.close()


# ---- moderation: the hub's history on an instance already serving the room ------------------


async def test_a_line_deleted_on_one_instance_leaves_the_other_instances_memory(
    fast_lives: tuple[str, str],  # noqa: F811
) -> None:
    url_a, url_b = fast_lives
    room = await open_room(url_a)
    lily, wei = await connect(url_a, room, "Lily"), await connect(url_b, room, "Wei")
    await lily.send(type="chat", text="buy from my shop")
    await lily.send(type="chat", text="hello all")
    doomed = await said(wei, "buy from my shop")  # B's hub holds it in memory now
    await said(wei, "hello all")
    await delete_line(url_a, room, doomed, "ads")
    await wei.wait_for(lambda f: f["type"] == "deleted" and f["message_id"] == doomed)
    for url in (url_a, url_b):
        newcomer = await connect(url, room, "newcomer")
        assert history_texts(welcome_of(newcomer)) == ["hello all"]
        await newcomer.close()
    for viewer in (lily, wei):
        await viewer.close()


async def test_the_deciding_instance_drops_the_line_before_its_call_answers(
    fast_live: str,  # noqa: F811
) -> None:
    room = await open_room(fast_live)
    lily = await connect(fast_live, room, "Lily")
    await lily.send(type="chat", text="spam spam")
    doomed = await said(lily, "spam spam")
    await delete_line(fast_live, room, doomed, "spam")
    newcomer = await connect(fast_live, room, "newcomer")  # no wait for the bus
    assert history_texts(welcome_of(newcomer)) == []
    for viewer in (lily, newcomer):
        await viewer.close()
