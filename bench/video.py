"""Live video on the embedded path: glass-to-glass latency, CPU per stream, segments served,
and how many viewers one live process can feed.

    python -m bench.video [--runs 3] [--watch 20] [--wrk-duration 5] [--connections 32]
                          [--size 1280x720] [--fps 30] [--kbps 2000] [--viewer-kbps 2000]

Each run starts the platform with the launcher (`make run`'s: its own NATS, free ports, a
fresh data dir, the media process among its children), creates a room as the admin, reads
the room's stream settings (the SRT URL with its passphrase) and publishes the wheel's
ffmpeg test pattern and tone to it in real time (`-re`), as a host's encoder would: H.264
yuv420p, a keyframe every second, AAC. Then, on that stream:

a. Latency. Debian's Chromium (Playwright) opens the viewer page; from the moment it
   plays, `window.qunlivePlayer.latencyS` (Date.now() - hls.js playingDate, the
   EXT-X-PROGRAM-DATE-TIME of the frame on screen) is sampled every 0.5 s for --watch s.
   That date is the media side's clock, not the encoder's: ffmpeg stamps the first
   segment with the wall clock at which its HLS muxer started, after it probed the
   input. So each run also measures that offset once: the first segment's
   PROGRAM-DATE-TIME minus the encoder's wall clock at the segment's first frame (the
   encoder's start time T0 plus the segment's media time). Glass-to-glass = what the
   player shows + that offset; both are reported. T0 is taken just before the encoder
   starts, so the offset is an upper bound by the encoder's start-up (~0.1 s).
b. CPU per published stream: user+system time of the media process's ffmpeg listener for
   the room (/proc/<pid>/stat) over the watch window, as % of one core: it repackages
   (`-c copy`). Reference in the same window: the encoder's own CPU (it transcodes).
c. Segments served: wrk GETs one segment and the live playlist from live's
   /rooms/{id}/hls/<name>, then the same bytes at the same path from a bare Starlette
   StaticFiles app served as live is (shared.runtime.serve: uvicorn, one process): the
   static-file ceiling of the same stack, on the same machine, in the same run. With
   nginx installed (`apt-get install nginx`), also nginx (one worker, sendfile): the
   ceiling of a real static-file server.
d. Viewers per live process at --viewer-kbps: each viewer fetches per second one playlist
   (hls.js reloads a live playlist about once per target duration, 1 s) and
   viewer_bytes / segment_bytes segments; each request takes 1 / (its req/s) of the
   process, so viewers = 1 / (segments per viewer / segment req/s + playlists per
   viewer / playlist req/s). The bytes-only figure (segment MB/s / viewer MB/s) is given
   too. `python -m bench.report` writes it into docs/CAPACITY.md.

Writes test-artifacts/bench/video.json; prints a table per run and the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench import results

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "bench" / "video.lua"
ADMIN_TOKEN = "bench-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHROMIUM = results.CHROMIUM
CHROMIUM_ARGS = [*results.CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
# ffmpeg's MPEG-TS muxer starts a stream's timestamps at 1.4 s (its default max delay,
# 0.7 s, twice): the encoder's first frame is at 1.4 s of media time.
ENCODER_FIRST_PTS_S = 1.4
SAMPLE_EVERY_S = 0.5
SERVICE_LINE = re.compile(r"^service (\w+) url=(\S+) pid=(\d+)$")
SEGMENT_NAME = re.compile(r"^[lr]\d+\.ts$")
QUIET_PERCENT = 25.0  # as bench.live_fanout: the machine's CPU, 100 = one core
# The playlist grew by less media than wall time: the encoder (or the listener) could not
# keep up, and the latency figures measure the overload (segments are 1 s: ±5% in 20 s).
REALTIME_SLOW = 0.9


# ---- the pure parts (tests/test_bench_video.py) ----------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100), as bench.live_fanout takes them."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or ')': the
    fields are counted from the last ')'. utime and stime are fields 14 and 15."""
    after = stat.rsplit(")", 1)[1].split()
    return int(after[11]) + int(after[12])


