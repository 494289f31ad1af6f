"""The capacity model: each part measured at two or three sizes, then a 100,000-viewer show.

    python -m bench.capacity [--parts live,ingest,analytics] [--quick]

Runs each part's own benchmark at each of its sizes, one after the other, with its results
kept apart (test-artifacts/bench/capacity/<part>-<size>.json), and gathers what the model
needs into test-artifacts/bench/capacity.json:

- live: viewers on ONE live process (chat at 50 lines/s): delivery p99, the process's CPU
  and memory per viewer (`bench.live_fanout --scenarios live --lives 1`);
- ingest: concurrent signed webhooks on one ingest process: webhooks/s and p99
  (`bench.ingest_webhook --connections N`);
- analytics: shows of growing size into PostgreSQL (SQLite without it): events/s of one
  projection consumer (`bench.analytics_projection --events N`).

The checkout's sizes are `bench.orders_scale_out` (1, 2, 3 orders processes on one offer)
and the video's are `bench.video`: both write their own results. `python -m bench.report`
then writes the model (`model_block` below) into docs/CAPACITY.md: per part, how its cost
grows with size, what one process carries, and what a 100,000-viewer show with a
20,000-buyer flash sale needs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import results

SIZES: dict[str, tuple[int, ...]] = {
    "live": (250, 500, 1000),  # viewers on one live process
    "ingest": (8, 32, 128),  # concurrent webhook connections
    "analytics": (100_000, 300_000, 1_000_000),  # events in one show
}
QUICK: dict[str, tuple[int, ...]] = {"live": (50, 100), "ingest": (4, 16), "analytics": (5_000,)}

# -- the show the model is for (assumptions, said in the document) --------------------------
SHOW_VIEWERS = 100_000
SHOW_BUYERS = 20_000
SHOW_CHAT_PER_S = 50  # lines a second shown in the room (the benchmark's rate)
# Claims through the groups ("+1"): half the buyers, within the sale's first 10 s.
SHOW_WEBHOOKS_PER_S = SHOW_BUYERS * 0.5 / 10
SHOW_EVENTS = 1_000_000  # a show's events for analytics (joins, lines, orders, watch time)
VIEWER_KBPS = 2000
# A Python process is one core; past this share of it, queues (and p99) grow quickly.
CORE_BUDGET_PERCENT = 70.0
LATENCY_GOAL_MS = 200.0  # viewers per live process are counted at this p99


def _command(part: str, size: int, quick: bool) -> list[str]:
    py = [sys.executable, "-m"]
    if part == "live":
        trial = ["--seconds", "4", "--wait-quiet", "5", "--retries", "0"] if quick else []
        return [*py, "bench.live_fanout", "--scenarios", "live", "--lives", "1",
                "--viewers", str(size), "--seconds", "10", "--no-compression",
                "--runs", "1", *trial]  # fmt: skip
    if part == "ingest":
        duration, pool = ("2", "4000") if quick else ("8", "100000")
        return [*py, "bench.ingest_webhook", "--runs", "1", "--connections", str(size),
                "--duration", duration, "--pool", pool]  # fmt: skip
    if part == "analytics":
        return [*py, "bench.analytics_projection", "--events", str(size), "--runs", "1",
                "--events-per-show", str(size), "--skip-faststream"]  # fmt: skip
    raise ValueError(part)


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _median(data: dict[str, Any], key: str) -> dict[str, Any]:
    found = next((s for s in data.get("scenarios", []) if s.get("key") == key), None)
    return dict(found["median"]) if found else {}


def gather(part: str, size: int, data: dict[str, Any]) -> dict[str, Any]:
    """What the model keeps of one size's results."""
    if part == "live":
        live = _median(data, "live")
        cpu: dict[str, float] = next(
            (r["cpu_percent"] for r in data.get("results", []) if r.get("scenario") == "live"),
            {},
        )
        return {
            "viewers": size,
            "p99_ms": live.get("p99_ms"),
            "delivered_pct": live.get("delivered_pct"),
            "kib_per_viewer": live.get("kib_per_conn"),
            "cpu_percent": sum(v for k, v in cpu.items() if k.startswith("live")),
        }
    if part == "ingest":
        hook, noop = _median(data, "webhook"), _median(data, "noop")
        return {
            "connections": size,
            "per_s": hook.get("per_s"),
            "p99_ms": hook.get("p99_ms"),
            "noop_per_s": noop.get("per_s"),
        }
    kind = "postgres" if _median(data, "projection_postgres") else "sqlite"
    return gather_projection(size, kind, _median(data, f"projection_{kind}"))


