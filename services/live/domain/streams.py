"""A room's video, as rules: its key, where it comes from, what state viewers see.

Plain code: the service layer keeps the rows, the media process (or MediaMTX) does the
video; this module decides (docs/decisions/0020-the-rooms-video.md).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit


class StreamState(StrEnum):
    OFFLINE = "offline"  # nothing on air yet (or the room is not live)
    LIVE = "live"
    RECONNECTING = "reconnecting"  # on air before, dropped while the room is live
    ENDED = "ended"


class Source(StrEnum):
    ENCODER = "encoder"  # the host's encoder publishes to us
    HLS_URL = "hls_url"  # a stream hosted elsewhere (a CDN, the host's provider)
    YOUTUBE = "youtube"  # a YouTube Live video, shown with its embed


class BadSource(ValueError):
    pass


# SRT passphrases are 10 to 79 characters; 32 URL-safe ones carry 192 bits.
KEY_BYTES = 24
KEYFRAME_WARNING_S = 2.0

RECOMMENDED = {
    "video_codec": "H.264 (yuv420p)",
    "keyframe_interval_s": 1,
    "video_bitrate_kbps": 2500,
    "resolution": "720x1280 (portrait) or 1280x720",
    "fps": 30,
    "audio": "AAC 128 kbps",
}


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def same_key(given: str, current: str | None) -> bool:
    return current is not None and secrets.compare_digest(given.encode(), current.encode())


def pick_port(free_range: range, taken: set[int]) -> int | None:
    """The lowest port of the range no other room with a live key listens on."""
    return next((port for port in free_range if port not in taken), None)


_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


def youtube_video_id(text: str) -> str:
    """The video id of a YouTube link (watch?v=, youtu.be/, /live/, /embed/) or a bare id."""
    text = text.strip()
    if _YOUTUBE_ID.match(text):
        return text
    parts = urlsplit(text)
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
    candidate = ""
    if host == "youtu.be":
        candidate = parts.path.strip("/")
    elif host in ("youtube.com", "youtube-nocookie.com"):
        if parts.path == "/watch":
            candidate = parse_qs(parts.query).get("v", [""])[0]
        else:
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) == 2 and segments[0] in ("live", "embed", "shorts"):
                candidate = segments[1]
    if not _YOUTUBE_ID.match(candidate):
        raise BadSource(
            "not a YouTube video link (https://www.youtube.com/watch?v=... or /live/...)"
        )
    return candidate


def hosted_hls_url(text: str) -> str:
    """An https URL of an HLS playlist: what the room's page may load from elsewhere."""
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise BadSource("a hosted stream must be an https:// URL")
    if parts.username or parts.password:
        raise BadSource("a hosted stream URL must not carry a user or password")
    if not parts.path.endswith(".m3u8"):
        raise BadSource("a hosted stream must be an HLS playlist (a URL ending in .m3u8)")
    return url


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class IncomingInfo:
    """What the media process sees of the incoming stream (all optional)."""

    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    keyframe_interval_s: float | None = None

    def merged(self, other: IncomingInfo) -> IncomingInfo:
        """These fields, overridden by those `other` knows."""
        known = {f.name: getattr(other, f.name) for f in fields(other)}
        return replace(self, **{k: v for k, v in known.items() if v is not None})

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def warnings(info: IncomingInfo | None) -> list[str]:
    """What the host should fix in the encoder's settings."""
    if info is None:
        return []
    out = []
    if info.keyframe_interval_s is not None and info.keyframe_interval_s > KEYFRAME_WARNING_S:
        out.append(
            f"keyframe interval {info.keyframe_interval_s:.1f} s is over "
            f"{KEYFRAME_WARNING_S:.0f} s: viewers lag that much more behind you; "
            "set the encoder's keyframe interval to 1 s"
        )
    if info.video_codec and info.video_codec.lower() not in ("h264", "avc", "avc1"):
        out.append(f"video codec {info.video_codec}: browsers play H.264; set the encoder to it")
    if info.audio_codec and info.audio_codec.lower() not in ("aac", "mp4a"):
        out.append(f"audio codec {info.audio_codec}: browsers play AAC; set the encoder to it")
    return out


def state_after_stop(reason: str, room_status: str) -> StreamState:
    """What viewers see once a take went off air."""
    if reason == "room_ended" or room_status == "ended":
        return StreamState.ENDED
    return StreamState.RECONNECTING if room_status == "live" else StreamState.OFFLINE


def room_of_path(path: str) -> str | None:
    """MediaMTX's path `live/<room_id>` -> the room id."""
    prefix, _, room_id = path.strip("/").partition("/")
    return room_id if prefix == "live" and room_id and "/" not in room_id else None
