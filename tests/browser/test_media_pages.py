"""Pictures, voice clips, links and product cards on the pages, in a real browser against
the real services: orders' product photos (uploaded, stored, served), live's media posts
and the `attached` frames of a group's media, the viewer page under its own CSP (the
photos come from orders' origin), the console's photo panel and post composer.

Two sessions, each covering many things, so the suite stays quick: the viewer page (an
offer's photos full size, every kind of chat line, a Telegram photo arriving through
ingest from a local server speaking the Bot API's documented getFile and file download, a
deleted line going, 375 px and a laptop, axe) and the console (photos uploaded, refused,
moved, described, deleted; an image, a recorded voice clip, a link and a product card
posted, which a viewer then sees; the room's rules letting members post media, which a
member's page offers at once, and the member's picture the console sees)."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from shared.embedded_nats import NatsServer
from tests.browser.conftest import (
    LAPTOP,
    PHONE,
    Platform,
    join_as,
    needs_browser,
    running_platform,
    screenshot,
)
from tests.browser.media import ffmpeg
from tests.browser.test_accessibility import assert_no_severe, measure
from tests.browser.test_console import log_in
from tests.ingest import payloads
from tests.ingest.platforms import TELEGRAM_TOKEN, Platforms
from tests.live.client import TestViewer
from tests.support import eventually, serving

pytestmark = [pytest.mark.timeout(120), needs_browser]

OBJECT_URL = re.compile(r"/[0-9a-f]{64}\.jpg$")


# ---- things made for the test -------------------------------------------------------------


def photo(color: str, size: tuple[int, int] = (900, 600), kind: str = "JPEG") -> bytes:
    """A real picture, made here (a coloured field with a stripe, so it is not one colour)."""
    picture = Image.new("RGB", size, color)
    picture.paste("white", (0, size[1] // 3, size[0], size[1] // 3 + 40))
    out = io.BytesIO()
    picture.save(out, kind)
    return out.getvalue()


def voice_clip(folder: Path, seconds: float = 2.0) -> bytes:
    """A voice clip as a phone sends one: Ogg/Opus, made with the wheel's ffmpeg."""
    exe = ffmpeg()
    assert exe, "no ffmpeg (imageio-ffmpeg)"
    path = folder / "clip.ogg"
    subprocess.run(
        [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=330:duration={seconds}", "-c:a", "libopus", "-b:a", "32k", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


async def host_grant(platform: Platform, room: str) -> dict[str, Any]:
    """The host's seat in the room, as the console takes it (the admin token joins)."""
    return dict(
        await platform.call(
            "POST", f"{platform.live}/rooms/{room}/join", json={"display_name": "Host 主播"}
        )
    )


async def post_media(
    platform: Platform, room: str, token: str, kind: str, data: bytes, name: str, **form: str
) -> dict[str, Any]:
    answer = await platform.http.post(
        f"{platform.live}/rooms/{room}/posts",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, data)},
        data={"kind": kind, **form},
    )
    assert answer.status_code < 300, answer.text
    return dict(answer.json())


async def offer_with_photos(
    platform: Platform, room: str, title: str, photos: list[tuple[bytes, str]], pin: bool
) -> dict[str, Any]:
    """A product with its photos (uploaded to orders as the console does), then its open offer."""
    product = await platform.call("POST", f"{platform.orders}/products", json={"title": title})
    for data, alt in photos:
        await platform.call(
            "POST",
            f"{platform.orders}/products/{product['id']}/photos",
            files={"file": ("photo.jpg", data)},
            data={"alt": alt},
        )
    offer: dict[str, Any] = await platform.call(
        "POST",
        f"{platform.orders}/rooms/{room}/offers",
        json={"product_id": product["id"], "price_cents": 4990, "stock": 5, "duration_s": 600},
    )
    await platform.call("POST", f"{platform.orders}/offers/{offer['id']}/open")
    if pin:
        await platform.call(
            "POST", f"{platform.live}/rooms/{room}/pin", json={"offer_id": offer["id"]}
        )
    return offer


