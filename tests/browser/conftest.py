"""Browser tests: the real pages in the system's Chromium, driven by Playwright.

The services run in this test's event loop (tests/support.py serving()), on one
nats-server; Playwright's own browser download does not work here, so Chromium is
the system's (`apt-get install -y chromium`). Without it (or without playwright)
every test here skips and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import results
from services.live.adapters.tokens import ViewerTokens
from services.live.bootstrap import LiveApp
from services.live.bootstrap import build as build_live
from services.live.domain.viewers import Viewer
from services.live.main import create_app as live_app
from services.orders.bootstrap import build as build_orders
from services.orders.main import create_app as orders_app
from shared.embedded_nats import NatsServer, free_port
from tests.live.conftest import live_settings
from tests.orders.conftest import SECRET, orders_settings
from tests.support import serving

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = results.CHROMIUM
CHROMIUM_ARGS = [
    *results.CHROMIUM_ARGS,
    # A microphone that is there and allowed: the console records voice clips.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ADMIN_TOKEN = "test-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MEDIA_SECRET = "test-media-hook-secret"
# Reduced motion: the pages honour it, and Playwright need not wait for animations to settle.
PHONE = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "reduced_motion": "reduce",
}
LAPTOP = {"viewport": {"width": 1280, "height": 800}, "reduced_motion": "reduce"}
TIMEOUT_MS = 10_000


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.lock)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set QUNLIVE_CHROMIUM)"
    return None


NO_BROWSER = missing_browser()
# For the test modules: skip before any service starts, and say why.
needs_browser = pytest.mark.skipif(
    NO_BROWSER is not None, reason=f"browser tests skipped: {NO_BROWSER}"
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    reason = missing_browser()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield chromium
        finally:
            await chromium.close()


AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


def _axe_versions() -> tuple[str, str | None]:
    """(the version package.json pins, the one in node_modules or None)."""
    pinned = json.loads((AXE_DIR / "package.json").read_text())["dependencies"]["axe-core"]
    installed = AXE_DIR / "node_modules" / "axe-core" / "package.json"
    if not (installed.exists() and AXE_JS.exists()):
        return pinned, None
    return pinned, json.loads(installed.read_text())["version"]


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's axe.min.js, from npm at the version tests/browser/axe pins (never a CDN).

    Installed once with `npm ci` into tests/browser/axe/node_modules (git-ignored); when the
    pinned version is already there, nothing touches the network. Without npm, or when the
    registry cannot be reached, the accessibility tests skip and say why."""
    pinned, installed = _axe_versions()
    if installed == pinned:
        return AXE_JS
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("accessibility tests skipped: no npm to install axe-core (apt-get install npm)")
    command = [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"]
    try:
        done = subprocess.run(
            command, cwd=AXE_DIR, capture_output=True, text=True, timeout=180, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"accessibility tests skipped: `npm ci` in {AXE_DIR} took over 180 s")
    pinned, installed = _axe_versions()
    if done.returncode != 0 or installed != pinned:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        pytest.skip(
            f"accessibility tests skipped: could not install axe-core {pinned} "
            f"(`npm ci` in {AXE_DIR} exited {done.returncode}): {tail}"
        )
    return AXE_JS


@dataclass
class Platform:
    """live + orders (+ analytics, ingest) in this process, and an admin HTTP client."""

    live: str
    orders: str
    analytics: str
    ingest: str
    live_app: LiveApp
    http: httpx.AsyncClient
    page_errors: list[str] = field(default_factory=list)
    # ingest's IngestApp (its stores) when it runs: a test sets what only a platform causes.
    ingest_app: Any = None

    async def call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, url, headers=ADMIN, **kwargs)
        assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def live_room(self, title: str = "Cherry night 樱桃专场") -> str:
        room = await self.call("POST", f"{self.live}/rooms", json={"title": title})
        await self.call("POST", f"{self.live}/rooms/{room['id']}/start")
        return str(room["id"])

    async def offer(self, room_id: str, pin: bool = True, **terms: Any) -> dict[str, Any]:
        """A product and its open offer in the room (pinned unless told otherwise)."""
        product = await self.call(
            "POST",
            f"{self.orders}/products",
            json={
                "title": terms.pop("title", "Cherries 樱桃"),
                "variants": terms.pop("variants", []),
            },
        )
        stock = {} if "variant_stock" in terms else {"stock": 5}
        body = {"product_id": product["id"], "price_cents": 4990, **stock, **terms}
        body.setdefault("duration_s", 600)
        offer: dict[str, Any] = await self.call(
            "POST", f"{self.orders}/rooms/{room_id}/offers", json=body
        )
        await self.call("POST", f"{self.orders}/offers/{offer['id']}/open")
        if pin:
            await self.call(
                "POST", f"{self.live}/rooms/{room_id}/pin", json={"offer_id": offer["id"]}
            )
        return offer

    def buyer_token(self, room_id: str, name: str) -> str:
        """A viewer token as live would give one (for buyers that are not on a page)."""
        viewer = Viewer(
            room_id=room_id, customer_id=f"web:{name}-{uuid.uuid4().hex[:6]}", display_name=name
        )
        return ViewerTokens(SECRET, 3600).issue(viewer)[0]

    def watch(self, page: Any) -> Any:
        """Collect the page's JavaScript errors: a test ends by asserting there were none."""
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda msg: (
                self.page_errors.append(f"{page.url}: {msg.text}")
                if msg.type == "error" and "Failed to load resource" not in msg.text
                else None
            ),
        )
        page.set_default_timeout(TIMEOUT_MS)
        return page


