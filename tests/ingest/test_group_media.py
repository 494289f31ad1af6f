"""Pictures and voice notes from the groups: a real nats-server, ingest over HTTP, and a
local server speaking Telegram's and WhatsApp's documented download APIs (platforms.py)."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from PIL import Image

from services.ingest.entrypoints.subscribers import DURABLE_GROUP_MEDIA
from shared.embedded_nats import NatsServer
from shared.events import ChatMediaFetched, ChatMessagePosted, parse_event
from shared.events.ingest import ExternalMessageReceived
from shared.events.media import ImageAttachment, PendingAttachment, VoiceAttachment
from shared.messaging import H_ORIGINAL_SUBJECT, H_REASON
from shared.objects import ROOM_MEDIA, Objects
from tests.ingest import conftest as ingest_conftest
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, start_ingest, stream_messages
from tests.ingest.platforms import (
    TELEGRAM_TOKEN,
    WHATSAPP_TOKEN,
    Platforms,
    jpeg,
    ogg_voice,
)
from tests.support import eventually, serving

RETRY_DELAYS_S = (0.2, 0.2, 0.2)  # 4 tries, quickly


@pytest.fixture
async def platforms() -> AsyncIterator[Platforms]:
    fake = Platforms()
    async with serving(fake.app()) as url:
        fake.base_url = url
        yield fake


def media_settings(platforms: Platforms, **more: Any) -> dict[str, Any]:
    return {
        "telegram_api_base": platforms.base_url,
        "telegram_bot_token": TELEGRAM_TOKEN,
        "whatsapp_graph_base": platforms.base_url,
        "whatsapp_access_token": WHATSAPP_TOKEN,
        "media_retry_delays_s": RETRY_DELAYS_S,
        **more,
    }


@pytest.fixture
async def ingest(
    nats_server: NatsServer, database_url: str, platforms: Platforms
) -> AsyncIterator[Ingest]:
    async with start_ingest(nats_server.url, database_url, **media_settings(platforms)) as running:
        yield running


async def fetched_in(nc: NatsClient, room: str, count: int = 1) -> list[ChatMediaFetched]:
    async def probe() -> list[Any] | None:
        found = await stream_messages(nc, "LIVE", f"live.{room}.chat.media_fetched")
        return found if len(found) >= count else None

    events = [parse_event(m.data) for m in await eventually(probe, timeout=20)]
    assert all(isinstance(e, ChatMediaFetched) for e in events)
    return events  # type: ignore[return-value]


async def room_events(nc: NatsClient, room: str) -> list[Any]:
    return [parse_event(m.data) for m in await stream_messages(nc, "LIVE", f"live.{room}.>")]


async def fetcher_idle(nc: NatsClient) -> bool:
    """Nothing left for the media fetcher: no job waiting, none being tried or to retry."""
    info = await nc.jetstream().consumer_info("INGEST", DURABLE_GROUP_MEDIA)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def dead_letters(nc: NatsClient) -> list[Any]:
    return await stream_messages(nc, "DEADLETTER", "deadletter.ingest")


async def test_a_telegram_photo_goes_to_the_room_pending_then_its_sizes_are_stored(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_photo"
    await ingest.bind("telegram", p.GROUP_ID, room)
    platforms.telegram_file("PHOTO-1", jpeg(800, 600), "photos/file_7.jpg")
    response = await ingest.telegram(p.telegram_photo("PHOTO-1", caption="新到樱桃 cherries"))
    assert response.status_code == 200 and response.json()["accepted"] == 1

    [fetched] = await fetched_in(nc, room)
    line, media = await room_events(nc, room)  # the line first, then its picture
    assert isinstance(line, ChatMessagePosted) and line.source == "telegram"
    assert line.text == "新到樱桃 cherries" and line.attachment == PendingAttachment(media="image")
    assert media == fetched and fetched.message_id == line.message_id
    assert line.message_id == f"telegram:{p.GROUP_ID}:70" and fetched.reason == ""
    assert fetched.id == f"media:{line.message_id}" and fetched.customer_id == "telegram:111"
    assert isinstance(fetched.attachment, ImageAttachment)
    sizes = fetched.attachment.image
    assert (sizes.width, sizes.height) == (800, 600)
    store = Objects(nc.jetstream(), ROOM_MEDIA)
    for name in (sizes.thumb, sizes.card, sizes.full):
        head = await store.head(f"{room}/{name}")  # stored under the room
        assert head is not None and head.content_type == "image/jpeg", name
    with Image.open(io.BytesIO(await store.read(f"{room}/{sizes.thumb}") or b"")) as thumb:
        assert thumb.size == (240, 180)
    assert platforms.requests == [("getFile", "PHOTO-1"), ("file", "PHOTO-1")]

    [stored] = await stream_messages(nc, "INGEST", f"ingest.{room}.>")
    assert stored.subject == f"ingest.{room}.external.message_with_media"
    event = parse_event(stored.data)
    assert isinstance(event, ExternalMessageReceived) and event.in_room
    assert event.media is not None and event.media.file_ref == "PHOTO-1"


async def test_a_line_whose_room_publish_is_late_still_comes_before_its_picture(
    ingest: Ingest, platforms: Platforms, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INGEST stored the event, the room lines consumer has not published the line yet (NATS
    away, stalled): the fetcher publishes the line itself while LIVE would still drop a
    second copy, so the picture never reaches the room ahead of its line."""
    room = "r_lost"
    await ingest.bind("telegram", p.GROUP_ID, room)
    platforms.telegram_file("PHOTO-L", jpeg(), "photos/lost.jpg")
    await ingest.app.room_lines.stop()

    async def not_waiting(nc: NatsClient) -> None:  # for a consumer that is stopped
        return None

    monkeypatch.setattr(ingest_conftest, "room_lines_settled", not_waiting)
    response = await ingest.telegram(p.telegram_photo("PHOTO-L", caption="look"))
    assert response.status_code == 200

    await fetched_in(nc, room)
    line, media = await room_events(nc, room)
    assert isinstance(line, ChatMessagePosted) and line.text == "look"
    assert line.attachment == PendingAttachment(media="image")
    assert isinstance(media, ChatMediaFetched) and media.message_id == line.message_id


