"""bench.video's arithmetic and parsing, and its part of the reports; no benchmark runs here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.results import ratio, scenario
from bench.video import (
    ENCODER_FIRST_PTS_S,
    cpu_percent,
    cpu_ticks,
    media_start,
    parse_pdt,
    pdt_offset,
    percentile,
    playlist_entries,
    redacted,
    viewers_per_process,
)
from tests.test_bench_report import envelope

# /proc/<pid>/stat of an ffmpeg whose name holds a space and a ')': utime 1234, stime 56.
STAT = (
    "4242 (ffmpeg) x)) S 4200 4242 4200 0 -1 4194560 12000 0 0 0 1234 56 0 0 20 0 "
    "9 0 123456 987654321 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
)

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:1796624506037512
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:21:51.038+0000
l1796624506037512.ts
#EXTINF:0.966667,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:21:52.038+0000
l1796624506037513.ts
#EXTINF:1.000000,
l1796624506037514.ts
"""


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    # 40 samples (20 s every 0.5 s): p99 is the largest, p50 the 20th.
    forty = [0.1 * n for n in range(1, 41)]
    assert percentile(forty, 99) == pytest.approx(4.0)
    assert percentile(forty, 50) == pytest.approx(2.0)
    assert percentile([3.5], 99) == 3.5
    with pytest.raises(ValueError):
        percentile([], 50)


def test_cpu_time_is_read_after_the_command_name() -> None:
    assert cpu_ticks(STAT) == 1234 + 56


def test_cpu_percent_is_of_one_core() -> None:
    # 150 ticks of 100 Hz over 10 s: 1.5 s of CPU, 15% of one core.
    assert cpu_percent(1000, 1150, 10.0, 100) == pytest.approx(15.0)
    # Two cores busy for the whole window: 200%.
    assert cpu_percent(0, 2000, 10.0, 100) == pytest.approx(200.0)
    with pytest.raises(ValueError):
        cpu_percent(0, 1, 0.0, 100)


def test_viewers_per_process_counts_segments_and_playlists() -> None:
    # 2 Mbit/s = 250,000 B/s: one 250 KB segment and one playlist a second per viewer.
    cap = viewers_per_process(
        segment_bytes=250_000, segment_per_s=400.0, playlist_per_s=1600.0, viewer_kbps=2000
    )
    assert cap.segments_per_viewer_s == pytest.approx(1.0)
    assert cap.playlists_per_viewer_s == pytest.approx(1.0)
    # A viewer takes 1/400 + 1/1600 of the process: 320 viewers; bytes alone would say 400.
    assert cap.viewers == pytest.approx(320.0)
    assert cap.viewers_bytes_only == pytest.approx(400.0)


def test_viewers_per_process_with_smaller_segments_and_slower_playlists() -> None:
    # 125 KB segments: two a second per viewer; a playlist every 2 s (2 s segments).
    cap = viewers_per_process(
        segment_bytes=125_000,
        segment_per_s=500.0,
        playlist_per_s=100.0,
        viewer_kbps=2000,
        playlist_every_s=2.0,
    )
    assert cap.segments_per_viewer_s == pytest.approx(2.0)
    assert cap.viewers == pytest.approx(1 / (2 / 500 + 0.5 / 100))
    assert cap.viewers_bytes_only == pytest.approx(250.0)


def test_playlist_entries_with_their_program_date_time() -> None:
    entries = playlist_entries(PLAYLIST)
    assert [e.uri for e in entries] == [
        "l1796624506037512.ts",
        "l1796624506037513.ts",
        "l1796624506037514.ts",
    ]
    assert entries[1].duration_s == pytest.approx(0.966667)
    first = datetime(2026, 12, 7, 6, 21, 51, 38000, tzinfo=UTC).timestamp()
    assert entries[0].program_date_time == pytest.approx(first)
    assert entries[2].program_date_time is None
    assert parse_pdt("2026-12-07T06:21:51.038Z") == pytest.approx(first)
    assert parse_pdt("2026-12-07T08:21:51.038+0200") == pytest.approx(first)


def test_the_pdt_offset_is_the_media_sides_date_minus_the_encoders_clock() -> None:
    ffmpeg = (
        "Input #0, mpegts, from 'first.ts':\n"
        "  Duration: 00:00:01.02, start: 3.423222, bitrate: 2166 kb/s\n"
        "  Stream #0:0[0x100]: Video: h264 (High), start 3.423222\n"
    )
    start = media_start(ffmpeg)
    assert start == pytest.approx(3.423222)
    # The encoder started at t0; this segment's first frame is 2.02 s into its stream, so
    # it was captured at t0 + 2.02; the playlist dates it 4.8 s later than that.
    t0 = 1_000_000.0
    captured = t0 + (start - ENCODER_FIRST_PTS_S)
    assert pdt_offset(captured + 4.8, t0, start) == pytest.approx(4.8)
    with pytest.raises(ValueError):
        media_start("no input here")