@pytest.fixture
async def group_platform(
    nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[tuple[Platform, Platforms]]:
    """The services, ingest fetching a group's media from a local server that answers as
    Telegram's Bot API does (getFile, then the file), retrying after a second."""
    telegram = Platforms()
    async with serving(telegram.app()) as url:
        telegram.base_url = url
        overrides = {
            "telegram_api_base": url,
            "telegram_bot_token": TELEGRAM_TOKEN,
            "media_retry_delays_s": (1.0, 1.0, 1.0),
        }
        async with running_platform(nats_server.url, tmp_path, True, overrides) as running:
            yield running, telegram


async def from_telegram(platform: Platform, update: dict[str, Any]) -> None:
    """A Telegram update, as the Bot API posts it to ingest's webhook."""
    answer = await platform.http.post(
        f"{platform.ingest}/webhooks/telegram",
        content=payloads.encode(update),
        headers=payloads.telegram_headers(),
    )
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


# ---- reading the page ---------------------------------------------------------------------


async def loaded(image: Any) -> bool:
    """The picture was fetched and decoded (under the page's CSP)."""
    return bool(await image.evaluate("i => i.complete && i.naturalWidth > 0"))


async def with_axe(page: Any, platform: Platform, axe_js: Path) -> None:
    """axe-core, served from the page's own origin so the page keeps its CSP (script-src
    'self'): these tests see the pictures load under the policy the pages really have."""
    url = f"{platform.live}/static/js/axe-under-test.js"
    await page.route(url, lambda route: route.fulfill(path=axe_js, content_type="text/javascript"))
    await page.add_script_tag(url=url)


def chat_line(page: Any, kind: str) -> Any:
    return page.locator(f"#messages > li.has-{kind}")


# ---- the viewer page ----------------------------------------------------------------------


async def test_the_viewer_sees_photos_plays_voice_and_opens_links_and_product_cards(
    group_platform: tuple[Platform, Platforms], browser: Any, axe_script: Path, tmp_path: Path
) -> None:
    platform, telegram = group_platform
    found: dict[str, Any] = {}
    room = await platform.live_room()
    await platform.call(
        "POST",
        f"{platform.ingest}/bindings",
        json={"platform": "telegram", "chat_id": str(payloads.GROUP_ID), "room_id": room},
    )
    pinned = await offer_with_photos(
        platform,
        room,
        "Cherries 樱桃",
        [(photo("darkred"), "Red cherries in a box"), (photo("green", (600, 900)), "The orchard")],
        pin=True,
    )
    other = await offer_with_photos(
        platform, room, "Pears 梨", [(photo("yellow"), "Three pears")], pin=False
    )
    host = await host_grant(platform, room)
    posted_image = await post_media(
        platform, room, host["token"], "image", photo("purple", (1200, 800)), "tree.jpg",
        text="Fresh today 今天新鲜", alt="Cherries on the tree",
    )  # fmt: skip
    await post_media(
        platform, room, host["token"], "voice", voice_clip(tmp_path), "clip.ogg", text=""
    )
    socket = await TestViewer.connect(platform.live, host)
    await socket.send(
        type="link", url="https://farm.example.com/cherries/orchard?utm=x", text="The farm 农场"
    )
    await socket.send(type="product", offer_id=other["id"], text="Look at this one 看这个")
    await socket.wait_for(lambda f: f["type"] == "chat" and "看这个" in str(f))
    await socket.close()

    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Lily 莉莉")
    await with_axe(page, platform, axe_script)

    # The pinned offer's first photo, from orders (allowed by the page's img-src).
    card = page.get_by_role("button", name="Open full size, 1/2: Red cherries in a box")
    await card.wait_for()
    card_image = card.locator("img")
    await eventually(lambda: loaded(card_image))
    assert (await card_image.get_attribute("src") or "").startswith(f"{platform.orders}/photos/")
    assert await card_image.get_attribute("alt") == "Red cherries in a box"
    assert await card_image.get_attribute("width") and await card_image.get_attribute("height")
    assert "240w" in (await card_image.get_attribute("srcset") or "")  # the thumb where small

    # Full size: both photos, by keyboard and by swipe; Escape closes, focus comes back.
    await card.click()
    viewer = page.locator("dialog.photo-viewer")
    full = viewer.locator("img.pv-image")
    await viewer.get_by_text("1 of 2").wait_for()
    await eventually(lambda: loaded(full))
    assert await full.get_attribute("alt") == "Red cherries in a box"
    first_full = await full.get_attribute("src")
    assert first_full and OBJECT_URL.search(first_full)
    await page.keyboard.press("ArrowRight")
    await viewer.get_by_text("2 of 2").wait_for()
    assert await full.get_attribute("alt") == "The orchard"
    box = await viewer.locator("figure").bounding_box()
    middle_y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.2, middle_y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.8, middle_y, steps=4)
    await page.mouse.up()
    await viewer.get_by_text("1 of 2").wait_for()  # swiped right: the previous one
    await measure(page, axe_script, "media-viewer-photos-open", found)
    await page.keyboard.press("Escape")
    await viewer.wait_for(state="hidden")
    assert await card.evaluate("b => document.activeElement === b")

    # A posted picture: its thumb in the line, lazy, sized; tapping opens the full size.
    chat = page.locator("#messages")
    image_line = chat.locator(f"li[data-id='{posted_image['id']}']")
    await image_line.get_by_text("Fresh today 今天新鲜").wait_for()
    open_image = image_line.get_by_role("button", name="Open full size: Cherries on the tree")
    thumb = open_image.locator("img")
    assert await thumb.get_attribute("loading") == "lazy"
    assert (await thumb.get_attribute("src") or "").startswith(f"/rooms/{room}/media/")
    await open_image.scroll_into_view_if_needed()
    await eventually(lambda: loaded(thumb))
    await open_image.click()
    await eventually(lambda: loaded(full))
    assert f"/rooms/{room}/media/" in (await full.get_attribute("src") or "")
    await page.keyboard.press("Escape")
    await viewer.wait_for(state="hidden")

    # A voice clip: a play button with its duration; it plays.
    play = chat.get_by_role("button", name="Play voice message 0:02")
    await play.scroll_into_view_if_needed()
    audio = chat_line(page, "voice").locator("audio")
    assert await audio.get_attribute("preload") == "none"
    await play.click()
    await eventually(lambda: _playing(audio), timeout=10)
    await chat.get_by_role("button", name=re.compile(r"^Pause voice message 0:0\d . 0:02$")).click()

    # A link is only a link: to its page, in a new tab, no referrer, not endorsed.
    link = chat.get_by_role("link", name="farm.example.com/cherries/orchard")
    assert await link.get_attribute("href") == "https://farm.example.com/cherries/orchard?utm=x"
    assert await link.get_attribute("target") == "_blank"
    assert await link.get_attribute("rel") == "noopener noreferrer nofollow ugc"
    await chat_line(page, "link").get_by_text("The farm 农场").wait_for()

    # A product card: its photo, title and price; it opens the offer to buy it there.
    product = chat_line(page, "product").get_by_role("button", name=re.compile("Pears 梨"))
    assert "49.90" in await product.inner_text()
    await eventually(lambda: loaded(product.locator("img")))
    await product.click()
    sheet = page.locator("#offer-sheet")
    await sheet.get_by_role("heading", name="Pears 梨").wait_for()
    await sheet.get_by_text("5 of 5 left").wait_for()
    await sheet.get_by_role("button", name="Buy now").click()
    await sheet.get_by_text(re.compile("It's yours!")).wait_for()
    await page.keyboard.press("Escape")
    await sheet.wait_for(state="hidden")
    orders = page.locator("#order-list li")
    await orders.filter(has_text="Pears 梨").wait_for()
    assert pinned["id"] != other["id"]

    # A photo in the bound Telegram group: its line comes at once, the picture when ingest
    # has it (Telegram is down for its first two tries here); a voice note Telegram no
    # longer has says it could not be fetched.
    telegram.telegram_file("PHOTO-1", photo("orange", (600, 800)), "photos/file_1.jpg")
    telegram.fail_first("PHOTO-1", 502, 502)
    await from_telegram(
        platform, payloads.telegram_photo("PHOTO-1", caption="from the group 群里的")
    )
    pending = chat.locator("li").filter(has_text="from the group 群里的")
    await pending.get_by_text("Photo arriving…").wait_for()
    await pending.locator(".source").filter(has_text="telegram").wait_for()
    arrived = pending.get_by_role("button", name="Open full size: Photo from Lily Wang")
    await arrived.wait_for(timeout=15_000)
    await eventually(lambda: loaded(arrived.locator("img")))
    assert await pending.get_by_text("Photo arriving…").count() == 0
    assert telegram.asked("getFile", "PHOTO-1") == 3  # two failures, then the file
    await from_telegram(platform, payloads.telegram_voice("VOICE-GONE", caption="语音 voice"))
    lost = chat.locator("li").filter(has_text="语音 voice")
    await lost.get_by_text("The voice message could not be fetched.").wait_for(timeout=15_000)

    # The phone's width holds all of it; so does a laptop; axe finds nothing serious.
    await screenshot(page, "media-viewer-phone")
    await measure(page, axe_script, "media-viewer-phone-en", found)

    # The host deletes the picture: it goes from the page, and from where it was served.
    served = f"{platform.live}{await thumb.get_attribute('src')}"
    assert (await platform.http.get(served)).status_code == 200
    await platform.call(
        "POST",
        f"{platform.live}/rooms/{room}/moderation",
        json={"action": "delete", "message_id": posted_image["id"], "reason": "wrong photo"},
    )
    await image_line.wait_for(state="detached")
    await eventually(lambda: _status(platform, served, 404))

    await page.locator("#lang").select_option("zh")
    await chat.get_by_role("button", name=re.compile(r"^播放语音 0:0\d( . 0:02)?$")).wait_for()
    await page.set_viewport_size(LAPTOP["viewport"])
    await screenshot(page, "media-viewer-laptop-zh")
    await measure(page, axe_script, "media-viewer-laptop-zh", found)
    assert_no_severe(found)
    assert platform.page_errors == []