def cpu_percent(ticks_before: int, ticks_after: int, seconds: float, clk_tck: int) -> float:
    """CPU used over a window as % of one core (100 = one core busy all along)."""
    if seconds <= 0:
        raise ValueError("an empty window")
    return (ticks_after - ticks_before) / clk_tck / seconds * 100


@dataclass(frozen=True)
class Capacity:
    viewers: float  # playlists included
    viewers_bytes_only: float
    segments_per_viewer_s: float
    playlists_per_viewer_s: float


def viewers_per_process(
    *,
    segment_bytes: int,
    segment_per_s: float,
    playlist_per_s: float,
    viewer_kbps: float = 2000,
    playlist_every_s: float = 1.0,
) -> Capacity:
    """How many viewers at `viewer_kbps` one process feeds, when it serves segments of
    `segment_bytes` at `segment_per_s` and the playlist at `playlist_per_s` (each alone).

    A viewer needs viewer_kbps of segments a second, so viewer_bytes / segment_bytes
    segment requests, and reloads the playlist every `playlist_every_s`. Each request
    takes 1 / (its req/s) of the process, so a viewer takes the sum of those shares."""
    viewer_bytes_s = viewer_kbps * 1000 / 8
    segments = viewer_bytes_s / segment_bytes
    playlists = 1 / playlist_every_s
    share = segments / segment_per_s + playlists / playlist_per_s
    return Capacity(
        viewers=1 / share,
        viewers_bytes_only=segment_per_s * segment_bytes / viewer_bytes_s,
        segments_per_viewer_s=segments,
        playlists_per_viewer_s=playlists,
    )


@dataclass(frozen=True)
class Entry:
    uri: str
    duration_s: float
    program_date_time: float | None  # epoch seconds


def playlist_entries(text: str) -> list[Entry]:
    """The segments of a media playlist, in order, with their PROGRAM-DATE-TIME."""
    out: list[Entry] = []
    duration: float | None = None
    pdt: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = parse_pdt(line.split(":", 1)[1])
        elif line and not line.startswith("#") and duration is not None:
            out.append(Entry(line, duration, pdt))
            duration, pdt = None, None
    return out


def parse_pdt(text: str) -> float:
    """An EXT-X-PROGRAM-DATE-TIME (ffmpeg writes 2026-03-01T12:00:00.123+0000) as epoch s."""
    text = text.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).timestamp()


def media_start(ffmpeg_output: str) -> float:
    """A media file's start time from `ffmpeg -i file`'s summary ("start: 6.400000")."""
    found = re.search(r"\bstart: (-?\d+(?:\.\d+)?)", ffmpeg_output)
    if found is None:
        raise ValueError("no start time in ffmpeg's output")
    return float(found[1])


def pdt_offset(program_date_time: float, encoder_t0: float, segment_start_pts: float) -> float:
    """How far the media side's date of a segment is from the encoder's clock: its
    PROGRAM-DATE-TIME minus the encoder's wall clock at its first frame."""
    captured = encoder_t0 + (segment_start_pts - ENCODER_FIRST_PTS_S)
    return program_date_time - captured


def redacted(command: Sequence[str]) -> list[str]:
    """A command line with its SRT passphrase masked (it is the room's stream key)."""
    out: list[str] = []
    for arg in command:
        if out and out[-1] == "-passphrase":
            arg = "***"
        out.append(re.sub(r"(passphrase=)[^&\s]+", r"\1***", arg))
    return out


# ---- processes ----------------------------------------------------------------------------


def die_with_parent() -> None:
    """In a child before exec (Linux): SIGTERM when the benchmark dies, even by SIGKILL."""
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def read_ticks(pid: int) -> int:
    return cpu_ticks(Path(f"/proc/{pid}/stat").read_text())


