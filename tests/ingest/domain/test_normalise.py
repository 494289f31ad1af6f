"""Each platform's documented payload shapes into ingest items, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.domain.generic import normalise_generic
from services.ingest.domain.model import (
    ChatMessage,
    Media,
    MemberChange,
    Reaction,
    UnknownShape,
)
from services.ingest.domain.telegram import normalise_update
from services.ingest.domain.whatsapp import normalise_webhook
from tests.ingest import payloads as p


def only(items: tuple[Any, ...]) -> Any:
    assert len(items) == 1, items
    return items[0]


class TestTelegram:
    def test_a_group_message_is_a_chat_line_with_a_customer_and_a_key(self) -> None:
        update = p.telegram_message("+1 两盒", message_id=42, reply_to_message={
            "message_id": 40, "from": p.telegram_user(222, "Wei"), "chat": p.telegram_chat(),
            "date": p.now() - 60, "text": "cherries at 499",
        })  # fmt: skip
        line = only(normalise_update(update).items)
        assert isinstance(line, ChatMessage)
        assert (line.platform, line.chat_id, line.message_id) == (
            "telegram",
            "-1001234567890",
            "42",
        )
        assert (line.user_id, line.user_name, line.text) == ("111", "Lily Wang", "+1 两盒")
        assert line.reply_to == "40" and not line.edited
        assert line.key == "telegram:-1001234567890:42"
        assert line.chat_title == "Aunt Mei's fruit group 梅姨水果团"

    def test_an_edit_is_its_own_fact_keyed_by_the_edit_date(self) -> None:
        edit = only(normalise_update(p.telegram_edit("+2", edit_date=1_750_000_000)).items)
        assert edit.edited and edit.text == "+2"
        assert edit.at == datetime.fromtimestamp(1_750_000_000, UTC)
        assert edit.key == "telegram:-1001234567890:42:edit:1750000000"
        # The original's key names the line in the room; `date` is when it was sent.
        assert edit.original_key == "telegram:-1001234567890:42"
        assert edit.sent_at is not None and edit.sent_at != edit.at

    def test_joins_and_leaves_are_member_changes(self) -> None:
        joined = normalise_update(
            p.telegram_join([p.telegram_user(5, "A"), p.telegram_user(6, "B")])
        )
        assert [(m.user_id, m.joined) for m in joined.items] == [("5", True), ("6", True)]
        assert joined.items[1].by == "5"  # A added B
        left = only(normalise_update(p.telegram_left(p.telegram_user(7, "C"))).items)
        assert isinstance(left, MemberChange) and not left.joined and left.by is None
        assert left.key == "telegram:-1001234567890:44:left:7"

    def test_private_chats_stickers_and_other_updates_are_skipped_with_a_reason(self) -> None:
        private = normalise_update(p.telegram_message(kind="private", chat_id=111))
        assert private.items == () and "private" in private.ignored[0]
        sticker = p.telegram_message()
        del sticker["message"]["text"]
        sticker["message"]["sticker"] = {"file_id": "x", "file_unique_id": "y", "width": 512,
                                         "height": 512, "is_animated": False,
                                         "is_video": False, "type": "regular"}  # fmt: skip
        assert "without text or media" in normalise_update(sticker).ignored[0]
        captioned = p.telegram_message()
        captioned["message"]["caption"] = captioned["message"].pop("text")
        assert only(normalise_update(captioned).items).text == "+1"
        poll = {"update_id": 1, "poll": {"id": "1"}}
        assert "poll" in normalise_update(poll).ignored[0]

    def test_a_photo_is_a_line_with_its_largest_size_and_the_caption_as_text(self) -> None:
        line = only(normalise_update(p.telegram_photo("F", caption="cherries 樱桃")).items)
        assert isinstance(line, ChatMessage) and line.text == "cherries 樱桃"
        assert line.media == Media("image", "F", None, 52_000)
        bare = only(normalise_update(p.telegram_photo("F")).items)  # no caption: still a line
        assert bare.text == "" and bare.media is not None and bare.media.file_ref == "F"
        unsized = only(normalise_update(p.telegram_photo("F", file_size=None)).items)
        assert unsized.media.file_ref == "F" and unsized.media.bytes is None

    def test_a_photo_size_over_the_bots_20_mb_is_passed_over(self) -> None:
        update = p.telegram_photo("F", file_size=21 * 1024**2)
        line = only(normalise_update(update).items)
        assert line.media.file_ref == "F-m" and line.text == ""  # the next size down
        for size in update["message"]["photo"]:
            size["file_size"] = 25 * 1024**2
        too_big = only(normalise_update(update).items)
        assert too_big.media is None
        assert too_big.text == (
            "[photo not shown: 25.0 MB, over the 20 MB a Telegram bot may download]"
        )

    def test_voice_notes_and_audio_files_are_voice_media(self) -> None:
        voice = only(normalise_update(p.telegram_voice("V", duration=7)).items)
        assert voice.media == Media("voice", "V", "audio/ogg", 8_130, 7.0) and voice.text == ""
        audio = p.telegram_voice("A", key="audio")
        audio["message"]["caption"] = "listen"
        line = only(normalise_update(audio).items)
        assert line.media.kind == "voice" and line.media.file_ref == "A"
        assert line.text == "listen"
        huge = only(normalise_update(p.telegram_voice("V", file_size=30 * 1024**2)).items)
        assert huge.media is None and huge.text.startswith("[voice message not shown: 30.0 MB")

    @pytest.mark.parametrize(
        "broken",
        [
            {"photo": []},
            {"photo": {"file_id": "x"}},
            {"photo": [{"file_id": "x", "width": 1}]},
            {"photo": [{"file_id": "x", "width": 1, "height": 1, "file_size": -1}]},
            {"photo": [{"file_id": "", "width": 1, "height": 1}]},
            {"voice": {"file_id": "x"}},
            {"voice": {"file_id": "x" * 600, "duration": 1}},
            {"voice": "x"},
        ],
    )
    def test_media_not_of_the_documented_shape_says_where(self, broken: dict) -> None:
        update = p.telegram_message()
        del update["message"]["text"]
        update["message"].update(broken)
        with pytest.raises(UnknownShape, match=r"message\.(photo|voice)"):
            normalise_update(update)

    def test_anonymous_admins_speak_as_the_chat(self) -> None:
        update = p.telegram_message()
        del update["message"]["from"]
        update["message"]["sender_chat"] = {
            "id": -1001234567890,
            "type": "supergroup",
            "title": "G",
        }
        line = only(normalise_update(update).items)
        assert (line.user_id, line.user_name) == ("-1001234567890", "G")

    @pytest.mark.parametrize(
        ("payload", "where"),
        [
            ([], "update"),
            ({"message": {}}, "update_id"),
            ({"update_id": 1}, "no content"),
            ({"update_id": 1, "message": {"message_id": 1}}, "date"),
            ({"update_id": 1, "message": {"message_id": 1, "date": 1e99}}, "date"),
            ({"update_id": 1, "message": {"message_id": 1, "date": 10**30}}, "date"),
            ({"update_id": 1, "message": {"message_id": 1, "date": 9, "chat": []}}, "chat"),
        ],
    )
    def test_what_is_not_an_update_says_where(self, payload: Any, where: str) -> None:
        with pytest.raises(UnknownShape, match=where):
            normalise_update(payload)


class TestWhatsApp:
    def test_a_text_message_uses_the_contact_name_and_the_business_number_as_chat(self) -> None:
        body = p.whatsapp_body([p.whatsapp_text("Does it come in red?", reply_to="wamid.A")])
        line = only(normalise_webhook(body).items)
        assert isinstance(line, ChatMessage)
        assert (line.platform, line.chat_id) == ("whatsapp", p.PHONE_NUMBER_ID)
        assert (line.user_id, line.user_name) == ("16505551234", "Sheena Nelson")
        assert line.reply_to == "wamid.A" and line.text == "Does it come in red?"

    def test_a_group_message_belongs_to_its_group(self) -> None:
        body = p.whatsapp_body([p.whatsapp_text(group_id="GROUP-9")])
        assert only(normalise_webhook(body).items).chat_id == "GROUP-9"

    def test_reactions_and_their_removal(self) -> None:
        body = p.whatsapp_body([
            p.whatsapp_reaction("wamid.T", "❤️", "wamid.R1"),
            p.whatsapp_reaction("wamid.T", None, "wamid.R2"),
        ])  # fmt: skip
        added, removed = normalise_webhook(body).items
        assert isinstance(added, Reaction) and added.emoji == "❤️"
        assert added.target_message_id == "wamid.T"
        assert isinstance(removed, Reaction) and removed.emoji is None

    def test_statuses_and_other_message_types_are_skipped(self) -> None:
        assert normalise_webhook(p.whatsapp_statuses()).ignored == (
            "delivery statuses are not ingested",
        )
        video = {**p.whatsapp_text(), "type": "video", "video": {"id": "1"}}
        mixed = normalise_webhook(p.whatsapp_body([video, p.whatsapp_text()]))
        assert len(mixed.items) == 1 and "video" in mixed.ignored[0]

    def test_an_image_is_a_line_with_its_media_id_and_caption(self) -> None:
        body = p.whatsapp_body([p.whatsapp_image("MID", caption="red ones", group_id="G")])
        line = only(normalise_webhook(body).items)
        assert isinstance(line, ChatMessage) and line.chat_id == "G"
        assert line.text == "red ones" and line.media == Media("image", "MID", "image/jpeg")
        bare = only(normalise_webhook(p.whatsapp_body([p.whatsapp_image(caption=None)])).items)
        assert bare.text == "" and bare.media.kind == "image"

    def test_voice_notes_and_audio_files_are_voice_media(self) -> None:
        body = p.whatsapp_body([
            p.whatsapp_audio("V1", voice=True, message_id="wamid.V1"),
            p.whatsapp_audio("V2", voice=False, message_id="wamid.V2"),
        ])  # fmt: skip
        note, audio = normalise_webhook(body).items
        assert note.media == Media("voice", "V1", "audio/ogg; codecs=opus")
        assert audio.media.file_ref == "V2" and note.text == audio.text == ""

    def test_an_image_without_its_id_is_refused(self) -> None:
        image = p.whatsapp_image()
        del image["image"]["id"]
        with pytest.raises(UnknownShape, match=r"messages\[0\]\.image\.id"):
            normalise_webhook(p.whatsapp_body([image]))

    @pytest.mark.parametrize(
        ("payload", "where"),
        [
            ([], "body"),
            ({"object": "page", "entry": []}, "object"),
            ({"object": "whatsapp_business_account"}, "entry"),
            ({"object": "whatsapp_business_account", "entry": [{"changes": {}}]}, "changes"),
        ],
    )
    def test_what_is_not_a_whatsapp_webhook_says_where(self, payload: Any, where: str) -> None:
        with pytest.raises(UnknownShape, match=where):
            normalise_webhook(payload)

    def test_other_webhook_fields_are_skipped(self) -> None:
        body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "x"}]}]}
        assert normalise_webhook(body).ignored == ("webhook field 'x' is not ingested",)

    def test_a_message_without_an_id_is_refused(self) -> None:
        message = p.whatsapp_text()
        del message["id"]
        with pytest.raises(UnknownShape, match=r"messages\[0\]\.id"):
            normalise_webhook(p.whatsapp_body([message]))


class TestGeneric:
    def test_a_message_and_its_edit(self) -> None:
        line = only(normalise_generic(p.generic_message(reply_to="m-1")).items)
        assert (line.platform, line.chat_id, line.user_id) == ("line", "line-group-7", "u-7")
        assert line.key == "line:line-group-7:m-1001" and line.reply_to == "m-1"
        edit = only(
            normalise_generic(p.generic_message(edited_at="2026-01-01T08:00:00+08:00")).items
        )
        assert edit.edited and edit.at == datetime(2026, 1, 1, tzinfo=UTC)
        assert edit.sent_at is not None and edit.original_key == "line:line-group-7:m-1001"
        assert line.sent_at is None  # only an edit has an original

    def test_member_events(self) -> None:
        joined = only(normalise_generic({
            "type": "member_joined", "platform": "line", "chat_id": "g", "event_id": "j1",
            "user": {"id": "u1", "name": "A"}, "at": "2026-01-01T00:00:00",
        }).items)  # fmt: skip
        assert isinstance(joined, MemberChange) and joined.joined
        assert joined.at.tzinfo is UTC

    @pytest.mark.parametrize(
        ("payload", "where"),
        [
            ({"type": "message"}, "chat_id"),
            ({"type": "teleport"}, "type"),
            ({**p.generic_message(), "message_id": "a:b"}, "message_id"),
            ({**p.generic_message(), "platform": "Not A Token"}, "platform"),
            ({**p.generic_message(), "sent_at": "9999-12-31T23:59:59-23:59"}, "time"),
            ("text", "body"),
        ],
    )
    def test_schema_errors_name_the_field(self, payload: Any, where: str) -> None:
        with pytest.raises(UnknownShape, match=where):
            normalise_generic(payload)
