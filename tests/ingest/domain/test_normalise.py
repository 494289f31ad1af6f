"""Each platform's documented payload shapes into ingest items, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.domain.generic import normalise_generic
from services.ingest.domain.model import ChatMessage, MemberChange, Reaction, UnknownShape
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

    def test_joins_and_leaves_are_member_changes(self) -> None:
        joined = normalise_update(
            p.telegram_join([p.telegram_user(5, "A"), p.telegram_user(6, "B")])
        )
        assert [(m.user_id, m.joined) for m in joined.items] == [("5", True), ("6", True)]
        assert joined.items[1].by == "5"  # A added B
        left = only(normalise_update(p.telegram_left(p.telegram_user(7, "C"))).items)
        assert isinstance(left, MemberChange) and not left.joined and left.by is None
        assert left.key == "telegram:-1001234567890:44:left:7"

    def test_private_chats_channels_media_and_other_updates_are_skipped_with_a_reason(self) -> None:
        private = normalise_update(p.telegram_message(kind="private", chat_id=111))
        assert private.items == () and "private" in private.ignored[0]
        photo = p.telegram_message()
        del photo["message"]["text"]
        photo["message"]["photo"] = [
            {"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}
        ]
        assert normalise_update(photo).ignored
        captioned = p.telegram_message()
        captioned["message"]["caption"] = captioned["message"].pop("text")
        assert only(normalise_update(captioned).items).text == "+1"
        poll = {"update_id": 1, "poll": {"id": "1"}}
        assert "poll" in normalise_update(poll).ignored[0]

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
        image = {**p.whatsapp_text(), "type": "image", "image": {"id": "1"}}
        mixed = normalise_webhook(p.whatsapp_body([image, p.whatsapp_text()]))
        assert len(mixed.items) == 1 and "image" in mixed.ignored[0]

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
