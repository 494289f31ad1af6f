"""A voice clip checked and measured by the wheel's ffmpeg, never by its name or header.

Browsers record WebM/Opus (Chrome, Firefox), Ogg/Opus (Firefox) or MP4/AAC (Safari);
Telegram and WhatsApp voice notes are Ogg/Opus. MediaRecorder's WebM has no duration
in its header, so the clip is decoded to nothing and the last timestamp read: the
length is what plays. The bytes are kept as they came (no transcoding).
Plumbing shared by live (posted clips) and ingest (voice from the groups).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import imageio_ffmpeg

MAX_SECONDS = 60.0
DECODE_TIMEOUT_S = 20.0
# ffmpeg's container name -> (Content-Type, extension) of the stored clip.
CONTAINERS: dict[str, tuple[str, str]] = {
    "matroska,webm": ("audio/webm", "webm"),
    "ogg": ("audio/ogg", "ogg"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", "m4a"),
    "mp3": ("audio/mpeg", "mp3"),
    "wav": ("audio/wav", "wav"),
}
_INPUT = re.compile(r"^Input #0, ([^ ]+), from", re.M)
_TIME = re.compile(r"time=(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #0:\d+[^:]*: (Audio|Video|Subtitle|Data): ([^\s,]+)")


class BadVoice(ValueError):
    """Not a voice clip we take: `code` says why for clients, the message in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = STATUSES[code]


# Why a clip is refused -> the HTTP status every service answers it with.
STATUSES: dict[str, int] = {
    "voice_empty": 422,
    "voice_too_large": 413,
    "not_a_voice_clip": 415,  # not sound, another container, video in it, no sound
    "voice_damaged": 422,  # truncated, undecodable, no length
    "voice_too_long": 422,
}


@dataclass(frozen=True)
class Voice:
    duration_s: float
    content_type: str
    extension: str
    codec: str


async def measure(data: bytes, max_bytes: int, max_seconds: float = MAX_SECONDS) -> Voice:
    if not data:
        raise BadVoice("voice_empty", "the file is empty")
    if len(data) > max_bytes:
        raise BadVoice(
            "voice_too_large", f"the clip is {len(data)} bytes; the limit is {max_bytes}"
        )
    process = await asyncio.create_subprocess_exec(
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner", "-nostdin", "-i", "pipe:0", "-map", "0:a:0", "-f", "null", "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(process.communicate(data), DECODE_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BadVoice("voice_damaged", "the clip could not be decoded in time") from None
    return read_report(err.decode("utf-8", "replace"), process.returncode or 0, max_seconds)


def read_report(report: str, returncode: int, max_seconds: float = MAX_SECONDS) -> Voice:
    """What ffmpeg's decode said: the container, the streams, the last timestamp."""
    container = _INPUT.search(report)
    if container is None:
        raise BadVoice(
            "not_a_voice_clip",
            "not a sound file: record in the browser or send Ogg, WebM, M4A or MP3",
        )
    kind = CONTAINERS.get(container.group(1))
    if kind is None:
        raise BadVoice(
            "not_a_voice_clip",
            f"{container.group(1)} files are not taken: send Ogg, WebM, M4A or MP3",
        )
    streams = _STREAM.findall(report)
    if any(what == "Video" and codec not in ("mjpeg", "png") for what, codec in streams):
        raise BadVoice("not_a_voice_clip", "the file has video in it: send a sound recording")
    audio = [codec for what, codec in streams if what == "Audio"]
    if not audio:
        raise BadVoice("not_a_voice_clip", "the file has no sound in it")
    times = _TIME.findall(report)
    if returncode != 0 or not times:
        raise BadVoice("voice_damaged", "the clip is damaged or truncated")
    hours, minutes, seconds = times[-1]
    duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if duration <= 0:
        raise BadVoice("voice_damaged", "the clip is silent: it has no length")
    if duration > max_seconds + 0.5:
        raise BadVoice(
            "voice_too_long", f"the clip lasts {duration:.0f} s; the limit is {max_seconds:.0f} s"
        )
    content_type, extension = kind
    return Voice(round(duration, 2), content_type, extension, audio[0])
