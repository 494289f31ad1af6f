"""The rules of a room's video, without a server: links, warnings, states, playlists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.live.domain import playlists
from services.live.domain.streams import (
    BadSource,
    IncomingInfo,
    StreamState,
    hosted_hls_url,
    new_key,
    pick_port,
    room_of_path,
    same_key,
    state_after_stop,
    warnings,
    youtube_video_id,
)


@pytest.mark.parametrize(
    "link",
    [
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?si=abc",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    ],
)
def test_youtube_links_give_their_video_id(link: str) -> None:
    assert youtube_video_id(link) == "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "link",
    [
        "",
        "https://vimeo.com/1234",
        "https://youtube.com/watch?v=short",
        "https://evil.com/live/dQw4w9WgXcQ",
        "javascript:alert(1)",
    ],
)
def test_other_links_are_not_youtube_videos(link: str) -> None:
    with pytest.raises(BadSource):
        youtube_video_id(link)


def test_a_hosted_stream_is_an_https_playlist_url() -> None:
    assert hosted_hls_url(" https://cdn.example.net/a/index.m3u8 ") == (
        "https://cdn.example.net/a/index.m3u8"
    )
    for bad in (
        "http://cdn.example.net/a.m3u8",
        "https://cdn.example.net/a.mp4",
        "ftp://x/a.m3u8",
        "https://u:p@cdn.example.net/a.m3u8",
        "https:///a.m3u8",
    ):
        with pytest.raises(BadSource):
            hosted_hls_url(bad)


def test_keys_are_long_secrets_compared_in_constant_time() -> None:
    key = new_key()
    assert 10 <= len(key) <= 79  # SRT passphrase bounds
    assert key != new_key()
    assert same_key(key, key) and not same_key(key, new_key()) and not same_key(key, None)


def test_ports_are_the_lowest_free_of_the_range() -> None:
    assert pick_port(range(9000, 9003), {9000}) == 9001
    assert pick_port(range(9000, 9002), {9000, 9001}) is None


def test_the_host_is_warned_of_a_long_keyframe_interval_and_codecs_browsers_cannot_play() -> None:
    assert warnings(IncomingInfo(keyframe_interval_s=1.0, video_codec="h264")) == []
    assert warnings(None) == []
    (slow,) = warnings(IncomingInfo(keyframe_interval_s=2.5))
    assert "2.5 s is over 2 s" in slow
    assert len(warnings(IncomingInfo(video_codec="hevc", audio_codec="opus"))) == 2


def test_a_stop_means_reconnecting_during_the_show_and_ended_after() -> None:
    assert state_after_stop("encoder_gone", "live") is StreamState.RECONNECTING
    assert state_after_stop("key_revoked", "live") is StreamState.RECONNECTING
    assert state_after_stop("encoder_gone", "scheduled") is StreamState.OFFLINE
    assert state_after_stop("room_ended", "live") is StreamState.ENDED
    assert state_after_stop("encoder_gone", "ended") is StreamState.ENDED


def test_mediamtx_paths_name_rooms_under_live() -> None:
    assert room_of_path("live/r_abc") == "r_abc"
    assert room_of_path("/live/r_abc/") == "r_abc"
    assert room_of_path("live/r_abc/x") is None
    assert room_of_path("other/r_abc") is None
    assert room_of_path("live/") is None


START = datetime(2026, 12, 7, 20, 0, 0, tzinfo=UTC)
TWO_TAKES = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:EVENT
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T20:00:00.000+0000
r1.ts
#EXTINF:2.000000,
r2.ts
#EXT-X-ENDLIST
#EXT-X-DISCONTINUITY
#EXTINF:1.500000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T20:01:00.000Z
r3.ts
#EXTINF:1.000000,
r4.ts
#EXT-X-ENDLIST
"""


def test_the_timeline_dates_every_segment_and_never_across_a_reconnect() -> None:
    segments = playlists.timeline(TWO_TAKES)
    assert [(s.starts_at, s.offset_s, s.duration_s) for s in segments] == [
        (START, 0.0, 2.0),
        (START + timedelta(seconds=2), 2.0, 2.0),
        (START + timedelta(seconds=60), 4.0, 1.5),
        (START + timedelta(seconds=61.5), 5.5, 1.0),
    ]
    undated = playlists.timeline(
        TWO_TAKES.replace("#EXT-X-PROGRAM-DATE-TIME:2026-12-07T20:01:00.000Z\n", "")
    )
    assert undated[2].starts_at is None and undated[3].starts_at is None


def test_a_moment_maps_to_its_place_in_the_replay() -> None:
    segments = playlists.timeline(TWO_TAKES)
    assert playlists.offset_at(segments, START + timedelta(seconds=3)) == 3.0
    assert playlists.offset_at(segments, START + timedelta(seconds=30)) == 4.0  # between takes
    assert playlists.offset_at(segments, START + timedelta(seconds=62)) == 6.0
    assert playlists.offset_at(segments, START + timedelta(seconds=90)) is None  # after it all
    assert playlists.offset_at(segments, START - timedelta(seconds=5)) == 0.0


def test_the_replay_is_an_event_playlist_during_the_show_and_one_vod_after() -> None:
    during = playlists.replay_playlist(TWO_TAKES, ended=False)
    after = playlists.replay_playlist(TWO_TAKES, ended=True)
    assert "#EXT-X-ENDLIST" not in during and "#EXT-X-PLAYLIST-TYPE:EVENT" in during
    assert after.count("#EXT-X-ENDLIST") == 1 and after.endswith("#EXT-X-ENDLIST\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in after and after.count(".ts") == 4
