"""Signatures, event mapping and the live-room rule, as plain functions."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from services.ingest.domain import signatures as sig
from services.ingest.domain.events import (
    ingest_event,
    may_edit_in_room,
    original_window,
    resends_to_room,
    room_chat_line,
    room_edit,
    room_line,
    shows_in_room,
)
from services.ingest.domain.exports import (
    BadRecord,
    csv_header_problem,
    csv_message,
    telegram_export_chat,
    telegram_export_message,
)
from services.ingest.domain.model import (
    ChatMessage,
    Media,
    MemberChange,
    Reaction,
    UnknownShape,
)
from shared import subjects
from shared.events import ChatMessagePosted, parse_event
from shared.events.ingest import ExternalMemberJoined, ExternalMessageReceived
from shared.events.media import PendingAttachment

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LINE = ChatMessage("telegram", "-100123", "42", "111", "Lily", "+1", NOW, reply_to="40")


class TestSignatures:
    def test_telegram_secret_header(self) -> None:
        sig.check_telegram("s3cret", "s3cret")
        for wrong in (None, "", "s3cre", "s3cret ", "秘密"):
            with pytest.raises(sig.Unauthenticated):
                sig.check_telegram(wrong, "s3cret")

    def test_meta_signature_is_hmac_of_the_raw_body(self) -> None:
        body = b'{"object":"whatsapp_business_account"}'
        header = sig.meta_signature(body, "app-secret")
        assert header.startswith("sha256=") and len(header) == 7 + 64
        sig.check_meta(body, header, "app-secret")
        with pytest.raises(sig.Unauthenticated):
            sig.check_meta(body + b" ", header, "app-secret")  # one byte changed
        with pytest.raises(sig.Unauthenticated):
            sig.check_meta(body, header, "other-secret")
        with pytest.raises(sig.Unauthenticated):
            sig.check_meta(body, None, "app-secret")

    def test_generic_signature_covers_timestamp_and_body_within_the_window(self) -> None:
        body, secret, now = b'{"type":"message"}', "wh", 1_750_000_000
        good = sig.sign_generic(body, now, secret)
        sig.check_generic(body, str(now), good, secret, now=now + 299, tolerance_s=300)
        cases = [
            (str(now), good, now + 301),  # replayed six minutes later
            (str(now), good, now - 301),  # from the future
            (str(now + 1), good, now),  # timestamp changed: signature no longer matches
            (str(now), sig.sign_generic(b"{}", now, secret), now),  # body changed
            ("12abc", good, now),
            (None, good, now),
            (str(now), None, now),
        ]
        for timestamp, signature, at in cases:
            with pytest.raises(sig.Unauthenticated):
                sig.check_generic(body, timestamp, signature, secret, now=at, tolerance_s=300)


class TestEvents:
    def test_a_line_becomes_an_ingest_event_keyed_by_platform_chat_message(self) -> None:
        event = ingest_event(LINE, "r_1", "webhook")
        assert isinstance(event, ExternalMessageReceived)
        assert event.id == "telegram:-100123:42" and event.customer_id == "telegram:111"
        assert event.occurred_at == NOW and event.reply_to == "40"
        assert parse_event(event.model_dump_json()) == event  # registered and readable

    def test_and_the_rooms_chat_line_carries_the_same_key(self) -> None:
        line = room_chat_line(LINE, "r_1")
        assert isinstance(line, ChatMessagePosted) and line.source == "telegram"
        assert line.message_id == "telegram:-100123:42" and line.id == "chat:telegram:-100123:42"
        assert line.reply_to == "telegram:-100123:40"
        # The longest name and text a normaliser gives (128, 4096), clipped for the room.
        other = ChatMessage("line", "g", "m", "u", "N" * 128, "x" * 3000, NOW)
        clipped = room_chat_line(other, "r_1")
        assert clipped.source == "webhook" and len(clipped.text) == 2000
        assert len(clipped.display_name) == 64

    def test_a_line_with_media_goes_to_the_room_pending_and_to_the_fetchers_subject(
        self,
    ) -> None:
        photo = replace(LINE, text="", media=Media("image", "F", None, 52_000))
        event = ingest_event(photo, "r_1", "webhook", in_room=True)
        assert isinstance(event, ExternalMessageReceived) and event.media is not None
        assert (event.media.kind, event.media.file_ref, event.media.bytes) == ("image", "F", 52_000)
        assert subjects.event_subject(event) == "ingest.r_1.external.message_with_media"
        line = room_line(event)
        assert line.attachment == PendingAttachment(media="image") and line.text == ""
        assert line == room_chat_line(photo, "r_1")  # one line, however it is built
        # Not in the room (history, an edit): the media stays a fact, nothing to fetch.
        history = ingest_event(photo, "r_1", "import")
        assert subjects.event_subject(history) == "ingest.r_1.external.message_received"
        assert subjects.event_subject(ingest_event(LINE, "r_1", "webhook", in_room=True)) == (
            "ingest.r_1.external.message_received"
        )
        assert room_chat_line(LINE, "r_1").attachment is None

    def test_member_changes_and_reactions(self) -> None:
        member = MemberChange("telegram", "-1", "9", "5", "A", True, NOW, by="4")
        joined = ingest_event(member, "r_1", "import")
        assert isinstance(joined, ExternalMemberJoined) and joined.added_by == "4"
        reaction = Reaction("whatsapp", "g", "wamid.R", "wamid.T", "1", "S", "👍", NOW)
        assert ingest_event(reaction, "r_1", "webhook").id == "whatsapp:g:wamid.R"

    def test_which_lines_the_live_room_shows(self) -> None:
        max_age = timedelta(minutes=10)
        assert shows_in_room(LINE, NOW + timedelta(seconds=1), max_age)
        assert shows_in_room(LINE, NOW - timedelta(minutes=4), max_age)  # the sender's clock
        assert not shows_in_room(LINE, NOW + timedelta(minutes=11), max_age)  # never claims
        edit = ChatMessage(**{**LINE.__dict__, "edited": True})
        assert not shows_in_room(edit, NOW, max_age)
        member = MemberChange("t", "c", "1", "u", "n", True, NOW)
        assert not shows_in_room(member, NOW, max_age)

    def test_which_edits_may_change_their_line_in_the_room(self) -> None:
        max_age = timedelta(minutes=10)
        sent = NOW - timedelta(minutes=30)
        edit = replace(LINE, edited=True, text="+2", sent_at=sent)
        assert may_edit_in_room(edit, NOW + timedelta(seconds=1), max_age)
        # A line older than max_age may be edited (it was shown when it came)...
        event = ingest_event(edit, "r_1", "webhook", in_room=True)
        assert isinstance(event, ExternalMessageReceived) and event.original_sent_at == sent
        assert original_window(event) < sent
        # ...but an old edit (a backlog after downtime) changes nothing, like an old line.
        assert not may_edit_in_room(edit, NOW + timedelta(minutes=11), max_age)
        assert not may_edit_in_room(replace(edit, sent_at=None), NOW, max_age)  # unknown
        assert not may_edit_in_room(LINE, NOW, max_age)  # not an edit

    def test_the_room_edit_names_the_original_line_and_is_its_own_fact(self) -> None:
        edit = replace(LINE, edited=True, text="+2", sent_at=NOW - timedelta(seconds=5))
        event = ingest_event(edit, "r_1", "webhook")
        assert isinstance(event, ExternalMessageReceived)
        room = room_edit(event)
        assert (
            room.message_id
            == room_line(
                ingest_event(LINE, "r_1", "webhook", in_room=True)  # type: ignore[arg-type]
            ).message_id
        )
        assert room.id == f"chat:{edit.key}" and room.id != f"chat:{LINE.key}"
        assert (room.text, room.source, room.room_id) == ("+2", "telegram", "r_1")
        assert room.subject_type == "chat.message_edited"  # in the room's chat: kept

    def test_a_re_delivery_re_sends_its_line_only_while_live_would_drop_it(self) -> None:
        window = timedelta(seconds=120)
        first_stored = NOW
        assert resends_to_room(first_stored, NOW + timedelta(seconds=30), window)
        # Counted from the first store, not from the line's own time: a line dated 4 min
        # ahead re-sent 125 s later would be stored twice by LIVE (its window is 2 min).
        assert not resends_to_room(first_stored, NOW + timedelta(seconds=125), window)
        # Near the window's end a clock difference between ingest and NATS could store
        # it twice: the last quarter is left alone.
        assert not resends_to_room(first_stored, NOW + timedelta(seconds=100), window)
        assert not resends_to_room(None, NOW, window)  # the first copy is gone: unknown


class TestExports:
    EXPORT: ClassVar[dict[str, Any]] = {
        "name": "Aunt Mei's fruit group",
        "type": "private_supergroup",
        "id": 1234567890,
        "messages": [
            {"id": 1, "type": "service", "date": "2026-01-01T10:00:00", "actor": "Mei",
             "actor_id": "user1", "action": "invite_members", "members": ["Lily"]},
            {"id": 2, "type": "message", "date": "2026-01-01T10:01:00",
             "date_unixtime": "1767261660", "from": "Lily", "from_id": "user111",
             "text": ["+1 ", {"type": "bold", "text": "两盒"}], "reply_to_message_id": 1},
            {"id": 3, "type": "message", "date": "2026-01-01T10:02:00", "from": "Wei",
             "from_id": "user222", "text": "buy 2", "edited": "2026-01-01T10:03:00",
             "edited_unixtime": "1767261780"},
        ],
    }  # fmt: skip

    def test_the_export_chat_id_gets_the_bot_api_prefix(self) -> None:
        chat_id, title, _ = telegram_export_chat(self.EXPORT)
        assert chat_id == "-1001234567890" and title == "Aunt Mei's fruit group"
        assert telegram_export_chat({**self.EXPORT, "type": "private_group"})[0] == "-1234567890"
        with pytest.raises(UnknownShape, match="one chat"):
            telegram_export_chat({"chats": {"list": []}})

    def test_messages_match_what_the_webhook_would_have_said(self) -> None:
        chat_id, title, messages = telegram_export_chat(self.EXPORT)
        assert telegram_export_message(messages[0], chat_id, title) == []  # service message
        [line] = telegram_export_message(messages[1], chat_id, title)
        assert line.key == "telegram:-1001234567890:2" and line.text == "+1 两盒"
        assert line.user_id == "111" and line.reply_to == "1"
        assert line.at == datetime.fromtimestamp(1767261660, UTC)
        original, edit = telegram_export_message(messages[2], chat_id, title)
        assert original.at == datetime(2026, 1, 1, 10, 2, tzinfo=UTC)  # no unixtime: read as UTC
        assert edit.key == "telegram:-1001234567890:3:edit:1767261780"
        with pytest.raises(BadRecord, match="from_id"):
            telegram_export_message(
                {"id": 9, "type": "message", "text": "x", "date": "1"}, "c", None
            )

    def test_csv_rows(self) -> None:
        text = (
            "chat_id,message_id,sent_at,user_id,user_name,text,reply_to,edited_at\n"
            'g1,m1,2026-01-01T10:00:00Z,u1,Lily,"+1, two boxes",,\n'
            "g1,m2,1767261660,u2,,hello,m1,1767261700\n"
            "g1,,2026-01-01T10:00:00Z,u1,Lily,no id,,\n"
        )
        rows = list(csv.DictReader(io.StringIO(text)))
        assert csv_header_problem(list(rows[0])) is None
        [first] = csv_message(rows[0], "whatsapp")
        assert first.key == "whatsapp:g1:m1" and first.text == "+1, two boxes"
        second, edit = csv_message(rows[1], "whatsapp")
        assert second.user_name == "u2" and second.reply_to == "m1" and edit.edited
        with pytest.raises(BadRecord, match="message_id"):
            csv_message(rows[2], "whatsapp")
        assert csv_header_problem(["chat_id", "text"]) == (
            "missing columns: message_id, sent_at, user_id, user_name"
        )
