"""The show's video end to end on the embedded default: `make run`'s launcher (NATS, the four
services, live's media process), the wheel's ffmpeg publishing a test pattern and a tone
by SRT with the room's key, and Debian's Chromium playing the viewer page: it plays, says
reconnecting when the encoder is killed and plays again when it returns; when the show
ends it says so, and the replay page plays the recording with its chapters."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import PHONE, TIMEOUT_MS, join_as, needs_browser, screenshot
from tests.browser.media import Encoder, ffmpeg, srt_publisher
from tests.browser.test_video_pages import (
    in_state,
    measured_latency,
    player_state,
    video_plays,
)
from tests.support import eventually, launcher

pytestmark = [
    pytest.mark.timeout(240),
    needs_browser,
    pytest.mark.skipif(ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg is not installed)"),
    pytest.mark.skipif(
        importlib.util.find_spec("services.live.media") is None,
        reason="waits for live's media process (services.live.media is not there yet)",
    ),
]

ADMIN_TOKEN = "video-e2e-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SERVICE_LINE = re.compile(r"^service (\w+) url=(\S+) pid=(\d+)$", re.MULTILINE)
MEDIA_LINE = re.compile(r"^media pid=(\d+)$", re.MULTILINE)


@dataclass
class Launched:
    output: Path
    logs: Path
    urls: dict[str, str] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.set_default_timeout(TIMEOUT_MS)
        return page


@pytest.fixture
async def launched(tmp_path: Path) -> AsyncIterator[Launched]:
    """The launcher on free ports (its rooms' SRT ports too); skips (saying why) while
    there is no media process to start."""
    output = tmp_path / "launcher.out"
    secret = "video-e2e-secret-key-of-at-least-32-bytes!"
    running = Launched(output, tmp_path / "data" / "logs")
    with launcher(tmp_path / "data", output, ADMIN_TOKEN, secret) as process:

        async def ready() -> bool:
            assert process.poll() is None, f"launcher exited:\n{running.text()}"
            return "\nready in " in running.text()

        try:
            await eventually(ready, timeout=90, interval=0.2)
            if not MEDIA_LINE.search(running.text()):
                pytest.skip("waits for live's media process (the launcher started none)")
            running.urls = {name: url for name, url, _ in SERVICE_LINE.findall(running.text())}
            yield running
        finally:
            for log in sorted(running.logs.glob("*.log")) if running.logs.exists() else []:
                if log.name in ("live.log", "media.log"):
                    print(f"--- {log.name} (end)\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def encoders() -> Iterator[list[Encoder]]:
    """The test's encoders, killed at the end whatever happened."""
    made: list[Encoder] = []
    try:
        yield made
    finally:
        for encoder in made:
            encoder.kill()


async def test_the_viewer_page_plays_the_hosts_encoder_recovers_and_the_replay_has_chapters(
    launched: Launched, browser: Any, encoders: list[Encoder], tmp_path: Path
) -> None:
    live, orders = launched.urls["live"], launched.urls["orders"]
    async with httpx.AsyncClient(headers=ADMIN, timeout=20, trust_env=False) as http:
        room = (await http.post(f"{live}/rooms", json={"title": "Mango night 芒果"})).json()["id"]
        assert (await http.post(f"{live}/rooms/{room}/start")).is_success
        settings = (await http.get(f"{live}/rooms/{room}/stream")).json()
        [srt] = [p for p in settings["publish"] if p["protocol"] == "srt"]

        def publish() -> Encoder:
            encoder = srt_publisher(srt["url"], tmp_path / "encoder.log").start()
            encoders.append(encoder)
            return encoder

        async def stream_state(wanted: str) -> bool:
            playback = (await http.get(f"{live}/rooms/{room}/playback")).json()
            return bool(playback["state"] == wanted)

        encoder = publish()
        await eventually(lambda: stream_state("live"), timeout=30, interval=0.3)

        context = await browser.new_context(**PHONE)
        page = launched.watch(await context.new_page())
        await join_as(page, f"{live}/r/{room}?debug=1", "Lily 莉莉")
        await video_plays(page, timeout=30)
        latency = await measured_latency(page)
        print(f"measured latency on the embedded path: {latency:.2f} s")

        # The host pins a product and opens its sale while on air: the replay's chapters.
        product = (await http.post(f"{orders}/products", json={"title": "Mangoes 芒果"})).json()
        offer = (
            await http.post(
                f"{orders}/rooms/{room}/offers",
                json={"product_id": product["id"], "price_cents": 2990, "stock": 5},
            )
        ).json()
        await http.post(f"{live}/rooms/{room}/pin", json={"offer_id": offer["id"]})
        assert (await http.post(f"{orders}/offers/{offer['id']}/open")).is_success
        await page.get_by_role("heading", name="Mangoes 芒果").wait_for(timeout=20_000)
        await screenshot(page, "video-e2e-viewer-phone")

        # The encoder is killed: the page says reconnecting, keeping the last picture.
        encoder.kill()
        await eventually(in_state(page, "reconnecting"), timeout=20, interval=0.2)
        await page.get_by_text("Reconnecting to the video…").wait_for()
        assert await page.evaluate("document.getElementById('video').videoWidth") > 0

        # It publishes again: the page plays again.
        await eventually(lambda: stream_state("reconnecting"), timeout=20, interval=0.3)
        publish()
        await eventually(in_state(page, "live"), timeout=40, interval=0.3)
        await video_plays(page, timeout=30)

        # The show ends: the page says so and links the replay, which plays with chapters.
        assert (await http.post(f"{live}/rooms/{room}/end")).is_success
        await page.get_by_text("The show has ended", exact=True).wait_for(timeout=20_000)
        assert await player_state(page) == "ended"
        replay_link = page.get_by_role("link", name="Watch the replay")
        await replay_link.wait_for(timeout=20_000)

        async def chapters() -> list[dict[str, Any]]:
            answer = await http.get(f"{live}/rooms/{room}/replay")
            body = answer.json() if answer.status_code == 200 else {}
            return list(body.get("chapters") or []) if body.get("ended") else []

        kinds = {c["kind"] for c in await eventually(chapters, timeout=20, interval=0.5)}
        assert {"pinned", "opened"} <= kinds

        await replay_link.click()
        await page.wait_for_url(f"**/r/{room}/replay")
        buttons = page.locator("#chapters button")
        await buttons.first.wait_for()
        await page.get_by_role("button", name=re.compile("Sale opened")).click()
        await eventually(
            lambda: page.evaluate(
                "(() => { const v = document.getElementById('video');"
                " return v.videoWidth > 0 && !v.paused && v.currentTime > 0; })()"
            ),
            timeout=20,
            interval=0.2,
        )
        await screenshot(page, "video-e2e-replay-phone")
    assert launched.page_errors == []
