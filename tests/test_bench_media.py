"""bench.media: its arithmetic, its pictures, its part of the report, and one tiny run of
the whole benchmark (real nats-server, uvicorn, wrk) so it cannot rot."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench import report
from bench.media import memory_figures, phone_jpeg, rate, rss_kib, served
from bench.results import ratio, scenario
from shared import images
from tests.test_bench_report import envelope

REPO = Path(__file__).resolve().parents[1]
STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t  123456 kB\nRssAnon:\t  100000 kB\n"


def test_rss_is_read_from_proc_status() -> None:
    assert rss_kib(STATUS) == 123456
    with pytest.raises(ValueError):
        rss_kib("Name:\tpython\n")


def test_a_rate_is_the_inverse_of_the_median_time() -> None:
    figures = rate([0.5, 0.25, 2.0])
    assert figures["per_s"] == pytest.approx(2.0)  # median 0.5 s
    assert figures["ms"] == pytest.approx(500.0)
    assert figures["max_ms"] == pytest.approx(2000.0)
    with pytest.raises(ValueError):
        rate([])


def test_wrk_figures_per_second() -> None:
    result = {"requests": 5000, "bytes": 500_000_000, "duration_us": 5_000_000,
              "non_2xx": 0, "socket_errors": 0, "p50_us": 2500, "p99_us": 12000}  # fmt: skip
    figures = served(result, 98_914)
    assert figures["per_s"] == pytest.approx(1000.0)
    assert figures["mb_per_s"] == pytest.approx(100.0)
    assert figures["p99_ms"] == pytest.approx(12.0)
    assert figures["body_kb"] == pytest.approx(98.9)


def test_memory_growth_is_the_peak_over_before() -> None:
    mib = 1024
    fig = memory_figures(
        before_kib=100 * mib,
        held_kib=[105 * mib, 110 * mib],
        during_kib=[101 * mib, 112 * mib],
        after_kib=104 * mib,
        object_bytes=16 * 1024**2,
        clients=50,
        whole=50,
        seconds=3.0,
    )
    assert fig["rss_held_mib"] == 110 and fig["rss_peak_mib"] == 112
    assert fig["growth_mib"] == pytest.approx(12.0)
    assert fig["growth_per_client_kib"] == pytest.approx(12 * 1024 / 50)
    assert fig["growth_in_objects"] == pytest.approx(0.75)
    # The peak can be after the clients are gone (a late free): it counts.
    late = memory_figures(100 * mib, [], [], 130 * mib, 1024**2, 1, 1, 1.0)
    assert late["growth_mib"] == pytest.approx(30.0)


def test_the_phone_picture_is_a_phone_photo_that_prepare_takes() -> None:
    data = phone_jpeg(1200, 900)  # 1.1 MP: the bench makes 12 and 2 the same way
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (1200, 900)
        assert image.getexif()[0x0112] == 6  # shot upright: stored sideways
    # A phone photo's bytes per pixel at quality 90 (~0.3), not a flat picture's (~0.03).
    assert 0.15 < len(data) / (1200 * 900) < 0.6
    picture = images.prepare(data, 20 * 1024**2)
    assert (picture.width, picture.height) == (900, 1200)  # turned upright
    assert set(picture.sizes) == {"thumb", "card", "full"}


def media_results() -> dict[str, Any]:
    def upload(per_s: float) -> dict[str, Any]:
        return {"per_s": per_s, "ms": 1000 / per_s, "megapixels": 12.0, "source_kb": 3600.0}

    def http(per_s: float) -> dict[str, Any]:
        return {"per_s": per_s, "p99_ms": 20.0, "mb_per_s": per_s * 0.1, "body_kb": 98.9}

    def rss(growth: float) -> dict[str, Any]:
        per_client = growth * 1024 / 50
        return {"rss_before_mib": 90.0, "rss_peak_mib": 90 + growth, "growth_mib": growth,
                "growth_per_client_kib": per_client, "object_mib": 16.0, "clients": 50}  # fmt: skip

    return envelope(
        "media",
        parameters={"runs": 3, "clients": 50, "large_mib": 16},
        load_generator={"name": "wrk", "version": "wrk 4.1.0"},
        run_count=3,
        command="python -m bench.media --runs 3",
        scenarios=[
            scenario("prepare_12mp", "upload 12MP: prepare alone", "reference", [upload(4)] * 3),
            scenario("stored_12mp", "upload 12MP: prepare + puts", "measured", [upload(3)] * 3),
            scenario("serve_200", "card 200: serve_object", "measured", [http(900)] * 3),
            scenario("static_200", "card 200: StaticFiles", "reference", [http(1000)] * 3),
            scenario("memory_stream", "RSS: streamed", "measured", [rss(10.0)] * 3),
            scenario("memory_naive", "RSS: naive", "reference", [rss(900.0)] * 3),
        ],
        ratios=[ratio("serve_vs_static_200", "200: serve / static", [0.9, 0.9, 0.9])],
    )


def test_the_report_judges_memory_against_the_objects_size(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "media.json").write_text(json.dumps(media_results()))
    doc = report.write(results, tmp_path / "PERFORMANCE.md", tmp_path / "charts")

    assert "### Pictures in the Object Store (`bench/media.py`)" in doc
    assert "| goal (issue #16) | measured | verdict |" in doc
    line = next(x for x in doc.splitlines() if x.startswith("| pictures: memory stays flat"))
    assert "50 clients read a 16 MiB object" in line
    assert "| 10.0 MiB | met (6.0 MiB to spare); reading it whole per request instead: +900" in line
    assert (tmp_path / "charts" / "media.svg").exists()

    data = media_results()
    for run in data["scenarios"][4]["per_run"]:
        run["growth_mib"] = 40.0
    data["scenarios"][4]["median"]["growth_mib"] = 40.0
    (results / "media.json").write_text(json.dumps(data))
    doc = report.write(results, tmp_path / "PERFORMANCE.md", tmp_path / "charts")
    line = next(x for x in doc.splitlines() if x.startswith("| pictures: memory stays flat"))
    assert "**missed** by 24.0 MiB" in line


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.timeout(120)
def test_a_tiny_run_measures_every_scenario(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.media", "--tiny"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "media.json").read_text())
    by_key = {s["key"]: s["median"] for s in data["scenarios"]}
    for kind in ("bare", "prepare", "stored", "http"):
        for size in ("12mp", "2mp"):
            assert by_key[f"{kind}_{size}"]["per_s"] > 0
    for key in ("serve_200", "serve_304", "memory_200", "static_200", "static_304"):
        assert by_key[key]["requests"] > 0 and by_key[key]["non_2xx"] == 0, key
    assert by_key["serve_200"]["body_kb"] > 10 and by_key["serve_304"]["body_kb"] == 0
    stream, naive = by_key["memory_stream"], by_key["memory_naive"]
    assert stream["clients_whole"] == naive["clients_whole"] == stream["clients"]
    # How much memory each way costs is the benchmark's to say (docs/PERFORMANCE.md), not a
    # test's: sampled RSS on a shared machine is not a figure to assert on.
    for mode in (stream, naive):
        assert mode["rss_peak_mib"] >= mode["rss_before_mib"] > 0
    assert {r["key"] for r in data["ratios"]} >= {"serve_vs_static_200", "serve_vs_static_304"}
    assert data["command"] == "python -m bench.media --tiny"
