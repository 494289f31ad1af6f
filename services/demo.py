"""`make demo`: a whole simulated show on the embedded default, in under two minutes.

    python -m services.demo [--viewers 200]

Starts the platform with the launcher (its own NATS, free ports, a fresh data dir
under .data/demo-<time>/), then plays a show through the public APIs only: a
scheduled room with a preview, simulated viewers on the page's websocket
protocol and a simulated Telegram group through ingest, chatting in English and
Chinese, check-ins, a red packet, a poll, a flash sale that sells out with a
waitlist, unpaid orders expiring to the waitlist, a group buy that forms, a
pre-sale deposit, referrals; then the room ends and the post-stream report is
printed with the link to its page, and written as HTML and CSV into the data dir (their
paths printed). The platform then stays up, the link alive, until Ctrl-C (or SIGTERM)
stops everything; `--no-wait` stops it as soon as the report's files are written.

From the moment the show goes live until it ends, the wheel's ffmpeg plays the host's
encoder: a test pattern and a tone, the show's title and a clock burnt in, published to
the room's SRT address (its stream settings), so the viewer page plays video and the
replay has the show. It is stopped however the demo ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "dev-insecure-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TELEGRAM_SECRET = "dev-insecure-telegram-secret-token"
TELEGRAM_GROUP = -1009876543210
SERVICE_LINE = re.compile(r"^service (\w+) url=(\S+) pid=(\d+)$")

LINES_EN = [
    "hello from Shanghai!",
    "are they sweet?",
    "how big is a box?",
    "love this host",
    "first time here",
    "delivery to Pudong?",
    "the last batch was great",
    "wow",
]
LINES_ZH = [
    "大家好！",
    "樱桃甜吗？",
    "一箱多少斤？",
    "主播好漂亮",
    "第一次来",
    "能送到浦东吗",
    "上次的很好吃",
    "哇",
]

Frame = dict[str, Any]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _die_with_parent() -> None:
    """In the encoder before exec (Linux): SIGTERM when the demo dies, even by SIGKILL."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _filter_value(text: str) -> str:
    """A value inside an ffmpeg filtergraph: escaped for the option, then for the graph."""
    for char in "\\':":
        text = text.replace(char, "\\" + char)
    for char in "\\'[],;":
        text = text.replace(char, "\\" + char)
    return text


