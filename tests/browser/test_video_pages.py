"""The pages' video in a real browser against live's real stream routes, with the media
process stood in for: the wheel's ffmpeg writes the room's HLS where the media process
would (<media dir>/hls/<room>/), and the test calls live's media hooks (ready, stats,
not-ready) as it would. So the viewer page, the replay page and the console run against
live's playback, HLS files, stream frames, replay chapters, stream settings and per-room
CSP. The whole path with the real media process and an SRT encoder: test_video_e2e.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    LAPTOP,
    MEDIA_SECRET,
    PHONE,
    Platform,
    join_as,
    needs_browser,
    screenshot,
)
from tests.browser.media import (
    ffmpeg,
    live_hls,
    recorded_hls,
    serve_folder,
    stopped_at_exit,
)
from tests.browser.test_accessibility import AXE_CONTEXT, assert_no_severe, measure
from tests.browser.test_console import log_in
from tests.support import eventually

pytestmark = [
    pytest.mark.timeout(90),
    needs_browser,
    pytest.mark.skipif(ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg is not installed)"),
]

MEDIA = {"Authorization": f"Bearer {MEDIA_SECRET}"}
INFO = {"video_codec": "h264", "audio_codec": "aac", "width": 640, "height": 360, "fps": 25.0}


# ---- helpers ------------------------------------------------------------------------------


def hls_dir(platform: Platform, room: str) -> Path:
    """Where the media process writes the room's HLS, and live serves it from."""
    return Path(platform.live_app.settings.media_root) / "hls" / room


async def hook(platform: Platform, name: str, room: str, **body: Any) -> None:
    """One of the media process's calls to live (ready, not-ready, stats)."""
    answer = await platform.http.post(
        f"{platform.live}/media/hooks/{name}", json={"room_id": room, **body}, headers=MEDIA
    )
    assert answer.status_code == 204, answer.text


async def hls_ready(folder: Path) -> bool:
    playlist = folder / "live.m3u8"
    return playlist.exists() and playlist.read_text().count("#EXTINF") >= 2


def clear(folder: Path) -> None:
    for stale in folder.glob("l*"):
        stale.unlink()


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


async def measured_latency(page: Any, timeout: float = 15) -> float:
    """The player's latency once it has one: none while the picture stalls ("waiting"),
    which a loaded machine can make happen right after the picture first moved."""

    async def probe() -> list[float] | None:
        value = await page.evaluate("window.qunlivePlayer.latencyS")
        return [value] if isinstance(value, int | float) else None

    [latency] = await eventually(probe, timeout=timeout, interval=0.2)
    return latency


async def player_state(page: Any) -> str:
    return str(await page.evaluate("window.qunlivePlayer.state"))


def in_state(page: Any, wanted: str) -> Callable[[], Any]:
    async def probe() -> bool:
        return await player_state(page) == wanted

    return probe


def recording_around(folder: Path, now: datetime, before_s: float) -> None:
    """Make the recording's program-date-times start `before_s` seconds before `now` (it
    was written in a blink; the show's moments happened while it "recorded")."""
    playlist = folder / "replay.m3u8"
    at = now - timedelta(seconds=before_s)
    lines = []
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
            lines += [line, f"#EXT-X-PROGRAM-DATE-TIME:{at.isoformat(timespec='milliseconds')}"]
            at += timedelta(seconds=duration)
        elif not line.startswith("#EXT-X-PROGRAM-DATE-TIME"):
            lines.append(line)
    playlist.write_text("\n".join(lines) + "\n")


async def a_live_take(platform: Platform, room: str, tmp_path: Path) -> Any:
    """The room's encoder publishing: HLS written where the media process would, `ready`."""
    folder = hls_dir(platform, room)
    encoder = live_hls(folder, tmp_path / "ffmpeg.log").start()
    await eventually(lambda: hls_ready(folder), timeout=20)
    await hook(platform, "ready", room, protocol="srt", info=INFO)
    return encoder


# ---- the viewer page ----------------------------------------------------------------------


