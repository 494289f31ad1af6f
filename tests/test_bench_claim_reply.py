"""bench.claim_reply: its arithmetic, and one tiny run of the whole benchmark (nats-server,
orders, live and ingest as child processes, the local Telegram Bot API in another) so it
cannot rot. No timing is asserted: speed is measured by the benchmark, not tested."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.claim_reply import (
    Claim,
    all_answered_once,
    claim_id,
    figures,
    match_replies,
    percentile,
    plan,
    spread,
)

REPO = Path(__file__).resolve().parents[1]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert math.isnan(percentile([], 50))


def test_a_spread_is_in_ms_over_the_values_measured() -> None:
    found = spread([0.010, math.nan, 0.030, 0.020])
    assert found["count"] == 3
    assert found["p50_ms"] == pytest.approx(20)
    assert found["max_ms"] == pytest.approx(30)
    assert found["mean_ms"] == pytest.approx(20)


def test_claims_go_round_the_groups_one_member_each() -> None:
    claims = plan(3, 7)
    assert [c.chat_id for c in claims[:4]] == [claims[0].chat_id, claims[1].chat_id,
                                                claims[2].chat_id, claims[0].chat_id]  # fmt: skip
    assert len({c.chat_id for c in claims}) == 3
    assert len({c.user_id for c in claims}) == len({c.key for c in claims}) == 7
    assert claims[0].key == f"telegram:{claims[0].chat_id}:{claims[0].message_id}"


def test_each_reply_lands_on_its_claim_and_a_double_post_shows() -> None:
    a, b, c = (Claim("-1001", n, user_id=n) for n in (1, 2, 3))
    for n, claim in enumerate((a, b, c)):
        claim.sent_at, claim.answered_at, claim.placed_at = 10.0 + n, 10.005 + n, 10.015 + n
        claim.status = 200
    replies = [
        {"chat_id": "-1001", "reply_to": "1", "at": 10.040},
        {"chat_id": "-1001", "reply_to": "2", "at": 11.030},
        {"chat_id": "-1001", "reply_to": "2", "at": 13.0},  # a double post
        {"chat_id": "-1002", "reply_to": "1", "at": 10.5},  # another chat's message 1
    ]
    assert match_replies([a, b, c], replies) == 1
    found = figures([a, b, c], throttled=0, violations=0)
    wait = found["wait"]
    assert (wait["claims"], wait["replies"], wait["answered_once"]) == (3, 3, 1)
    assert (wait["unanswered"], wait["extra_replies"]) == (1, 1)
    assert found["order"]["p50_ms"] == pytest.approx(10)
    # The first reply counts: a to 40 ms after its order at 15 ms, b to 30 ms after 15 ms.
    assert found["reply"]["count"] == 2
    assert found["reply"]["max_ms"] == pytest.approx(25)
    assert found["wait"]["max_ms"] == pytest.approx(35)
    assert wait["offered_per_s"] == pytest.approx(1.0)
    assert not all_answered_once(wait)


def test_the_claim_id_is_ingests_line_key() -> None:
    assert claim_id("-1001234567890", 61) == "telegram:-1001234567890:61"


@pytest.mark.timeout(240)
def test_a_tiny_run_answers_every_claim_exactly_once(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.claim_reply", "--tiny"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=230,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "claim_reply.json").read_text())
    assert data["benchmark"] == "claim_reply" and data["run_count"] == 1
    assert data["command"] == "python -m bench.claim_reply --tiny"
    by_key = {s["key"]: s for s in data["scenarios"]}
    assert set(by_key) == {"webhook", "order", "reply", "wait"}
    assert {s["role"] for s in data["scenarios"] if s["key"] in ("webhook", "order")} == {
        "reference"
    }
    claims = data["parameters"]["claims"]
    for scenario in by_key.values():
        figures_ = scenario["median"]
        assert figures_["count"] == claims
        assert set(figures_) >= {"p50_ms", "p95_ms", "p99_ms", "max_ms"}
    wait = by_key["wait"]["median"]
    # Every claim placed an order and got exactly one reply, and Telegram said no 429.
    assert wait["claims"] == wait["placed"] == wait["replies"] == wait["answered_once"] == claims
    assert (wait["unanswered"], wait["extra_replies"], wait["rejected"]) == (0, 0, 0)
    assert (wait["throttled"], wait["violations"], wait["not_200"]) == (0, 0, 0)
    assert {r["key"] for r in data["ratios"]} == {"reply_vs_order_p50", "reply_vs_order_p99"}