def _font_for(text: str) -> str | None:
    """A font file that has `text`'s script, from fontconfig (None: let ffmpeg pick Sans)."""
    if text.isascii() or shutil.which("fc-match") is None:
        return None
    done = subprocess.run(
        ["fc-match", "-f", "%{file}", "sans-serif:lang=zh-cn"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return done.stdout.strip() or None


def product_picture(title: str, colour: tuple[int, int, int], seed: int) -> bytes:
    """A product photo for the demo's catalog: the product's colour in a studio light, with
    its name (Pillow; a real photo would come from the host's phone)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    image = Image.new("RGB", (1200, 1200), (246, 243, 238))
    draw = ImageDraw.Draw(image)
    for _ in range(7):  # the product, a few of it, as on a market stall
        x, y, r = rng.randint(250, 950), rng.randint(300, 800), rng.randint(110, 190)
        shade = tuple(max(0, c - rng.randint(0, 40)) for c in colour)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade, outline=(60, 30, 20), width=4)
    font_file = _font_for(title)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.truetype(font_file or "DejaVuSans.ttf", 56)
    except OSError:
        font = ImageFont.load_default(56)
    draw.rectangle((0, 1030, 1200, 1200), fill=(30, 30, 30))
    draw.text((40, 1075), title, fill=(255, 255, 255), font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


class TestPattern:
    """The demo's encoder: the wheel's ffmpeg sends a test pattern and a tone (the
    contract's test encoder, in real time) with the title and a clock burnt in, to the
    room's SRT URL. Restarted while the show is on when it drops (the media process
    starts listening for a new key within a second or so)."""

    def __init__(self, url: str, title: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.title = title
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def command(self) -> list[str]:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        title_file = self.workdir / "demo-title.txt"
        title_file.write_text(self.title)
        font = _font_for(self.title)
        face = f"fontfile={_filter_value(font)}" if font else "font=Sans"
        if font is None and not self.title.isascii():  # no glyphs for it: its Latin part
            title_file.write_text("".join(c for c in self.title if c.isascii()).strip())
        box = "fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2"
        burnt = (
            f"drawtext={face}:textfile={_filter_value(str(title_file))}:expansion=none:"
            f"fontsize=30:{box}:y=h*0.4,"
            f"drawtext=font=Sans:text='%{{localtime\\:%X}}':fontsize=26:{box}:y=h*0.4+52"
        )
        drawtext = (
            "drawtext"
            in subprocess.run(
                [ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, check=False
            ).stdout
        )
        return [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440",
            *(["-vf", burnt] if drawtext else []),
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-tune", "zerolatency",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "800k",
            "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", self.url,
        ]  # fmt: skip

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_on_air(self.command()))

    async def _keep_on_air(self, command: list[str]) -> None:
        log_path = self.workdir / "logs" / "demo-encoder.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        while not self._stopping:
            with log_path.open("ab") as log:
                self.process = await asyncio.create_subprocess_exec(
                    *command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    preexec_fn=_die_with_parent,
                )
            self.starts += 1
            await self.process.wait()
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Stop the encoder (idempotent)."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()

    def kill(self) -> None:
        """The last resort, outside the event loop (the kernel also sends SIGTERM when the
        demo dies: _die_with_parent)."""
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


@dataclass
class Viewer:
    name: str
    grant: dict[str, str]
    ws: Any = None
    frames: list[Frame] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    notices: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def customer_id(self) -> str:
        return self.grant["customer_id"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.grant['token']}"}

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if frame["type"] == "notice" and frame.get("kind") == "order_placed":
                    self.orders.append(frame["data"]["order_id"])
                    self.notices.set()
        except websockets.ConnectionClosed:
            pass

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    def count(self, want: Callable[[Frame], bool]) -> int:
        return sum(1 for f in self.frames if want(f))


class Show:
    def __init__(
        self, urls: dict[str, str], viewers: int, rng: random.Random, workdir: Path
    ) -> None:
        self.report_files: list[Path] = []
        self.urls = urls
        self.n = viewers
        self.rng = rng
        self.workdir = workdir
        self.video: TestPattern | None = None
        self.http = httpx.AsyncClient(timeout=30)
        self.viewers: list[Viewer] = []
        self.readers: list[asyncio.Task[None]] = []
        self.room = ""
        self.pickup_point = ""

    def url(self, service: str, path: str) -> str:
        return self.urls[service] + path

    async def post(self, service: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = await self.http.post(
            self.url(service, path), json=body, headers=kw.pop("headers", ADMIN), **kw
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{service} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def run(self) -> None:
        started = time.monotonic()
        try:
            offers = await self.warm_up()
            await self.doors_open()
            await self.telegram_group("warm")
            await self.interactions()
            await self.flash_sale(offers["flash"])
            await self.group_buy(offers["group"])
            await self.pre_sale(offers["pre"])
            await self.expiry_and_waitlist(offers["flash"])
            await self.end_and_report(started)
        finally:
            await self.stop_video()

    async def photo(self, product: dict[str, Any], colour: tuple[int, int, int], n: int) -> None:
        """Upload the product's photo, as the host does from the console's catalog."""
        picture = product_picture(product["title"], colour, n)
        response = await self.http.post(
            self.url("orders", f"/products/{product['id']}/photos"),
            files={"file": ("photo.jpg", picture, "image/jpeg")},
            data={"alt": product["title"]},
            headers=ADMIN,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"orders photo upload: {response.status_code} {response.text}")

    async def start_video(self, title: str) -> None:
        """The host's encoder goes on air: a test pattern to the room's SRT address."""
        response = await self.http.get(
            self.url("live", f"/rooms/{self.room}/stream"), headers=ADMIN
        )
        response.raise_for_status()
        srt = next((p for p in response.json()["publish"] if p["protocol"] == "srt"), None)
        if srt is None:
            say("no SRT address for this room (MEDIA_MODE is not embedded): no video")
            return
        self.video = TestPattern(srt["url"], title, self.workdir)
        self.video.start()
        say(
            f"video: a test pattern with a tone publishes to {srt['server']}; "
            f"watch it at {self.url('live', f'/r/{self.room}')}"
        )

    async def video_state(self) -> str:
        response = await self.http.get(self.url("live", f"/rooms/{self.room}/playback"))
        return str(response.json().get("state")) if response.status_code == 200 else "?"

    async def stop_video(self) -> None:
        if self.video is not None:
            await self.video.stop()

    async def warm_up(self) -> dict[str, str]:
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        room = await self.post(
            "live",
            "/rooms",
            {"title": "Cherry night 樱桃专场", "scheduled_at": tomorrow.isoformat()},
        )
        self.room = room["id"]
        say(f"room {self.room} scheduled: {room['title']}")
        gate = await self.post(
            "orders",
            "/pickup-points",
            {
                "name": "Maple Court gate 3",
                "address": "12 Maple Court, Xuhui",
                "hours": "Mon-Sat 9:00-20:00",
                "room_ids": [self.room],
            },
        )
        self.pickup_point = gate["id"]
        cherries = await self.post(
            "orders", "/products", {"title": "Chilean cherries 智利车厘子 2.5kg"}
        )
        dress = await self.post(
            "orders",
            "/products",
            {"title": "Linen dress 亚麻连衣裙", "variants": ["S", "M", "L", "x-large"]},
        )
        jam = await self.post("orders", "/products", {"title": "Cherry jam 樱桃酱 (pre-sale)"})
        for n, (product, colour) in enumerate(
            ((cherries, (150, 10, 30)), (dress, (205, 190, 160)), (jam, (120, 20, 40)))
        ):
            await self.photo(product, colour, n)
        flash = await self.post(
            "orders",
            f"/rooms/{self.room}/offers",
            {
                "product_id": cherries["id"],
                "price_cents": 49900,
                "stock": 40,
                "per_buyer_limit": 1,
                "pay_within_s": 20,
                "duration_s": 600,
            },
        )
        group = await self.post(
            "orders",
            f"/rooms/{self.room}/offers",
            {
                "product_id": dress["id"],
                "kind": "group_buy",
                "stock": 200,
                "per_buyer_limit": 1,
                "tiers": [
                    {"min_buyers": 1, "price_cents": 5900},
                    {"min_buyers": 10, "price_cents": 4900},
                    {"min_buyers": 20, "price_cents": 3900},
                ],
                "min_group": 10,
                "duration_s": 3600,
            },
        )
        now = datetime.now(UTC)
        pre = await self.post(
            "orders",
            f"/rooms/{self.room}/offers",
            {
                "product_id": jam["id"],
                "kind": "pre_sale",
                "price_cents": 9900,
                "deposit_cents": 1000,
                "stock": 300,
                "per_buyer_limit": 2,
                "balance_from": (now + timedelta(days=7)).isoformat(),
                "balance_until": (now + timedelta(days=9)).isoformat(),
            },
        )
        await self.post(
            "live",
            f"/rooms/{self.room}/preview",
            {"text": "Tomorrow 20:00: cherries 499 a box, only 40 boxes! 明晚八点樱桃专场"},
        )
        say("preview announced; offers: flash sale (40 boxes), group buy (dress), pre-sale (jam)")
        await self.post(
            "ingest",
            "/bindings",
            {"platform": "telegram", "chat_id": str(TELEGRAM_GROUP), "room_id": self.room},
        )
        say("Telegram group bound to the room")
        await self.post("live", f"/rooms/{self.room}/start")
        await self.start_video(room["title"])
        for offer in (group, pre):
            await self.post("orders", f"/offers/{offer['id']}/open")
        say("the show is live; group buy and pre-sale open")
        return {"flash": flash["id"], "group": group["id"], "pre": pre["id"]}

    async def doors_open(self) -> None:
        base = self.urls["live"].replace("http://", "ws://")
        names = [
            f"{self.rng.choice(['Lily', 'Wei', 'Mei', 'Tom', '小红', '阿强', 'Ana'])}{i}"
            for i in range(self.n)
        ]
        gate = asyncio.Semaphore(20)

        async def come_in(i: int) -> None:
            body: dict[str, Any] = {"display_name": names[i]}
            if i >= 10 and self.rng.random() < 0.3:  # brought by an earlier viewer's link
                body["referrer_id"] = self.viewers[self.rng.randrange(10)].customer_id
            async with gate:
                grant = await self.post("live", f"/rooms/{self.room}/join", body, headers={})
                viewer = Viewer(names[i], grant)
                viewer.ws = await websockets.connect(base + grant["websocket_path"], max_queue=None)
            self.viewers.append(viewer)
            self.readers.append(asyncio.create_task(viewer.read()))

        for i in range(10):
            await come_in(i)
        await asyncio.gather(*(come_in(i) for i in range(10, self.n)))
        say(f"{len(self.viewers)} viewers in the room (about 30% came by a friend's link)")
        if self.video is not None:
            state = await self.video_state()
            if state == "live":
                say("the video is live: the viewer page plays it")
            else:
                say(f"the video is {state} (the encoder started {self.video.starts} times)")

    async def telegram_group(self, phase: str) -> None:
        lines = (
            ["hi from the Telegram group!", "我们群也在看", "+1", "buy 2", "要1"]
            if phase == "warm"
            else ["great show", "谢谢主播"]
        )
        for n, text in enumerate(lines):
            user = 7000 + n
            update = {
                "update_id": int(time.time() * 1000) % 10**9 + n,
                "message": {
                    "message_id": int(time.time()) % 10**6 * 10 + n,
                    "from": {"id": user, "is_bot": False, "first_name": f"TG{n}"},
                    "chat": {
                        "id": TELEGRAM_GROUP,
                        "type": "supergroup",
                        "title": "Cherry fans 樱桃群",
                    },
                    "date": int(time.time()),
                    "text": text,
                },
            }
            response = await self.http.post(
                self.url("ingest", "/webhooks/telegram"),
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            )
            response.raise_for_status()
        say(f"Telegram group posted {len(lines)} lines through ingest")

    async def interactions(self) -> None:
        for viewer in self.viewers:
            await viewer.send(type="checkin")
        for i, viewer in enumerate(self.viewers[: self.n // 2]):
            pool = LINES_ZH if i % 2 else LINES_EN
            await viewer.send(type="chat", text=self.rng.choice(pool))
            if i % 3 == 0:
                await viewer.send(type="like", count=self.rng.randint(1, 5))
        say("everyone checked in; chat in English and Chinese; likes")
        packet = await self.post(
            "live",
            f"/rooms/{self.room}/red-packets",
            {"total_cents": 8888, "shares": 20, "message": "樱桃 499! 🍒"},
        )
        await asyncio.sleep(0.5)
        for viewer in self.rng.sample(self.viewers, min(60, self.n)):
            await viewer.send(type="grab", packet_id=packet["packet_id"])
        poll = await self.post(
            "live",
            f"/rooms/{self.room}/polls",
            {
                "question": "Next show? 下一场卖什么？",
                "options": ["mangoes 芒果", "lychees 荔枝", "durian 榴莲"],
            },
        )
        for viewer in self.viewers:
            await viewer.send(
                type="vote", poll_id=poll["poll_id"], option=self.rng.choice([0, 1, 1, 2])
            )
        await asyncio.sleep(1.0)
        result = await self.post("live", f"/rooms/{self.room}/polls/{poll['poll_id']}/close")
        say(f"red packet of 88.88 in 20 shares grabbed; poll closed: {result}")

    async def flash_sale(self, offer_id: str) -> None:
        await self.post("orders", f"/offers/{offer_id}/open")
        await self.post("live", f"/rooms/{self.room}/pin", {"offer_id": offer_id})
        buyers = self.viewers[: int(self.n * 0.6)]
        # People buy what they see: wait until the pinned product reached their screens.
        for _ in range(100):
            if all(
                v.count(lambda f: f["type"] == "pinned" and f.get("offer") is not None)
                for v in buyers
            ):
                break
            await asyncio.sleep(0.1)
        for i, viewer in enumerate(buyers):
            if i % 2:
                await viewer.send(type="chat", text=self.rng.choice(["+1", "要1", "buy 1"]))
            else:
                await viewer.send(type="claim", quantity=1)
        await asyncio.sleep(3)
        offer = (await self.http.get(self.url("orders", f"/offers/{offer_id}"))).json()
        waitlisted = sum(
            v.count(
                lambda f: (
                    f["type"] == "notice"
                    and f.get("data", {}).get("reason") == "sold_out_waitlisted"
                )
            )
            for v in self.viewers
        )
        say(
            f"flash sale: {offer['held'] + offer['sold']} of 40 boxes held in seconds, "
            f"{waitlisted} buyers on the waitlist"
        )
        await self.pay_some(offer_id, share=0.75, note="; the others let their 20 s pass")

    async def pay_some(self, offer_id: str, share: float, note: str = "") -> None:
        paid = 0
        for viewer in self.viewers:
            for order_id in list(viewer.orders):
                order = (
                    await self.http.get(
                        self.url("orders", f"/orders/{order_id}"), headers=viewer.auth
                    )
                ).json()
                if order.get("offer_id") != offer_id or order.get("status") != "awaiting_payment":
                    continue
                if self.rng.random() < share:
                    if self.rng.random() < 0.5:
                        await self.http.post(
                            self.url("orders", f"/orders/{order_id}/fulfilment"),
                            headers=viewer.auth,
                            json={"method": "pickup", "pickup_point": self.pickup_point},
                        )
                    await self.http.post(
                        self.url("orders", f"/orders/{order_id}/pay"),
                        headers=viewer.auth,
                        json={"card": "4242 4242 4242 4242"},
                    )
                    paid += 1
        say(f"{paid} buyers paid through the simulated gateway{note}")

    async def group_buy(self, offer_id: str) -> None:
        joiners = self.viewers[int(self.n * 0.6) : int(self.n * 0.6) + 25]
        for viewer in joiners:
            await viewer.send(type="claim", offer_id=offer_id, quantity=1, variant="XL")
        await asyncio.sleep(2)
        await self.pay_some(offer_id, share=1.0)
        offer = (await self.http.get(self.url("orders", f"/offers/{offer_id}"))).json()
        price = offer["current_price_cents"] / 100
        say(f"group buy: {offer['buyers']} committed, price now {price:.2f}")
        await asyncio.sleep(1.5)
        await self.post("orders", f"/offers/{offer_id}/close")
        say("group buy deadline: the group formed; all pay the final tier (difference refunded)")

    async def pre_sale(self, offer_id: str) -> None:
        for viewer in self.viewers[-15:]:
            await viewer.send(type="claim", offer_id=offer_id, quantity=1)
        await asyncio.sleep(2)
        await self.pay_some(offer_id, share=1.0)
        say("pre-sale: deposits of 10.00 taken for cherry jam, balance due next week")

    async def expiry_and_waitlist(self, offer_id: str) -> None:
        say("waiting for unpaid flash-sale orders to expire and go to the waitlist…")
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            offer = (await self.http.get(self.url("orders", f"/offers/{offer_id}"))).json()
            handed = sum(
                v.count(lambda f: f["type"] == "notice" and f.get("kind") == "order_expired")
                for v in self.viewers
            )
            if handed:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(2)
        await self.pay_some(offer_id, share=1.0)
        offer = (await self.http.get(self.url("orders", f"/offers/{offer_id}"))).json()
        say(
            f"flash sale books: sold {offer['sold']} + held {offer['held']} + left {offer['left']}"
            f" = {offer['stock']}"
        )
        await self.telegram_group("end")

    async def end_and_report(self, started: float) -> None:
        await asyncio.sleep(2)
        await self.post("live", f"/rooms/{self.room}/end")
        if self.video is not None:
            await self.stop_video()  # the room's key is revoked: the host stops the encoder
            say("the encoder stopped")
        # Live closes every viewer's socket when the show ends (their likes and watch
        # time are published then); the report counts them once they have arrived.
        await asyncio.wait(self.readers, timeout=10)
        await asyncio.sleep(1)  # viewer.left follows each close by milliseconds
        say("the show ended; analytics builds the report")
        report_url = self.url("analytics", f"/rooms/{self.room}/report")
        report: dict[str, Any] | None = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = await self.http.get(report_url, headers=ADMIN)
            if response.status_code == 200:
                report = response.json()
                break
            await asyncio.sleep(0.5)
        print()
        if report is None:
            say(f"no report yet at {report_url}")
        else:
            print(summary(report))
            await self.save_report(report_url)
        print(f"\nreport page: {report_url}.html   (HTML with charts; the admin token reads it)")
        for path in self.report_files:
            print(f"report file: {path}")
        print(f"show played in {time.monotonic() - started:.0f} s")

    async def save_report(self, report_url: str) -> None:
        """The report's page and CSV into the data dir: they outlive the platform."""
        for suffix in ("html", "csv"):
            response = await self.http.get(f"{report_url}.{suffix}", headers=ADMIN)
            if response.status_code != 200:
                say(f"report.{suffix}: analytics answered {response.status_code}")
                continue
            path = self.workdir / f"report-{self.room}.{suffix}"
            path.write_bytes(response.content)
            self.report_files.append(path)


def summary(report: dict[str, Any]) -> str:
    """The report's headline figures, whatever extra sections it carries."""
    keys = [
        "title",
        "peak_viewers",
        "unique_viewers",
        "messages",
        "messages_per_minute",
        "funnel",
        "gmv_cents",
        "average_order_cents",
        "orders_paid",
        "new_customers",
        "returning_customers",
    ]
    lines = ["post-stream report"]
    for key in keys:
        if key in report:
            lines.append(f"  {key.replace('_', ' ')}: {report[key]}")
    for key, value in report.items():
        if key not in keys and isinstance(value, int | float | str) and len(lines) < 25:
            lines.append(f"  {key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


def _echo(lines: Iterable[str]) -> None:
    for line in lines:
        say(f"launcher: {line.rstrip()}")


def start_platform(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "services.launcher", "--free-ports", "--data-dir", str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    urls: dict[str, str] = {}
    assert launcher.stdout is not None
    for line in launcher.stdout:
        if match := SERVICE_LINE.match(line.strip()):
            urls[match[1]] = match[2]
        if line.startswith("ready in"):
            say(f"platform up ({line.strip()}): " + ", ".join(f"{k} {v}" for k, v in urls.items()))
            # Keep reading what it says (a restarted service...): a full pipe would stall it
            # while the platform stays up after the show.
            threading.Thread(target=_echo, args=(launcher.stdout,), daemon=True).start()
            return launcher, urls
    raise RuntimeError("the launcher stopped before the platform was ready")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo as Ctrl-C does


def wait_for_ctrl_c() -> None:
    while True:
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="default: .data/demo-<time>/ in the repo"
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="stop once the report's files are written"
    )
    args = parser.parse_args()
    data_dir = args.data_dir or REPO / ".data" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)
    launcher, urls = start_platform(data_dir)
    show = Show(urls, args.viewers, random.Random(args.seed), data_dir)
    try:
        asyncio.run(show.run())
        if not args.no_wait:
            say("the platform stays up (the report's link works): press Ctrl-C to stop it")
            wait_for_ctrl_c()
    except KeyboardInterrupt:
        say("stopping the platform")
    finally:
        if show.video is not None:
            show.video.kill()
        launcher.send_signal(signal.SIGINT)
        launcher.wait(30)


if __name__ == "__main__":
    main()
