"""ffmpeg as the embedded media server: the SRT listener's command line for one room, and
what its output tells (the stream header on stderr, the playlists and segments on disk).

Plain functions; the supervisor runs the processes. Two HLS outputs from one input, both
`-c copy` (repackaging only: the encoder's bitrate is what viewers get):
live.m3u8 (l<N>.ts), a short window, fresh each take; replay.m3u8 (r<N>.ts), every take
of the show appended with a discontinuity. Segment numbers are epoch microseconds, so
takes never reuse a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from services.live.domain.streams import IncomingInfo

LIVE_PLAYLIST = "live.m3u8"
REPLAY_PLAYLIST = "replay.m3u8"
HLS_TIME_S = 1
LIVE_LIST_SIZE = 6
# A publisher that sends nothing for this long is gone (SRT alone notices only after ~5 s
# of silence, and only when the peer vanished without closing).
READ_TIMEOUT_S = 3.0
ANALYZE_S = 0.5


def room_dir(media_dir: Path, room_id: str) -> Path:
    return media_dir / "hls" / room_id


def listener_command(
    *,
    ffmpeg: str,
    bind_host: str,
    port: int,
    passphrase: str,
    latency_ms: int,
    out_dir: Path,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> list[str]:
    """One room's listener: waits for one SRT publisher with `passphrase`, writes both
    playlists, exits when the publisher leaves (or after `read_timeout_s` of silence).

    The SRT settings go before -i as options rather than into the URL: ffmpeg prints its
    input URL in its log, and the key has no business in a log file."""
    host = f"[{bind_host}]" if ":" in bind_host else bind_host
    srt = ["-mode", "listener", "-passphrase", passphrase, "-pbkeylen", "16"]
    srt += ["-latency", str(latency_ms * 1000), "-timeout", str(int(read_timeout_s * 1e6))]
    # ffmpeg would study 5 s of the input before writing anything, and it dates the first
    # segment when it starts writing: the playlist's program-date-time then runs that far
    # behind the encoder, and the page's measured latency (and its in-step delay) reads low
    # by as much (bench.video: 0.8 s with a 1 s probe, 0.3 s with 0.5 s). Half a second
    # still finds H.264 and AAC: the encoder's first frame is a keyframe with its parameters.
    probe = ["-analyzeduration", str(int(ANALYZE_S * 1_000_000))]
    copy = ["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "hls"]
    copy += ["-hls_time", str(HLS_TIME_S), "-hls_start_number_source", "epoch_us"]
    live = [*copy, "-hls_list_size", str(LIVE_LIST_SIZE)]
    live += ["-hls_flags", "program_date_time+independent_segments+delete_segments+temp_file"]
    live += ["-hls_segment_filename", str(out_dir / "l%d.ts"), str(out_dir / LIVE_PLAYLIST)]
    replay = [*copy, "-hls_list_size", "0", "-hls_playlist_type", "event"]
    replay += ["-hls_flags", "append_list+discont_start+program_date_time+temp_file"]
    replay += ["-hls_segment_filename", str(out_dir / "r%d.ts"), str(out_dir / REPLAY_PLAYLIST)]
    # level+info: every line says its level; -nostats: no \r progress lines on the pipe.
    head = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info"]
    return [*head, *probe, *srt, "-i", f"srt://{host}:{port}", *live, *replay]


def redact(line: str) -> str:
    """A command or log line with any SRT passphrase masked."""
    line = re.sub(r"(passphrase=)[^&'\"\s]+", r"\1***", line)
    return re.sub(r"(-passphrase\s+)\S+", r"\1***", line)


_STREAM = re.compile(r"Stream #0:\d+\S*: (Video|Audio): (\w+)")
_SIZE = re.compile(r"(?<![\w.])(\d{2,5})x(\d{2,5})(?![\w.])")
_FPS = re.compile(r"(\d+(?:\.\d+)?)(k?) fps")


def stream_line_info(line: str) -> IncomingInfo | None:
    """What one "Stream #0:0[0x100]: Video: h264 (High) ..., 640x360 ..., 25 fps" line says."""
    found = _STREAM.search(line)
    if not found:
        return None
    kind, codec = found.groups()
    if kind == "Audio":
        return IncomingInfo(audio_codec=codec)
    rest = line[found.end() :]
    size, fps = _SIZE.search(rest), _FPS.search(rest)
    return IncomingInfo(
        video_codec=codec,
        width=int(size.group(1)) if size else None,
        height=int(size.group(2)) if size else None,
        fps=float(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else None,
    )


def header_info(lines: Iterable[str]) -> IncomingInfo:
    """The input's streams from ffmpeg's stderr (the "Input #0" section only)."""
    info, in_input = IncomingInfo(), False
    for line in lines:
        if "Input #0" in line:
            in_input = True
        elif "Stream mapping:" in line or "Output #" in line:
            in_input = False
        elif in_input and (found := stream_line_info(line)):
            info = info.merged(found)
    return info


def srt_rejection(line: str) -> str | None:
    """The reason libsrt gives when it refuses a caller's handshake (wrong or no passphrase)."""
    found = re.search(r"rsp\(REJECT\): (.+)$", line)
    return found.group(1).strip() if found else None


def playlist_segments(text: str) -> list[tuple[str, float]]:
    """(segment file name, duration) for every segment a playlist lists, in order."""
    segments, duration = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((line, duration))
            duration = None
    return segments


def segment_stats(text: str, sizes: Mapping[str, int]) -> IncomingInfo:
    """Bitrate and keyframe interval from the live playlist and its segments' sizes.

    With -c copy the muxer can cut only at a keyframe, at the first one after hls_time: a
    segment lasts about one keyframe interval when that is over hls_time, so the longest
    recent segment is the interval (at or under hls_time it is an upper bound, which is
    all the console's "over 2 s" warning needs). Bitrate counts the MPEG-TS bytes viewers
    download. `sizes` lacks segments deleted meanwhile; they are left out."""
    segments = playlist_segments(text)
    if not segments:
        return IncomingInfo()
    counted = [(sizes[name], seconds) for name, seconds in segments if name in sizes]
    seconds = sum(s for _, s in counted)
    bitrate = sum(b for b, _ in counted) * 8 / seconds / 1000 if seconds > 0 else None
    return IncomingInfo(
        bitrate_kbps=round(bitrate, 1) if bitrate is not None else None,
        keyframe_interval_s=round(max(s for _, s in segments), 2),
    )
