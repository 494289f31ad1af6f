"""The channels (services/ingest/adapters/channels) against the local platform APIs
(tests/ingest/group_apis.py): what each SendToGroup becomes on each platform, and what each
refusal becomes for the sender (DeliveryError codes of the contract)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.ingest.adapters.channels import build_channels
from services.ingest.domain.channels import Channel, ChannelLimits, DeliveryError, Rate
from services.ingest.settings import IngestSettings
from shared.embedded_nats import free_port
from shared.events.commands import LinkButton, Mention, SendToGroup
from tests.ingest.group_apis import (
    TELEGRAM_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID,
    WHATSAPP_TOKEN,
    WHATSAPP_VERSION,
    GroupApis,
)
from tests.support import serving

TG = "-1001234567890"
WA = "120363041234567890"
KEY = "693a91f6-7a0c-4bc4-97a0-0ec2sifa5aaa"
PAY = LinkButton(text="Pay", url="https://live.test/r/room-1?pay=tok")
BUY = LinkButton(text="Buy on the page", url="https://live.test/r/room-1")
PHOTO = "https://live.test/photos/p1.jpg"


def message(platform: str = "telegram", chat_id: str = TG, **fields: Any) -> SendToGroup:
    fields.setdefault("text", "Held for you: 1 x Tea")
    return SendToGroup(
        id=f"k-{platform}-{chat_id}",
        key=f"k-{platform}-{chat_id}",
        room_id="room-1",
        platform=platform,
        chat_id=chat_id,
        kind=fields.pop("kind", "claim_outcome"),
        source_event_id="evt-1",
        **fields,
    )


def settings(url: str, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = dict(
        telegram_api_base=url,
        telegram_bot_token=TELEGRAM_TOKEN,
        whatsapp_graph_base=url,
        whatsapp_api_version=WHATSAPP_VERSION,
        whatsapp_access_token=WHATSAPP_TOKEN,
        whatsapp_phone_number_id=WHATSAPP_PHONE_NUMBER_ID,
        wecom_api_base=url,
        channel_timeout_s=5,
    )
    return IngestSettings(**(values | overrides))


@contextlib.asynccontextmanager
async def platforms(apis: GroupApis, **overrides: Any) -> AsyncIterator[dict[str, Channel]]:
    async with serving(apis.app()) as url:
        apis.base_url = url
        channels = build_channels(settings(url, **overrides))
        try:
            yield channels
        finally:
            for channel in channels.values():
                await channel.aclose()


async def refusal(channel: Channel, sent: SendToGroup) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await channel.send(sent)
    return caught.value


# ---- Telegram ----


async def test_telegram_reply_with_escaped_html_mention_and_url_buttons() -> None:
    apis = GroupApis(enforce_limits=False)
    apis.member_says(TG, 42, "+1 <b>me</b>")
    sent = message(
        title="Tea & <Cakes>",
        text='Held: 1 x "Oolong" <script>alert(1)</script> & more',
        mention=Mention(user_id="5551", name="Ann <admin>"),
        reply_to="42",
        buttons=[PAY, BUY],
    )
    async with platforms(apis) as channels:
        delivered = await channels["telegram"].send(sent)
    [posted] = apis.messages(TG)
    assert posted.message_id == delivered.platform_message_id
    assert posted.text == (
        "<b>Tea &amp; &lt;Cakes&gt;</b>\n"
        '<a href="tg://user?id=5551">Ann &lt;admin&gt;</a> '
        'Held: 1 x "Oolong" &lt;script&gt;alert(1)&lt;/script&gt; &amp; more'
    )
    assert posted.plain == (
        'Tea & <Cakes>\nAnn <admin> Held: 1 x "Oolong" <script>alert(1)</script> & more'
    )
    assert (posted.reply_to, posted.mentions) == ("42", ["5551"])
    assert posted.buttons == [(PAY.text, PAY.url), (BUY.text, BUY.url)]
    [call] = apis.calls_to(TG, "sendMessage")
    assert call.body["parse_mode"] == "HTML"
    assert call.body["reply_parameters"] == {"message_id": 42, "allow_sending_without_reply": True}


async def test_telegram_reply_to_a_deleted_line_still_goes() -> None:
    apis = GroupApis(enforce_limits=False)  # message 42 is not in the chat (deleted)
    async with platforms(apis) as channels:
        await channels["telegram"].send(message(reply_to="42"))
    assert [m.reply_to for m in apis.messages(TG)] == ["42"]


async def test_telegram_photo_with_caption_long_caption_and_unreachable_photo() -> None:
    apis = GroupApis(enforce_limits=False)
    apis.broken_photos.add("https://live.test/photos/gone.jpg")
    long_text = "Oolong " * 200  # 1400 characters: over a caption's 1024
    async with platforms(apis) as channels:
        telegram = channels["telegram"]
        captioned = await telegram.send(message(kind="offer", photo_url=PHOTO, buttons=[BUY]))
        split = await telegram.send(message(kind="offer", photo_url=PHOTO, text=long_text))
        fallback = await telegram.send(
            message(kind="offer", photo_url="https://live.test/photos/gone.jpg", text="Tea")
        )
    first, photo, text, plain = apis.messages(TG)
    assert (first.kind, first.photo_url, first.plain) == ("photo", PHOTO, "Held for you: 1 x Tea")
    assert first.buttons == [(BUY.text, BUY.url)]
    assert captioned.platform_message_id == first.message_id
    assert (photo.kind, photo.plain) == ("photo", "")
    assert (text.kind, text.plain) == ("text", long_text)
    assert split.platform_message_id == text.message_id  # edits change the text
    assert (plain.kind, plain.plain) == ("text", "Tea")
    assert fallback.platform_message_id == plain.message_id


async def test_telegram_pin_and_a_refused_pin_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    apis = GroupApis(enforce_limits=False)
    apis.pin_refused.add("-100222")
    async with platforms(apis) as channels:
        await channels["telegram"].send(message(kind="preview", pin=True))
        with caplog.at_level(logging.WARNING):
            await channels["telegram"].send(message(kind="preview", chat_id="-100222", pin=True))
    assert [m.pinned for m in apis.messages(TG)] == [True]
    assert [m.pinned for m in apis.messages("-100222")] == [False]
    assert "not pinned" in caplog.text
    assert TELEGRAM_TOKEN not in caplog.text
    [pin] = apis.calls_to(TG, "pinChatMessage")
    assert pin.body["disable_notification"] is True


async def test_telegram_edits_text_and_caption_and_a_repeat_is_success() -> None:
    apis = GroupApis(enforce_limits=False)
    async with platforms(apis) as channels:
        telegram = channels["telegram"]
        held = await telegram.send(message(buttons=[PAY]))
        offer = await telegram.send(message(kind="offer", photo_url=PHOTO, text="3 left"))
        paid = message(text="Paid <3", edit_of="k")
        assert await telegram.edit(paid, held.platform_message_id) == held
        assert await telegram.edit(paid, held.platform_message_id) == held  # not modified
        # a photo's caption; the edit need not know that the message is a photo
        await telegram.edit(message(kind="offer", text="Sold out"), offer.platform_message_id)
    outcome, card = apis.messages(TG)
    assert (outcome.plain, outcome.buttons, outcome.edits) == ("Paid <3", [], 1)
    assert (card.kind, card.plain, card.edits) == ("photo", "Sold out", 1)
    assert [c.method for c in apis.calls if c.method.startswith("edit")] == [
        "editMessageText",
        "editMessageText",
        "editMessageText",
        "editMessageCaption",
    ]


@pytest.mark.parametrize(
    ("status", "description", "code", "pauses", "retry_after"),
    [
        (429, None, "rate_limited", False, 7.0),
        (502, None, "server_error", False, None),
        (500, None, "server_error", False, None),
        (403, None, "bot_removed", True, None),
        (403, "Forbidden: bot is not a member of the supergroup chat", "bot_removed", True, None),
        (403, "Forbidden: CHAT_WRITE_FORBIDDEN", "forbidden", True, None),
        (400, None, "chat_not_found", True, None),
        (400, "Bad Request: not enough rights to send text messages to the chat", "forbidden",
         True, None),
        (400, "Bad Request: message is too long", "bad_request", False, None),
        (401, None, "unauthorized", True, None),
    ],
)  # fmt: skip
async def test_telegram_refusals_become_the_contract_codes(
    status: int, description: str | None, code: str, pauses: bool, retry_after: float | None
) -> None:
    apis = GroupApis()
    apis.fail_next(TG, status, retry_after=7 if status == 429 else None, description=description)
    async with platforms(apis) as channels:
        error = await refusal(channels["telegram"], message())
    assert (error.code, error.pauses_binding, error.retry_after_s) == (code, pauses, retry_after)
    assert error.permanent is (code not in ("rate_limited", "server_error"))
    assert TELEGRAM_TOKEN not in str(error)


async def test_telegram_kicked_unknown_migrated_and_wrong_token() -> None:
    apis = GroupApis()
    apis.add_chat(TG, "-100333")
    apis.kick("-100333")
    async with platforms(apis) as channels:
        kicked = await refusal(channels["telegram"], message(chat_id="-100333"))
        unknown = await refusal(channels["telegram"], message(chat_id="-100999"))
    assert (kicked.code, kicked.pauses_binding) == ("bot_removed", True)
    assert (unknown.code, unknown.pauses_binding) == ("chat_not_found", True)
    async with platforms(GroupApis(), telegram_bot_token="1:wrong") as channels:
        wrong = await refusal(channels["telegram"], message())
    assert (wrong.code, wrong.pauses_binding) == ("unauthorized", True)
    assert "1:wrong" not in str(wrong)


async def test_telegram_a_supergroup_migration_names_the_new_chat() -> None:
    apis = GroupApis()
    apis.fail_next(
        TG, 400, description="Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": -1009},
    )  # fmt: skip
    async with platforms(apis) as channels:
        error = await refusal(channels["telegram"], message())
    assert (error.code, error.pauses_binding) == ("chat_not_found", True)
    assert "now chat -1009" in error.detail


async def test_a_platform_that_does_not_answer_is_a_network_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens
    for channel in build_channels(settings(url, whatsapp_phone_number_id="1")).values():
        try:
            error = await refusal(channel, message(channel.platform, KEY))
        finally:
            await channel.aclose()
        assert (error.code, error.permanent) == ("network", False)


# ---- WhatsApp ----


async def test_whatsapp_text_reply_cta_button_image_and_links() -> None:
    apis = GroupApis(enforce_limits=False)
    async with platforms(apis) as channels:
        whatsapp = channels["whatsapp"]
        text = await whatsapp.send(message(
            "whatsapp", WA, title="Tea *special*", mention=Mention(user_id="8613", name="Ann"),
            reply_to="wamid.BUYER",
        ))  # fmt: skip
        await whatsapp.send(message("whatsapp", WA, photo_url=PHOTO, buttons=[PAY]))
        await whatsapp.send(message("whatsapp", WA, photo_url=PHOTO, text="On the table now"))
        await whatsapp.send(message("whatsapp", WA, buttons=[PAY, BUY]))
    first, card, image, links = apis.messages(WA)
    assert text.platform_message_id == first.message_id
    assert text.platform_message_id.startswith("wamid.")
    assert (first.kind, first.text, first.reply_to) == (
        "text", "*Tea special*\n@Ann Held for you: 1 x Tea", "wamid.BUYER"
    )  # fmt: skip
    assert (card.kind, card.photo_url, card.buttons) == ("interactive", PHOTO, [("Pay", PAY.url)])
    assert (image.kind, image.photo_url, image.text) == ("image", PHOTO, "On the table now")
    assert links.kind == "text"
    assert links.text.endswith(f"\nPay: {PAY.url}\nBuy on the page: {BUY.url}")
    calls = apis.calls_to(WA)
    assert {c.body["recipient_type"] for c in calls} == {"group"}
    assert calls[0].body["context"] == {"message_id": "wamid.BUYER"}
    assert calls[1].body["interactive"]["action"] == {
        "name": "cta_url", "parameters": {"display_text": "Pay", "url": PAY.url}
    }  # fmt: skip


async def test_whatsapp_cannot_edit() -> None:
    async with platforms(GroupApis()) as channels:
        whatsapp = channels["whatsapp"]
        assert whatsapp.can_edit is False
        with pytest.raises(DeliveryError) as caught:
            await whatsapp.edit(message("whatsapp", WA), "wamid.X")
    assert caught.value.permanent


async def test_whatsapp_outside_the_window_sends_the_template_when_there_is_one() -> None:
    apis = GroupApis(enforce_limits=False)
    apis.window_closed.add(WA)
    reminder = message("whatsapp", WA, kind="reminder", title="Pay by 20:00",
                       text="1 x Tea\nwaits for you", buttons=[PAY])  # fmt: skip
    async with platforms(apis) as channels:
        error = await refusal(channels["whatsapp"], reminder)
    assert (error.code, error.permanent, error.pauses_binding) == ("outside_window", True, False)
    async with platforms(apis, whatsapp_template_name="group_update") as channels:
        delivered = await channels["whatsapp"].send(reminder)
    [sent] = apis.messages(WA)
    assert (sent.kind, sent.template, sent.message_id) == (
        "template", "group_update", delivered.platform_message_id
    )  # fmt: skip
    assert sent.text == "*Pay by 20:00* · 1 x Tea · waits for you"
    async with platforms(apis, whatsapp_template_name="no_such_template") as channels:
        rejected = await refusal(channels["whatsapp"], reminder)
    assert (rejected.code, rejected.pauses_binding) == ("template_rejected", True)


@pytest.mark.parametrize(
    ("status", "graph_code", "code", "pauses", "retry_after"),
    [
        (400, 130429, "rate_limited", False, 1.0),
        (400, 131056, "rate_limited", False, 6.0),
        (429, None, "rate_limited", False, 1.0),
        (400, 131041, "chat_not_found", True, None),
        (400, 132015, "template_rejected", True, None),
        (400, 132000, "template_rejected", True, None),
        (401, 190, "unauthorized", True, None),
        (403, 10, "forbidden", True, None),
        (500, 131000, "server_error", False, None),
        (503, None, "server_error", False, None),
        (400, 100, "bad_request", False, None),
    ],
)
async def test_whatsapp_refusals_become_the_contract_codes(
    status: int, graph_code: int | None, code: str, pauses: bool, retry_after: float | None
) -> None:
    apis = GroupApis()
    apis.fail_next(WA, status, code=graph_code)
    async with platforms(apis) as channels:
        error = await refusal(channels["whatsapp"], message("whatsapp", WA))
    assert (error.code, error.pauses_binding, error.retry_after_s) == (code, pauses, retry_after)
    assert WHATSAPP_TOKEN not in str(error)


async def test_whatsapp_pair_limit_of_the_server_is_rate_limited() -> None:
    apis = GroupApis()
    apis.kick("120363000000000001")
    async with platforms(apis, whatsapp_pair_per_minute=3) as channels:
        whatsapp = channels["whatsapp"]
        assert whatsapp.limits == ChannelLimits((Rate(80, 1.0),), (Rate(3, 60.0),))
        for _ in range(10):  # the fake allows 10 a minute: the 11th is refused
            await whatsapp.send(message("whatsapp", WA))
        limited = await refusal(whatsapp, message("whatsapp", WA))
        removed = await refusal(whatsapp, message("whatsapp", "120363000000000001"))
    assert (limited.code, limited.retry_after_s) == ("rate_limited", 6.0)
    assert (removed.code, removed.pauses_binding) == ("chat_not_found", True)


async def test_whatsapp_without_a_phone_number_id_pauses() -> None:
    async with platforms(GroupApis(), whatsapp_phone_number_id="") as channels:
        error = await refusal(channels["whatsapp"], message("whatsapp", WA))
    assert (error.code, error.pauses_binding) == ("unauthorized", True)


# ---- WeCom ----


async def test_wecom_markdown_news_card_and_mention() -> None:
    apis = GroupApis(enforce_limits=False)
    async with platforms(apis) as channels:
        wecom = channels["wecom"]
        first = await wecom.send(message(
            "wecom", KEY, kind="live", title="直播开始", text="**不是粗体** <@all> [x](y)",
            buttons=[BUY], reply_to="ignored",
        ))  # fmt: skip
        again = await wecom.send(message("wecom", KEY, kind="live", title="直播开始", text="x"))
        await wecom.send(message("wecom", KEY, kind="offer", title="乌龙茶 ¥38", text="剩 3 件",
                                 photo_url=PHOTO, buttons=[BUY]))  # fmt: skip
        await wecom.send(message("wecom", KEY, kind="offer", text="新品", photo_url=PHOTO))
        await wecom.send(message("wecom", KEY, kind="welcome", text="欢迎!",
                                 mention=Mention(user_id="zhangsan", name="张三")))  # fmt: skip
    markdown, _, news, bare, text = apis.messages(KEY)
    assert markdown.kind == "markdown"
    assert markdown.text == (
        "**直播开始**\n＊＊不是粗体＊＊ ＜@all＞ ［x］(y)\n[Buy on the page](https://live.test/r/room-1)"
    )
    assert markdown.mentions == []  # our text cannot @ the whole group
    assert first.platform_message_id.startswith("wecom-")
    assert first.platform_message_id == again.platform_message_id  # the same key
    assert (news.kind, news.photo_url, news.text) == ("news", PHOTO, "乌龙茶 ¥38\n剩 3 件")
    assert news.buttons == [("乌龙茶 ¥38", BUY.url)]
    assert (bare.kind, bare.text, bare.buttons) == ("news", "新品", [("新品", PHOTO)])
    assert (text.kind, text.text, text.mentions) == ("text", "@张三 欢迎!", ["zhangsan"])
    assert channels["wecom"].can_edit is False
    assert "reply_to" not in str(apis.calls_to(KEY)[0].body)


@pytest.mark.parametrize(
    ("status", "errcode", "code", "pauses"),
    [
        (400, 93000, "bot_removed", True),
        (429, 45009, "rate_limited", False),
        (200, -1, "server_error", False),
        (502, None, "server_error", False),
        (400, 40058, "bad_request", False),
    ],
)
async def test_wecom_refusals_become_the_contract_codes(
    status: int, errcode: int | None, code: str, pauses: bool
) -> None:
    apis = GroupApis()
    apis.fail_next(KEY, status, code=errcode)
    async with platforms(apis) as channels:
        error = await refusal(channels["wecom"], message("wecom", KEY))
    assert (error.code, error.pauses_binding) == (code, pauses)
    assert KEY not in str(error)


async def test_wecom_robot_limit_and_a_removed_robot() -> None:
    apis = GroupApis()
    apis.kick("dead-key")
    async with platforms(apis) as channels:
        wecom = channels["wecom"]
        for _ in range(20):
            await wecom.send(message("wecom", KEY))
        limited = await refusal(wecom, message("wecom", KEY))
        removed = await refusal(wecom, message("wecom", "dead-key"))
    assert (limited.code, limited.retry_after_s) == ("rate_limited", 60.0)
    assert (removed.code, removed.pauses_binding) == ("bot_removed", True)


# ---- all ----


async def test_each_channel_declares_its_limits() -> None:
    channels = build_channels(settings("http://127.0.0.1:9", whatsapp_messages_per_s=250))
    try:
        assert sorted(channels) == ["telegram", "wecom", "whatsapp"]
        assert channels["telegram"].limits == ChannelLimits(
            (Rate(30, 1.0),), (Rate(1, 1.0), Rate(20, 60.0))
        )
        assert channels["whatsapp"].limits == ChannelLimits((Rate(250, 1.0),), (Rate(10, 60.0),))
        assert channels["wecom"].limits == ChannelLimits((), (Rate(20, 60.0),))
        assert [c.can_edit for c in channels.values()] == [True, False, False]
    finally:
        for channel in channels.values():
            await channel.aclose()
