"""The pages' video in a real browser, with live's media answers stood in for: the wheel's
ffmpeg writes HLS into a folder (as the media process does), the browser's requests for
the room's playback, stream settings, replay and HLS files are answered from the test
(docs: VIDEO-CONTRACT shapes), and `stream` frames are handed to the page's socket
handler. What runs is the real viewer page, replay page and console, under their CSP.
The whole path (encoder -> SRT -> media process -> live) is test_video_e2e.py."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LAPTOP, PHONE, Platform, join_as, needs_browser, screenshot
from tests.browser.media import ffmpeg, live_hls, recorded_hls, serve_folder, stopped_at_exit
from tests.browser.test_console import log_in
from tests.support import eventually

pytestmark = [
    pytest.mark.timeout(90),
    needs_browser,
    pytest.mark.skipif(ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg is not installed)"),
]

WEB = Path(__file__).resolve().parents[2] / "services" / "live" / "web"
KEY = "k3Y_" + "x" * 28


def playback(room: str, state: str = "live", **more: Any) -> dict[str, Any]:
    return {
        "state": state,
        "source": "encoder",
        "url": f"/rooms/{room}/hls/live.m3u8",
        "youtube_video_id": None,
        "since": "2026-01-01T20:00:00Z" if state != "offline" else None,
        "replay_url": f"/rooms/{room}/hls/replay.m3u8",
        **more,
    }


class Answers:
    """JSON answers for some of live's routes, changeable while the page runs."""

    def __init__(self) -> None:
        self.bodies: dict[str, Any] = {}
        self.requests: list[tuple[str, str, Any]] = []

    async def install(self, context: Any, pattern: str, key: str, body: Any) -> None:
        self.bodies[key] = body

        async def handle(route: Any) -> None:
            request = route.request
            sent = request.post_data_json if request.method in ("POST", "PUT") else None
            self.requests.append((request.method, key, sent))
            answer = self.bodies[key]
            if callable(answer):
                answer = answer(request.method, sent)
            status, payload = answer if isinstance(answer, tuple) else (200, answer)
            await route.fulfill(
                status=status, body=json.dumps(payload), content_type="application/json"
            )

        await context.route(pattern, handle)


async def send_frame(page: Any, frame: dict[str, Any]) -> None:
    """A frame as if it came on the room's websocket."""
    await page.evaluate("(frame) => window.qunliveViewer.socket.onFrame(frame)", frame)


async def video_plays(page: Any, selector: str = "#video", timeout: float = 25) -> None:
    """The picture moves: currentTime advances by over a second and the video has a size."""
    start = await page.evaluate(f"document.querySelector('{selector}').currentTime")

    async def moving() -> bool:
        now, width = await page.evaluate(
            f"(() => {{ const v = document.querySelector('{selector}');"
            " return [v.currentTime, v.videoWidth]; })()"
        )
        return bool(now > start + 1 and width > 0)

    await eventually(moving, timeout=timeout, interval=0.2)


async def player_state(page: Any) -> str:
    return str(await page.evaluate("window.qunlivePlayer.state"))


def in_state(page: Any, wanted: str) -> Callable[[], Any]:
    async def probe() -> bool:
        return await player_state(page) == wanted

    return probe


def _clear(folder: Path) -> None:
    for stale in folder.iterdir():
        stale.unlink()


async def hls_ready(folder: Path) -> bool:
    playlist = folder / "live.m3u8"
    return playlist.exists() and playlist.read_text().count("#EXTINF") >= 2


