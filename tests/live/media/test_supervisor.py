"""The media process with real processes: the wheel's ffmpeg publishes a test pattern and a
tone over SRT to the room's listener, which the supervisor runs from live's publishers list.

Right key: both playlists, the ready hook with the stream's codecs. Wrong key: refused at
the handshake, nothing written. Rotated key: the publisher is cut, the old key refused, the
new one works. Entry gone: the listener is gone. Encoder gone: not-ready, then the host
publishes again and the replay holds both takes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from services.live.domain import playlists
from services.live.media import ffmpeg
from services.live.media.supervisor import Supervisor
from tests.live.media.conftest import (
    SECRET,
    Encoders,
    FakeLive,
    alive,
    free_udp_port,
    listening,
    udp_bound,
)
from tests.support import REPO, eventually

pytestmark = pytest.mark.timeout(60)

KEY = "Kx7_rVq2mWn4-pLs9TzAb3cDe5fGh6jH"  # 32 url-safe characters, as live makes them
NEW_KEY = "Zr8-hQ1wEo2_yT3uIp4aSd5fG6hJ7kL9"


def room_dir(media: Supervisor, room_id: str) -> Path:
    return ffmpeg.room_dir(media.config.media_dir, room_id)


async def exited(process: asyncio.subprocess.Process, timeout: float = 10) -> int:
    return await asyncio.wait_for(process.wait(), timeout)


async def test_the_right_key_publishes_both_playlists_and_tells_live(
    media: Supervisor, live: FakeLive, encoders: Encoders
) -> None:
    port = free_udp_port()
    live.add("r_ok", port, KEY)
    pid = await listening(media, "r_ok", port)
    folder = room_dir(media, "r_ok")

    live.down = True  # live restarts while the host starts streaming
    encoder = await encoders.publish(port, KEY, seconds=3)

    async def first_segment() -> bool:
        playlist = folder / "live.m3u8"
        return playlist.exists() and bool(ffmpeg.playlist_segments(playlist.read_text()))

    await eventually(first_segment, timeout=15)
    refused = live.refused
    await eventually(lambda: _async(live.refused > refused + 2), timeout=5)
    same = media.listeners["r_ok"].process
    assert same and same.pid == pid  # the listener lives on while live is away
    live.down = False  # the ready hook was kept for it

    [ready] = await live.wait_for("ready", "r_ok")
    assert ready["protocol"] == "srt"
    info = ready["info"]
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
    assert (info["width"], info["height"], info["fps"]) == (640, 360, 25.0)
    for playlist in ("live.m3u8", "replay.m3u8"):
        text = (folder / playlist).read_text()
        assert "#EXT-X-PROGRAM-DATE-TIME:" in text, text
    [(live_segment, _), *_] = ffmpeg.playlist_segments((folder / "live.m3u8").read_text())
    assert live_segment.startswith("l") and (folder / live_segment).exists()

    # While it publishes: stats with the bitrate and the keyframe interval (-g 25 at 25 fps).
    [stats, *_] = await live.wait_for("stats", "r_ok")
    assert 300 < stats["info"]["bitrate_kbps"] < 3000, stats
    assert stats["info"]["keyframe_interval_s"] == pytest.approx(1.0, abs=0.1)

    # The encoder stops: not-ready, and a fresh listener waits for the host to come back.
    assert await exited(encoder) == 0
    [gone] = await live.wait_for("not-ready", "r_ok")
    assert gone["reason"] == "encoder_gone"
    await listening(media, "r_ok", port, takes=2)
    assert "#EXT-X-ENDLIST" in (folder / "replay.m3u8").read_text()


async def test_a_wrong_key_is_refused_at_the_handshake_and_nothing_is_written(
    media: Supervisor, live: FakeLive, encoders: Encoders, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_udp_port()
    live.add("r_wrong", port, KEY)
    pid = await listening(media, "r_wrong", port)

    encoder = await encoders.publish(port, NEW_KEY, seconds=3)
    assert await exited(encoder) != 0
    assert "Connection to srt" in encoders.log(encoder), encoders.log(encoder)
    unkeyed = await encoders.publish(port, "", seconds=3)  # no passphrase at all
    assert await exited(unkeyed) != 0

    reasons = [r.__dict__.get("reason") for r in caplog.records if "refused" in r.getMessage()]
    assert "1010 - Incorrect passphrase" in reasons, reasons
    # The listener is the same one, still waiting; nothing reached the folder or live.
    listener = media.listeners["r_wrong"]
    assert listener.takes == 1 and listener.process and listener.process.pid == pid
    assert alive(pid) and udp_bound(port)
    assert sorted(p.name for p in room_dir(media, "r_wrong").iterdir()) == []
    assert live.hooks == []


async def test_a_rotated_key_cuts_the_publisher_and_only_the_new_key_gets_in(
    media: Supervisor, live: FakeLive, encoders: Encoders
) -> None:
    port = free_udp_port()
    live.add("r_rot", port, KEY)
    await listening(media, "r_rot", port)
    old = await encoders.publish(port, KEY)  # until cut
    await live.wait_for("ready", "r_rot")

    live.add("r_rot", port, NEW_KEY, key_version=2)
    [cut] = await live.wait_for("not-ready", "r_rot")
    assert cut["reason"] == "encoder_gone"
    assert await exited(old) != 0  # its connection was closed under it

    await listening(media, "r_rot", port)  # the new listener (a new Listener: takes 1)
    assert media.listeners["r_rot"].publisher.key_version == 2
    stale = await encoders.publish(port, KEY, seconds=3)
    assert await exited(stale) != 0
    assert len(live.calls("ready", "r_rot")) == 1

    await encoders.publish(port, NEW_KEY, seconds=3)
    await live.wait_for("ready", "r_rot", count=2)


async def test_a_revoked_key_takes_the_listener_away(media: Supervisor, live: FakeLive) -> None:
    port = free_udp_port()
    live.add("r_gone", port, KEY)
    pid = await listening(media, "r_gone", port)

    del live.publishers["r_gone"]

    async def gone() -> bool:
        return "r_gone" not in media.listeners and not alive(pid) and not udp_bound(port)

    await eventually(gone, timeout=10)


async def test_a_take_live_holds_open_that_nobody_publishes_is_closed_once(
    media: Supervisor, live: FakeLive, encoders: Encoders
) -> None:
    """A media process that crashed mid-take never said not-ready: restarted, it finds live
    holding the take open, waits for the encoder to come back, then tells live it is gone."""
    port = free_udp_port()
    live.add("r_crashed", port, KEY, on_air=True)
    pid = await listening(media, "r_crashed", port)
    (gone,) = await live.wait_for("not-ready", "r_crashed")
    assert gone["reason"] == "encoder_gone"
    live.add("r_crashed", port, KEY, on_air=False)  # live took it
    await encoders.publish(port, KEY)
    await live.wait_for("ready", "r_crashed")
    live.add("r_crashed", port, KEY, on_air=True)
    await live.wait_for("stats", "r_crashed")
    assert len(live.calls("not-ready", "r_crashed")) == 1  # said once; publishing now
    assert media.listeners["r_crashed"].process.pid == pid  # on_air restarted nothing


async def test_a_killed_encoder_comes_back_and_the_replay_holds_both_takes(
    media: Supervisor, live: FakeLive, encoders: Encoders, tmp_path: Path
) -> None:
    port = free_udp_port()
    live.add("r_back", port, KEY)
    await listening(media, "r_back", port)
    first = await encoders.publish(port, KEY)
    await live.wait_for("ready", "r_back")
    await live.wait_for("stats", "r_back")  # at least a couple of segments recorded

    first.kill()  # no goodbye: the listener notices the silence (read_timeout_s)
    [gone] = await live.wait_for("not-ready", "r_back")
    assert gone["reason"] == "encoder_gone"

    await listening(media, "r_back", port, takes=2)
    second = await encoders.publish(port, KEY, seconds=2)
    await live.wait_for("ready", "r_back", count=2)
    assert await exited(second) == 0
    await live.wait_for("not-ready", "r_back", count=2)

    folder = room_dir(media, "r_back")
    replay = playlists.replay_playlist((folder / "replay.m3u8").read_text(), ended=True)
    assert replay.count("#EXT-X-DISCONTINUITY") == 1, replay
    assert replay.count("#EXT-X-ENDLIST") == 1 and replay.endswith("#EXT-X-ENDLIST\n")
    segments = ffmpeg.playlist_segments(replay)
    assert all((folder / name).exists() for name, _ in segments)
    # Played through as one VOD: every video frame of both takes comes out, in order.
    (folder / "replay-vod.m3u8").write_text(replay)
    player = await asyncio.create_subprocess_exec(
        imageio_ffmpeg.get_ffmpeg_exe(),
        *["-hide_banner", "-nostdin", "-v", "error", "-i", str(folder / "replay-vod.m3u8")],
        *["-map", "0:v", "-c", "copy", "-f", "framecrc", "-"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(player.communicate(), 20)
    assert player.returncode == 0, err.decode()
    frames = [line for line in out.decode().splitlines() if line and not line.startswith("#")]
    seconds = sum(duration for _, duration in segments)
    assert len(frames) >= 0.9 * 25 * seconds, (len(frames), seconds)


async def test_the_process_stops_on_sigterm_with_its_listeners(
    live: FakeLive, encoders: Encoders, tmp_path: Path
) -> None:
    port = free_udp_port()
    live.add("r_term", port, KEY)
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env |= {"LIVE_INTERNAL_URL": live.url, "MEDIA_HOOK_SECRET": SECRET}
    env |= {"DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "media.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *["-m", "services.live.media"],
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        await eventually(lambda: _async(udp_bound(port)), timeout=15)
        encoder = await encoders.publish(port, KEY)
        await live.wait_for("ready", "r_term")

        process.send_signal(signal.SIGTERM)
        assert await exited(process, timeout=15) == 0, log.read_text()
        assert not udp_bound(port)  # its ffmpeg went with it
        assert await exited(encoder) != 0
        [gone] = live.calls("not-ready", "r_term")
        assert gone["reason"] == "encoder_gone"
        replay = tmp_path / "data" / "media" / "hls" / "r_term" / "replay.m3u8"
        assert replay.read_text().endswith("#EXT-X-ENDLIST\n")
        assert KEY not in log.read_text()  # the key stays out of the logs
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _async(value: bool) -> bool:
    return value
