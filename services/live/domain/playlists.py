"""HLS playlists as the replay needs them: one VOD of every take, and where a moment is in it.

The recording playlist grows take by take (ffmpeg's append_list, a discontinuity at each
reconnect); each take that ends leaves an ENDLIST behind. The replay is one playlist:
EVENT while the show goes on, one VOD with a single ENDLIST once it is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ENDLIST = "#EXT-X-ENDLIST"


def replay_playlist(text: str, ended: bool) -> str:
    """replay.m3u8 as viewers should get it: one playlist over every take of the show.

    ffmpeg's append_list keeps the takes apart with EXT-X-DISCONTINUITY, but each take
    ends with an ENDLIST (the show looks over between takes), starts with a doubled
    discontinuity, and resets MEDIA-SEQUENCE to its own epoch-based start (a player
    reloading an EVENT playlist needs it to stay put: nothing is ever removed, so 0).
    While the show runs: EVENT without ENDLIST; once `ended`: VOD with one ENDLIST."""
    out: list[str] = []
    seen_segment = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == ENDLIST:
            continue
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            line = "#EXT-X-MEDIA-SEQUENCE:0"
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            line = f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}"
        elif line == "#EXT-X-DISCONTINUITY" and (not seen_segment or out[-1] == line):
            continue
        elif not line.startswith("#"):
            seen_segment = True
        out.append(line)
    if ended:
        out.append(ENDLIST)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Segment:
    starts_at: datetime | None  # the wall clock of its first frame (PROGRAM-DATE-TIME)
    offset_s: float  # where it starts in the playlist's timeline
    duration_s: float


def timeline(text: str) -> list[Segment]:
    """Each segment's wall-clock start and its offset in the playlist, in order."""
    segments: list[Segment] = []
    offset = 0.0
    duration: float | None = None
    pdt: datetime | None = None
    new_take = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = _parse_pdt(line.split(":", 1)[1])
        elif line == "#EXT-X-DISCONTINUITY":
            new_take = True  # the encoder was away: never extrapolate a date across it
        elif line and not line.startswith("#") and duration is not None:
            last = segments[-1] if segments else None
            if pdt is None and not new_take and last is not None and last.starts_at is not None:
                pdt = last.starts_at + timedelta(seconds=last.duration_s)
            segments.append(Segment(pdt, offset, duration))
            offset += duration
            duration, pdt, new_take = None, None, False
    return segments


def offset_at(segments: list[Segment], at: datetime) -> float | None:
    """Where the moment `at` is in the playlist: inside a segment, or the start of the next
    one when it fell between takes; None when the recording does not reach it."""
    for segment in segments:
        if segment.starts_at is None:
            continue
        if at < segment.starts_at:
            return segment.offset_s  # between takes (the encoder was away): the next picture
        if at < segment.starts_at + timedelta(seconds=segment.duration_s):
            return segment.offset_s + (at - segment.starts_at).total_seconds()
    return None


def _parse_pdt(text: str) -> datetime | None:
    text = text.strip()
    # ffmpeg writes +0000; fromisoformat wants +00:00 before Python 3.11's relaxed parser.
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