def gather_projection(events: int, kind: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "events": events,
        "database": kind,
        "per_s": figures.get("per_s"),
        "report_s": figures.get("report_s"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(SIZES), help="of: " + ", ".join(SIZES))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a trial of the tool")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if set(parts) - set(SIZES):
        parser.error(f"--parts: choose from {', '.join(SIZES)}")
    out_dir = results.results_dir()
    kept = out_dir / "capacity"
    kept.mkdir(parents=True, exist_ok=True)
    summary_path = out_dir / "capacity.json"
    measured: dict[str, list[dict[str, Any]]] = {}
    if summary_path.exists():  # a part not re-measured keeps its earlier figures
        measured = dict(_read(summary_path).get("parts", {}))
    failed = []
    for part in parts:
        rows = []
        for size in (QUICK if args.quick else SIZES)[part]:
            where = kept / f"{part}-{size}"
            print(f"[capacity] {part} at {size:,} …", flush=True)
            env = dict(os.environ, BENCH_RESULTS_DIR=str(where))
            done = subprocess.run(_command(part, size, args.quick), env=env, check=False)
            files = sorted(where.glob("*.json"))
            if done.returncode != 0 or not files:
                failed.append(f"{part} at {size}")
                continue
            rows.append(gather(part, size, _read(files[0])))
        measured[part] = rows
    results.write(
        "capacity",
        title="Capacity: each part at two or three sizes",
        parameters={"parts": parts, "quick": args.quick},
        load_generator={
            "name": "each part's benchmark",
            "version": "",
            "how": "bench.live_fanout, bench.ingest_webhook, bench.analytics_projection at "
            "each size, one after the other",
        },
        run_count=1,
        scenarios=[],
        ratios=[],
        extra={"parts": measured},
        path=summary_path,
    )
    if failed:
        print("[capacity] failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


# -- the model --------------------------------------------------------------------------------


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Least squares y = a + b·x; None with fewer than two distinct sizes."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


def growth(xs: Sequence[float], costs: Sequence[float]) -> str:
    """How a cost per unit changes from the smallest size to the largest: linear or worse."""
    if len(xs) < 2 or not costs[0]:
        return "one size measured"
    change = costs[-1] / costs[0] - 1
    if abs(change) <= 0.25:
        return f"linear (cost per unit {change:+.0%} from {xs[0]:,.0f} to {xs[-1]:,.0f})"
    word = "worse than linear" if change > 0 else "better than linear (fixed costs shared)"
    return f"{word} (cost per unit {change:+.0%} from {xs[0]:,.0f} to {xs[-1]:,.0f})"


@dataclass(frozen=True)
class Part:
    name: str
    demand: str  # what the show asks of it
    per_process: str  # what one process carries, measured or extrapolated
    needed: str  # processes (or machines) for the show
    grows: str  # how cost grows with size
    saturates_at: float | None  # share of the show one unit of it carries (lower: sooner)
    note: str = ""


def _n(x: float | None, form: str = ",.0f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, form)


def live_part(rows: list[dict[str, Any]]) -> Part | None:
    rows = [r for r in rows if r.get("cpu_percent") and r.get("p99_ms") is not None]
    if not rows:
        return None
    xs = [float(r["viewers"]) for r in rows]
    cpu = [float(r["cpu_percent"]) for r in rows]
    ok = [r["viewers"] for r in rows if r["p99_ms"] < LATENCY_GOAL_MS]
    failed = [r["viewers"] for r in rows if r["p99_ms"] >= LATENCY_GOAL_MS]
    if not ok:
        return None
    # CPU grows with viewers; past CORE_BUDGET_PERCENT of a core, queues (p99) grow. The
    # fit extrapolates past the largest size only when every size met the p99, and at most
    # to twice it; otherwise the largest size that met it below the first that did not.
    if failed:
        below = [v for v in ok if v < min(failed)]
        viewers = float(max(below or ok))
        how = f"the largest size measured under {LATENCY_GOAL_MS:.0f} ms"
    else:
        fit = linear_fit(xs, cpu)
        extrapolated = (CORE_BUDGET_PERCENT - fit[0]) / fit[1] if fit and fit[1] > 0 else max(ok)
        viewers = max(min(extrapolated, 2 * max(xs)), float(max(ok)))
        how = (
            f"{CORE_BUDGET_PERCENT:.0f}% of a core by the linear fit of CPU to viewers, at "
            "most twice the largest size measured"
        )
    kib = rows[-1].get("kib_per_viewer") or 0.0
    needed = math.ceil(SHOW_VIEWERS / viewers)
    per_viewer = [c / x for c, x in zip(cpu, xs, strict=True)]
    measured = "; ".join(f"{r['viewers']:,}: p99 {r['p99_ms']:.0f} ms, CPU {r['cpu_percent']:.0f}%"
                         for r in rows)  # fmt: skip
    return Part(
        "chat (live processes)",
        f"{SHOW_VIEWERS:,} viewers, {SHOW_CHAT_PER_S} lines/s",
        f"**{_n(viewers)} viewers** at p99 < {LATENCY_GOAL_MS:.0f} ms "
        f"({how}; measured {measured}); {kib:.0f} KiB each",
        f"{needed:,} live processes, ~{SHOW_VIEWERS * kib / 1024 / 1024:,.1f} GiB of viewer "
        "memory in all",
        growth(xs, per_viewer),
        viewers / SHOW_VIEWERS,
    )


def orders_part(data: dict[str, Any] | None, sellout: dict[str, Any] | None) -> Part | None:
    if not data:
        return None
    rows = []
    for s in data.get("scenarios", []):
        m = s["median"]
        if m.get("per_s"):
            rows.append(m)
    if not rows:
        return None
    rows.sort(key=lambda r: r["procs"])
    one = rows[0]
    best = max(rows, key=lambda r: r["per_s"])
    scaling = "; ".join(
        f"{r['procs']}: {r['per_s']:,.0f}/s, p99 {r['p99_ms']:,.0f} ms" for r in rows
    )
    pg_ms = one.get("postgres_cpu_ms")
    orders_ms = one.get("orders_cpu_ms")
    serial = best["per_s"] < 1.2 * one["per_s"]
    seconds = SHOW_BUYERS / best["per_s"]
    pg_rate = 1000 * (CORE_BUDGET_PERCENT / 100) / pg_ms if pg_ms else None
    xs = [float(r["procs"]) for r in rows]
    return Part(
        "flash-sale checkout (orders, one offer)",
        f"{SHOW_BUYERS:,} buyers at once on one offer",
        f"**{one['per_s']:,.0f} checkouts/s** on one offer and one process "
        f"(CPU per checkout: orders {_n(orders_ms, '.2f')} ms, PostgreSQL "
        f"{_n(pg_ms, '.2f')} ms); processes on the same offer: {scaling}",
        f"the offer's row decides one batch at a time: {SHOW_BUYERS:,} buyers answered in "
        f"~{seconds:.0f} s at the best rate measured"
        + (" (more processes do not help one offer)" if serial else "")
        + (
            f"; one PostgreSQL core carries ~{pg_rate:,.0f} checkouts/s across offers"
            if pg_rate
            else ""
        ),
        growth(xs, [float(r.get("orders_cpu_ms") or 0) for r in rows])
        + " with processes on one offer",
        # One offer must answer its burst within its p99 goal: the share of the burst one
        # offer answers in 1 s.
        best["per_s"] / SHOW_BUYERS,
        "p99 with 200 buyers in flight: "
        + (f"{sellout['p99_ms']:,.0f} ms" if sellout else "see bench.orders_flash_sale"),
    )


def ingest_part(rows: list[dict[str, Any]]) -> Part | None:
    rows = [r for r in rows if r.get("per_s")]
    if not rows:
        return None
    best = max(rows, key=lambda r: r["per_s"])
    xs = [float(r["connections"]) for r in rows]
    measured = "; ".join(
        f"{r['connections']}: {r['per_s']:,.0f}/s, p99 {r['p99_ms']:,.0f} ms" for r in rows
    )
    needed = math.ceil(SHOW_WEBHOOKS_PER_S / (best["per_s"] * CORE_BUDGET_PERCENT / 100))
    return Part(
        "webhooks (ingest)",
        f"{SHOW_WEBHOOKS_PER_S:,.0f} webhooks/s (half the buyers claim in the groups within 10 s)",
        f"**{best['per_s']:,.0f} webhooks/s** (connections: {measured})",
        f"{needed} ingest process{'es' if needed > 1 else ''}",
        growth(xs, [1 / float(r["per_s"]) for r in rows]) + " in concurrent connections",
        best["per_s"] / SHOW_WEBHOOKS_PER_S,
    )


def analytics_part(rows: list[dict[str, Any]]) -> Part | None:
    rows = [r for r in rows if r.get("per_s")]
    if not rows:
        return None
    xs = [float(r["events"]) for r in rows]
    largest = rows[-1]
    measured = "; ".join(
        f"{r['events']:,}: {r['per_s']:,.0f}/s, report {_n(r.get('report_s'), '.1f')} s"
        for r in rows
    )
    return Part(
        "analytics (one projection consumer)",
        f"a {SHOW_EVENTS:,}-event show; the report within 5 s of its end",
        f"**{largest['per_s']:,.0f} events/s** into {largest['database']} ({measured})",
        f"one consumer: the show's events are projected in "
        f"~{SHOW_EVENTS / largest['per_s']:,.0f} s of work, spread over the show",
        growth(xs, [1 / float(r["per_s"]) for r in rows]) + " in show size",
        # A 1-hour show's events arrive at SHOW_EVENTS / 3600 a second.
        largest["per_s"] / (SHOW_EVENTS / 3600),
    )


def video_part(data: dict[str, Any] | None) -> Part | None:
    cap = _median(data, "capacity") if data else {}
    seg = _median(data, "live_segment") if data else {}
    if not cap.get("viewers"):
        return None
    viewers = float(cap["viewers"])
    return Part(
        "video segments (live origin)",
        f"{SHOW_VIEWERS:,} viewers × {VIEWER_KBPS / 1000:g} Mbit/s = "
        f"{SHOW_VIEWERS * VIEWER_KBPS / 1e6:,.0f} Gbit/s",
        f"**{_n(seg.get('per_s'))} segment requests/s**, {viewers:,.0f} viewers at "
        f"{VIEWER_KBPS / 1000:g} Mbit/s (CAPACITY.md, Video)",
        f"{math.ceil(SHOW_VIEWERS / viewers):,} origin processes with nothing in front; with a "
        "CDN, the origin serves each segment once per edge",
        "one size measured (each request is served alone)",
        viewers / SHOW_VIEWERS,
    )


BEGIN = "<!-- bench:model:begin -->"
END = "<!-- bench:model:end -->"


def model_block(results_dir: Path) -> str:
    """The model's section of docs/CAPACITY.md, from whatever results there are."""

    def load(name: str) -> dict[str, Any] | None:
        path = results_dir / f"{name}.json"
        return _read(path) if path.exists() else None

    capacity = (load("capacity") or {}).get("parts", {})
    flash = load("orders_flash_sale")
    if not capacity.get("analytics") and (projection := load("analytics_projection")):
        # No sweep of show sizes: the one size `make bench` measured (1,000,000 events).
        kind = "postgres" if _median(projection, "projection_postgres") else "sqlite"
        figures = _median(projection, f"projection_{kind}")
        events = projection.get("parameters", {}).get("events")
        if figures.get("per_s") and events:
            capacity = {**capacity, "analytics": [gather_projection(events, kind, figures)]}
    parts = [
        live_part(capacity.get("live", [])),
        orders_part(load("orders_scale_out"), _median(flash, "checkout") if flash else None),
        ingest_part(capacity.get("ingest", [])),
        analytics_part(capacity.get("analytics", [])),
        video_part(load("video")),
    ]
    found = [p for p in parts if p is not None]
    lines = [
        BEGIN,
        "<!-- Written by `python -m bench.report` from test-artifacts/bench/capacity.json, "
        "orders_scale_out.json, orders_flash_sale.json and video.json: edits between these "
        "markers are overwritten. -->",
        "",
        f"The show: {SHOW_VIEWERS:,} viewers in one room, a flash sale of {SHOW_BUYERS:,} "
        f"buyers arriving at once, {SHOW_CHAT_PER_S} chat lines a second shown, "
        f"{SHOW_WEBHOOKS_PER_S:,.0f} webhooks a second from the groups at the sale's peak, "
        f"{SHOW_EVENTS:,} events for analytics. One Python process is one core, loaded to "
        f"{CORE_BUDGET_PERCENT:.0f}% at most.",
        "",
    ]
    if not found:
        lines += ["Not measured yet: `make bench` (bench.capacity, bench.orders_scale_out).", END]
        return "\n".join(lines)
    lines += [
        "| part | the show asks | one process carries (measured here) | the show needs "
        "| cost as size grows |",
        "|---|---|---|---|---|",
    ]
    for p in found:
        lines.append(f"| {p.name} | {p.demand} | {p.per_process} | {p.needed} | {p.grows} |")
    lines.append("")
    ranked = sorted((p for p in found if p.saturates_at), key=lambda p: p.saturates_at or 0)
    if ranked:
        first = ranked[0]
        lines += [
            f"**Saturates first:** {first.name}: one process carries "
            f"{first.saturates_at:.1%} of what the show asks of it"
            + (f" ({first.note})" if first.note else "")
            + ". Share of the show one process carries, part by part: "
            + ", ".join(f"{p.name} {p.saturates_at:.1%}" for p in ranked)
            + ". Processes fix that for every part but one offer's checkout, whose row "
            "decides one batch at a time: its share is what one offer answers in a second "
            "of its burst.",
            "",
        ]
    missing = [
        name
        for name, part in zip(
            ("chat", "checkout", "webhooks", "analytics", "video"), parts, strict=True
        )
        if part is None
    ]
    if missing:
        lines += ["Not measured in these results: " + ", ".join(missing) + ".", ""]
    lines.append(END)
    return "\n".join(lines)


def splice(existing: str, block: str) -> str:
    start, end = existing.find(BEGIN), existing.find(END)
    if start == -1 or end == -1 or end < start:
        return existing.rstrip("\n") + "\n\n## The model: a 100,000-viewer show\n\n" + block + "\n"
    return existing[:start] + block + existing[end + len(END) :]


if __name__ == "__main__":
    raise SystemExit(main())