def machine_busy_s() -> float:
    """CPU time all cores spent on anything but idle (and I/O wait) since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float) -> float:
    """Wait (up to limit_s) until the machine uses under QUIET_PERCENT of a core; how busy
    it was in the last second (100 = one core)."""
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_busy_s()
        time.sleep(1.0)
        busy = (machine_busy_s() - before) * 100
        if busy < QUIET_PERCENT or time.monotonic() > deadline:
            return busy


def listener_pid(port: int, exclude: set[int]) -> int | None:
    """The ffmpeg that listens for SRT on `port` (the media process's child), if any."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in exclude:
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not args or b"ffmpeg" not in Path(args[0].decode(errors="replace")).name.encode():
            continue
        if any(a.startswith(b"srt://") and f":{port}".encode() in a for a in args):
            return int(proc.name)
    return None


@dataclass
class Platform:
    launcher: subprocess.Popen[bytes]
    data_dir: Path
    urls: dict[str, str]

    @property
    def live(self) -> str:
        return self.urls["live"]


def start_platform(data_dir: Path, timeout_s: float = 90) -> Platform:
    """`make run`'s launcher on free ports with its own NATS and data dir."""
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env |= {
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    out_path = data_dir / "launcher.out"
    with out_path.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "services.launcher", "--free-ports",
             "--data-dir", str(data_dir)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = out_path.read_text(errors="replace")
        if any(line.startswith("ready in") for line in text.splitlines()):
            urls = {m[1]: m[2] for m in map(SERVICE_LINE.match, text.splitlines()) if m}
            return Platform(launcher, data_dir, urls)
        if launcher.poll() is not None:
            raise RuntimeError(f"the launcher stopped during start-up:\n{text[-3000:]}")
        time.sleep(0.2)
    stop(launcher, signal.SIGINT)
    raise RuntimeError(f"the platform was not ready after {timeout_s:.0f} s (see {out_path})")


def stop(process: subprocess.Popen[Any], signum: int = signal.SIGTERM, wait_s: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def encoder_command(url: str, size: str, fps: int, kbps: int, audio_kbps: int) -> list[str]:
    """The contract's test encoder, in real time (-re), a keyframe every second."""
    video_kbps = kbps - audio_kbps
    return [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-tune", "zerolatency",
        "-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0",
        "-b:v", f"{video_kbps}k", "-maxrate", f"{video_kbps}k", "-bufsize", f"{video_kbps}k",
        "-c:a", "aac", "-b:a", f"{audio_kbps}k",
        "-f", "mpegts", url,
    ]  # fmt: skip


def static_server(port: int, directory: Path, prefix: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.video", "--serve-static", str(port), str(directory), prefix],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )  # fmt: skip


def serve_static(port: int, directory: str, prefix: str) -> None:
    """The ceiling: the same files at the same path, a bare StaticFiles app served as live."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from shared.runtime import serve
    from shared.settings import ServiceSettings

    app = Starlette(routes=[Mount(prefix, app=StaticFiles(directory=directory))])
    serve(app, ServiceSettings(service_name="bench-static", port=port, log_level="WARNING"))


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  types {{ video/mp2t ts; application/vnd.apple.mpegurl m3u8; }}
  server {{
    listen 127.0.0.1:{port};
    location {prefix}/ {{ alias {directory}/; }}
  }}
}}
"""


def nginx_server(port: int, directory: Path, prefix: str, tmp: Path) -> subprocess.Popen[bytes]:
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, directory=directory, prefix=prefix))
    nginx = shutil.which("nginx")
    assert nginx is not None
    return subprocess.Popen(
        [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )  # fmt: skip


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200")
        time.sleep(0.1)


def wrk(url: str, seconds: float, connections: int, threads: int) -> dict[str, int]:
    return results.run_wrk(LUA, url, seconds, connections, threads)


def served(result: dict[str, int], file_bytes: int) -> dict[str, float]:
    return {**results.wrk_figures(result), "file_kb": round(file_bytes / 1000, 1)}


# ---- one run ------------------------------------------------------------------------------


@dataclass
class Run:
    latency: dict[str, Any] = field(default_factory=dict)
    encoder_cpu: dict[str, Any] = field(default_factory=dict)
    listener_cpu: dict[str, Any] = field(default_factory=dict)
    served: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<server>_<file>"
    capacity: dict[str, Any] = field(default_factory=dict)
    listener_command: list[str] = field(default_factory=list)
    player: dict[str, Any] = field(default_factory=dict)


def create_room(http: httpx.Client, live: str) -> tuple[str, str, int]:
    """A started room and its SRT publish URL (with the passphrase) and port."""
    room = http.post(f"{live}/rooms", json={"title": "bench video"}, headers=ADMIN)
    room.raise_for_status()
    room_id = str(room.json()["id"])
    http.post(f"{live}/rooms/{room_id}/start", headers=ADMIN).raise_for_status()
    settings = http.get(f"{live}/rooms/{room_id}/stream", headers=ADMIN)
    settings.raise_for_status()
    srt = next(p for p in settings.json()["publish"] if p["protocol"] == "srt")
    port = int(srt["server"].rsplit(":", 1)[1])
    return room_id, str(srt["url"]), port


def first_segment(
    http: httpx.Client, live: str, room_id: str, timeout_s: float
) -> tuple[Entry, bytes, float]:
    """The first segment the live playlist lists, its bytes, and when it was seen."""
    url = f"{live}/rooms/{room_id}/hls/live.m3u8"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):  # 404 until the first segment is out
            response = http.get(url)
            entries = playlist_entries(response.text) if response.status_code == 200 else []
            if entries and entries[0].program_date_time is not None:
                seen = time.time()
                segment = http.get(f"{live}/rooms/{room_id}/hls/{entries[0].uri}")
                segment.raise_for_status()
                return entries[0], segment.content, seen
        time.sleep(0.05)
    raise RuntimeError(f"no segment in {url} after {timeout_s:.0f} s")


def settle(port: int, listener: int, timeout_s: float = 10) -> None:
    """Wait until the listener that took the stream is gone (replaced or not), then 1 s."""
    deadline = time.monotonic() + timeout_s
    while listener_pid(port, {os.getpid()}) == listener and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)


def segment_start_pts(data: bytes, tmp: Path) -> float:
    path = tmp / "first.ts"
    path.write_bytes(data)
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return media_start(done.stderr)


# latencyS and state only: window.qunlivePlayer also holds the player (circular, DOM).
SAMPLE = """() => {
  const p = window.qunlivePlayer;
  return p ? {latencyS: p.latencyS, state: p.state} : {};
}"""
STATS = """() => {
  try { return JSON.parse(JSON.stringify(window.qunlivePlayer.stats())); } catch { return null; }
}"""
PLAYING = """() => {
  const p = window.qunlivePlayer, v = document.querySelector('video');
  return !!p && typeof p.latencyS === 'number' && isFinite(p.latencyS)
    && !!v && !v.paused && v.currentTime > 0;
}"""


def media_edge(http: httpx.Client, live: str, room_id: str) -> float | None:
    """Where the live playlist ends, on its PROGRAM-DATE-TIME clock (epoch s)."""
    with contextlib.suppress(httpx.HTTPError):
        response = http.get(f"{live}/rooms/{room_id}/hls/live.m3u8")
        entries = playlist_entries(response.text) if response.status_code == 200 else []
        if entries and entries[-1].program_date_time is not None:
            return entries[-1].program_date_time + entries[-1].duration_s
    return None


@dataclass
class Watched:
    samples: list[float]
    cpu: dict[str, float]  # % of one core, per watched pid
    player: dict[str, Any]  # window.qunlivePlayer, last sample
    playing_at: float  # epoch s
    realtime: float | None  # media seconds the playlist grew by / wall seconds


def watch(
    http: httpx.Client,
    live: str,
    room_id: str,
    seconds: float,
    pids: dict[str, int],
    timeout_s: float = 45,
) -> Watched:
    """Open the viewer page, wait for playback, sample latencyS every SAMPLE_EVERY_S; the
    CPU of `pids` meanwhile, and whether the stream kept real time (an overloaded machine
    slows the encoder, and every latency with it)."""
    from playwright.sync_api import sync_playwright

    clk = os.sysconf("SC_CLK_TCK")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{live}/r/{room_id}")
            try:
                page.wait_for_function(PLAYING, timeout=timeout_s * 1000)
            except Exception as exc:
                state = page.evaluate(SAMPLE)
                raise RuntimeError(
                    f"the viewer page did not play within {timeout_s:.0f} s "
                    f"(window.qunlivePlayer = {state!r})"
                ) from exc
            playing_at = time.time()
            before = {name: read_ticks(pid) for name, pid in pids.items()}
            edge_before = media_edge(http, live, room_id)
            began = time.monotonic()
            samples: list[float] = []
            last: dict[str, Any] = {}
            for n in range(int(seconds / SAMPLE_EVERY_S)):
                pause = began + n * SAMPLE_EVERY_S - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                last = page.evaluate(SAMPLE)
                value = last.get("latencyS")
                if isinstance(value, int | float) and math.isfinite(value):
                    samples.append(float(value))
            took = time.monotonic() - began
            cpu = {
                name: cpu_percent(before[name], read_ticks(pid), took, clk)
                for name, pid in pids.items()
            }
            edge_after = media_edge(http, live, room_id)
            last["stats"] = page.evaluate(STATS)
        finally:
            browser.close()
    realtime = None
    if edge_before is not None and edge_after is not None:
        realtime = (edge_after - edge_before) / took
    return Watched(samples, cpu, last, playing_at, realtime)


def one_run(args: argparse.Namespace, tmp: Path, run: int) -> Run:
    out = Run()
    platform = start_platform(tmp / f"data-{run}")
    encoder: subprocess.Popen[bytes] | None = None
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with httpx.Client(timeout=10, trust_env=False) as http:
            live = platform.live
            room_id, publish_url, port = create_room(http, live)
            deadline = time.monotonic() + 20
            listener = None
            while listener is None:
                listener = listener_pid(port, {os.getpid()})
                if listener is None and time.monotonic() > deadline:
                    raise RuntimeError(
                        f"no ffmpeg listens for SRT on port {port} after 20 s: did the launcher "
                        f"start the media process (python -m services.live.media)? "
                        f"Logs: {platform.data_dir / 'logs'}"
                    )
                time.sleep(0.1)
            out.listener_command = redacted(
                Path(f"/proc/{listener}/cmdline").read_bytes().decode().split("\0")[:-1]
            )
            command = encoder_command(publish_url, args.size, args.fps, args.kbps, args.audio_kbps)
            t0 = time.time()
            encoder = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
            )
            entry, data, seen = first_segment(http, live, room_id, timeout_s=30)
            start_pts = segment_start_pts(data, tmp)
            offset = pdt_offset(entry.program_date_time or 0.0, t0, start_pts)

            seen_play = watch(
                http, live, room_id, args.watch, {"listener": listener, "encoder": encoder.pid}
            )
            samples = seen_play.samples
            if not samples:
                raise RuntimeError(f"no latency sample from the page ({seen_play.player})")
            out.player = seen_play.player
            shown_p50, shown_p99 = percentile(samples, 50), percentile(samples, 99)
            out.latency = {
                "p50_s": shown_p50 + offset,
                "p99_s": shown_p99 + offset,
                "player_p50_s": shown_p50,
                "player_p99_s": shown_p99,
                "pdt_offset_s": offset,
                "first_segment_s": seen - t0,
                "first_frame_s": seen_play.playing_at - t0,
                "samples": len(samples),
                "segment_s": entry.duration_s,
                "realtime": seen_play.realtime,
            }
            out.listener_cpu = {"cpu_percent": seen_play.cpu["listener"]}
            out.encoder_cpu = {"cpu_percent": seen_play.cpu["encoder"]}

            # The files to serve: the live playlist and one whole segment (not the newest,
            # which may still grow), copied now: the media side may delete them later.
            hls_dir = platform.data_dir / "media" / "hls" / room_id
            playlist_text = http.get(f"{live}/rooms/{room_id}/hls/live.m3u8").text
            entries = playlist_entries(playlist_text)
            pick = entries[-2] if len(entries) > 1 else entries[-1]
            segment_bytes = http.get(f"{live}/rooms/{room_id}/hls/{pick.uri}").content
            static_dir = tmp / f"static-{run}"
            static_dir.mkdir()
            (static_dir / "live.m3u8").write_text(playlist_text)
            (static_dir / pick.uri).write_bytes(segment_bytes)
        stop(encoder, signal.SIGTERM, 10)
        # The media side sees the encoder go: its listener ends and a new one waits for the
        # next take, which may start by clearing the room's live files. Once that is done,
        # the same bytes go back where live serves them.
        settle(port, listener)
        for name in ("live.m3u8", pick.uri):
            shutil.copy(static_dir / name, hls_dir / name)

        prefix = f"/rooms/{room_id}/hls"
        targets = {"live": live}
        static_port = results_port()
        servers.append(static_server(static_port, static_dir, prefix))
        targets["static"] = f"http://127.0.0.1:{static_port}"
        wait_http(f"{targets['static']}{prefix}/live.m3u8", servers[-1])
        if shutil.which("nginx"):
            nginx_port = results_port()
            servers.append(nginx_server(nginx_port, static_dir, prefix, tmp / f"nginx-{run}"))
            targets["nginx"] = f"http://127.0.0.1:{nginx_port}"
            wait_http(f"{targets['nginx']}{prefix}/live.m3u8", servers[-1])
        sizes = {"segment": len(segment_bytes), "playlist": len(playlist_text.encode())}
        files = {"segment": pick.uri, "playlist": "live.m3u8"}
        for server, base in targets.items():
            for kind, name in files.items():
                url = f"{base}{prefix}/{name}"
                wrk(url, 1, args.connections, args.threads)  # warm
                result = wrk(url, args.wrk_duration, args.connections, args.threads)
                if result["non_2xx"]:
                    raise RuntimeError(f"{url}: {result['non_2xx']} answers were not 2xx")
                out.served[f"{server}_{kind}"] = served(result, sizes[kind])
        capacity = viewers_per_process(
            segment_bytes=sizes["segment"],
            segment_per_s=out.served["live_segment"]["per_s"],
            playlist_per_s=out.served["live_playlist"]["per_s"],
            viewer_kbps=args.viewer_kbps,
            playlist_every_s=entry.duration_s or 1.0,
        )
        out.capacity = {
            "viewers": capacity.viewers,
            "viewers_bytes_only": capacity.viewers_bytes_only,
            "segments_per_viewer_s": capacity.segments_per_viewer_s,
            "playlists_per_viewer_s": capacity.playlists_per_viewer_s,
            "segment_kb": round(sizes["segment"] / 1000, 1),
        }
        return out
    finally:
        if encoder is not None:
            stop(encoder, signal.SIGKILL, 5)
        for process in servers:
            stop(process, signal.SIGTERM, 10)
        stop(platform.launcher, signal.SIGINT, 40)


