"""The media process against a stand-in for live (its /media/ routes: a publishers list the
test edits, the hooks recorded) and the wheel's ffmpeg as the host's encoder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.live.media.supervisor import MediaConfig, Supervisor, Timing
from tests.support import eventually, serving

SECRET = "test-media-hook-secret"
FAST = Timing(
    poll_s=0.2,
    stats_s=1.0,
    tick_s=0.1,
    read_timeout_s=2.0,
    backoff_min_s=0.2,
    backoff_max_s=1.0,
    hook_retry_s=0.2,
    orphaned_take_s=1.0,
)


@dataclass
class FakeLive:
    """live's part: GET /media/publishers from `publishers`, every hook call kept; while
    `down`, 503 to everything (as a proxy in front of a restarting live would say)."""

    publishers: dict[str, dict[str, Any]] = field(default_factory=dict)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    down: bool = False
    refused: int = 0

    def app(self) -> Starlette:
        async def publishers(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {SECRET}":
                return JSONResponse({"title": "unauthorized"}, status_code=401)
            if self.down:
                self.refused += 1
                return Response(status_code=503)
            return JSONResponse({"publishers": list(self.publishers.values())})

        async def hook(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {SECRET}":
                return JSONResponse({"title": "unauthorized"}, status_code=401)
            if self.down:
                self.refused += 1
                return Response(status_code=503)
            self.hooks.append((request.path_params["kind"], await request.json()))
            return Response(status_code=204)

        return Starlette(
            routes=[
                Route("/media/publishers", publishers),
                Route("/media/hooks/{kind}", hook, methods=["POST"]),
            ]
        )

    def add(
        self, room_id: str, port: int, passphrase: str, key_version: int = 1, on_air: bool = False
    ) -> None:
        self.publishers[room_id] = {
            "room_id": room_id,
            "srt_port": port,
            "passphrase": passphrase,
            "key_version": key_version,
            "on_air": on_air,
        }

    def calls(self, kind: str, room_id: str) -> list[dict[str, Any]]:
        return [body for k, body in self.hooks if k == kind and body["room_id"] == room_id]

    async def wait_for(self, kind: str, room_id: str, count: int = 1, timeout: float = 15):
        async def probe() -> list[dict[str, Any]]:
            calls = self.calls(kind, room_id)
            return calls if len(calls) >= count else []

        return await eventually(probe, timeout=timeout, interval=0.1)


@pytest.fixture
async def live() -> AsyncIterator[FakeLive]:
    fake = FakeLive()
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake


def config(live: FakeLive, media_dir: Path) -> MediaConfig:
    return MediaConfig(
        media_dir=media_dir,
        bind_host="127.0.0.1",
        latency_ms=120,
        live_url=live.url,
        secret=SECRET,
        ffmpeg=imageio_ffmpeg.get_ffmpeg_exe(),
        timing=FAST,
    )


@pytest.fixture
async def media(live: FakeLive, tmp_path: Path) -> AsyncIterator[Supervisor]:
    """The supervisor in this event loop; stopped (every ffmpeg with it) at the end."""
    supervisor = Supervisor(config(live, tmp_path / "media"))
    task = asyncio.create_task(supervisor.run())
    try:
        yield supervisor
    finally:
        supervisor.stop()
        await asyncio.wait_for(task, timeout=20)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_bound(port: int) -> bool:
    """Whether some process has a UDP socket on `port` (SRT listeners do)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                local = row.split()[1]
                if int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


async def listening(supervisor: Supervisor, room_id: str, port: int, takes: int = 1) -> int:
    """Wait until the room's `takes`-th ffmpeg is up and bound; its pid."""

    async def probe() -> int:
        listener = supervisor.listeners.get(room_id)
        if not listener or listener.takes != takes or listener.process is None:
            return 0
        up = listener.process.returncode is None and udp_bound(port)
        return listener.process.pid if up else 0

    return await eventually(probe, timeout=15, interval=0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Encoders:
    """The host's encoder: the wheel's ffmpeg publishing a test pattern and a tone over SRT."""

    logs: Path
    started: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def publish(
        self, port: int, key: str, seconds: float | None = None
    ) -> asyncio.subprocess.Process:
        source = ["-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"]
        source += ["-re", "-f", "lavfi", "-i", "sine=frequency=440"]
        video = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
        video += ["-tune", "zerolatency", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0"]
        video += ["-b:v", "800k", "-c:a", "aac", "-b:a", "64k"]
        duration = ["-t", str(seconds)] if seconds else []
        url = f"srt://127.0.0.1:{port}?passphrase={key}&pbkeylen=16"
        log = self.logs / f"encoder-{len(self.started)}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                imageio_ffmpeg.get_ffmpeg_exe(),
                *["-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"],
                *source,
                *duration,
                *video,
                *["-f", "mpegts", url],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=out,
            )
        self.started.append(process)
        return process

    def log(self, process: asyncio.subprocess.Process) -> str:
        index = self.started.index(process)
        return (self.logs / f"encoder-{index}.log").read_text(errors="replace")


@pytest.fixture
async def encoders(tmp_path: Path) -> AsyncIterator[Encoders]:
    made = Encoders(tmp_path)
    try:
        yield made
    finally:
        for process in made.started:
            if process.returncode is None:
                process.kill()
                await process.wait()