def video_results(segment_s: float = 1.0) -> dict[str, Any]:
    def latency(p50: float) -> dict[str, Any]:
        return {
            "p50_s": p50,
            "p99_s": p50 + 1.5,
            "player_p50_s": p50 - 0.5,
            "pdt_offset_s": 0.5,
            "segment_s": segment_s,
        }

    def served(per_s: float, mb: float) -> dict[str, Any]:
        return {"per_s": per_s, "mb_per_s": mb, "p99_ms": 40.0, "file_kb": 250.0}

    capacity = {
        "viewers": 320.0,
        "viewers_bytes_only": 400.0,
        "segments_per_viewer_s": 1.0,
        "playlists_per_viewer_s": 1.0,
    }
    return envelope(
        "video",
        parameters={"runs": 3, "viewer_kbps": 2000, "keyframe_s": 1.0},
        load_generator={"name": "wrk + ffmpeg + Chromium", "version": "wrk 4.1.0"},
        run_count=3,
        command="python -m bench.video --runs 3",
        scenarios=[
            scenario("latency", "glass-to-glass", "measured", [latency(v) for v in (2, 2.5, 3)]),
            scenario("encoder_cpu", "encoder CPU", "reference", [{"cpu_percent": 40.0}] * 3),
            scenario("listener_cpu", "listener CPU", "measured", [{"cpu_percent": 2.0}] * 3),
            scenario("live_segment", "segment: live", "measured", [served(400, 100)] * 3),
            scenario("live_playlist", "playlist: live", "measured", [served(1600, 1)] * 3),
            scenario("static_segment", "segment: StaticFiles", "reference", [served(800, 200)] * 3),
            scenario("capacity", "viewers", "measured", [capacity] * 3),
        ],
        ratios=[ratio("live_vs_static_segment", "live / static", [0.5, 0.5, 0.5])],
    )


def test_the_report_judges_the_latency_goal_of_issue_15(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "video.json").write_text(json.dumps(video_results()))
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    doc = report.write(results, tmp_path / "PERFORMANCE.md", tmp_path / "charts", now)

    assert "### Live video on the embedded path (`bench/video.py`)" in doc
    assert "| goal (issue #15) | measured | verdict |" in doc
    line = next(x for x in doc.splitlines() if x.startswith("| video: glass-to-glass"))
    assert "| 2.50 s | met (0.50 s to spare); player's own figure + the PDT offset" in line
    assert "| 2.00; 2.50; 3.00 (p50 s) |" in doc  # the runs behind the median
    assert (tmp_path / "charts" / "video.svg").exists()


def test_longer_segments_are_not_judged_against_the_goal(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "video.json").write_text(json.dumps(video_results(segment_s=2.0)))
    doc = report.write(results, tmp_path / "PERFORMANCE.md", tmp_path / "charts")
    assert "not comparable (segments of 2 s and keyframes every 1.0 s" in doc


def test_a_stream_slower_than_real_time_is_not_judged(tmp_path: Path) -> None:
    data = video_results()
    for run in data["scenarios"][0]["per_run"]:
        run["realtime"] = 0.7
    data["scenarios"][0]["median"]["realtime"] = 0.7
    results = tmp_path / "results"
    results.mkdir()
    (results / "video.json").write_text(json.dumps(data))
    doc = report.write(results, tmp_path / "PERFORMANCE.md", tmp_path / "charts")
    assert "not comparable (the machine could not keep the stream in real time (0.70 s" in doc


def test_capacity_doc_gets_a_video_section_with_the_command(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "video.json").write_text(json.dumps(video_results()))
    doc = tmp_path / "CAPACITY.md"

    text = report.write_capacity(results, doc)
    assert text.startswith("# Capacity")
    assert "## Video" in text
    assert "    python -m bench.video --runs 3" in text
    assert (
        "| **viewers one live process feeds at 2 Mbit/s** | **320** (segment bytes only: 400) |"
        in text
    )
    assert "= 1 / (1.00 / 400 + 1.00 / 1600) = 320" in text
    assert "(live: 50% of it)" in text
    assert "| streams one core repackages (CPU only) | ~50 |" in text

    # Another step's sections stay; only the video block is rewritten.
    block = text[text.index(report.CAPACITY_BEGIN) :]
    doc.write_text("# Capacity\n\n## Chat\n\nby hand\n\n## Video\n\n" + block)
    (results / "video.json").unlink()
    again = report.write_capacity(results, doc)
    assert "## Chat\n\nby hand" in again
    assert again.count(report.CAPACITY_BEGIN) == 1
    assert "Not run: there is no `video.json`" in again


def test_the_listeners_command_is_kept_without_the_rooms_key() -> None:
    command = ["ffmpeg", "-passphrase", "s3cr3t-key", "-i", "srt://127.0.0.1:9710",
               "srt://127.0.0.1:9711?mode=listener&passphrase=other-key&pbkeylen=16"]  # fmt: skip
    shown = redacted(command)
    assert "s3cr3t-key" not in " ".join(shown) and "other-key" not in " ".join(shown)
    assert shown[:3] == ["ffmpeg", "-passphrase", "***"]
    assert shown[-1] == "srt://127.0.0.1:9711?mode=listener&passphrase=***&pbkeylen=16"
