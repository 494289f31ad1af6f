"""The ffmpeg side without processes: the listener's command, what its stderr and its
playlists say, and replay.m3u8 as one playlist over every take (samples from the wheel's
ffmpeg 9)."""

from __future__ import annotations

from pathlib import Path

from services.live.domain import playlists
from services.live.domain.streams import IncomingInfo
from services.live.media import ffmpeg

HEADER = """\
06:13:37.114243/SRT:RcvQ:w1!W:SRT.cn: processConnectRequest: rsp(REJECT): 1010 - Incorrect passphrase
[info] Input #0, mpegts, from 'srt://127.0.0.1:9911':
[info]   Duration: N/A, start: 1.400000, bitrate: N/A
[info]   Program 1
[info]   Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 90k tbn, start 1.423222
[info]   Stream #0:1[0x101]: Audio: aac (LC) ([15][0][0][0] / 0x000F), 44100 Hz, mono, fltp, 67 kb/s, start 1.400000
[info] Stream mapping:
[info]   Stream #0:0 -> #0:0 (copy)
[info] Output #0, hls, to '/data/media/hls/r_x/live.m3u8':
[info]   Stream #0:0: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), 1280x720, 30 fps
"""  # noqa: E501 (ffmpeg's own lines)

LIVE = """\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:1796624000402145
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:4.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:13:20.402+0000
l1796624000402145.ts
#EXTINF:4.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:13:24.402+0000
l1796624000402146.ts
#EXTINF:2.500000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:13:28.402+0000
l1796624000402147.ts
"""

# What ffmpeg's append_list left after two takes, the second one over.
REPLAY = """\
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:1796624000402253
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-DISCONTINUITY
#EXT-X-DISCONTINUITY
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:13:10.039+0000
r1796623990039156.ts
#EXTINF:0.920000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:13:11.039+0000
r1796623990039157.ts
#EXT-X-ENDLIST
#EXT-X-DISCONTINUITY
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:13:20.402+0000
r1796624000402257.ts
#EXT-X-ENDLIST
"""


def test_the_listener_repackages_srt_with_the_rooms_passphrase_into_two_playlists() -> None:
    command = ffmpeg.listener_command(
        ffmpeg="/bin/ffmpeg",
        bind_host="0.0.0.0",
        port=9710,
        passphrase="k" * 32,
        latency_ms=120,
        out_dir=Path("/data/media/hls/r_x"),
    )
    line = " ".join(command)
    assert command[0] == "/bin/ffmpeg"
    assert "-mode listener -passphrase " + "k" * 32 + " -pbkeylen 16 -latency 120000" in line
    assert "-i srt://0.0.0.0:9710 " in line  # the key stays out of the URL ffmpeg logs
    assert "-c:v" not in command and line.count("-c copy") == 2  # no transcoding
    live, replay = line.split("-i srt://0.0.0.0:9710 ")[1].split(" /data/media/hls/r_x/live.m3u8 ")
    assert "-hls_time 1 " in live and "-hls_list_size 6 " in live
    assert "program_date_time+independent_segments+delete_segments+temp_file" in live
    assert "-hls_start_number_source epoch_us" in live
    assert live.endswith("-hls_segment_filename /data/media/hls/r_x/l%d.ts")
    assert "-hls_list_size 0 " in replay and "-hls_playlist_type event" in replay
    assert "append_list+discont_start+program_date_time+temp_file" in replay
    assert "-hls_start_number_source epoch_us" in replay
    assert replay.endswith("/data/media/hls/r_x/r%d.ts /data/media/hls/r_x/replay.m3u8")


def test_an_ipv6_bind_host_is_bracketed() -> None:
    command = ffmpeg.listener_command(
        ffmpeg="ffmpeg",
        bind_host="::",
        port=9711,
        passphrase="p" * 10,
        latency_ms=200,
        out_dir=Path("/x"),
    )
    assert "srt://[::]:9711" in command


def test_the_stream_header_gives_codecs_size_and_rate_of_the_input_only() -> None:
    info = ffmpeg.header_info(HEADER.splitlines())
    assert info == IncomingInfo(
        video_codec="h264", audio_codec="aac", width=640, height=360, fps=25.0
    )


def test_stream_lines_in_other_shapes() -> None:
    line = "  Stream #0:0[0x100](und): Video: hevc (Main), yuv420p(tv, bt709), 1920x1080, 29.97 fps"
    assert ffmpeg.stream_line_info(line) == IncomingInfo(
        video_codec="hevc", width=1920, height=1080, fps=29.97
    )
    assert ffmpeg.stream_line_info("[info]   Stream #0:1: Audio: mp3, 48000 Hz") == IncomingInfo(
        audio_codec="mp3"
    )
    assert ffmpeg.stream_line_info("[info]   Stream #0:0 -> #0:0 (copy)") is None


def test_srt_rejections_are_recognised() -> None:
    assert ffmpeg.srt_rejection(HEADER.splitlines()[0]) == "1010 - Incorrect passphrase"
    assert ffmpeg.srt_rejection(HEADER.splitlines()[1]) is None


def test_a_passphrase_never_reaches_a_log_line() -> None:
    assert ffmpeg.redact("srt://h:1?mode=listener&passphrase=s3cret-key-123&pbkeylen=16") == (
        "srt://h:1?mode=listener&passphrase=***&pbkeylen=16"
    )
    assert ffmpeg.redact("ffmpeg -passphrase s3cret-key-123 -i x") == "ffmpeg -passphrase *** -i x"


def test_keyframe_interval_and_bitrate_from_the_live_window() -> None:
    sizes = {"l1796624000402145.ts": 500_000, "l1796624000402146.ts": 500_000}
    # The third segment was deleted meanwhile: left out of the bitrate, not of the interval.
    info = ffmpeg.segment_stats(LIVE, sizes)
    assert info.keyframe_interval_s == 4.0
    assert info.bitrate_kbps == 1000.0  # 1 MB * 8 / 8 s
    assert ffmpeg.segment_stats("#EXTM3U\n", {}) == IncomingInfo()


def test_stream_info_merges_what_is_known() -> None:
    merged = IncomingInfo(video_codec="h264", fps=25.0).merged(IncomingInfo(bitrate_kbps=800.0))
    assert merged.as_json() == {
        "video_codec": "h264",
        "audio_codec": None,
        "width": None,
        "height": None,
        "fps": 25.0,
        "bitrate_kbps": 800.0,
        "keyframe_interval_s": None,
    }


def test_replay_while_the_show_runs_is_an_event_playlist_without_an_end() -> None:
    text = playlists.replay_playlist(REPLAY, ended=False)
    assert "#EXT-X-ENDLIST" not in text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    assert "#EXT-X-MEDIA-SEQUENCE:0\n" in text
    # One discontinuity, between the takes; none before the first segment.
    assert text.count("#EXT-X-DISCONTINUITY") == 1
    assert text.index("r1796623990039157.ts") < text.index("#EXT-X-DISCONTINUITY")
    assert [name for name, _ in ffmpeg.playlist_segments(text)] == [
        "r1796623990039156.ts",
        "r1796623990039157.ts",
        "r1796624000402257.ts",
    ]


def test_replay_after_the_show_is_one_vod_with_one_end() -> None:
    text = playlists.replay_playlist(REPLAY, ended=True)
    assert text.count("#EXT-X-ENDLIST") == 1 and text.endswith("#EXT-X-ENDLIST\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert playlists.replay_playlist(text, ended=True) == text  # idempotent
