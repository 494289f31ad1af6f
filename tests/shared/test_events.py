"""The envelope and the one reader of bus messages."""

from __future__ import annotations

import re

import pytest

from shared import subjects
from shared.events import ALL_EVENTS, ChatMessagePosted, RoomEnded, UnreadableEvent, parse_event


def test_every_event_round_trips_through_the_bus_format() -> None:
    line = ChatMessagePosted(room_id="r_1", message_id="m", display_name="莉莉", text="+1 两盒")
    assert parse_event(line.model_dump_json()) == line
    assert subjects.event_subject(line) == "live.r_1.chat.message_posted"


def test_event_ids_are_unique_and_sort_in_the_order_events_were_made() -> None:
    first = [RoomEnded(room_id="r_1").id for _ in range(1000)]
    later = RoomEnded(room_id="r_1").id
    while later[:12] == first[-1][:12]:  # one made in a later millisecond
        later = RoomEnded(room_id="r_1").id
    assert len(set(first)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in [*first, later])
    assert max(first) < later
    assert [i[:12] for i in first] == sorted(i[:12] for i in first)


def test_every_event_type_is_registered_once_and_documented() -> None:
    types = [cls.model_fields["type"].default for cls in ALL_EVENTS]
    assert len(types) == len(set(types))
    assert all(cls.__doc__ for cls in ALL_EVENTS)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "not a JSON object"),
        (b"[1]", "not a JSON object"),
        (b'{"type": "nope", "room_id": "r"}', "unknown event type 'nope'"),
        (b'{"type": "room.ended", "room_id": "r", "version": 7}', "version 7 is newer"),
        (b'{"type": "room.ended", "room_id": "a.b"}', "invalid room.ended: room_id"),
        (b'{"type": "room.ended"}', "invalid room.ended: room_id: Field required"),
    ],
)
def test_unreadable_messages_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableEvent, match=reason):
        parse_event(raw)


def test_room_ids_must_be_single_subject_tokens() -> None:
    for bad in ("", "a.b", "a b", "a*", "a>", "x" * 65):
        with pytest.raises(ValueError):
            RoomEnded(room_id=bad)