async def test_a_telegram_voice_note_is_stored_as_it_came_with_its_length(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_voice"
    await ingest.bind("telegram", p.GROUP_ID, room)
    clip = ogg_voice(2.0)
    platforms.telegram_file("VOICE-1", clip, "voice/file_9.oga")
    await ingest.telegram(p.telegram_voice("VOICE-1", duration=2, file_size=len(clip)))

    [fetched] = await fetched_in(nc, room)
    line = (await room_events(nc, room))[0]
    assert line.attachment == PendingAttachment(media="voice") and line.text == ""
    voice = fetched.attachment
    assert isinstance(voice, VoiceAttachment)
    assert voice.content_type == "audio/ogg" and voice.bytes == len(clip)
    assert 1.9 <= voice.duration_s <= 2.1
    assert await Objects(nc.jetstream(), ROOM_MEDIA).read(f"{room}/{voice.object}") == clip


async def test_a_whatsapp_image_is_fetched_with_the_media_id_and_the_token(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_wa"
    await ingest.bind("whatsapp", p.PHONE_NUMBER_ID, room)
    platforms.whatsapp_media("1003383421387256", jpeg(640, 480), "image/jpeg")
    body = p.whatsapp_body([p.whatsapp_image("1003383421387256", caption="红色的 red ones")])
    assert (await ingest.whatsapp(body)).json()["accepted"] == 1

    [fetched] = await fetched_in(nc, room)
    assert isinstance(fetched.attachment, ImageAttachment)
    assert (fetched.attachment.image.width, fetched.attachment.image.height) == (640, 480)
    line = (await room_events(nc, room))[0]
    assert line.text == "红色的 red ones" and line.source == "whatsapp"
    assert platforms.requests == [
        ("media", "1003383421387256"),
        ("download", "1003383421387256"),
    ]


async def test_a_platform_in_trouble_is_asked_again_later(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_retry"
    await ingest.bind("telegram", p.GROUP_ID, room)
    platforms.telegram_file("PHOTO-R", jpeg(), "photos/file_r.jpg")
    platforms.fail_first("PHOTO-R", 502, 502)
    await ingest.telegram(p.telegram_photo("PHOTO-R", caption="+1"))

    [fetched] = await fetched_in(nc, room)
    assert isinstance(fetched.attachment, ImageAttachment)
    assert platforms.asked("getFile", "PHOTO-R") == 3 and platforms.asked("file", "PHOTO-R") == 1
    assert await dead_letters(nc) == []
    # Meanwhile the line was in the room, its text shown.
    line = (await room_events(nc, room))[0]
    assert isinstance(line, ChatMessagePosted) and line.text == "+1"


async def test_a_file_that_is_gone_is_said_and_kept_in_dead_letters(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_gone"
    await ingest.bind("telegram", p.GROUP_ID, room)
    platforms.telegram_file("PHOTO-GONE", jpeg(), "photos/gone.jpg", gone=True)
    await ingest.telegram(p.telegram_photo("PHOTO-GONE"))

    [fetched] = await fetched_in(nc, room)
    assert fetched.attachment is None and "HTTP 404" in fetched.reason
    assert platforms.asked("file", "PHOTO-GONE") == 1  # not retried: it will not come back
    [kept] = await eventually(lambda: dead_letters(nc))
    assert "HTTP 404" in kept.headers[H_REASON]
    assert kept.headers[H_ORIGINAL_SUBJECT] == f"ingest.{room}.external.message_with_media"
    assert parse_event(kept.data).id == fetched.message_id  # the job, as it was
    for text in (fetched.reason, kept.headers[H_REASON]):
        assert TELEGRAM_TOKEN not in text


async def test_an_unknown_file_id_and_bytes_that_are_no_picture_are_said(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_bad"
    await ingest.bind("telegram", p.GROUP_ID, room)
    platforms.telegram_file("PHOTO-BAD", b"<html>no picture here</html>", "photos/bad.jpg")
    platforms.telegram_file("VOICE-BAD", jpeg(), "voice/bad.oga")
    await ingest.telegram(p.telegram_photo("PHOTO-BAD", message_id=81))
    await ingest.telegram(p.telegram_photo("NO-SUCH-FILE", message_id=82))
    await ingest.telegram(p.telegram_voice("VOICE-BAD", message_id=83))

    fetched = {f.message_id.rsplit(":", 1)[1]: f for f in await fetched_in(nc, room, 3)}
    assert all(f.attachment is None for f in fetched.values())
    assert fetched["81"].reason.startswith("not a picture that can be shown")
    assert fetched["82"].reason == "telegram getFile: HTTP 400 Bad Request: invalid file_id"
    assert fetched["83"].reason.startswith("not a voice note that can be played")
    assert len(await eventually(lambda: _at_least(dead_letters(nc), 3))) == 3
    assert await Objects(nc.jetstream(), ROOM_MEDIA).head(f"{room}/x") is None


async def test_after_the_last_try_the_line_is_said_to_have_no_picture(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_down"
    await ingest.bind("whatsapp", p.PHONE_NUMBER_ID, room)
    platforms.whatsapp_media("M-DOWN", jpeg(), "image/jpeg")
    platforms.fail_first("M-DOWN", *[503] * 10)
    await ingest.whatsapp(p.whatsapp_body([p.whatsapp_image("M-DOWN")]))

    [fetched] = await fetched_in(nc, room)
    tries = len(RETRY_DELAYS_S) + 1
    assert fetched.attachment is None
    assert fetched.reason.startswith(f"gave up after {tries} tries: whatsapp media: HTTP 503")
    assert platforms.asked("media", "M-DOWN") == tries
    [kept] = await eventually(lambda: dead_letters(nc))
    assert kept.headers[H_REASON].startswith(f"gave up after {tries} tries")


async def test_an_unbound_chats_photo_is_parked_and_not_fetched(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    platforms.telegram_file("PHOTO-U", jpeg(), "photos/u.jpg")
    platforms.telegram_file("PHOTO-B", jpeg(), "photos/b.jpg")
    unbound = await ingest.telegram(p.telegram_photo("PHOTO-U", chat_id=-100777, message_id=90))
    assert unbound.json()["parked"] == 1
    await ingest.bind("telegram", p.GROUP_ID, "r_bound")
    await ingest.telegram(p.telegram_photo("PHOTO-B", message_id=91))

    await fetched_in(nc, "r_bound")
    assert await eventually(lambda: fetcher_idle(nc))
    assert platforms.asked("getFile", "PHOTO-U") == 0
    # Binding it later adopts its history: stored, not shown, so not fetched either.
    await ingest.bind("telegram", -100777, "r_later")
    assert len(await stream_messages(nc, "INGEST", "ingest.r_later.>")) == 1
    assert await eventually(lambda: fetcher_idle(nc))
    assert platforms.asked("getFile", "PHOTO-U") == 0


async def test_a_webhook_delivered_twice_is_fetched_once(
    ingest: Ingest, platforms: Platforms, nc: NatsClient
) -> None:
    room = "r_twice"
    await ingest.bind("telegram", p.GROUP_ID, room)
    platforms.telegram_file("PHOTO-2", jpeg(), "photos/two.jpg")
    update = p.telegram_photo("PHOTO-2", caption="two")
    assert (await ingest.telegram(update)).json()["accepted"] == 1
    assert (await ingest.telegram(update)).json()["duplicates"] == 1

    await fetched_in(nc, room)
    assert await eventually(lambda: fetcher_idle(nc))
    assert [e.type for e in await room_events(nc, room)] == [
        "chat.message_posted",
        "chat.media_fetched",
    ]
    assert platforms.asked("getFile", "PHOTO-2") == 1


async def test_the_rooms_cap_and_the_size_limit_refuse_before_downloading(
    nats_server: NatsServer, tmp_path: Any, platforms: Platforms, nc: NatsClient
) -> None:
    settings = media_settings(
        platforms, group_media_room_bytes=1024**2, group_media_max_bytes=1024**2
    )
    db = f"sqlite+aiosqlite:///{tmp_path}/ingest.db"
    async with start_ingest(nats_server.url, db, **settings) as ingest:
        room = "r_cap"
        await ingest.bind("telegram", p.GROUP_ID, room)
        platforms.telegram_file("SMALL", jpeg(), "photos/small.jpg")
        await ingest.telegram(p.telegram_photo("SMALL", message_id=1))
        [first] = await fetched_in(nc, room)
        assert isinstance(first.attachment, ImageAttachment)
        # The platform says how large the next ones are: not downloaded at all. The room
        # holds the first one's sizes, so 1020 KB more is over its 1 MB.
        await ingest.telegram(
            p.telegram_photo("FILLS-THE-ROOM", message_id=2, file_size=1020 * 1024)
        )
        await ingest.telegram(p.telegram_photo("TOO-BIG", message_id=3, file_size=1536 * 1024))
        # WhatsApp says it in the media URL's answer: that is asked, the bytes are not.
        await ingest.bind("whatsapp", p.PHONE_NUMBER_ID, room)
        platforms.whatsapp_media("W-BIG", os.urandom(1100 * 1024), "image/jpeg")
        await ingest.whatsapp(p.whatsapp_body([p.whatsapp_image("W-BIG")]))

        fetched = {f.message_id: f for f in await fetched_in(nc, room, 4)}
        full = fetched[f"telegram:{p.GROUP_ID}:2"]
        assert full.attachment is None
        assert full.reason == (
            "the room's pictures and voice notes from the groups reached its 1.0 MB"
        )
        big = fetched[f"telegram:{p.GROUP_ID}:3"]
        assert big.reason == "the file is 1.5 MB; the limit is 1.0 MB"
        wa = next(f for key, f in fetched.items() if key.startswith("whatsapp:"))
        assert wa.attachment is None
        assert wa.reason == "whatsapp: the file is 1.1 MB; the limit is 1.0 MB"
        assert platforms.asked("getFile", "FILLS-THE-ROOM") == 0
        assert platforms.asked("getFile", "TOO-BIG") == 0
        assert platforms.asked("media", "W-BIG") == 1 and platforms.asked("download", "W-BIG") == 0


async def _at_least(found: Any, count: int) -> list[Any] | None:
    items = await found
    return items if len(items) >= count else None
