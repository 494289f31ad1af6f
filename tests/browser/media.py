"""The wheel's ffmpeg as the browser tests' encoder: a test pattern with a tone, written as
HLS into a folder (the pages' own tests) or published by SRT to a room (end to end)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The contract's encoder settings: H.264 yuv420p (browsers do not play 4:4:4) + AAC,
# a keyframe every second (25 frames at 25 fps).
PATTERN = [
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-tune", "zerolatency",
    "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "800k",
    "-c:a", "aac", "-b:a", "64k",
]  # fmt: skip


def ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    with contextlib.suppress(RuntimeError):
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    return None


class Encoder:
    """One ffmpeg run: `stop()` ends it cleanly (SIGINT: trailers written, an HLS playlist
    gets its ENDLIST), `kill()` drops it as a crash or a pulled cable would."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Encoder:
        exe = ffmpeg()
        assert exe, "no ffmpeg (imageio-ffmpeg)"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [exe, "-hide_banner", "-loglevel", "warning", "-nostdin", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            assert self.process
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait(self, timeout: float) -> None:
        """Until it finishes by itself; killed (and the test failed) if it takes longer."""
        assert self.process
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.running:
            assert self.process
            self.process.kill()
            self.process.wait()


def live_hls(folder: Path, log: Path) -> Encoder:
    """In real time, the way the media process writes a take: 1 s segments, a list of 6,
    program-date-time, numbered from epoch microseconds (so takes never collide)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Encoder(
        [
            "-re", *PATTERN, "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
            "-hls_flags", "program_date_time+independent_segments+delete_segments",
            "-hls_start_number_source", "epoch_us",
            "-hls_segment_filename", str(folder / "l%d.ts"), str(folder / "live.m3u8"),
        ],
        log,
    )  # fmt: skip


def recorded_hls(folder: Path, seconds: int, log: Path) -> None:
    """A finished recording (VOD: every segment, ENDLIST), as fast as ffmpeg goes."""
    folder.mkdir(parents=True, exist_ok=True)
    Encoder(
        [
            *PATTERN, "-t", str(seconds), "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_playlist_type", "vod", "-hls_flags", "program_date_time+independent_segments",
            "-hls_segment_filename", str(folder / "r%d.ts"), str(folder / "replay.m3u8"),
        ],
        log,
    ).start().wait(60)  # fmt: skip


def srt_publisher(url: str, log: Path) -> Encoder:
    """The contract's test encoder: real time, MPEG-TS over SRT (caller) to the room's port."""
    return Encoder(["-re", *PATTERN, "-f", "mpegts", url], log)


CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


async def serve_folder(
    page_or_context: Any, pattern: str, folder: Path, cors: bool = False
) -> None:
    """Answer `pattern` (e.g. a CDN's "https://cdn.example.com/show/*") from `folder`, as an
    HLS server would: playlists never cached, segments immutable, 404 for what is not (or no
    longer) there; `cors`: readable from any origin, as a CDN serves players."""

    async def handle(route: Any) -> None:
        name = route.request.url.split("?", 1)[0].rsplit("/", 1)[-1]
        path = folder / name
        try:
            body = path.read_bytes()
        except OSError:
            await route.fulfill(status=404, body="not found")
            return
        playlist = name.endswith(".m3u8")
        headers = {
            "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            "Cache-Control": "no-cache" if playlist else "public, max-age=31536000, immutable",
        }
        if cors:
            headers["Access-Control-Allow-Origin"] = "*"
        await route.fulfill(status=200, body=body, headers=headers)

    await page_or_context.route(pattern, handle)


@contextlib.contextmanager
def stopped_at_exit(*encoders: Encoder) -> Iterator[None]:
    try:
        yield
    finally:
        for encoder in encoders:
            encoder.kill()