async def _playing(audio: Any) -> bool:
    return bool(await audio.evaluate("a => !a.paused && a.currentTime > 0.3"))


async def _status(platform: Platform, url: str, wanted: int) -> bool:
    return (await platform.http.get(url)).status_code == wanted


# ---- the console --------------------------------------------------------------------------


async def test_the_console_manages_product_photos_and_posts_media_a_viewer_sees(
    full_platform: Platform, browser: Any, axe_script: Path, tmp_path: Path
) -> None:
    platform = full_platform
    found: dict[str, Any] = {}
    room = await platform.live_room("Dress drop 连衣裙")
    console = platform.watch(
        await (await browser.new_context(**LAPTOP, permissions=["microphone"])).new_page()
    )
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room}")
    await console.get_by_role("heading", name="Dress drop 连衣裙").wait_for()

    # A product, then its photos: three uploaded at once (JPEG, PNG, WebP), one refused.
    await console.get_by_label("New product").fill("Dress 连衣裙")
    await console.get_by_role("button", name="Add to catalog").click()
    panel = console.locator("#photos")
    await panel.get_by_label("Photos of").select_option(label="Dress 连衣裙")
    files = []
    for color, kind, ext in (
        ("red", "JPEG", "jpg"),
        ("green", "PNG", "png"),
        ("blue", "WEBP", "webp"),
    ):
        path = tmp_path / f"{color}.{ext}"
        path.write_bytes(photo(color, kind=kind))
        files.append(path)
    await panel.get_by_label("Add photos").set_input_files(files)
    await panel.get_by_text("Photos added: 3.").wait_for()
    thumbs = panel.locator("#photo-list li img")
    await eventually(lambda: all_loaded(thumbs, 3))  # from orders, under the page's CSP
    product_id = await console.evaluate("document.getElementById('photos-product').value")
    before = await photos_of(platform, product_id)
    assert len(before) == 3

    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a picture at all")
    await panel.get_by_label("Add photos").set_input_files([fake])
    refusal = panel.get_by_role("alert")
    await refusal.filter(has_text=re.compile(r"^notes\.jpg: .{8,}")).wait_for()  # orders' reason

    # Move the second one first (a button), drag the last one onto the second, describe the
    # first, delete the last.
    await panel.get_by_role("button", name="Move photo 2 earlier").click()
    await panel.get_by_text("Moved: now photo 1.").wait_for()
    moved = await photos_of(platform, product_id)
    assert [p["id"] for p in moved] == [before[1]["id"], before[0]["id"], before[2]["id"]]
    items = panel.locator("#photo-list > li")
    corner = {"x": 20, "y": 20}  # on the picture (a drag from the text box selects text)
    await items.nth(2).drag_to(items.nth(1), source_position=corner, target_position=corner)
    await panel.get_by_text("Moved: now photo 2.").wait_for()
    dragged = await photos_of(platform, product_id)
    assert [p["id"] for p in dragged] == [before[1]["id"], before[2]["id"], before[0]["id"]]
    await panel.get_by_label("Description of photo 1").fill("Green dress, front 正面")
    await panel.get_by_role("button", name="Save photo 1's description").click()
    await panel.get_by_text("Description of photo 1 saved.").wait_for()
    await panel.get_by_role("button", name="Delete photo 3").click()
    await panel.get_by_text("Photo 3 deleted.").wait_for()
    await eventually(lambda: all_loaded(thumbs, 2))
    kept = await photos_of(platform, product_id)
    assert [(p["id"], p["alt"]) for p in kept] == [
        (before[1]["id"], "Green dress, front 正面"),
        (before[2]["id"], ""),
    ]
    await measure_console(console, platform, axe_script, found)

    # A member on a phone: only text while the rules keep media to the host.
    viewer = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(viewer, f"{platform.live}/r/{room}", "Lily 莉莉")
    await with_axe(viewer, platform, axe_script)
    attach = viewer.locator("#attach")
    assert await attach.is_hidden()

    # The room's rules may let members post media too: the member's page offers it at once.
    await console.get_by_text("Group rules", exact=True).click()
    await console.get_by_label("Members may post photos, voice clips and product cards").check()
    await console.get_by_role("button", name="Save rules").click()
    await console.get_by_text("Rules saved.").wait_for()
    rules = (await platform.call("GET", f"{platform.live}/rooms/{room}"))["rules"]
    assert rules["members_post_media"] is True and rules["block_links"] is True
    member_attach = viewer.get_by_role("button", name="Post a photo, voice clip or product")
    await member_attach.wait_for()

    # The offer of it in the lineup carries its first photo; pinned and open.
    await console.get_by_label("Product", exact=True).select_option(label="Dress 连衣裙")
    await console.get_by_label("Stock", exact=True).fill("5")
    await console.get_by_role("button", name="Add to the lineup").click()
    row = console.locator("#lineup-rows tr").filter(has_text="Dress 连衣裙")
    await eventually(lambda: loaded(row.locator("img.lineup-thumb")))
    await row.get_by_role("button", name=re.compile("^Pin")).click()
    await row.get_by_text("Pinned").wait_for()
    await row.get_by_role("button", name=re.compile("^Open sale")).click()
    await row.get_by_text("Open", exact=True).wait_for()

    await viewer.get_by_role(
        "button", name="Open full size, 1/2: Green dress, front 正面"
    ).wait_for()
    chat = viewer.locator("#messages")

    # Post a photo with its caption and description.
    post = console.locator("#post")
    await post.get_by_label("Photo", exact=True).check()
    await post.locator("#post-image").set_input_files(files[0])
    await post.get_by_label("Description (for people who cannot see it)").fill("Red dress 红裙")
    await post.get_by_label("Caption (optional)").fill("New colour 新颜色")
    await post.get_by_role("button", name="Post", exact=True).click()
    await post.get_by_text("Photo posted.").wait_for()
    shown = chat.get_by_role("button", name="Open full size: Red dress 红裙")
    await shown.wait_for()
    await chat.get_by_text("New colour 新颜色").wait_for()

    # Record a voice clip (the browser's fake microphone), listen, post it.
    await post.get_by_label("Voice clip").check()
    await post.get_by_role("button", name="● Record").click()
    timer = post.get_by_role("timer")
    await timer.filter(has_text=re.compile(r"^0:0[1-9] / 1:00$")).wait_for()
    await post.get_by_role("button", name="■ Stop").click()
    await post.get_by_text(re.compile(r"^Recorded 0:0\d")).wait_for()
    await post.get_by_role("button", name="Post", exact=True).click()
    await post.get_by_text("Voice clip posted.").wait_for()
    await chat.get_by_role("button", name=re.compile(r"^Play voice message 0:0\d$")).wait_for()

    # A link, then a product card of the offer.
    await post.get_by_label("Link", exact=True).check()
    await post.get_by_label("Link (https://…)").fill("https://shop.example.com/dress/size-guide")
    await post.get_by_label("Caption (optional)").fill("Sizes 尺码表")
    await post.get_by_role("button", name="Post", exact=True).click()
    await chat.get_by_role("link", name="shop.example.com/dress/size-guide").wait_for()
    await post.get_by_label("Product card").check()
    await post.get_by_label("Offer", exact=True).select_option(index=1)
    await post.get_by_role("button", name="Post", exact=True).click()
    card = chat.get_by_role("button", name=re.compile("Dress 连衣裙"))
    await card.wait_for()
    await eventually(lambda: loaded(card.locator("img")))
    # The pinned one: the card takes the viewer to the buy button.
    await card.click()
    assert await viewer.evaluate("document.activeElement.id") == "buy"

    # The console shows the posts too, and fits a phone.
    console_chat = console.locator("#console-messages")
    await console_chat.get_by_role("link", name="shop.example.com/dress/size-guide").wait_for()
    await console_chat.get_by_role("button", name="Open full size: Red dress 红裙").wait_for()

    # The member posts a picture from the phone (the console's composer, offering what the
    # rules allow: no link); the console, another viewer of the room, sees it.
    await member_attach.click()
    sheet = viewer.get_by_role("dialog", name="Post to the room")
    assert await sheet.get_by_label("Photo", exact=True).is_checked()
    assert await sheet.get_by_label("Photo", exact=True).evaluate(
        "r => r === document.activeElement"
    )
    assert await sheet.get_by_label("Product card").is_visible()
    assert await sheet.get_by_label("Link", exact=True).is_hidden()
    await sheet.locator("#post-image").set_input_files(files[1])
    await sheet.get_by_label("Description (for people who cannot see it)").fill("Mine, green 绿色")
    await sheet.get_by_label("Caption (optional)").fill("Mine came today 到货了")
    await measure(viewer, axe_script, "media-viewer-composer-phone", found)
    await screenshot(viewer, "media-viewer-composer-phone")
    await sheet.get_by_role("button", name="Post", exact=True).click()
    await sheet.wait_for(state="hidden")
    await viewer.get_by_text("Photo posted.").wait_for()
    assert await member_attach.evaluate("b => b === document.activeElement")
    await console_chat.get_by_role("button", name="Open full size: Mine, green 绿色").wait_for()
    await console_chat.get_by_text("Mine came today 到货了").wait_for()
    await chat.get_by_role("button", name="Open full size: Mine, green 绿色").wait_for()
    await screenshot(viewer, "media-viewer-posts-phone")
    # On a laptop, the composer open on a voice clip; the rules taken back meanwhile close
    # it and take the button away, without a reload.
    await viewer.set_viewport_size(LAPTOP["viewport"])
    await member_attach.click()
    await sheet.get_by_label("Voice clip").check()
    await sheet.get_by_role("button", name="● Record").wait_for()
    await screenshot(viewer, "media-viewer-composer-laptop")
    await measure(viewer, axe_script, "media-viewer-composer-laptop", found)
    await platform.call(
        "PUT", f"{platform.live}/rooms/{room}/rules", json={"members_post_media": False}
    )
    await sheet.wait_for(state="hidden")
    await member_attach.wait_for(state="hidden")
    await viewer.get_by_text(
        "The room's rules changed: you can no longer post that here."
    ).wait_for()
    await console.set_viewport_size(PHONE["viewport"])
    await screenshot(console, "media-console-phone")
    assert_no_severe(found)
    assert platform.page_errors == []


async def measure_console(
    console: Any, platform: Platform, axe_js: Path, found: dict[str, Any]
) -> None:
    await with_axe(console, platform, axe_js)
    await measure(console, axe_js, "media-console-laptop-en", found)


async def photos_of(platform: Platform, product_id: str) -> list[dict[str, Any]]:
    answer = await platform.call("GET", f"{platform.orders}/products/{product_id}/photos")
    return list(answer if isinstance(answer, list) else answer["photos"])


async def all_loaded(images: Any, n: int) -> bool:
    """Exactly `n` pictures there, each fetched and decoded."""
    return bool(await images.count() == n) and all([await loaded(images.nth(i)) for i in range(n)])