def results_port() -> int:
    from shared.embedded_nats import free_port

    return free_port()


# ---- output -------------------------------------------------------------------------------

SERVERS = {
    "live": "live (GET /rooms/{id}/hls/…)",
    "static": "Starlette StaticFiles, same stack (uvicorn, 1 process)",
    "nginx": "nginx, 1 worker, sendfile",
}


def table(run: Run, title: str) -> None:
    lat = run.latency
    print(f"\n{title}")
    print(
        f"  latency: glass-to-glass p50 {lat['p50_s']:.2f} s, p99 {lat['p99_s']:.2f} s "
        f"(player shows p50 {lat['player_p50_s']:.2f} s, p99 {lat['player_p99_s']:.2f} s; "
        f"PDT offset {lat['pdt_offset_s']:+.2f} s; first segment after "
        f"{lat['first_segment_s']:.1f} s, playing after {lat['first_frame_s']:.1f} s; "
        f"{lat['samples']:.0f} samples)"
    )
    realtime = lat.get("realtime")
    if isinstance(realtime, float):
        slow = realtime < REALTIME_SLOW
        print(
            f"  the stream grew by {realtime:.2f} s a second while watched"
            + (": **slower than real time**, the machine is overloaded" if slow else "")
        )
    listener, encoder = run.listener_cpu["cpu_percent"], run.encoder_cpu["cpu_percent"]
    print(f"  CPU: listener (repackaging) {listener:.1f}% of a core, encoder {encoder:.0f}%")
    print(
        f"  {'server':56} {'file':9} {'req/s':>8} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'sock err':>8}"
    )
    for key, figures in run.served.items():
        server, kind = key.split("_", 1)
        print(
            f"  {SERVERS[server]:56} {kind:9} {figures['per_s']:>8,.0f} "
            f"{figures['mb_per_s']:>8,.1f} {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} "
            f"{figures['socket_errors']:>8,}"
        )
    cap = run.capacity
    print(
        f"  one live process feeds ~{cap['viewers']:,.0f} viewers at the viewer bitrate "
        f"(playlists included; {cap['viewers_bytes_only']:,.0f} counting segment bytes only)"
    )