async def test_the_viewer_page_plays_the_show_keeps_the_picture_when_the_encoder_drops_and_ends(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    room = await platform.live_room()
    hls = tmp_path / "hls"
    encoder = live_hls(hls, tmp_path / "ffmpeg.log").start()
    with stopped_at_exit(encoder):
        await eventually(lambda: hls_ready(hls), timeout=20)
        context = await browser.new_context(**PHONE)
        answers = Answers()
        await answers.install(context, f"**/rooms/{room}/playback", "playback", playback(room))
        await serve_folder(context, f"**/rooms/{room}/hls/*", hls)
        page = platform.watch(await context.new_page())
        await join_as(page, f"{platform.live}/r/{room}?debug=1", "Lily 莉莉")

        # Muted autoplay, with a visible way to turn the sound on.
        await video_plays(page)
        assert await player_state(page) == "live"
        video = page.locator("#video")
        assert await video.evaluate("v => v.muted && v.playsInline && v.autoplay")
        assert await video.get_attribute("aria-label") == "The host's live video"
        latency = await page.evaluate("window.qunlivePlayer.latencyS")
        assert isinstance(latency, int | float) and 0 < latency < 15, latency
        engine = await page.evaluate("window.qunlivePlayer.stats().engine")
        assert engine == "hls.js"
        await page.locator("#stage-badge").wait_for()
        # The debug corner (?debug=1) shows what the player measures.
        await (
            page.locator("#debug-latency").filter(has_text=re.compile(r"^\d+\.\d\d s$")).wait_for()
        )
        await page.locator("#debug-bitrate").filter(has_text=re.compile(r"kbit/s$")).wait_for()
        assert await page.locator("#debug-resolution").inner_text() == "640×360"
        await screenshot(page, "video-viewer-phone-live")
        await page.get_by_role("button", name="Tap to unmute").click()
        assert not await video.evaluate("v => v.muted")
        await page.get_by_role("button", name="Tap to unmute").wait_for(state="hidden")

        # The encoder drops: the last picture stays, the page says it is reconnecting.
        encoder.kill()
        await send_frame(page, {"type": "stream", **playback(room, "reconnecting")})
        await page.get_by_text("Reconnecting to the video…").wait_for()
        assert await player_state(page) == "reconnecting"
        assert await video.evaluate("v => v.videoWidth > 0")  # the last frame, not a black box

        # It comes back: a new take, written afresh (as the media process does), and the
        # room says live again once its first segments are there. The page plays again.
        _clear(hls)
        encoder = live_hls(hls, tmp_path / "ffmpeg.log").start()
        with stopped_at_exit(encoder):
            await eventually(lambda: hls_ready(hls), timeout=20)
            await send_frame(page, {"type": "stream", **playback(room, "live")})
            await eventually(in_state(page, "live"), timeout=25, interval=0.2)
            await video_plays(page)
            await page.get_by_text("Reconnecting to the video…").wait_for(state="hidden")

            # The show ends: the room's ended frame, then the stream's.
            await platform.call("POST", f"{platform.live}/rooms/{room}/end")
            await page.get_by_text("The show has ended", exact=True).wait_for()
            assert await player_state(page) == "ended"
            replay = page.get_by_role("link", name="Watch the replay")
            assert await replay.get_attribute("href") == f"/r/{room}/replay"
    assert platform.page_errors == []


async def test_the_player_recovers_by_itself_when_the_playlist_goes_and_comes_back(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    """No stream frame at all (a hosted HLS source has none): hls.js' errors and a frozen
    picture are enough to say reconnecting, and the player finds the new take itself."""
    room = await platform.live_room()
    hls = tmp_path / "hls"
    encoder = live_hls(hls, tmp_path / "ffmpeg.log").start()
    with stopped_at_exit(encoder):
        await eventually(lambda: hls_ready(hls), timeout=20)
        context = await browser.new_context(**LAPTOP)
        answers = Answers()
        await answers.install(context, f"**/rooms/{room}/playback", "playback", playback(room))
        await serve_folder(context, f"**/rooms/{room}/hls/*", hls)
        page = platform.watch(await context.new_page())
        await join_as(page, f"{platform.live}/r/{room}", "Bob")
        await video_plays(page)
        await screenshot(page, "video-viewer-laptop-live")

        encoder.kill()
        _clear(hls)  # the take is gone: the playlist answers 404
        await eventually(in_state(page, "reconnecting"), timeout=20, interval=0.2)
        await page.get_by_text("Reconnecting to the video…").wait_for()

        encoder = live_hls(hls, tmp_path / "ffmpeg.log").start()
        with stopped_at_exit(encoder):
            await eventually(in_state(page, "live"), timeout=40, interval=0.2)
            await video_plays(page)
    # hls.js says why it retried on the console (network errors on the missing playlist).
    assert [e for e in platform.page_errors if "hls" not in e.lower()] == []


async def test_pin_and_offer_cards_wait_for_the_video_and_not_when_it_stops(
    platform: Platform, browser: Any
) -> None:
    """The fairness rule: a pin arrives L seconds before the viewer sees the host do it on
    video, so the page shows it L seconds late; when the video stops, at once."""
    room = await platform.live_room()
    context = await browser.new_context(**PHONE)
    answers = Answers()
    await answers.install(
        context, f"**/rooms/{room}/playback", "playback", playback(room, "offline", url=None)
    )
    page = platform.watch(await context.new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Mei 阿梅")
    await page.get_by_text("The host's video starts soon").wait_for()
    assert await page.evaluate("window.qunlivePlayer.inStepS") == 0

    # Offline: a pin shows at once.
    await platform.offer(room, title="Mangoes 芒果")
    await page.get_by_role("heading", name="Mangoes 芒果").wait_for(timeout=3000)

    # As if a live video played 2.5 s behind the host.
    await page.evaluate("window.qunliveViewer.inStep.delayS = () => 2.5")
    started = time.monotonic()
    await platform.offer(room, title="Cherries 樱桃")
    await page.get_by_role("heading", name="Cherries 樱桃").wait_for(timeout=8000)
    assert time.monotonic() - started >= 2.4
    # The cap: never more than 10 s, whatever the latency says.
    assert (
        await page.evaluate(
            "(() => { window.qunliveViewer.inStep.delayS = () => 60;"
            " return window.qunliveViewer.inStep.currentDelayMs(); })()"
        )
        == 10_000
    )

    # Waiting, then the video stops (reconnecting): the card shows now, not 10 s later.
    started = time.monotonic()
    await platform.offer(room, title="Durian 榴莲")
    await eventually(lambda: page.evaluate("window.qunliveViewer.inStep.pending === 1"))
    await send_frame(page, {"type": "stream", **playback(room, "reconnecting")})
    await page.get_by_role("heading", name="Durian 榴莲").wait_for(timeout=5000)
    assert time.monotonic() - started < 8
    assert platform.page_errors == []


async def test_a_youtube_source_plays_in_the_official_embed(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    # The room's CSP allows YouTube's embed for this room (the lead's route); the embed
    # itself is answered here, this machine has no way out.
    context = await browser.new_context(**PHONE, bypass_csp=True)
    answers = Answers()
    source = playback(room, source="youtube", url=None, youtube_video_id="dQw4w9WgXcQ")
    await answers.install(context, f"**/rooms/{room}/playback", "playback", source)
    await context.route(
        "https://www.youtube-nocookie.com/**",
        lambda route: route.fulfill(
            body="<!doctype html><title>YouTube</title>", content_type="text/html"
        ),
    )
    page = platform.watch(await context.new_page())
    await join_as(page, f"{platform.live}/r/{room}", "Ana")
    frame = page.locator("#stage iframe")
    await frame.wait_for()
    src = await frame.get_attribute("src")
    assert src and src.startswith("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?")
    for part in ("autoplay=1", "mute=1", "playsinline=1"):
        assert part in src
    assert await frame.get_attribute("title") == "The host's live video"
    await eventually(in_state(page, "live"))
    assert await page.evaluate("window.qunlivePlayer.inStepS") == 0  # no latency known
    assert platform.page_errors == []


async def test_the_replay_page_plays_the_recording_and_its_chapters_seek(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    room = await platform.live_room("Mango night 芒果专场")
    await platform.call("POST", f"{platform.live}/rooms/{room}/end")
    recorded_hls(tmp_path / "replay", 12, tmp_path / "ffmpeg.log")
    context = await browser.new_context(**PHONE)
    answers = Answers()
    chapters = [
        {"at_s": 2.0, "kind": "pinned", "offer_id": "o1", "title": "Mangoes 芒果", "at": None},
        {"at_s": 5.0, "kind": "opened", "offer_id": "o1", "title": "Mangoes 芒果", "at": None},
        {"at_s": 9.0, "kind": "sold_out", "offer_id": "o1", "title": "Mangoes 芒果", "at": None},
    ]
    body = {"url": f"/rooms/{room}/hls/replay.m3u8", "chapters": chapters}
    await answers.install(context, f"**/rooms/{room}/replay", "replay", body)
    await serve_folder(context, f"**/rooms/{room}/hls/*", tmp_path / "replay")
    await _replay_route(context, platform, room)
    page = platform.watch(await context.new_page())
    await page.goto(f"{platform.live}/r/{room}/replay")
    await page.get_by_role("heading", name="Mango night 芒果专场").wait_for()
    buttons = page.locator("#chapters button")
    await buttons.nth(2).wait_for()
    assert [t.strip() for t in await buttons.all_inner_texts()] == [
        "0:02\nPinned\nMangoes 芒果",
        "0:05\nSale opened\nMangoes 芒果",
        "0:09\nSold out\nMangoes 芒果",
    ]
    await eventually(lambda: page.evaluate("document.getElementById('video').duration > 10"))
    assert await page.locator("#timeline .mark").count() == 3
    await page.get_by_role("button", name=re.compile("Sold out")).click()
    await eventually(
        lambda: page.evaluate(
            "(() => { const v = document.getElementById('video');"
            " return v.currentTime >= 9 && !v.paused && v.videoWidth > 0; })()"
        ),
        timeout=15,
    )
    await (
        page.get_by_role("button", name=re.compile("Sold out"))
        .and_(page.locator("[aria-current=true]"))
        .wait_for()
    )
    await screenshot(page, "video-replay-phone")
    await page.locator("#lang").select_option("zh")
    await page.get_by_role("button", name=re.compile("售罄")).wait_for()
    assert platform.page_errors == []


async def test_the_replay_page_says_when_nothing_was_recorded(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    context = await browser.new_context(**PHONE)
    answers = Answers()
    missing = (
        404,
        {"type": "about:blank", "title": "Not Found", "status": 404, "code": "no_replay"},
    )
    await answers.install(context, f"**/rooms/{room}/replay", "replay", missing)
    await _replay_route(context, platform, room)
    page = platform.watch(await context.new_page())
    await page.goto(f"{platform.live}/r/{room}/replay")
    await page.get_by_role("heading", name="No replay yet").wait_for()
    assert (
        await page.get_by_role("link", name="Back to the room").get_attribute("href")
        == f"/r/{room}"
    )


async def _replay_route(context: Any, platform: Platform, room: str) -> None:
    """Until live serves /r/{id}/replay itself, the page's file is handed out here, with the
    viewer page's headers (its CSP)."""
    probe = await platform.http.get(f"{platform.live}/r/{room}/replay")
    if probe.status_code == 200:
        return
    headers = dict((await platform.http.get(f"{platform.live}/r/{room}")).headers)
    page_headers = {
        k: v
        for k, v in headers.items()
        if k.lower() not in {"content-length", "etag", "last-modified"}
    }

    async def handle(route: Any) -> None:
        await route.fulfill(
            status=200, body=(WEB / "replay.html").read_text(), headers=page_headers
        )

    await context.route(f"**/r/{room}/replay", handle)


def stream_settings(room: str, **more: Any) -> dict[str, Any]:
    return {
        "state": "live",
        "source": "encoder",
        "publish": [
            {
                "protocol": "srt",
                "url": f"srt://127.0.0.1:9710?passphrase={KEY}&pbkeylen=16",
                "server": "srt://127.0.0.1:9710",
                "stream_key": KEY,
                "note": "OBS: Settings > Stream > Custom, the whole URL as the server.",
            }
        ],
        "key_version": 1,
        "recommended": {
            "video_codec": "H.264",
            "keyframe_interval_s": 1,
            "video_bitrate_kbps": 2500,
            "resolution": "720x1280",
            "fps": 30,
            "audio": "AAC 128 kbps",
        },
        "incoming": {
            "video_codec": "h264",
            "audio_codec": "aac",
            "width": 640,
            "height": 360,
            "fps": 25.0,
            "bitrate_kbps": 812.4,
            "keyframe_interval_s": 4.0,
        },
        "warnings": ["keyframe interval 4.0 s is over 2 s: viewers lag behind"],
        "playback_url": f"/rooms/{room}/hls/live.m3u8",
        "hosted_url": None,
        "youtube_video_id": None,
        **more,
    }


async def test_the_console_stream_panel_hides_the_key_rotates_it_and_shows_the_encoder(
    full_platform: Platform, browser: Any, tmp_path: Path
) -> None:
    platform = full_platform
    room = await platform.live_room("Dress drop 连衣裙")
    hls = tmp_path / "hls"
    encoder = live_hls(hls, tmp_path / "ffmpeg.log").start()
    with stopped_at_exit(encoder):
        await eventually(lambda: hls_ready(hls), timeout=20)
        context = await browser.new_context(**LAPTOP)
        answers = Answers()
        new_key = "n3w_" + "y" * 28
        settings = stream_settings(room)

        def stream(method: str, sent: Any) -> Any:
            return settings

        def rotated(method: str, sent: Any) -> Any:
            publish = [
                {**p, "stream_key": new_key, "url": p["url"].replace(KEY, new_key)}
                for p in settings["publish"]
            ]
            settings.update(publish=publish, key_version=2)
            return settings

        def source(method: str, sent: Any) -> Any:
            settings.update(
                source=sent["source"], hosted_url=sent["url"], publish=[], state="offline"
            )
            return settings

        await answers.install(context, f"**/rooms/{room}/stream", "stream", stream)
        await answers.install(context, f"**/rooms/{room}/stream/key", "key", rotated)
        await answers.install(context, f"**/rooms/{room}/stream/source", "source", source)
        await serve_folder(context, f"**/rooms/{room}/hls/*", hls)
        console = platform.watch(await context.new_page())
        await log_in(console, f"{platform.live}/console")
        await console.goto(f"{platform.live}/console#{room}")
        panel = console.locator("#stream")
        await panel.get_by_role("heading", name="Publish with SRT").wait_for()

        # The key and the full address are hidden until asked for.
        key = panel.get_by_role("textbox", name="Stream key")
        assert await key.get_attribute("type") == "password"
        full = panel.get_by_role("textbox", name="Full address (with the key)")
        assert await full.get_attribute("type") == "password"
        server = panel.get_by_role("textbox", name="Server")
        assert await server.input_value() == "srt://127.0.0.1:9710"
        await panel.get_by_role("button", name="Show: Stream key").click()
        assert await key.get_attribute("type") == "text"
        assert await key.input_value() == KEY

        # What the encoder sends, and the warning about its keyframes, in plain sight.
        warning = panel.get_by_role("alert").filter(has_text="Keyframe interval 4.0 s is over 2 s")
        await warning.wait_for()
        assert await console.locator("#in-resolution").inner_text() == "640×360"
        assert await console.locator("#in-keyframes").inner_text() == "4.0 s"
        assert await console.locator("#in-bitrate").inner_text() == "812 kbit/s"
        assert await console.locator("#rec-resolution").inner_text() == "720×1280"

        # The preview plays the room's video.
        await video_plays(console, "#stream-preview")

        # Polled every ~2 s while open: a fixed encoder clears the warning.
        settings["incoming"] = {**settings["incoming"], "keyframe_interval_s": 1.0}
        settings["warnings"] = []
        await warning.wait_for(state="detached", timeout=6000)

        # Rotate, confirmed: a new key (hidden again).
        console.once("dialog", lambda dialog: dialog.accept())
        await panel.get_by_role("button", name="Rotate the key").click()
        await panel.get_by_text("New key made: put it in your encoder.").wait_for()
        await eventually(lambda: _value_is(key, new_key))
        assert ("POST", "key", None) in answers.requests
        await screenshot(console, "video-console-stream-laptop")

        # Another source: a hosted HLS link.
        await panel.get_by_label("A hosted HLS link (my streaming provider)").check()
        await panel.get_by_label("HLS link (https://…/index.m3u8)").fill(
            "https://cdn.example.com/show/index.m3u8"
        )
        await panel.get_by_role("button", name="Use this source").click()
        await panel.get_by_text("Source saved.").wait_for()
        assert (
            "PUT",
            "source",
            {"source": "hls_url", "url": "https://cdn.example.com/show/index.m3u8"},
        ) in answers.requests
        await panel.get_by_role("heading", name="Publish with SRT").wait_for(state="detached")

        # Closed, the panel stops asking.
        await panel.locator("#stream-panel > summary").click()
        assert await console.evaluate("window.qunliveConsole.streamPanel.timer === null")
        await console.set_viewport_size(PHONE["viewport"])
        await panel.locator("#stream-panel > summary").click()
        await screenshot(console, "video-console-stream-phone")
    assert platform.page_errors == []


async def _value_is(locator: Any, value: str) -> bool:
    return bool(await locator.input_value() == value)
