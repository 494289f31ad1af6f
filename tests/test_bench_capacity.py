"""bench.capacity's model: docs/CAPACITY.md from sample figures; no benchmark runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import capacity
from bench.results import scenario


def write(results: Path, name: str, data: dict[str, Any]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps({"benchmark": name, **data}))


def sample(results: Path, one_offer_per_s: tuple[float, float, float]) -> None:
    write(
        results,
        "capacity",
        {
            "parts": {
                # CPU grows 0.05% a viewer: 70% of a core at 1,400 viewers.
                "live": [
                    {"viewers": v, "p99_ms": 40.0, "kib_per_viewer": 30.0, "cpu_percent": v / 20}
                    for v in (250, 500, 1000)
                ],
                "ingest": [
                    {"connections": 8, "per_s": 1500.0, "p99_ms": 9.0},
                    {"connections": 32, "per_s": 2000.0, "p99_ms": 30.0},
                ],
                "analytics": [
                    {"events": 100_000, "database": "postgres", "per_s": 21_000.0},
                    {"events": 1_000_000, "database": "postgres", "per_s": 20_000.0},
                ],
            }
        },
    )
    rows = [
        {"procs": n, "per_s": per_s, "p99_ms": 300.0, "orders_cpu_ms": 0.5 * n,
         "postgres_cpu_ms": 0.35}
        for n, per_s in zip((1, 2, 3), one_offer_per_s, strict=True)
    ]  # fmt: skip
    write(
        results,
        "orders_scale_out",
        {"scenarios": [scenario(f"procs_{r['procs']}", "", "measured", [r]) for r in rows]},
    )


def test_the_model_counts_processes_and_says_what_saturates_first(tmp_path: Path) -> None:
    sample(tmp_path, (2000.0, 2100.0, 2050.0))
    block = capacity.model_block(tmp_path)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in block.splitlines()}

    chat = rows["chat (live processes)"]
    assert "**1,400 viewers**" in chat  # the fit, within twice the largest size (2,000)
    assert "72 live processes" in chat  # 100,000 / 1,400, rounded up
    assert "| linear (cost per unit +0% from 250 to 1,000) |" in chat

    checkout = rows["flash-sale checkout (orders, one offer)"]
    assert "**2,000 checkouts/s** on one offer and one process" in checkout
    assert "20,000 buyers answered in ~10 s" in checkout  # at the best rate, 2,100/s
    assert "(more processes do not help one offer)" in checkout
    assert "one PostgreSQL core carries ~2,000 checkouts/s across offers" in checkout
    assert "worse than linear (cost per unit +200% from 1 to 3)" in checkout

    webhooks = rows["webhooks (ingest)"]
    assert "1 ingest process |" in webhooks  # 1,000/s needed, 2,000 × 70% carried

    # One live process carries 1.4% of the show: chat saturates first, before checkout's 10.5%.
    assert "**Saturates first:** chat (live processes): one process carries 1.4%" in block
    assert block.startswith(capacity.BEGIN) and block.endswith(capacity.END)


def test_a_size_over_the_latency_goal_caps_the_viewers(tmp_path: Path) -> None:
    sample(tmp_path, (2000.0, 4000.0, 6000.0))
    data = json.loads((tmp_path / "capacity.json").read_text())
    data["parts"]["live"][-1]["p99_ms"] = 450.0  # 1,000 viewers: over 200 ms
    (tmp_path / "capacity.json").write_text(json.dumps(data))
    block = capacity.model_block(tmp_path)
    assert "**500 viewers**" in block  # the fit says 1,400, but 1,000 was already over
    assert "more processes do not help" not in block  # 3 processes, 3× the checkouts


def test_nothing_measured_says_so_and_the_splice_keeps_the_rest(tmp_path: Path) -> None:
    block = capacity.model_block(tmp_path)
    assert "Not measured yet" in block
    doc = "# Capacity\n\nby hand\n\n" + capacity.BEGIN + "\nold\n" + capacity.END + "\n\ntail\n"
    spliced = capacity.splice(doc, block)
    assert spliced.startswith("# Capacity\n\nby hand\n\n") and spliced.endswith("\n\ntail\n")
    assert "old" not in spliced and "Not measured yet" in spliced
    assert capacity.splice(spliced, block) == spliced