def median_run(runs: list[Run]) -> Run:
    def med(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return results.median_figures(rows)

    return Run(
        latency=med([r.latency for r in runs]),
        encoder_cpu=med([r.encoder_cpu for r in runs]),
        listener_cpu=med([r.listener_cpu for r in runs]),
        served={k: med([r.served[k] for r in runs]) for k in runs[0].served},
        capacity=med([r.capacity for r in runs]),
    )


def write_results(
    args: argparse.Namespace, runs: list[Run], quiet: list[float], failed: list[str]
) -> Path:
    scenarios = [
        results.scenario(
            "latency",
            "glass-to-glass latency, viewer page in Chromium (player + PDT offset)",
            "measured",
            [r.latency for r in runs],
        ),
        results.scenario(
            "encoder_cpu",
            "encoder CPU: libx264 transcoding the test pattern",
            "reference",
            [r.encoder_cpu for r in runs],
        ),
        results.scenario(
            "listener_cpu",
            "media listener CPU per stream: SRT in, HLS out (-c copy)",
            "measured",
            [r.listener_cpu for r in runs],
        ),
    ]
    for key in runs[0].served:
        server, kind = key.split("_", 1)
        role = "measured" if server == "live" else "reference"
        label = f"{kind}: {SERVERS[server]}"
        scenarios.append(results.scenario(key, label, role, [r.served[key] for r in runs]))
    scenarios.append(
        results.scenario(
            "capacity",
            f"viewers one live process feeds at {args.viewer_kbps / 1000:g} Mbit/s",
            "measured",
            [r.capacity for r in runs],
        )
    )
    ratios = [
        results.ratio(
            "listener_vs_encoder",
            "listener CPU / encoder CPU",
            [
                r.listener_cpu["cpu_percent"] / r.encoder_cpu["cpu_percent"]
                if r.encoder_cpu["cpu_percent"]
                else 0.0
                for r in runs
            ],
        )
    ]
    for kind in ("segment", "playlist"):
        for ceiling in ("static", "nginx"):
            key = f"{ceiling}_{kind}"
            if key in runs[0].served:
                ratios.append(
                    results.ratio(
                        f"live_vs_{key}",
                        f"live {kind} req/s / {ceiling} req/s",
                        [r.served[f"live_{kind}"]["per_s"] / r.served[key]["per_s"] for r in runs],
                    )
                )
    parameters = {k: v for k, v in vars(args).items() if k != "serve_static"}
    parameters["keyframe_s"] = 1.0  # -g = fps
    parameters["nginx"] = "installed" if shutil.which("nginx") else "not installed"
    return results.write(
        "video",
        title="Live video on the embedded path",
        parameters=parameters,
        load_generator={
            "name": "wrk + ffmpeg + Chromium",
            "version": f"{results.wrk_version()}; {chromium_version()}; "
            f"imageio-ffmpeg {results.package_version('imageio-ffmpeg')}",
            "how": f"encoder: the wheel's ffmpeg, testsrc2 {args.size}@{args.fps} + sine, "
            f"libx264 veryfast zerolatency {args.kbps} kbit/s, keyframe every 1 s, SRT; "
            f"player: the viewer page in Chromium (Playwright), latencyS every "
            f"{SAMPLE_EVERY_S} s for {args.watch} s; segments: wrk -t{args.threads} "
            f"-c{args.connections} -d{args.wrk_duration}s --latency",
        },
        run_count=len(runs),
        scenarios=scenarios,
        ratios=ratios,
        extra={
            "listener_command": runs[-1].listener_command,
            "player_state": runs[-1].player,
            "machine_busy_before_percent": [round(q, 1) for q in quiet],
            "failed_runs": failed,
            "command": "python -m bench.video " + " ".join(sys.argv[1:]),
        },
    )


def chromium_version() -> str:
    return results.first_line([CHROMIUM, "--version"])


def missing() -> str | None:
    """What this machine lacks to run the benchmark, or None."""
    if shutil.which("wrk") is None:
        return "wrk not found: apt-get install -y wrk"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or QUNLIVE_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.lock)"
    return None


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        yield Path(tmp)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watch", type=float, default=20, help="seconds of latency samples")
    parser.add_argument("--wrk-duration", type=int, default=5, help="seconds per wrk figure")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="1280x720", help="the encoder's picture")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--kbps", type=int, default=2000, help="the encoder's total bitrate")
    parser.add_argument("--audio-kbps", type=int, default=128)
    parser.add_argument("--viewer-kbps", type=int, default=2000, help="for the capacity figure")
    parser.add_argument("--wait-quiet", type=float, default=20, help="s to wait for a quiet CPU")
    parser.add_argument("--serve-static", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_static:
        port, directory, prefix = args.serve_static
        serve_static(int(port), directory, prefix)
        return 0
    if reason := missing():
        print(reason, file=sys.stderr)
        return 2
    if not shutil.which("nginx"):
        print(
            "nginx is not installed: the static-file ceiling is Starlette's StaticFiles on "
            "live's own stack; `apt-get install nginx` adds a real static server's ceiling."
        )
    runs: list[Run] = []
    quiet: list[float] = []
    failed: list[str] = []
    with workdir() as tmp:
        for run in range(args.runs):
            quiet.append(wait_quiet(args.wait_quiet))
            if quiet[-1] >= QUIET_PERCENT:
                print(f"  (the machine is busy: {quiet[-1]:.0f}% of a core before run {run + 1})")
            try:
                runs.append(one_run(args, tmp, run))
            except Exception as exc:  # one run's failure is said, the others still count
                failed.append(f"run {run + 1}: {type(exc).__name__}: {exc}")
                print(f"\nrun {run + 1}/{args.runs} failed: {exc}", file=sys.stderr)
                continue
            table(runs[-1], f"run {run + 1}/{args.runs}")
    if not runs:
        print("every run failed: no results written", file=sys.stderr)
        return 1
    table(median_run(runs), f"medians of {len(runs)} runs ({os.cpu_count()} CPUs shared by all)")
    path = write_results(args, runs, quiet, failed)
    print(
        f"\nwrote {path}; `python -m bench.report` puts it in docs/PERFORMANCE.md and CAPACITY.md"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
