"""A chat line as the room sees it: trimmed, but laid out as its author typed it."""

from __future__ import annotations

from services.live.domain.chat import Refused, compose_chat
from services.live.domain.viewers import Viewer
from shared.events import ChatMessagePosted

LILY = Viewer(room_id="r_1", customer_id="web:lily", display_name="Lily")


def text_of(raw: str) -> str:
    line = compose_chat(LILY, raw)
    assert isinstance(line, ChatMessagePosted), line
    return line.text


def test_a_jielong_list_keeps_its_lines() -> None:
    typed = "#接龙 樱桃\r\n1. Lily 2\n2. Wei +1\n3. Ana  3 XL  \n"
    assert text_of(typed) == "#接龙 樱桃\n1. Lily 2\n2. Wei +1\n3. Ana  3 XL"


def test_edges_are_trimmed_and_runs_of_blank_lines_shortened() -> None:
    assert text_of("  \n\n hello \n\n\n\n\nworld\t \n ") == "hello\n\nworld"


def test_blank_and_control_only_lines_are_refused() -> None:
    for raw in ("", "   ", "\n\n\t", "\u200b\n"):
        refused = compose_chat(LILY, raw)
        assert isinstance(refused, Refused) and refused.code == "empty", raw


def test_control_characters_do_not_reach_the_room() -> None:
    assert text_of("hi\x07 there\x1b[31m") == "hi there[31m"