@contextlib.asynccontextmanager
async def running_platform(
    nats_url: str,
    data: Path,
    with_ingest_and_analytics: bool,
    ingest_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Platform]:
    """`ingest_overrides`: ingest's settings for the test (where the platforms' APIs are)."""
    db = f"sqlite+aiosqlite:///{data}"
    orders = build_orders(orders_settings(nats_url, f"{db}/orders.db", admin_token=ADMIN_TOKEN))
    async with contextlib.AsyncExitStack() as stack:
        orders_url = await stack.enter_async_context(serving(orders_app(orders)))
        orders.gateway.callback_url = f"{orders_url}/payments/callback"
        ingest_url = analytics_url = ""
        ingest: Any = None
        if with_ingest_and_analytics:  # imported here: the viewer tests need neither
            from services.analytics.bootstrap import build as build_analytics
            from services.analytics.main import create_app as analytics_app
            from services.analytics.settings import AnalyticsSettings
            from services.ingest.bootstrap import build as build_ingest
            from services.ingest.main import create_app as ingest_app
            from tests.ingest.conftest import ingest_settings

            ingest = build_ingest(
                ingest_settings(nats_url, f"{db}/ingest.db", **(ingest_overrides or {}))
            )
            ingest_url = await stack.enter_async_context(serving(ingest_app(ingest)))
            analytics = build_analytics(
                AnalyticsSettings(
                    nats_url=nats_url,
                    database_url=f"{db}/analytics.db",
                    admin_token=ADMIN_TOKEN,
                    secret_key=SECRET,
                )
            )
            analytics_url = await stack.enter_async_context(serving(analytics_app(analytics)))
        live = build_live(
            live_settings(
                nats_url,
                f"{db}/live.db",
                orders_public_url=orders_url,
                ingest_public_url=ingest_url,
                analytics_public_url=analytics_url,
                actions_per_s=4.0,
                actions_burst=8,
                media_dir=str(data / "media"),  # the rooms' HLS, as the media process writes it
                media_hook_secret=MEDIA_SECRET,
            )
        )
        live_url = await stack.enter_async_context(serving(live_app(live)))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=20))
        yield Platform(
            live_url, orders_url, analytics_url, ingest_url, live, http, ingest_app=ingest
        )


@pytest.fixture
async def platform(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Platform]:
    """live and orders: what the viewer page needs."""
    async with running_platform(nats_server.url, tmp_path, False) as running:
        yield running


@pytest.fixture
async def full_platform(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Platform]:
    """live, orders, ingest and analytics: what the host console talks to."""
    async with running_platform(nats_server.url, tmp_path, True) as running:
        yield running


class Proxy:
    """A TCP proxy in front of live: `cut()` drops every connection, as a network would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.refusing = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.cut()
        if self._server:
            self._server.close()

    def cut(self, refuse: bool = False) -> None:
        self.refusing = refuse
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def proxy(platform: Platform) -> AsyncIterator[Proxy]:
    port = int(platform.live.rsplit(":", 1)[1])
    front = Proxy(port)
    await front.start()
    try:
        yield front
    finally:
        await front.stop()


async def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot; the page must fit its width (no sideways scrolling)."""
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # The sticky header stays on top; passing toasts would cover the page.
    await page.evaluate("window.scrollTo(0, 0); document.getElementById('toasts')?.remove()")
    await page.screenshot(path=str(path), full_page=True)
    return path


async def join_as(page: Any, url: str, name: str) -> None:
    """Open the viewer link, pick a display name, wait for the room. The room shows with
    the socket's welcome; a first connection that fails is retried after a backoff (js/
    room-socket.js), so a loaded machine gets 20 s, and a failure says what the page said."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    await page.goto(url)
    await page.get_by_label("Your display name").fill(name)
    await page.get_by_role("button", name="Join", exact=True).click()
    try:
        await page.locator("#room").wait_for(state="visible", timeout=20_000)
    except PlaywrightTimeout:
        said = await page.evaluate(
            """() => ['#connection', '#problem', '#join-error']
                .map((s) => `${s}: ${document.querySelector(s)?.innerText ?? ''}`).join(' | ')"""
        )
        raise AssertionError(f"{name} never saw the room open; the page said {said}") from None


async def stored(page: Any, room_id: str) -> dict[str, Any]:
    """What the viewer page keeps for this room (customer id, token, order ids)."""
    value: dict[str, Any] = await page.evaluate(
        "(key) => JSON.parse(localStorage.getItem(key) || '{}')", f"qunlive.viewer.{room_id}"
    )
    return value


async def choose_delivery(box: Any, address: str = "8 Willow Road, Xuhui") -> None:
    """An order awaiting payment first asks "Delivery or pickup" (js/fulfilment.js):
    delivery to `address`, then the pay form shows."""
    await box.get_by_role("radio", name="Deliver to my address").check()
    await box.get_by_label("Delivery address").fill(address)
    await box.get_by_role("button", name="Continue to payment").click()
    await box.get_by_label("Card number").wait_for()


async def buy_pay_and_say(viewer: Any, text: str) -> None:
    """On a joined viewer page: buy the pinned offer, pay with a test card, say `text`."""
    await viewer.get_by_role("button", name="Buy now").click()
    order = viewer.locator("#order-list li").first
    await choose_delivery(order)
    await order.get_by_label("Card number").fill("4242 4242 4242 4242")
    await order.get_by_role("button", name=re.compile("^Pay ")).click()
    await order.get_by_text("Paid", exact=True).wait_for()
    await viewer.get_by_label("Message").fill(text)
    await viewer.get_by_label("Message").press("Enter")
