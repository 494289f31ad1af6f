"""Media posts in the room, over a real nats-server: pictures and voice clips (HTTP), links
and product cards (websocket), who may post them, the room's limit, deletion everywhere,
the groups' media arriving later, and serving what the room stores."""

from __future__ import annotations

import asyncio
import hashlib
import io
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import nats
import pytest
from nats.aio.msg import Msg
from PIL import ExifTags, Image

from services.live.bootstrap import LiveApp, build
from services.live.main import create_app
from shared import images
from shared.embedded_nats import NatsServer
from shared.events import ChatMediaFetched, ChatMessagePosted, OfferOpened, PlaceClaim
from shared.events.media import ImageAttachment, ImageSizes, PendingAttachment
from shared.messaging import EventPublisher
from shared.objects import ROOM_MEDIA, Objects
from tests.live.client import Frame, TestViewer, kind
from tests.live.conftest import ADMIN, join, live_settings, open_room
from tests.support import eventually, serving

RED, BLUE = (220, 30, 30), (30, 30, 220)


# ---- what is posted, made here ---------------------------------------------------------


def phone_photo(width: int = 400, height: int = 200, colour: tuple[int, int, int] = RED) -> bytes:
    """A JPEG as a phone writes it: stored sideways with EXIF orientation 6 (turn 90° clockwise
    to show), the camera's make and the GPS position. Left half `colour`, right half blue:
    shown upright, the top is `colour` and the bottom blue."""
    image = Image.new("RGB", (width, height), colour)
    image.paste(BLUE, (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (22.0, 32.0, 10.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (114.0, 3.0, 20.0),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def plain_picture(colour: tuple[int, int, int], size: int = 300) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
    return out.getvalue()


def stored_bytes(data: bytes) -> int:
    """What a picture's sizes take in the room: each distinct object once."""
    sizes = images.prepare(data, 10**8).sizes
    return sum(
        len(jpeg) for jpeg in {hashlib.sha256(v).hexdigest(): v for v in sizes.values()}.values()
    )


def voice_clip(seconds: float) -> bytes:
    """A voice note as Chrome records it: Opus in WebM, made by the wheel's ffmpeg."""
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:a", "libopus", "-b:a", "24k", "-f", "webm", "pipe:1"],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip


# ---- the service ------------------------------------------------------------------------


@asynccontextmanager
async def live_at(
    nats_url: str, database_url: str, **overrides: Any
) -> AsyncIterator[tuple[str, LiveApp]]:
    """One live instance whose members may act as fast as the tests need."""
    app = build(
        live_settings(nats_url, database_url, actions_per_s=1000.0, actions_burst=1000, **overrides)
    )
    async with serving(create_app(app)) as url:
        yield url, app


@pytest.fixture
async def live(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[str]:
    async with live_at(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db") as (url, _):
        yield url


@pytest.fixture
async def live_db(nats_server: NatsServer, database_url: str) -> AsyncIterator[str]:
    """The same on SQLite and on PostgreSQL (where TEST_POSTGRES_URL is set)."""
    async with live_at(nats_server.url, database_url) as (url, _):
        yield url


async def host_of(url: str, room: str) -> TestViewer:
    """The host's console in the room: it joins with the host's credential."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        grant = await http.post(
            f"/rooms/{room}/join", json={"display_name": "Aunt Mei"}, headers=ADMIN
        )
        grant.raise_for_status()
    return await TestViewer.connect(url, grant.json())


async def member_of(url: str, room: str, name: str = "Lily") -> TestViewer:
    return await TestViewer.connect(url, await join(url, room, name))


async def post(
    url: str,
    room: str,
    who: TestViewer | str,
    data: bytes,
    kind: str = "image",
    text: str = "",
    alt: str = "",
    filename: str = "upload.bin",
) -> httpx.Response:
    token = who if isinstance(who, str) else who.grant["token"]
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.post(
            f"/rooms/{room}/posts",
            headers={"Authorization": f"Bearer {token}"},
            data={"kind": kind, "text": text, "alt": alt},
            files={"file": (filename, data, "application/octet-stream")},
        )


async def fetch(url: str, room: str, name: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.get(f"/rooms/{room}/media/{name}", headers=headers)


async def set_rules(url: str, room: str, **rules: Any) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.put(f"/rooms/{room}/rules", json=rules, headers=ADMIN)
        assert response.is_success, response.text


def line_with(message_id: str) -> Any:
    return lambda f: f["type"] == "chat" and any(m["id"] == message_id for m in f["messages"])


async def seen_line(viewer: TestViewer, message_id: str) -> Frame:
    frame = await viewer.wait_for(line_with(message_id))
    return next(m for m in frame["messages"] if m["id"] == message_id)  # type: ignore[no-any-return]


async def said(viewer: TestViewer, text: str) -> Frame:
    """The line saying `text`, once `viewer` sees it."""
    frame = await viewer.wait_for(
        lambda f: f["type"] == "chat" and any(m["text"] == text for m in f["messages"])
    )
    return next(m for m in frame["messages"] if m["text"] == text)  # type: ignore[no-any-return]


async def answer_to(viewer: TestViewer, ref: str) -> Frame:
    return await viewer.wait_for(lambda f: f.get("ref") == ref)


def upright_without_exif(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    assert b"Exif" not in jpeg and b"PhoneCo" not in jpeg
    assert not image.getexif()
    assert "exif" not in image.info
    return image


def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True))


# ---- pictures ---------------------------------------------------------------------------


async def test_a_phone_photo_is_stored_upright_without_exif_and_the_room_sees_it(
    live: str,
) -> None:
    room = await open_room(live)
    host, lily = await host_of(live, room), await member_of(live, room)
    photo = phone_photo()
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it has GPS

    response = await post(live, room, host, photo, text="Fresh cherries 樱桃", alt="A box")
    assert response.status_code == 201, response.text
    line = response.json()
    assert (line["text"], line["customer_id"]) == ("Fresh cherries 樱桃", host.customer_id)
    image = line["attachment"]["image"]
    assert line["attachment"]["kind"] == "image"
    assert (image["width"], image["height"], image["alt"]) == (200, 400, "A box")

    shown = await seen_line(lily, line["id"])
    assert shown["attachment"] == line["attachment"]
    for size, long_side in (("thumb", 240), ("card", 400), ("full", 400)):
        served = await fetch(live, room, image[size])
        assert served.status_code == 200, served.text
        assert served.headers["content-type"] == "image/jpeg"
        picture = upright_without_exif(served.content)
        width, height = picture.size
        assert height == long_side and width < height  # turned as the phone meant
        rgb = picture.convert("RGB")
        assert near(rgb.getpixel((width // 2, 2)), RED)
        assert near(rgb.getpixel((width // 2, height - 3)), BLUE)
    newcomer = await member_of(live, room, "newcomer")
    welcome = next(f for f in newcomer.frames if f["type"] == "welcome")
    assert [m["attachment"] for m in welcome["history"] if m["id"] == line["id"]] == [
        line["attachment"]
    ]
    for viewer in (host, lily, newcomer):
        await viewer.close()


async def test_what_is_not_a_picture_is_refused_with_why(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with live_at(
        nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db", post_image_max_bytes=50_000
    ) as (live, _):
        room = await open_room(live)
        host = await host_of(live, room)
        gif = io.BytesIO()
        Image.new("RGB", (20, 20)).save(gif, "GIF")
        cases = {
            b"": (422, "image_empty"),
            b"<html>not a picture</html>": (415, "not_an_image"),
            gif.getvalue(): (415, "unsupported_image_format"),
            phone_photo()[:-200]: (422, "image_damaged"),  # truncated
            phone_photo() + b"PK\x03\x04zip": (422, "image_has_hidden_data"),  # polyglot
            b"\xff" * 50_001: (413, "image_too_large"),
        }
        for data, (status, code) in cases.items():
            response = await post(live, room, host, data)
            assert (response.status_code, response.json()["code"]) == (status, code), data[:20]
            assert response.json()["detail"]
        await host.close()


async def test_an_upload_past_every_limit_is_refused_as_it_arrives(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with live_at(
        nats_server.url,
        f"sqlite+aiosqlite:///{tmp_path}/live.db",
        post_image_max_bytes=20_000,
        post_voice_max_bytes=20_000,
    ) as (live, _):
        room = await open_room(live)
        host = await host_of(live, room)
        huge = b"\x00" * 400_000
        response = await post(live, room, host, huge)
        assert (response.status_code, response.json()["code"]) == (413, "too_large")

        async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            boundary = b"--b0undary\r\n"
            yield boundary + b'Content-Disposition: form-data; name="kind"\r\n\r\nimage\r\n'
            yield boundary + b'Content-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
            for _ in range(40):
                yield b"\x00" * 10_000

        async with httpx.AsyncClient(base_url=live, timeout=30) as http:
            response = await http.post(
                f"/rooms/{room}/posts",
                content=streamed(),
                headers={
                    "Authorization": f"Bearer {host.grant['token']}",
                    "Content-Type": "multipart/form-data; boundary=b0undary",
                },
            )
        assert (response.status_code, response.json()["code"]) == (413, "too_large")
        await host.close()


# ---- voice clips ------------------------------------------------------------------------


async def test_a_voice_clip_is_measured_stored_as_it_came_and_served_in_ranges(
    live: str,
) -> None:
    room = await open_room(live)
    host, lily = await host_of(live, room), await member_of(live, room)
    clip = voice_clip(3)
    response = await post(live, room, host, clip, kind="voice", text="Listen 听")
    assert response.status_code == 201, response.text
    line = response.json()
    voice = line["attachment"]
    assert voice["kind"] == "voice"
    assert abs(voice["duration_s"] - 3.0) < 0.2
    assert (voice["content_type"], voice["bytes"]) == ("audio/webm", len(clip))
    assert voice["object"] == hashlib.sha256(clip).hexdigest() + ".webm"
    assert (await seen_line(lily, line["id"]))["attachment"] == voice

    served = await fetch(live, room, voice["object"])
    assert served.status_code == 200
    assert served.content == clip
    headers = served.headers
    assert headers["content-type"] == "audio/webm"
    assert headers["etag"] == f'"{hashlib.sha256(clip).hexdigest()}"'
    assert "immutable" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-length"] == str(len(clip))

    part = await fetch(live, room, voice["object"], Range="bytes=100-1099")
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{len(clip)}"
    assert part.content == clip[100:1100]
    tail = await fetch(live, room, voice["object"], Range="bytes=-500")
    assert (tail.status_code, tail.content) == (206, clip[-500:])
    outside = await fetch(live, room, voice["object"], Range=f"bytes={len(clip)}-")
    assert outside.status_code == 416
    cached = await fetch(live, room, voice["object"], **{"If-None-Match": headers["etag"]})
    assert (cached.status_code, cached.content) == (304, b"")
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        head = await http.head(f"/rooms/{room}/media/{voice['object']}")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(clip))
    for viewer in (host, lily):
        await viewer.close()


async def test_a_clip_over_a_minute_and_what_is_not_sound_are_refused(live: str) -> None:
    room = await open_room(live)
    host = await host_of(live, room)
    long = await post(live, room, host, voice_clip(61), kind="voice")
    assert (long.status_code, long.json()["code"]) == (422, "voice_too_long"), long.text
    for data, code in (
        (phone_photo(), "not_a_voice_clip"),
        (b"just words, no sound", "not_a_voice_clip"),
        (b"", "voice_empty"),
    ):
        response = await post(live, room, host, data, kind="voice")
        status = 422 if code == "voice_empty" else 415
        assert (response.status_code, response.json()["code"]) == (status, code)
    picture_as_voice = await post(live, room, host, voice_clip(1), kind="image")
    assert picture_as_voice.json()["code"] == "not_an_image"
    await host.close()


# ---- who may post -----------------------------------------------------------------------


async def test_members_post_media_only_where_the_rules_allow_and_never_when_muted(
    live_db: str,
) -> None:
    live = live_db
    room = await open_room(live)
    host, lily = await host_of(live, room), await member_of(live, room)
    picture = plain_picture(RED)
    refused = await post(live, room, lily, picture)
    assert (refused.status_code, refused.json()["code"]) == (403, "media_not_allowed")
    await lily.send(type="product", offer_id="o_1", ref="p")
    assert (await answer_to(lily, "p"))["code"] == "media_not_allowed"

    await set_rules(live, room, members_post_media=True)
    allowed = await post(live, room, lily, picture, text="mine")
    assert allowed.status_code == 201, allowed.text
    await seen_line(host, allowed.json()["id"])

    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        mute = {"action": "mute", "customer_id": lily.customer_id, "minutes": 5}
        assert (await http.post(f"/rooms/{room}/moderation", json=mute, headers=ADMIN)).is_success
    muted = await post(live, room, lily, picture)
    assert (muted.status_code, muted.json()["code"]) == (403, "muted")
    await lily.send(type="link", url="https://example.com/a", ref="l")
    assert (await answer_to(lily, "l"))["code"] == "muted"

    # A moderator always may, whatever the rules.
    await set_rules(live, room, members_post_media=False)
    wei = await member_of(live, room, "Wei")
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        role = {"role": "moderator"}
        path = f"/rooms/{room}/members/{wei.customer_id}/role"
        assert (await http.put(path, json=role, headers=ADMIN)).is_success
    assert (await post(live, room, wei, picture)).status_code == 201
    for viewer in (host, lily, wei):
        await viewer.close()


async def test_posting_needs_a_viewer_token_of_the_room(live: str) -> None:
    room, other = await open_room(live), await open_room(live, "Other")
    stranger = await join(live, other, "Stranger")
    picture = plain_picture(RED)
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        anonymous = await http.post(
            f"/rooms/{room}/posts", data={"kind": "image"}, files={"file": ("x", picture)}
        )
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    for token in (stranger["token"], "test-admin", "not-a-token"):
        response = await post(live, room, token, picture)
        assert (response.status_code, response.json()["code"]) == (401, "invalid_token"), token
    host = await host_of(live, room)
    for form in ({"kind": "video"}, {}):
        async with httpx.AsyncClient(base_url=live, timeout=30) as http:
            bad = await http.post(
                f"/rooms/{room}/posts",
                headers={"Authorization": f"Bearer {host.grant['token']}"},
                data=form,
                files={"file": ("x", picture)},
            )
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_request")
    await host.close()


async def test_nobody_posts_when_banned_or_after_the_show(live: str) -> None:
    room = await open_room(live)
    spammer = await join(live, room, "Spam")
    await set_rules(live, room, members_post_media=True)
    picture = plain_picture(RED)
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        ban = {"action": "ban", "customer_id": spammer["customer_id"], "reason": "spam"}
        assert (await http.post(f"/rooms/{room}/moderation", json=ban, headers=ADMIN)).is_success
        banned = await post(live, room, spammer["token"], picture)
        assert (banned.status_code, banned.json()["code"]) == (403, "banned")
        host = await host_of(live, room)
        assert (await http.post(f"/rooms/{room}/end", headers=ADMIN)).is_success
    ended = await post(live, room, host, picture)
    assert (ended.status_code, ended.json()["code"]) == (409, "room_ended")
    await host.close()


async def test_the_rooms_rules_apply_to_captions(live: str) -> None:
    room = await open_room(live)
    lily = await member_of(live, room)
    await set_rules(live, room, members_post_media=True, blocked_words=["scam"], slow_mode_s=60)
    picture = plain_picture(RED)
    blocked = await post(live, room, lily, picture, text="no scam here")
    assert (blocked.status_code, blocked.json()["code"]) == (422, "blocked_blocked_word")
    ad = await post(live, room, lily, picture, text="add my wechat abc123")
    assert (ad.status_code, ad.json()["code"]) == (422, "blocked_ad")
    await lily.send(type="chat", text="hello", ref="c")
    await lily.wait_for(lambda f: f["type"] == "chat" and "hello" in str(f))
    slow = await post(live, room, lily, picture, text="again")
    assert (slow.status_code, slow.json()["code"]) == (429, "blocked_slow_mode")
    await lily.close()


async def test_a_caption_buys_only_when_it_reads_as_a_buy(
    live: str, nats_server: NatsServer
) -> None:
    room = await open_room(live)
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        assert (
            await http.post(f"/rooms/{room}/pin", json={"offer_id": "o_c"}, headers=ADMIN)
        ).is_success
    await set_rules(live, room, members_post_media=True, block_links=False)
    lily = await member_of(live, room)
    nc = await nats.connect(nats_server.url)
    claims: list[PlaceClaim] = []

    async def claimed(msg: Msg) -> None:
        claims.append(PlaceClaim.model_validate_json(msg.data))

    sub = await nc.subscribe(f"cmd.{room}.>", cb=claimed)
    picture = plain_picture(RED)
    for caption in ("", "look at this", "I bought 2 last week"):
        assert (await post(live, room, lily, picture, text=caption)).status_code == 201
    buy = await post(live, room, lily, picture, text="+2")
    assert buy.status_code == 201
    await lily.send(type="link", url="https://example.com/x", text="link for you", ref="l")
    await lily.wait_for(lambda f: f["type"] == "chat" and "link for you" in str(f))
    await lily.send(type="product", offer_id="o_c", text="+1", ref="p")  # unknown here
    assert (await answer_to(lily, "p"))["code"] == "unknown_offer"

    await lily.send(type="chat", text="+3")  # a claim after: everything before has arrived
    await eventually(lambda: _has(claims, 3))
    assert [(c.claim_id, c.quantity, c.offer_id) for c in claims] == [
        (buy.json()["id"], 2, "o_c"),
        (claims[1].claim_id, 3, "o_c"),
    ]
    await sub.unsubscribe()
    await nc.close()
    await lily.close()


async def _has(claims: list[PlaceClaim], quantity: int) -> bool:
    return any(c.quantity == quantity for c in claims)


# ---- links and product cards ------------------------------------------------------------


async def test_a_link_is_shown_never_fetched_and_members_follow_block_links(live: str) -> None:
    requests: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.read(1000))
        writer.close()

    trap = await asyncio.start_server(record, "127.0.0.1", 0)
    port = trap.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/internal/admin"
    room = await open_room(live)
    host, lily = await host_of(live, room), await member_of(live, room)

    await host.send(type="link", url=url, text="Our shop 店铺", ref="h")
    line = await said(lily, "Our shop 店铺")
    assert line["attachment"] == {"kind": "link", "url": url}
    assert (line["text"], line["customer_id"]) == ("Our shop 店铺", host.customer_id)

    await lily.send(type="link", url="https://cheap.example/spam", ref="m1")
    assert (await answer_to(lily, "m1"))["code"] == "blocked_link"
    await set_rules(live, room, block_links=False, blocked_words=["spam"])
    await lily.send(type="link", url="https://cheap.example/spam", ref="m2")
    assert (await answer_to(lily, "m2"))["code"] == "blocked_blocked_word"
    await lily.send(type="link", url="https://example.com/recipe", text="nice", ref="m3")
    await host.wait_for(lambda f: f["type"] == "chat" and "example.com/recipe" in str(f))
    await lily.send(type="link", url="javascript:alert(1)", ref="m4")
    assert (await answer_to(lily, "m4"))["code"] == "bad_frame"
    assert requests == []  # nothing ever asked for the host's link
    trap.close()
    for viewer in (host, lily):
        await viewer.close()


async def test_a_product_card_shows_an_offer_the_room_knows(
    live: str, nats_server: NatsServer
) -> None:
    room = await open_room(live)
    host, lily = await host_of(live, room), await member_of(live, room)
    nc = await nats.connect(nats_server.url)
    await EventPublisher(nc.jetstream()).publish(
        OfferOpened(
            room_id=room,
            offer_id="o_cherry",
            kind="flash_sale",
            title="Cherries 樱桃",
            price_cents=49900,
            stock=100,
            per_buyer_limit=2,
        )
    )
    await host.wait_for(lambda f: f["type"] == "offer" and f["offer"]["offer_id"] == "o_cherry")
    await host.send(type="product", offer_id="o_cherry", text="Look at this one", ref="p")
    card = (await said(lily, "Look at this one"))["attachment"]
    assert card == {
        "kind": "product",
        "offer_id": "o_cherry",
        "title": "Cherries 樱桃",
        "price_cents": 49900,
        "photo": None,
    }
    await host.send(type="product", offer_id="o_nowhere", ref="u")
    unknown = await answer_to(host, "u")
    assert (unknown["type"], unknown["code"]) == ("error", "unknown_offer")
    await nc.close()
    for viewer in (host, lily):
        await viewer.close()


# ---- the room's limit, and deletion -----------------------------------------------------


async def test_the_rooms_media_limit_counts_each_object_once_and_frees_on_delete(
    nats_server: NatsServer, database_url: str
) -> None:
    red, green = plain_picture(RED), plain_picture((30, 200, 30), size=420)
    limit = stored_bytes(red) + stored_bytes(green) - 1
    async with live_at(nats_server.url, database_url, room_media_max_bytes=limit) as (live, app):
        room = await open_room(live)
        host = await host_of(live, room)
        first = await post(live, room, host, red)
        again = await post(live, room, host, red)  # the same picture: stored once
        assert (first.status_code, again.status_code) == (201, 201)
        assert await app.room_media.usage(room) == stored_bytes(red)
        full = await post(live, room, host, green)
        assert (full.status_code, full.json()["code"]) == (409, "room_media_full")
        assert "limit" in full.json()["detail"]

        image = first.json()["attachment"]["image"]
        await host.send(type="moderate", action="delete", message_id=first.json()["id"], ref="d1")
        await answer_to(host, "d1")
        assert (await fetch(live, room, image["thumb"])).status_code == 200  # still shown
        await host.send(type="moderate", action="delete", message_id=again.json()["id"], ref="d2")
        await answer_to(host, "d2")
        assert (await fetch(live, room, image["thumb"])).status_code == 404
        assert await app.room_media.usage(room) == 0
        assert (await post(live, room, host, green)).status_code == 201
        await host.close()


async def test_a_deleted_media_line_is_gone_everywhere(live_db: str) -> None:
    live = live_db
    room = await open_room(live)
    host, lily = await host_of(live, room), await member_of(live, room)
    picture = await post(live, room, host, phone_photo(), text="going soon")
    clip = await post(live, room, host, voice_clip(2), kind="voice", text="and this")
    keep = await post(live, room, host, plain_picture(RED), text="stays")
    for response in (picture, clip, keep):
        assert response.status_code == 201, response.text
        await seen_line(lily, response.json()["id"])
    image = picture.json()["attachment"]["image"]
    voice = clip.json()["attachment"]["object"]

    await host.send(type="moderate", action="delete", message_id=picture.json()["id"], ref="d")
    await answer_to(host, "d")
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:  # the host's HTTP delete
        deleted = await http.post(
            f"/rooms/{room}/moderation",
            json={"action": "delete", "message_id": clip.json()["id"], "reason": "oops"},
            headers=ADMIN,
        )
        assert deleted.status_code == 204
    await lily.wait_for(kind("deleted", message_id=picture.json()["id"]))
    await lily.wait_for(kind("deleted", message_id=clip.json()["id"]))
    for name in (image["thumb"], image["card"], image["full"], voice):
        assert (await fetch(live, room, name)).status_code == 404, name
    kept = keep.json()["attachment"]["image"]["card"]
    assert (await fetch(live, room, kept)).status_code == 200
    newcomer = await member_of(live, room, "newcomer")
    welcome = next(f for f in newcomer.frames if f["type"] == "welcome")
    said = [(m["text"], (m["attachment"] or {}).get("kind")) for m in welcome["history"]]
    assert [s for s in said if s[1]] == [("stays", "image")]
    for viewer in (host, lily, newcomer):
        await viewer.close()


# ---- the groups' media, fetched after their line ------------------------------------------


async def store_group_picture(nc: Any, room: str, colour: tuple[int, int, int]) -> ImageSizes:
    """What ingest does with a group's photo: its sizes stored in ROOM_MEDIA under the room."""
    objects = Objects(nc.jetstream(), ROOM_MEDIA)
    picture = images.prepare(phone_photo(colour=colour), 10**7)
    names = {
        size: (await objects.put(jpeg, images.EXTENSION, images.CONTENT_TYPE, scope=room)).name
        for size, jpeg in picture.sizes.items()
    }
    return ImageSizes(
        **{size: name.split("/", 1)[1] for size, name in names.items()},
        width=picture.width,
        height=picture.height,
    )


def group_line(room: str, n: int, text: str = "") -> ChatMessagePosted:
    return ChatMessagePosted(
        room_id=room,
        customer_id=f"telegram:{n}",
        message_id=f"telegram:-100:{n}",
        display_name="Tg fan",
        text=text,
        source="telegram",
        attachment=PendingAttachment(media="image"),
    )


async def gone(live: str, room: str, name: str) -> bool:
    return (await fetch(live, room, name)).status_code == 404


async def test_a_groups_picture_arrives_after_its_line_counts_in_the_room_and_goes_with_it(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with live_at(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db") as (live, app):
        room = await open_room(live)
        host, lily = await host_of(live, room), await member_of(live, room)
        nc = await nats.connect(nats_server.url)
        publisher = EventPublisher(nc.jetstream())
        # What ingest does: the line first (pending), then the picture stored, then the event.
        line = group_line(room, 42, "look 看")
        await publisher.publish(line)
        pending = await seen_line(lily, line.message_id)
        assert pending["attachment"] == {"kind": "pending", "media": "image"}
        sizes = await store_group_picture(nc, room, (200, 200, 30))
        await publisher.publish(
            ChatMediaFetched(
                room_id=room, message_id=line.message_id, attachment=ImageAttachment(image=sizes)
            )
        )
        attached = await lily.wait_for(kind("attached", message_id=line.message_id))
        assert attached["attachment"] == {"kind": "image", "image": sizes.model_dump()}
        newcomer = await member_of(live, room, "newcomer")
        welcome = next(f for f in newcomer.frames if f["type"] == "welcome")
        merged = next(m for m in welcome["history"] if m["id"] == line.message_id)
        assert merged["attachment"] == attached["attachment"]
        assert (await fetch(live, room, sizes.card)).status_code == 200
        stored = {(await fetch(live, room, n)).content for n in (sizes.thumb, sizes.full)}
        in_room = sum(len(jpeg) for jpeg in stored)

        async def counted() -> bool:
            return await app.room_media.usage(room) == in_room

        await eventually(counted)  # the room's media counts the groups' too

        # A group line whose media could not be fetched: the line stays, without it.
        failed = group_line(room, 43, "lost")
        await publisher.publish(failed)
        await publisher.publish(
            ChatMediaFetched(
                room_id=room, message_id=failed.message_id, attachment=None, reason="too big"
            )
        )
        missed = await lily.wait_for(kind("attached", message_id=failed.message_id))
        assert (missed["attachment"], missed["reason"]) == (None, "too big")

        await host.send(type="moderate", action="delete", message_id=line.message_id, ref="d")
        await answer_to(host, "d")
        for name in (sizes.thumb, sizes.card, sizes.full):
            assert await gone(live, room, name)
        assert await app.room_media.usage(room) == 0
        last = await member_of(live, room, "last")
        history = next(f for f in last.frames if f["type"] == "welcome")["history"]
        assert [m["text"] for m in history if m["source"] == "telegram"] == ["lost"]
        assert next(m for m in history if m["text"] == "lost")["attachment"] is None
        await nc.close()
        for viewer in (host, lily, newcomer, last):
            await viewer.close()


async def test_media_fetched_for_a_line_deleted_meanwhile_is_deleted_on_arrival(
    nats_server: NatsServer, database_url: str
) -> None:
    async with live_at(nats_server.url, database_url) as (live, app):
        room = await open_room(live)
        host = await host_of(live, room)
        nc = await nats.connect(nats_server.url)
        publisher = EventPublisher(nc.jetstream())
        doomed, kept = group_line(room, 50, "spam pic"), group_line(room, 51, "same pic")
        for line in (doomed, kept):
            await publisher.publish(line)
            await seen_line(host, line.message_id)
        await host.send(type="moderate", action="delete", message_id=doomed.message_id, ref="d")
        await answer_to(host, "d")
        sizes = await store_group_picture(nc, room, (30, 200, 200))
        await publisher.publish(
            ChatMediaFetched(
                room_id=room, message_id=doomed.message_id, attachment=ImageAttachment(image=sizes)
            )
        )
        await eventually(lambda: gone(live, room, sizes.card))
        assert await app.room_media.usage(room) == 0

        # The same picture, for a line still standing, is kept and counted.
        sizes = await store_group_picture(nc, room, (30, 200, 200))
        await publisher.publish(
            ChatMediaFetched(
                room_id=room, message_id=kept.message_id, attachment=ImageAttachment(image=sizes)
            )
        )

        async def counted() -> bool:
            return await app.room_media.usage(room) > 0

        await eventually(counted)
        assert (await fetch(live, room, sizes.card)).status_code == 200
        await host.wait_for(kind("attached", message_id=kept.message_id))
        shown_doomed = kind("attached", message_id=doomed.message_id)
        assert not [f for f in host.frames if shown_doomed(f)]
        await nc.close()
        await host.close()


# ---- serving ----------------------------------------------------------------------------


async def test_only_stored_names_are_served(live: str) -> None:
    room = await open_room(live)
    digest = "a" * 64
    for name in (
        f"{digest}.jpg",  # well formed, never stored
        f"{digest.upper()}.jpg",
        "abc.jpg",
        f"{digest}.j",
        f"{digest}.jpg.exe",
        "..%2F..%2Fetc%2Fpasswd",
        f"{digest}",
    ):
        response = await fetch(live, room, name)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), name
    async with httpx.AsyncClient(base_url=live, timeout=30) as http:
        other_room = await http.get(f"/rooms/{'x' * 65}/media/{digest}.jpg")
    assert other_room.status_code in (404, 422)