async def test_the_viewer_page_plays_the_show_in_step_keeps_the_picture_when_the_encoder_drops(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    """The show on a phone: offline, then the host's video (muted autoplay, tap to unmute,
    the measured latency), pin and offer cards in step with it (the fairness rule: L
    seconds late, at most 10 s, at once when no video plays), the encoder dropping and
    coming back, the show's end with the replay's link."""
    room = await platform.live_room()
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await join_as(page, f"{platform.live}/r/{room}?debug=1", "Lily 莉莉")
    await page.get_by_text("The host's video starts soon").wait_for()
    assert await page.evaluate("window.qunlivePlayer.inStepS") == 0
    await platform.offer(room, title="Mangoes 芒果")  # no video: the card shows at once
    await page.get_by_role("heading", name="Mangoes 芒果").wait_for(timeout=3000)

    encoder = await a_live_take(platform, room, tmp_path)
    with stopped_at_exit(encoder):
        # Muted autoplay, with a visible way to turn the sound on.
        await video_plays(page)
        await eventually(in_state(page, "live"), timeout=15, interval=0.2)
        video = page.locator("#video")
        assert await video.evaluate("v => v.muted && v.playsInline && v.autoplay")
        assert await video.get_attribute("aria-label") == "The host's live video"
        latency = await measured_latency(page)
        assert 0 < latency < 15, latency
        assert await page.evaluate("window.qunlivePlayer.stats().engine") == "hls.js"
        # What the benchmark reads: plain figures.
        figures = await page.evaluate("({...window.qunlivePlayer})")
        assert sorted(figures) == ["inStepS", "latencyS", "state"] and figures["state"] == "live"
        await page.locator("#stage-badge").wait_for()
        # The debug corner (?debug=1) shows what the player measures.
        latency_cell = page.locator("#debug-latency")
        await latency_cell.filter(has_text=re.compile(r"^\d+\.\d\d s$")).wait_for()
        await page.locator("#debug-bitrate").filter(has_text=re.compile(r"kbit/s$")).wait_for()
        assert await page.locator("#debug-resolution").inner_text() == "640×360"
        await screenshot(page, "video-viewer-phone-live")
        await page.get_by_role("button", name="Tap to unmute").click()
        assert not await video.evaluate("v => v.muted")
        await page.get_by_role("button", name="Tap to unmute").wait_for(state="hidden")

        # The video plays L seconds behind the host: the next pin shows L seconds late.
        behind = await page.evaluate("window.qunlivePlayer.inStepS")
        assert 0.5 < behind < 10, behind
        started = time.monotonic()
        await platform.offer(room, title="Cherries 樱桃")
        await page.get_by_role("heading", name="Cherries 樱桃").wait_for(timeout=15_000)
        assert time.monotonic() - started >= behind - 0.5
        # The cap: never more than 10 s, whatever the latency says.
        capped = await page.evaluate(
            "(() => { window.qunliveViewer.inStep.delayS = () => 60;"
            " return window.qunliveViewer.inStep.currentDelayMs(); })()"
        )
        assert capped == 10_000

        # A pin waits (10 s) and the encoder drops: the page says reconnecting, keeps the
        # last picture, and shows the waiting card now (no video to stay in step with).
        started = time.monotonic()
        await platform.offer(room, title="Durian 榴莲")
        await eventually(lambda: page.evaluate("window.qunliveViewer.inStep.pending > 0"))
        encoder.kill()
        await hook(platform, "not-ready", room, reason="encoder_gone")
        await page.get_by_text("Reconnecting to the video…").wait_for()
        assert await player_state(page) == "reconnecting"
        assert await video.evaluate("v => v.videoWidth > 0")  # the last frame, not a black box
        await page.get_by_role("heading", name="Durian 榴莲").wait_for(timeout=8000)
        assert time.monotonic() - started < 9

        # It comes back: a new take, written afresh, and live says live once it is there.
        clear(hls_dir(platform, room))
        encoder = await a_live_take(platform, room, tmp_path)
        with stopped_at_exit(encoder):
            await eventually(in_state(page, "live"), timeout=25, interval=0.2)
            await video_plays(page)
            await page.get_by_text("Reconnecting to the video…").wait_for(state="hidden")

            # The show ends: the page says so and links the replay.
            await platform.call("POST", f"{platform.live}/rooms/{room}/end")
            await page.get_by_text("The show has ended", exact=True).wait_for()
            assert await player_state(page) == "ended"
            replay = page.get_by_role("link", name="Watch the replay")
            assert await replay.get_attribute("href") == f"/r/{room}/replay"
    assert platform.page_errors == []


async def test_a_youtube_source_plays_in_the_official_embed_allowed_by_the_rooms_csp(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await platform.call(
        "PUT",
        f"{platform.live}/rooms/{room}/stream/source",
        json={"source": "youtube", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
    )
    context = await browser.new_context(**PHONE)
    # The embed itself is answered here: this machine has no way out.
    await context.route(
        "https://www.youtube-nocookie.com/**",
        lambda route: route.fulfill(
            body="<!doctype html><title>YT</title>", content_type="text/html"
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
    assert await page.frame_locator("#stage iframe").locator("title").count() == 1  # not blocked
    assert await page.evaluate("window.qunlivePlayer.inStepS") == 0  # no latency to know
    assert platform.page_errors == []


async def test_a_hosted_hls_link_plays_from_its_origin_and_the_player_recovers_by_itself(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    """A stream hosted elsewhere: its origin is the only one the room's CSP adds, and no
    frame ever says how it goes. hls.js' errors and a frozen picture are enough to say
    reconnecting when it goes away, and the player finds it again when it comes back."""
    room = await platform.live_room()
    cdn = "https://cdn.example.com/shows/mango"
    await platform.call(
        "PUT",
        f"{platform.live}/rooms/{room}/stream/source",
        json={"source": "hls_url", "url": f"{cdn}/live.m3u8"},
    )
    folder = tmp_path / "cdn"
    encoder = live_hls(folder, tmp_path / "ffmpeg.log").start()
    with stopped_at_exit(encoder):
        await eventually(lambda: hls_ready(folder), timeout=20)
        context = await browser.new_context(**LAPTOP)
        await serve_folder(context, f"{cdn}/*", folder, cors=True)
        page = platform.watch(await context.new_page())
        await page.goto(f"{platform.live}/r/{room}")  # watching needs no name: no join
        await video_plays(page)
        await page.get_by_role("heading", name="Join the live sale").wait_for()
        assert await page.evaluate("window.qunlivePlayer.stats().engine") == "hls.js"
        await screenshot(page, "video-viewer-laptop-live")

        encoder.kill()
        clear(folder)  # the stream is gone: its playlist answers 404
        await eventually(in_state(page, "reconnecting"), timeout=20, interval=0.2)
        await page.get_by_text("Reconnecting to the video…").wait_for()

        encoder = live_hls(folder, tmp_path / "ffmpeg.log").start()
        with stopped_at_exit(encoder):
            await eventually(in_state(page, "live"), timeout=30, interval=0.2)
            await video_plays(page)
    assert platform.page_errors == []


# ---- the replay page ----------------------------------------------------------------------


async def test_the_replay_page_plays_the_recording_and_its_chapters_seek(
    platform: Platform, browser: Any, tmp_path: Path
) -> None:
    room = await platform.live_room("Mango night 芒果专场")
    await hook(platform, "ready", room, protocol="srt")  # a take: something was recorded
    offer = await platform.offer(room, title="Mangoes 芒果", stock=1)
    await platform.call("POST", f"{platform.live}/rooms/{room}/end")
    folder = hls_dir(platform, room)
    recorded_hls(folder, 12, tmp_path / "ffmpeg.log")
    recording_around(folder, datetime.now(UTC), before_s=4)
    context = await browser.new_context(**PHONE)
    page = platform.watch(await context.new_page())
    await page.goto(f"{platform.live}/r/{room}/replay")
    await page.get_by_role("heading", name="Mango night 芒果专场").wait_for()
    buttons = page.locator("#chapters button")
    await buttons.nth(1).wait_for()
    texts = [" ".join(t.split()) for t in await buttons.all_inner_texts()]
    assert [t.split(" ", 1)[1] for t in texts] == [
        "Sale opened Mangoes 芒果",
        "Pinned Mangoes 芒果",
    ]
    assert all(re.match(r"^0:0[0-4] ", t) for t in texts), texts
    assert offer["id"]
    await eventually(lambda: page.evaluate("document.getElementById('video').duration > 10"))
    assert await page.locator("#timeline .mark").count() == 2
    await page.get_by_role("button", name=re.compile("Pinned")).click()
    await eventually(
        lambda: page.evaluate(
            "(() => { const v = document.getElementById('video');"
            " return v.currentTime >= 2 && !v.paused && v.videoWidth > 0; })()"
        ),
        timeout=15,
    )
    current = page.locator("#chapters [aria-current=true]")
    await current.filter(has_text="Pinned").wait_for()
    await screenshot(page, "video-replay-phone")
    await page.locator("#lang").select_option("zh")
    await page.get_by_role("button", name=re.compile("开抢")).wait_for()
    assert platform.page_errors == []


async def test_the_replay_page_says_when_nothing_was_recorded(
    platform: Platform, browser: Any
) -> None:
    room = await platform.live_room()
    await platform.call("POST", f"{platform.live}/rooms/{room}/end")
    page = platform.watch(await (await browser.new_context(**PHONE)).new_page())
    await page.goto(f"{platform.live}/r/{room}/replay")
    await page.get_by_role("heading", name="No replay yet").wait_for()
    back = page.get_by_role("link", name="Back to the room")
    assert await back.get_attribute("href") == f"/r/{room}"


# ---- the console's stream panel -----------------------------------------------------------


async def test_the_console_stream_panel_hides_the_key_rotates_it_and_shows_the_encoder(
    full_platform: Platform, browser: Any, tmp_path: Path
) -> None:
    platform = full_platform
    room = await platform.live_room("Dress drop 连衣裙")
    context = await browser.new_context(**LAPTOP, permissions=["clipboard-read", "clipboard-write"])
    console = platform.watch(await context.new_page())
    await log_in(console, f"{platform.live}/console")
    await console.goto(f"{platform.live}/console#{room}")
    panel = console.locator("#stream")
    await panel.get_by_role("heading", name="Publish with SRT").wait_for()
    settings = await platform.call("GET", f"{platform.live}/rooms/{room}/stream")
    [srt] = settings["publish"]

    # The key and the whole address are hidden until asked for.
    key = panel.get_by_role("textbox", name="Stream key")
    full = panel.get_by_role("textbox", name="Full address (with the key)")
    assert await key.get_attribute("type") == "password"
    assert await full.get_attribute("type") == "password"
    server = panel.get_by_role("textbox", name="Server")
    assert await server.input_value() == srt["server"]
    await panel.get_by_role("button", name="Show: Stream key").click()
    assert await key.get_attribute("type") == "text"
    assert await key.input_value() == srt["stream_key"]
    assert await full.get_attribute("type") == "password"
    await panel.get_by_role("button", name="Copy: Full address (with the key)").click()
    await panel.get_by_text("Full address (with the key) copied.").wait_for()
    assert await console.evaluate("navigator.clipboard.readText()") == srt["url"]

    # The encoder publishes with 4 s keyframes: what arrives, and the warning, in plain sight.
    encoder = await a_live_take(platform, room, tmp_path)
    with stopped_at_exit(encoder):
        stats = {**INFO, "bitrate_kbps": 812.4, "keyframe_interval_s": 4.0}
        await hook(platform, "stats", room, info=stats)
        warning = panel.get_by_role("alert").filter(has_text="Keyframe interval 4.0 s is over 2 s")
        await warning.wait_for()
        assert await console.locator("#in-resolution").inner_text() == "640×360"
        assert await console.locator("#in-keyframes").inner_text() == "4.0 s"
        assert await console.locator("#in-bitrate").inner_text() == "812 kbit/s"
        assert await console.locator("#stream-state").inner_text() == "Streaming"
        await video_plays(console, "#stream-preview")  # the preview plays the room's video

        # Polled every ~2 s while open: the encoder fixed, the warning goes.
        await hook(platform, "stats", room, info={**stats, "keyframe_interval_s": 1.0})
        await warning.wait_for(state="detached", timeout=6000)
        await screenshot(console, "video-console-stream-laptop")

        # Rotate, confirmed: a new key, hidden again.
        console.once("dialog", lambda dialog: dialog.accept())
        await panel.get_by_role("button", name="Rotate the key").click()
        await panel.get_by_text("New key made: put it in your encoder.").wait_for()
        await eventually(lambda: _value_changed(key, srt["stream_key"]))
        assert await key.get_attribute("type") == "password"
        rotated = await platform.call("GET", f"{platform.live}/rooms/{room}/stream")
        assert await key.input_value() == rotated["publish"][0]["stream_key"]

    # Another source: a hosted HLS link. No key to show any more.
    await panel.get_by_label("A hosted HLS link (my streaming provider)").check()
    link = "https://cdn.example.com/show/index.m3u8"
    await panel.get_by_label("HLS link (https://…/index.m3u8)").fill(link)
    await panel.get_by_role("button", name="Use this source").click()
    await panel.get_by_text("Source saved.").wait_for()
    await panel.get_by_role("heading", name="Publish with SRT").wait_for(state="detached")
    changed = await platform.call("GET", f"{platform.live}/rooms/{room}/stream")
    assert changed["source"] == "hls_url" and changed["hosted_url"] == link

    # Closed, the panel stops asking.
    await panel.locator("#stream-panel > summary").click()
    await eventually(lambda: console.evaluate("window.qunliveConsole.streamPanel.timer === null"))
    await console.set_viewport_size(PHONE["viewport"])
    await panel.locator("#stream-panel > summary").click()
    await screenshot(console, "video-console-stream-phone")
    assert platform.page_errors == []


async def _value_changed(locator: Any, old: str) -> bool:
    return bool(await locator.input_value() != old)


# ---- accessibility ------------------------------------------------------------------------


async def test_the_video_pages_have_no_serious_accessibility_violations(
    axe_script: Path, full_platform: Platform, browser: Any, tmp_path: Path
) -> None:
    platform = full_platform
    found: dict[str, Any] = {}
    room = await platform.live_room("Dress drop 连衣裙")
    encoder = await a_live_take(platform, room, tmp_path)
    with stopped_at_exit(encoder):
        await hook(platform, "stats", room, info={**INFO, "keyframe_interval_s": 4.0})
        page = platform.watch(await (await browser.new_context(**PHONE, **AXE_CONTEXT)).new_page())
        await join_as(page, f"{platform.live}/r/{room}?debug=1", "Lily 莉莉")
        await video_plays(page)
        await measure(page, axe_script, "video-viewer-phone-en", found)
        await page.locator("#lang").select_option("zh")
        await page.get_by_role("button", name="点击开启声音").wait_for()

        console = platform.watch(
            await (await browser.new_context(**LAPTOP, **AXE_CONTEXT)).new_page()
        )
        await log_in(console, f"{platform.live}/console")
        await console.goto(f"{platform.live}/console#{room}")
        await console.locator("#stream").get_by_role("alert").wait_for()
        await console.locator(".howto > summary").click()
        await measure(console, axe_script, "video-console-laptop-en", found)

    await platform.call("POST", f"{platform.live}/rooms/{room}/end")
    await page.get_by_role("link", name="观看回放").wait_for()
    await measure(page, axe_script, "video-viewer-ended-zh", found)
    recorded_hls(hls_dir(platform, room), 4, tmp_path / "ffmpeg.log")
    await page.get_by_role("link", name="观看回放").click()
    await page.get_by_role("heading", name="精彩时刻").wait_for()
    await measure(page, axe_script, "video-replay-phone-zh", found)
    assert_no_severe(found)
    assert platform.page_errors == []
