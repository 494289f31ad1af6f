"""bench.outbound: its arithmetic, and one tiny run of the whole benchmark (nats-server,
ingest's sender, the local Telegram API in a child process) so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.outbound import delivery_figures, most_in_a_window, round_robin

REPO = Path(__file__).resolve().parents[1]


def test_the_most_in_a_window_counts_half_open_seconds() -> None:
    assert most_in_a_window([]) == 0
    assert most_in_a_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # [0, 1) holds 3; 1.0 is out
    assert most_in_a_window([2.0, 0.0, 1.0, 3.0]) == 1


def test_figures_run_from_the_first_publish_to_the_last_arrival() -> None:
    figures = delivery_figures(4, 10.0, [10.5, 11.0, 11.2, 12.0], violations=0)
    assert figures["seconds"] == pytest.approx(2.0)
    assert figures["per_s"] == pytest.approx(2.0)
    assert figures["first_ms"] == pytest.approx(500.0)
    assert figures["most_in_a_second"] == 3
    with pytest.raises(ValueError):
        delivery_figures(5, 10.0, [10.5], violations=0)


def test_messages_go_round_the_groups() -> None:
    work = round_robin(3, 7)
    assert [event for _, event in work] == [0, 0, 0, 1, 1, 1, 2]
    assert work[0][0] == work[3][0] == work[6][0] != work[1][0]


@pytest.mark.timeout(120)
def test_a_tiny_run_measures_every_scenario(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.outbound", "--tiny"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "outbound.json").read_text())
    by_key = {s["key"]: s["median"] for s in data["scenarios"]}
    assert set(by_key) == {"httpx", "raised", "telegram"}
    for figures in by_key.values():
        assert figures["per_s"] > 0 and figures["violations"] == 0
    assert by_key["raised"]["requests"] == by_key["raised"]["messages"]  # each one request
    # Telegram's limits kept: at most 30 in any second, one a second in a group.
    assert by_key["telegram"]["most_in_a_second"] <= 30
    assert {r["key"] for r in data["ratios"]} == {"raised_vs_httpx", "telegram_vs_30"}
    assert data["command"] == "python -m bench.outbound --tiny"
