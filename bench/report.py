"""docs/PERFORMANCE.md from the benchmarks' results (test-artifacts/bench/<name>.json).

    python -m bench.report [--results test-artifacts/bench] [--doc docs/PERFORMANCE.md]
                           [--charts docs/performance] [--capacity docs/CAPACITY.md]

Rewrites only what lies between the `<!-- bench:begin -->` and `<!-- bench:end -->`
markers (the rest of the file is written by hand and kept) and one SVG bar chart per
benchmark. Per benchmark: when it ran and on what, the load generator, a table of the
medians over its runs with the reference points measured in the same run, the ratios
taken within each run, and the goals of the issue next to the measured values: met,
or missed by how much. A benchmark without results says it was not run; results from
an earlier run are shown with their date.

It also rewrites two parts of docs/CAPACITY.md: the video part (between
`<!-- bench:video:begin -->` and `<!-- bench:video:end -->`), the viewers one live process
feeds, from bench.video; and the model of a 100,000-viewer show (between
`<!-- bench:model:begin -->` and `<!-- bench:model:end -->`, bench/capacity.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from bench import capacity
from bench.results import REPO, SCHEMA, results_dir

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
ISSUE = "issue #19"
VIDEO_LATENCY_GOAL_S = 3.0
KB_PER_KIB = 1.024  # the goal says KB (1,000 bytes); the benchmark measures KiB
QUIET_PERCENT = 25.0  # as bench.live_fanout: others' CPU in a window, 100 = one core
STALE_AFTER_H = 12  # older than the newest results by this much: "an earlier run"

Data = dict[str, Any]
Measure = Callable[[Data], float | None]

HEAD = """# Performance

What Qunlive's hot paths do on one machine: the benchmarks under `bench/`, each measured
against reference points taken in the same run, and the goals of the issues (flash-sale
checkout, chat fan-out, webhook ingest, the analytics projection and its report; live
video; pictures; messages to the groups) next to the measured figures.

## How to re-run

    make bench

runs every benchmark (the HTTP ones need wrk: `apt-get install wrk`; the video one also
Chromium: `apt-get install chromium`; PostgreSQL figures need `TEST_POSTGRES_URL`), each
writing its figures to `test-artifacts/bench/<name>.json`; then `python -m bench.report`
rewrites the part of this file between the `bench:begin` and `bench:end` markers and the
charts in `docs/performance/`. Everything outside the markers is written by hand and kept.
Options reach one benchmark through a make variable, e.g.
`make bench BENCH_ANALYTICS="--runs 3"` (see the Makefile).

## Results

"""

TAIL = """

## Profiles and what each change bought

_To be written: for each change to a hot path, the profile (py-spy, pyinstrument) that
pointed at it, what it showed, and the figures before and after from the same benchmark._
"""


# -- reading figures -------------------------------------------------------------------------


def scenario(data: Data, key: str) -> Data | None:
    return next((s for s in data.get("scenarios", []) if s.get("key") == key), None)


def median(data: Data, key: str, figure: str) -> float | None:
    found = scenario(data, key)
    value = found["median"].get(figure) if found else None
    return float(value) if isinstance(value, int | float) else None


def worst(data: Data, key: str, figure: str) -> float | None:
    """The largest value of a figure over the runs."""
    runs = (scenario(data, key) or {}).get("per_run", [])
    values = [r[figure] for r in runs if isinstance(r.get(figure), int | float)]
    return float(max(values)) if values else None


def ratio(data: Data, key: str) -> float | None:
    found = next((r for r in data.get("ratios", []) if r.get("key") == key), None)
    value = found.get("median") if found else None
    return float(value) if isinstance(value, int | float) else None


def param(data: Data, name: str) -> Any:
    return data.get("parameters", {}).get(name)


def scaled(value: float | None, by: float) -> float | None:
    return None if value is None else value * by


# -- the goals of the issue --------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    text: str  # the goal as the issue words it
    unit: str  # "%", "x", "ms", "KB", "events/s", "s", "units", "events"
    op: str  # ">=", "<", "<="
    target: float
    measure: Callable[[Data], float | None]
    # Why this run is not the setting the goal is about (None: it is).
    differs: Callable[[Data], str | None] = lambda data: None
    note: Callable[[Data], str | None] = lambda data: None


@dataclass
class Verdict:
    goal: Goal
    value: float | None
    met: bool | None
    text: str  # the whole verdict
    short: str  # for the summary


def fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"
    if unit == "KB":
        return f"{value:.1f} KB"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def gap(value: float, unit: str) -> str:
    return f"{value:.0f} percentage points" if unit == "%" else fmt(value, unit)


def judge(goal: Goal, data: Data) -> Verdict:
    value = goal.measure(data)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Verdict(goal, None, None, "not measured in this run", "not measured")
    if goal.op == ">=":
        met, miss = value >= goal.target, goal.target - value
        how = f"{miss / goal.target:.0%} short" if goal.target else ""
    else:
        met = value < goal.target if goal.op == "<" else value <= goal.target
        miss = value - goal.target
        how = f"{miss / goal.target:.0%} over" if goal.target else ""
    if met:
        spare = abs(miss)
        text = f"met ({gap(spare, goal.unit)} to spare)" if spare else "met"
    else:
        text = f"**missed** by {gap(abs(miss), goal.unit)}" + (f" ({how})" if how else "")
    differs = goal.differs(data)
    if differs:
        return Verdict(
            goal,
            value,
            None,
            f"not comparable: {differs}; at this size {text}",
            f"not comparable ({differs})",
        )
    note = goal.note(data)
    return Verdict(goal, value, met, f"{text}; {note}" if note else text, text)


def _orders_size(data: Data) -> str | None:
    buyers = param(data, "buyers") or 0
    if buyers < 20_000:
        return f"{buyers:,} buyers, the goal is for 20,000"
    return None


def _orders_postgres(data: Data) -> str | None:
    kinds = [d.get("kind") for d in data.get("databases", [])]
    if "PostgreSQL" not in kinds:
        return f"the conditional UPDATE ran on {', '.join(map(str, kinds)) or '?'}, not PostgreSQL"
    return _orders_size(data)


# The two bursts of the flash sale, as bench.orders_flash_sale keys them.
ORDER_BURSTS = (
    ("checkout", "sell-out (10,000 units, 20,000 buyers)"),
    ("checkout_allwin", "all-win (20,000 units, 20,000 buyers)"),
)


def _figure(key: str, figure: str, of: Callable[[Data, str, str], float | None]) -> Measure:
    return lambda d: of(d, key, figure)


def _ratio_of(key: str, scale: float = 1.0) -> Measure:
    return lambda d: scaled(ratio(d, key), scale)


def _orders_goals(data: Data) -> list[Goal]:
    goals = []
    present = [b for b in ORDER_BURSTS if scenario(data, b[0]) is not None] or list(ORDER_BURSTS)
    for key, burst in present:
        goals += [
            Goal(
                f"checkout, {burst}: at least 60% of the web stack's no-op throughput",
                "%",
                ">=",
                60,
                _ratio_of(f"{key}_vs_noop", 100),
                _orders_size,
            ),
            Goal(
                f"checkout, {burst}: at least 3× the PostgreSQL conditional-update checkout",
                "x",
                ">=",
                3,
                _ratio_of(f"{key}_vs_update"),
                _orders_postgres,
            ),
            Goal(
                f"checkout, {burst}: p99 under 250 ms",
                "ms",
                "<",
                250,
                _figure(key, "p99_ms", median),
                _orders_size,
            ),
            Goal(
                f"checkout, {burst}: zero oversell (units sold or held beyond the stock, "
                "worst run)",
                "units",
                "<=",
                0,
                _figure(key, "oversold", worst),
            ),
        ]
    return goals


def _beside(key: str, figure: str, unit: str, what: str) -> Callable[[Data], str | None]:
    """Why a chat figure is where it is: the same figure of a reference in the same runs."""

    def note(data: Data) -> str | None:
        value = median(data, key, figure)
        if value is not None and unit == "KB":
            value *= KB_PER_KIB
        return None if value is None else f"{what}: {fmt(value, unit)}"

    return note


def _live_size(data: Data) -> str | None:
    viewers, lives, rate = (param(data, k) or 0 for k in ("viewers", "lives", "rate"))
    if viewers < 1000 or lives != 2 or rate < 50:
        return (
            f"{viewers:,} viewers on {lives} live processes at {rate:g} msgs/s, the goal is "
            "for 1,000 on 2 at 50"
        )
    return None


def _analytics_size(data: Data) -> str | None:
    events = param(data, "events") or 0
    if events < 999_000:  # the generator lands within a few events of what it was asked
        return f"{events:,} events, the goal is for 1,000,000"
    return None


def _report_show(data: Data) -> str | None:
    per_show, events = param(data, "events_per_show"), param(data, "events") or 0
    if per_show and events:
        shows = max(1, round(events / per_show))
        if shows == 1:
            return f"one show of {events:,} events"
        return (
            f"the report is of the last of {shows:,} shows (~{events // shows:,} events), "
            f"the database holds {events:,}"
        )
    return None


def _analytics_goals(kind: str, name: str) -> list[Goal]:
    key = f"projection_{kind}"
    return [
        Goal(
            f"{name}: the projection sustains at least 20,000 events/s",
            "events/s",
            ">=",
            20_000,
            lambda d: median(d, key, "per_s"),
            _analytics_size,
        ),
        Goal(
            f"{name}: the report ready within 5 s of the room ending (1,000,000 events)",
            "s",
            "<=",
            5.0,
            lambda d: median(d, key, "report_s"),
            _analytics_size,
            _report_show,
        ),
    ]


# -- what each benchmark shows ---------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    figure: str
    header: str
    form: str  # a format spec, "" for str()


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    runs: Sequence[float] = ()
    measured: bool = False
    marks: Sequence[tuple[float, str]] = ()


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    columns: Sequence[Column]
    per_run: str  # the figure listed run by run
    goals: Callable[[Data], list[Goal]]
    panels: Callable[[Data], list[Panel]]
    issue: str = ISSUE  # where its goals come from
    # Scenarios without the `per_run` figure list the first of these they have instead.
    per_run_else: Sequence[str] = ()


def bars(
    data: Data, figure: str, marks: dict[str, list[tuple[float, str]]] | None = None
) -> list[Bar]:
    out = []
    for s in data.get("scenarios", []):
        value = s["median"].get(figure)
        if not isinstance(value, int | float):
            continue
        runs = [r[figure] for r in s["per_run"] if isinstance(r.get(figure), int | float)]
        out.append(
            Bar(
                s.get("label", s["key"]),
                float(value),
                runs,
                s.get("role") == "measured",
                (marks or {}).get(s["key"], []),
            )
        )
    return out


def _orders_panels(data: Data) -> list[Panel]:
    noop, update = median(data, "noop", "per_s"), median(data, "update", "per_s")
    marks = [(0.6 * noop, "60% of no-op")] if noop else []
    marks += [(3 * update, "3× UPDATE")] if update else []
    bursts = [key for key, _ in ORDER_BURSTS]
    return [
        Panel("requests per second", "req/s", bars(data, "per_s", {key: marks for key in bursts})),
        Panel(
            "p99 latency", "ms", bars(data, "p99_ms", {key: [(250, "250 ms")] for key in bursts})
        ),
    ]


def _live_panels(data: Data) -> list[Panel]:
    return [
        Panel(
            "p99 delivery latency",
            "ms",
            bars(data, "p99_ms", {"live": [(100, "100 ms")]}),
        ),
        Panel(
            "memory per connected viewer",
            "KiB",
            bars(data, "kib_per_conn", {"live": [(30 / KB_PER_KIB, "30 KB")]}),
        ),
    ]


def _ingest_panels(data: Data) -> list[Panel]:
    noop = median(data, "noop", "per_s")
    marks = {"webhook": [(0.5 * noop, "50% of no-op")]} if noop else {}
    return [
        Panel("requests per second", "req/s", bars(data, "per_s", marks)),
        Panel("p99 latency", "ms", bars(data, "p99_ms")),
    ]


def _analytics_panels(data: Data) -> list[Panel]:
    goal = [(20_000.0, "20,000/s")]
    return [
        Panel(
            "events per second",
            "events/s",
            bars(data, "per_s", {"projection_sqlite": goal, "projection_postgres": goal}),
        ),
        Panel(
            "report ready after room.ended",
            "s",
            bars(
                data,
                "report_s",
                {k: [(5.0, "5 s")] for k in ("projection_sqlite", "projection_postgres")},
            ),
        ),
    ]


VIDEO_REALTIME_SLOW = 0.9  # as bench.video: the stream grew slower than the clock


def _video_setting(data: Data) -> str | None:
    segment = median(data, "latency", "segment_s")
    keyframe = param(data, "keyframe_s")
    if (segment is not None and abs(segment - 1.0) > 0.05) or keyframe not in (None, 1, 1.0):
        return (
            f"segments of {segment or 0:g} s and keyframes every {keyframe} s, the goal is for 1 s"
        )
    realtime = median(data, "latency", "realtime")
    if realtime is not None and realtime < VIDEO_REALTIME_SLOW:
        return (
            f"the machine could not keep the stream in real time ({realtime:.2f} s of video a "
            "second): the latency measured the overload"
        )
    return None


def _video_panels(data: Data) -> list[Panel]:
    return [
        Panel(
            "glass-to-glass latency p50",
            "s",
            bars(data, "p50_s", {"latency": [(VIDEO_LATENCY_GOAL_S, "3 s")]}),
        ),
        Panel("CPU per stream", "% of a core", bars(data, "cpu_percent")),
        Panel("segments and playlists served", "req/s", bars(data, "per_s")),
        Panel("viewers one live process feeds", "viewers", bars(data, "viewers")),
    ]


def _video_goals(data: Data) -> list[Goal]:
    return [
        Goal(
            "video: glass-to-glass latency p50 under 3 s (1 s segments, 1 s keyframes)",
            "s",
            "<",
            VIDEO_LATENCY_GOAL_S,
            lambda d: median(d, "latency", "p50_s"),
            _video_setting,
            lambda d: (
                "player's own figure + the PDT offset measured in the same run "
                f"({median(d, 'latency', 'player_p50_s') or 0:.2f} s + "
                f"{median(d, 'latency', 'pdt_offset_s') or 0:.2f} s)"
            ),
        )
    ]


def _media_panels(data: Data) -> list[Panel]:
    def only(prefixes: tuple[str, ...], figure: str) -> list[Bar]:
        keys = [s["key"] for s in data.get("scenarios", []) if s["key"].startswith(prefixes)]
        picked = {**data, "scenarios": [s for s in data["scenarios"] if s["key"] in keys]}
        return bars(picked, figure)

    return [
        Panel(
            "uploads made into stored sizes",
            "per s",
            only(("bare_", "prepare_", "stored_", "http_"), "per_s"),
        ),
        Panel("a cached picture served", "req/s", only(("serve_", "memory_2", "static_"), "per_s")),
        Panel("RSS growth while slow clients read a large object", "MiB", bars(data, "growth_mib")),
    ]


def _media_naive(data: Data) -> str | None:
    naive = median(data, "memory_naive", "growth_mib")
    return None if naive is None else f"reading it whole per request instead: +{naive:,.0f} MiB"


def _media_goals(data: Data) -> list[Goal]:
    found = scenario(data, "memory_stream") if data else None
    figures = found["median"] if found else {}
    size, clients = figures.get("object_mib") or 16, figures.get("clients") or 50
    return [
        Goal(
            f"pictures: memory stays flat while {clients:.0f} clients read a {size:.0f} MiB "
            "object (RSS growth under the object's own size)",
            "MiB",
            "<",
            float(size),
            lambda d: median(d, "memory_stream", "growth_mib"),
            note=_media_naive,
        )
    ]


TELEGRAM_OVERALL_PER_S = 30  # as bench.outbound: Telegram's overall limit for a bot


def _outbound_panels(data: Data) -> list[Panel]:
    marks = {"telegram": [(float(TELEGRAM_OVERALL_PER_S), "30/s, Telegram's limit")]}
    return [Panel("messages to 100 groups a second", "msgs/s", bars(data, "per_s", marks))]


def _outbound_goals(data: Data) -> list[Goal]:
    return [
        Goal(
            "groups: Telegram's limits kept with 100 groups (429s answered, worst run)",
            "429s",
            "<=",
            0,
            lambda d: worst(d, "telegram", "violations"),
        )
    ]


def _claims_not_answered_once(data: Data) -> float | None:
    """Claims without a reply plus replies beyond one a claim, in the worst run."""
    runs = (scenario(data, "wait") or {}).get("per_run", [])
    values = [
        r["unanswered"] + r["extra_replies"]
        for r in runs
        if isinstance(r.get("unanswered"), int | float)
        and isinstance(r.get("extra_replies"), int | float)
    ]
    return float(max(values)) if values else None


def _claim_reply_panels(data: Data) -> list[Panel]:
    return [
        Panel("latency p50", "ms", bars(data, "p50_ms")),
        Panel("latency p99", "ms", bars(data, "p99_ms")),
    ]


def _claim_reply_goals(data: Data) -> list[Goal]:
    return [
        Goal(
            "groups: a Telegram claim gets exactly one reply (claims answered none or twice, "
            "worst run)",
            "claims",
            "<=",
            0,
            _claims_not_answered_once,
        ),
        Goal(
            "groups: replies within Telegram's limits (429s answered, worst run)",
            "429s",
            "<=",
            0,
            lambda d: worst(d, "wait", "throttled"),
        ),
    ]


def _analytics_goals_present(data: Data) -> list[Goal]:
    goals = []
    for kind, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        if scenario(data, f"projection_{kind}") is not None:
            goals += _analytics_goals(kind, name)
    return goals or _analytics_goals("sqlite", "SQLite")


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "orders_flash_sale",
        "Flash-sale checkout",
        (
            Column("per_s", "req/s", ",.0f"),
            Column("p50_ms", "p50 ms", ",.1f"),
            Column("p99_ms", "p99 ms", ",.1f"),
            Column("requests", "requests", ",.0f"),
            Column("non_2xx", "non-2xx (refusals too)", ",.0f"),
            Column("tally", "stock after (last run)", ""),
        ),
        "per_s",
        _orders_goals,
        _orders_panels,
    ),
    Benchmark(
        "live_fanout",
        "Live-room chat fan-out",
        (
            Column("viewers", "viewers", ",.0f"),
            Column("achieved_rate", "msgs/s", "g"),
            Column("delivered_pct", "delivered %", ".2f"),
            Column("p50_ms", "p50 ms", ",.1f"),
            Column("p99_ms", "p99 ms", ",.1f"),
            Column("max_ms", "max ms", ",.1f"),
            Column("kib_per_conn", "KiB/conn", ".1f"),
            Column("storm_p99_ms", "p99 ms during the storm", ",.1f"),
            Column("join_p99_ms", "join p99 ms", ",.1f"),
            Column("others_cpu_percent", "others' CPU %", ".0f"),
        ),
        "p99_ms",
        lambda data: [
            Goal(
                "chat: p99 delivery under 100 ms (1,000 viewers, 2 live processes, 50 msgs/s)",
                "ms",
                "<",
                100,
                lambda d: median(d, "live", "p99_ms"),
                _live_size,
                _beside("ceiling-tick", "p99_ms", "ms", "the tick-batched bare server, same runs"),
            ),
            Goal(
                "chat: under 30 KB of memory per connected viewer",
                "KB",
                "<",
                30,
                lambda d: scaled(median(d, "live", "kib_per_conn"), KB_PER_KIB),
                _live_size,
                _beside("ceiling", "kib_per_conn", "KB", "the bare websockets server, same runs"),
            ),
            Goal(
                "chat: a join storm (1,000 viewers joining within 10 s while chat runs) "
                "without delivery p99 above 250 ms",
                "ms",
                "<=",
                250,
                lambda d: median(d, "live-storm", "storm_p99_ms"),
                note=_beside(
                    "ceiling-tick-storm",
                    "storm_p99_ms",
                    "ms",
                    "the same storm on the tick-batched bare server (decision 0052)",
                ),
            ),
        ],
        _live_panels,
    ),
    Benchmark(
        "ingest_webhook",
        "Signed webhooks, durably stored",
        (
            Column("per_s", "req/s", ",.0f"),
            Column("p50_ms", "p50 ms", ",.2f"),
            Column("p99_ms", "p99 ms", ",.2f"),
            Column("requests", "requests", ",.0f"),
            Column("non_2xx", "non-2xx", ",.0f"),
            Column("stored", "stored in INGEST", ",.0f"),
        ),
        "per_s",
        lambda data: [
            Goal(
                "ingest: at least 50% of the no-op ceiling for signed webhooks",
                "%",
                ">=",
                50,
                lambda d: scaled(ratio(d, "webhook_vs_noop"), 100),
            ),
            Goal(
                "ingest: durably stored (200s not found in INGEST, worst run)",
                "events",
                "<=",
                0,
                lambda d: worst(d, "webhook", "unstored"),
            ),
        ],
        _ingest_panels,
    ),
    Benchmark(
        "analytics_projection",
        "Analytics projection and report",
        (
            Column("per_s", "events/s", ",.0f"),
            Column("seconds", "projection s", ",.1f"),
            Column("report_s", "report ready s", ".2f"),
            Column("build_s", "report build s", ".2f"),
            Column("size_mb", "database MiB", ",.0f"),
        ),
        "per_s",
        _analytics_goals_present,
        _analytics_panels,
    ),
    Benchmark(
        "video",
        "Live video on the embedded path",
        (
            Column("p50_s", "p50 s", ".2f"),
            Column("p99_s", "p99 s", ".2f"),
            Column("pdt_offset_s", "PDT offset s", ".2f"),
            Column("cpu_percent", "CPU % of a core", ".1f"),
            Column("per_s", "req/s", ",.0f"),
            Column("mb_per_s", "MB/s", ",.1f"),
            Column("p99_ms", "p99 ms", ",.1f"),
            Column("viewers", "viewers", ",.0f"),
        ),
        "per_s",
        _video_goals,
        _video_panels,
        issue="issue #15",
        per_run_else=("p50_s", "cpu_percent", "viewers"),
    ),
    Benchmark(
        "media",
        "Pictures in the Object Store",
        (
            Column("per_s", "per s", ",.1f"),
            Column("ms", "ms each", ",.1f"),
            Column("p99_ms", "p99 ms", ",.1f"),
            Column("mb_per_s", "MB/s", ",.1f"),
            Column("rss_peak_mib", "RSS peak MiB", ",.0f"),
            Column("growth_mib", "RSS growth MiB", ",.1f"),
            Column("growth_per_client_kib", "KiB a client", ",.0f"),
        ),
        "per_s",
        _media_goals,
        _media_panels,
        issue="issue #16",
        per_run_else=("growth_mib",),
    ),
    Benchmark(
        "outbound",
        "Messages to the groups",
        (
            Column("per_s", "msgs/s", ",.1f"),
            Column("messages", "messages", ",.0f"),
            Column("first_ms", "first ms", ",.0f"),
            Column("most_in_a_second", "most in 1 s", ",.0f"),
            Column("violations", "429s", ",.0f"),
        ),
        "per_s",
        _outbound_goals,
        _outbound_panels,
        issue="issue #17",
    ),
    Benchmark(
        "claim_reply",
        "Messages to the groups: a claim's reply",
        (
            Column("count", "claims", ",.0f"),
            Column("p50_ms", "p50 ms", ",.1f"),
            Column("p95_ms", "p95 ms", ",.1f"),
            Column("p99_ms", "p99 ms", ",.1f"),
            Column("max_ms", "max ms", ",.1f"),
            Column("answered_once", "answered once", ",.0f"),
            Column("throttled", "429s", ",.0f"),
        ),
        "p99_ms",
        _claim_reply_goals,
        _claim_reply_panels,
        issue="issue #17",
    ),
)

# The reference points the issue names, and how to recognise them in the results.
REFERENCES = (
    ("the web stack's no-op ceiling", lambda label: "no-op" in label),
    ("raw `websockets.broadcast`", lambda label: "websockets.broadcast" in label),
    ("raw nats-py publish", lambda label: "nats-py publish" in label),
    ("the PostgreSQL conditional-update checkout", lambda label: "conditional UPDATE" in label),
    ("a static-file server for the same segments", lambda label: "StaticFiles" in label),
    ("the encoder's own CPU (transcoding)", lambda label: "encoder CPU" in label),
)


# -- markdown --------------------------------------------------------------------------------


def cell(value: Any, form: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if form and isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, form)
    return str(value).replace("|", "\\|")


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """A markdown table; `align` has an l or r per column."""
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def when(data: Data) -> datetime | None:
    try:
        return datetime.strptime(str(data.get("date")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def load(path: Path) -> tuple[Data | None, str | None]:
    """The results, or why there are none to show."""
    if not path.exists():
        return None, f"Not run: there is no `{path.name}` in the results (`make bench` runs it)."
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"Not shown: `{path.name}` (written {stamp}) cannot be read: {exc}."
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None, (
            f"Not shown: `{path.name}` (written {stamp}) is from an older version of the "
            "benchmark; run it again."
        )
    return data, None


MACHINE_ROWS = (
    ("CPU", lambda m: m.get("cpu_model") or "?"),
    ("CPUs", lambda m: str(m.get("cpus", "?"))),
    ("RAM", lambda m: f"{m.get('ram_gib', 0):g} GiB"),
    ("kernel", lambda m: m.get("kernel") or "?"),
    ("Python", lambda m: m.get("python") or "?"),
    ("nats-server", lambda m: m.get("nats_server") or "?"),
)


def machine_section(found: dict[str, Data]) -> list[str]:
    out = ["### Machine", ""]
    if not found:
        return [*out, "No benchmark has run yet.", ""]
    names = list(found)
    columns = {
        name: [fn(found[name].get("machine", {})) for _, fn in MACHINE_ROWS] for name in names
    }
    postgres = {
        name: ", ".join(
            str(db.get("version"))
            for db in found[name].get("databases", [])
            if db.get("kind") == "PostgreSQL"
        )
        for name in names
    }
    dates = {name: when(found[name]) for name in names}
    distinct = {tuple(v) for v in columns.values()}
    if len(distinct) == 1:
        rows = [
            [label, value]
            for (label, _), value in zip(MACHINE_ROWS, columns[names[0]], strict=True)
        ]
        versions = sorted({v for v in postgres.values() if v})
        if versions:
            rows.append(["PostgreSQL server", ", ".join(versions)])
        stamps = [d for d in dates.values() if d]
        if stamps:
            rows.append(
                [
                    "benchmarks ran",
                    f"{min(stamps):%Y-%m-%d %H:%M} to {max(stamps):%Y-%m-%d %H:%M} UTC",
                ]
            )
        return [*out, table(["", "all benchmarks"], rows, "ll"), ""]
    header = ["", *names]
    rows = [
        [label, *(columns[name][i] for name in names)] for i, (label, _) in enumerate(MACHINE_ROWS)
    ]
    rows.append(["PostgreSQL server", *(postgres[name] or "—" for name in names)])
    rows.append(["run", *(f"{dates[n]:%Y-%m-%d %H:%M} UTC" if dates[n] else "?" for n in names)])
    return [
        *out,
        "The benchmarks ran on different machines:",
        "",
        table(header, rows, "l" * len(header)),
        "",
    ]


def section(
    bench: Benchmark,
    data: Data | None,
    problem: str | None,
    chart: str | None,
    newest: datetime | None,
) -> tuple[list[str], list[tuple[str, Verdict]]]:
    out = [f"### {bench.title} (`bench/{bench.name}.py`)", ""]
    if data is None:
        untested = [Verdict(goal, None, None, "not run", "not run") for goal in bench.goals({})]
        return [*out, problem or "Not run.", ""], [(bench.title, v) for v in untested]
    runs = data.get("run_count", 1)
    date = when(data)
    stamp = f"{date:%Y-%m-%d %H:%M} UTC" if date else str(data.get("date"))
    if date and newest and (newest - date).total_seconds() > STALE_AFTER_H * 3600:
        stamp += " (**an earlier run** than the other benchmarks')"
    gen = data.get("load_generator", {})
    dbs = ", ".join(f"{d.get('kind')} {d.get('version')}" for d in data.get("databases", []))
    code = data.get("code", {})
    load = data.get("machine", {}).get("loadavg")
    facts = [
        f"- run: {stamp}; "
        + (f"medians of **{runs} runs**" if runs != 1 else "**a single run** (no median)"),
        f"- load generator: **{gen.get('name', '?')}**"
        + (f" ({gen['version']})" if gen.get("version") else "")
        + (f": {gen['how']}" if gen.get("how") else ""),
    ]
    if dbs:
        facts.append(f"- database: {dbs}")
    params = ", ".join(
        f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k} {v}"
        for k, v in data.get("parameters", {}).items()
        if not isinstance(v, dict | list)
    )
    facts.append(f"- parameters: {params}")
    if code:
        facts.append(
            f"- code: {code.get('commit', '?')}"
            + (
                f" + {code['uncommitted_files']} uncommitted files"
                if code.get("uncommitted_files")
                else ""
            )
            + (f"; load average when it finished {', '.join(map(str, load))}" if load else "")
        )
    cpus = data.get("machine", {}).get("cpus") or 0
    if load and cpus and load[0] > cpus:  # the benchmark's own processes count in it too
        facts.append(
            f"- load average {load[0]} on {cpus} CPUs when it finished (the benchmark's own "
            "server and load generator included): other work may have slowed these figures"
        )
    others = [
        s.get("label", s.get("key"))
        for s in data.get("scenarios", [])
        if (s.get("median", {}).get("others_cpu_percent") or 0) > QUIET_PERCENT
    ]
    if others:
        facts.append(
            f"- **other processes took over {QUIET_PERCENT:g}% of a core** during the window "
            f"of: {'; '.join(others)}"
        )
    out += [*facts, ""]

    per_run = next(c for c in bench.columns if c.figure == bench.per_run)
    header = ["scenario", "role", *(c.header for c in bench.columns), "runs"]
    header.append(f"{per_run.header}, each run")
    align = "ll" + "".join("r" if c.form else "l" for c in bench.columns) + "rl"
    rows = []
    for s in data.get("scenarios", []):
        med = s.get("median", {})
        listed, suffix = per_run, ""
        if med.get(bench.per_run) is None:
            other = next((f for f in bench.per_run_else if med.get(f) is not None), None)
            if other is not None:
                listed = next(c for c in bench.columns if c.figure == other)
                suffix = f" ({listed.header})"
        per = [r.get(listed.figure) for r in s.get("per_run", [])]
        rows.append(
            [
                s.get("label", s.get("key", "?")),
                "**measured**" if s.get("role") == "measured" else s.get("role", "reference"),
                *(cell(med.get(c.figure), c.form) for c in bench.columns),
                str(s.get("runs", len(per))),
                "; ".join(cell(v, listed.form) for v in per) + suffix,
            ]
        )
    out += [table(header, rows, align), ""]

    if data.get("ratios"):
        rows = [
            [
                r.get("label", r.get("key", "?")),
                cell(r.get("median"), ".2f") + "×" if r.get("median") is not None else "—",
                "; ".join(f"{v:.2f}×" for v in r.get("per_run", [])),
            ]
            for r in data["ratios"]
        ]
        out += [table(["ratio, within each run", "median", "each run"], rows, "lrl"), ""]

    verdicts = [judge(goal, data) for goal in bench.goals(data)]
    if verdicts:
        rows = [
            [v.goal.text, fmt(v.value, v.goal.unit) if v.value is not None else "—", v.text]
            for v in verdicts
        ]
        out += [table([f"goal ({bench.issue})", "measured", "verdict"], rows, "lrl"), ""]
    if chart:
        out += [f"![{bench.title}: medians, each run as a dot, goals dashed]({chart})", ""]
    return out, [(bench.title, v) for v in verdicts]


def references_line(found: dict[str, Data]) -> str | None:
    labels = [s.get("label", "") for data in found.values() for s in data.get("scenarios", [])]
    missing = [name for name, seen in REFERENCES if not any(seen(label) for label in labels)]
    if not found or not missing:
        return None
    return (
        "Reference points the issue names that none of these results measured: "
        + "; ".join(missing)
        + "."
    )


def issues() -> str:
    """Where the goals come from: "issue #9", or "issue #9; video: issue #15"."""
    others = [f"{b.name}: {b.issue}" for b in BENCHMARKS if b.issue != ISSUE]
    return "; ".join([ISSUE, *others])


def summary(verdicts: list[tuple[str, Verdict]]) -> list[str]:
    if not verdicts:
        return []
    rows = [
        [
            title,
            v.goal.text,
            fmt(v.value, v.goal.unit) if v.value is not None else "—",
            v.short,
        ]
        for title, v in verdicts
    ]
    return [
        "### Goals",
        "",
        table(["benchmark", f"goal ({issues()})", "measured", "verdict"], rows, "llrl"),
        "",
    ]


# -- the chart ----------------------------------------------------------------------------


def svg_chart(title: str, panels: Sequence[Panel]) -> str:
    """Horizontal bars per panel: the median, each run as a dot, the goal as a dashed line."""
    width, label_w, value_w, bar_h, row_h = 760, 300, 80, 14, 24
    x0, x1 = label_w, width - value_w
    parts: list[str] = []
    y = 30
    for panel in panels:
        drawn = [b for b in panel.bars if b.value is not None]
        if not drawn:
            continue
        top = (
            max(
                [b.value or 0.0 for b in drawn]
                + [r for b in drawn for r in b.runs]
                + [m for b in drawn for m, _ in b.marks]
                + [1e-9]
            )
            * 1.05
        )
        parts.append(
            f'<text x="0" y="{y + 12}" class="panel">'
            f"{escape(panel.title)} ({escape(panel.unit)})</text>"
        )
        y += 20
        for bar in drawn:
            value = bar.value or 0.0
            w = (x1 - x0) * value / top
            color = "#d9480f" if bar.measured else "#868e96"
            label = bar.label if len(bar.label) <= 44 else bar.label[:43] + "…"
            parts.append(
                f'<text x="{x0 - 6}" y="{y + 11}" text-anchor="end" class="label">'
                f"{escape(label)}</text>"
                f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>'
                f'<text x="{width - 4}" y="{y + 11}" text-anchor="end">'
                f"{escape(number(value))}</text>"
            )
            for run in bar.runs:
                parts.append(
                    f'<circle cx="{x0 + (x1 - x0) * run / top:.1f}" cy="{y + bar_h / 2}" r="2.5" '
                    'fill="#212529"/>'
                )
            for mark, text in bar.marks:
                mx = x0 + (x1 - x0) * mark / top
                parts.append(
                    f'<line x1="{mx:.1f}" y1="{y - 3}" x2="{mx:.1f}" y2="{y + bar_h + 3}" '
                    'stroke="#1971c2" stroke-width="2" stroke-dasharray="3,2"/>'
                    f'<text x="{mx + 3:.1f}" y="{y - 4}" class="mark">{escape(text)}</text>'
                )
            y += row_h
        y += 14
    legend = (
        f'<text x="0" y="{y + 8}" class="axis">grey: reference, measured in the same run · '
        "orange: measured · dots: each run · dashed: goal</text>"
    )
    height = y + 16
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        "<style>text{font-family:system-ui,-apple-system,sans-serif;font-size:12px;fill:#212529}"
        ".panel{font-weight:600;font-size:13px}.mark{font-size:10px;fill:#1971c2}"
        ".axis,.label{font-size:11px}.axis{fill:#666}</style>"
        f'<text x="0" y="14" class="panel">{escape(title)}</text>'
        + "".join(parts)
        + legend
        + "</svg>\n"
    )


def number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# -- the document ----------------------------------------------------------------------------


def render(results: Path, doc: Path, charts: Path, now: datetime | None = None) -> str:
    """The generated block (markers included); writes the charts."""
    now = now or datetime.now(UTC)
    loaded = {b.name: load(results / f"{b.name}.json") for b in BENCHMARKS}
    found = {name: data for name, (data, _) in loaded.items() if data is not None}
    dates = [d for d in (when(data) for data in found.values()) if d]
    newest = max(dates) if dates else None
    body: list[str] = []
    verdicts: list[tuple[str, Verdict]] = []
    for bench in BENCHMARKS:
        data, problem = loaded[bench.name]
        chart_path = charts / f"{bench.name}.svg"
        link = None
        if data is not None:
            panels = bench.panels(data)
            if any(p.bars for p in panels):
                charts.mkdir(parents=True, exist_ok=True)
                chart_path.write_text(svg_chart(bench.title, panels))
                link = os.path.relpath(chart_path, doc.parent)
        elif chart_path.exists():
            chart_path.unlink()  # no figures, no chart of old ones
        lines, judged = section(bench, data, problem, link, newest)
        body += lines
        verdicts += judged
    head = [
        BEGIN,
        "<!-- Written by `python -m bench.report` from test-artifacts/bench/*.json: "
        "edits between these markers are overwritten. -->",
        "",
        f"_Generated {now:%Y-%m-%d %H:%M} UTC from the results of "
        f"{len(found)} of {len(BENCHMARKS)} benchmarks._",
        "",
    ]
    refs = references_line(found)
    return "\n".join(
        [
            *head,
            *summary(verdicts),
            *machine_section(found),
            *([refs, ""] if refs else []),
            *body,
            END,
        ]
    )


def splice(existing: str | None, block: str) -> str:
    """The document with `block` between the markers; all the rest as it was."""
    if existing is None:
        return HEAD + block + TAIL
    start, end = existing.find(BEGIN), existing.find(END)
    if start == -1 or end == -1 or end < start:
        return existing.rstrip("\n") + "\n\n" + block + "\n"
    return existing[:start] + block + existing[end + len(END) :]


def write(results: Path, doc: Path, charts: Path, now: datetime | None = None) -> str:
    block = render(results, doc, charts, now)
    text = splice(doc.read_text() if doc.exists() else None, block)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return text


# -- docs/CAPACITY.md, its video part ------------------------------------------------------

CAPACITY_BEGIN = "<!-- bench:video:begin -->"
CAPACITY_END = "<!-- bench:video:end -->"
CAPACITY_HEAD = """# Capacity

How much one machine carries, part by part, from the benchmarks' figures.

"""


def capacity_block(data: Data | None, problem: str | None) -> str:
    """The video part of the capacity model, from bench.video's results."""
    head = [
        CAPACITY_BEGIN,
        "<!-- Written by `python -m bench.report` from test-artifacts/bench/video.json: "
        "edits between these markers are overwritten. -->",
        "",
    ]
    if data is None:
        return "\n".join(
            [*head, problem or "Not measured yet: `python -m bench.video`.", CAPACITY_END]
        )
    cap = (scenario(data, "capacity") or {}).get("median", {})
    seg = (scenario(data, "live_segment") or {}).get("median", {})
    playlist = (scenario(data, "live_playlist") or {}).get("median", {})
    listener = median(data, "listener_cpu", "cpu_percent")
    encoder = median(data, "encoder_cpu", "cpu_percent")
    m = data.get("machine", {})
    date = when(data)
    kbps = param(data, "viewer_kbps") or 2000
    command = data.get("command") or "python -m bench.video"
    rows = [
        [
            f"a segment ({cell(seg.get('file_kb'), ',.0f')} KB) from one live process",
            f"{cell(seg.get('per_s'), ',.0f')} req/s, {cell(seg.get('mb_per_s'), ',.1f')} MB/s, "
            f"p99 {cell(seg.get('p99_ms'), ',.0f')} ms",
        ],
        [
            "the live playlist from one live process",
            f"{cell(playlist.get('per_s'), ',.0f')} req/s, "
            f"p99 {cell(playlist.get('p99_ms'), ',.0f')} ms",
        ],
    ]
    for key, name in (("static", "Starlette StaticFiles, same stack"), ("nginx", "nginx")):
        for kind, what in (("segment", "the same segment"), ("playlist", "the same playlist")):
            ref = (scenario(data, f"{key}_{kind}") or {}).get("median", {})
            share = ratio(data, f"live_vs_{key}_{kind}")
            if ref:
                rows.append(
                    [
                        f"{what} from {name} (same machine, same run)",
                        f"{cell(ref.get('per_s'), ',.0f')} req/s"
                        + (
                            f", {cell(ref.get('mb_per_s'), ',.1f')} MB/s"
                            if kind == "segment"
                            else ""
                        )
                        + (f" (live: {share:.0%} of it)" if share is not None else ""),
                    ]
                )
    rows += [
        [
            f"a viewer at {kbps / 1000:g} Mbit/s asks each second for",
            f"{cell(cap.get('segments_per_viewer_s'), '.2f')} segments + "
            f"{cell(cap.get('playlists_per_viewer_s'), '.2f')} playlists",
        ],
        [
            f"**viewers one live process feeds at {kbps / 1000:g} Mbit/s**",
            f"**{cell(cap.get('viewers'), ',.0f')}** (segment bytes only: "
            f"{cell(cap.get('viewers_bytes_only'), ',.0f')})",
        ],
        [
            "CPU per published stream (SRT in, HLS out, `-c copy`)",
            f"{cell(listener, '.1f')}% of a core (the encoder, transcoding: "
            f"{cell(encoder, '.0f')}%)",
        ],
    ]
    if listener:
        rows.append(["streams one core repackages (CPU only)", f"~{100 / listener:,.0f}"])
    # The arithmetic of one run, the median one, with its own figures (medians of separate
    # figures need not add up).
    per_cap = (scenario(data, "capacity") or {}).get("per_run", [])
    per_seg = (scenario(data, "live_segment") or {}).get("per_run", [])
    per_pl = (scenario(data, "live_playlist") or {}).get("per_run", [])
    formula = (
        "    viewers = 1 / (segments per viewer·s / segment req/s"
        " + playlists per viewer·s / playlist req/s)"
    )
    if per_cap and len(per_cap) == len(per_seg) == len(per_pl):
        order = sorted(range(len(per_cap)), key=lambda i: per_cap[i].get("viewers") or 0)
        i = order[(len(order) - 1) // 2]
        c, sg, pl = per_cap[i], per_seg[i], per_pl[i]
        formula += (
            f"\n            = 1 / ({cell(c.get('segments_per_viewer_s'), '.2f')} / "
            f"{cell(sg.get('per_s'), '.0f')} + {cell(c.get('playlists_per_viewer_s'), '.2f')} / "
            f"{cell(pl.get('per_s'), '.0f')}) = {cell(c.get('viewers'), ',.0f')}"
            + (f"   (run {i + 1}, the median run)" if len(per_cap) > 1 else "")
        )
    stamp = f"{date:%Y-%m-%d %H:%M} UTC" if date else str(data.get("date"))
    count = data.get("run_count", 1)
    runs = f"medians of {count} runs, by" if count != 1 else "a single run, by"
    return "\n".join(
        [
            *head,
            f"Measured {stamp} on {m.get('cpus', '?')} CPUs ({m.get('cpu_model') or '?'}), " + runs,
            "",
            f"    {command}",
            "",
            "then `python -m bench.report`. wrk, live and the reference servers share the "
            "machine's CPUs over loopback; each request type is measured alone.",
            "",
            table(["", "measured"], rows, "lr"),
            "",
            "Each request takes 1 / (its req/s) of the process, so a viewer takes the sum of "
            "its requests' shares:",
            "",
            formula,
            "",
            "That is the origin with nothing in front. Segments are immutable (cached for a "
            "year) and the playlist is not cached, so a cache in front (the distributed "
            "deployment's nginx, a CDN) fetches each segment once and the live process no "
            "longer serves one request per viewer.",
            CAPACITY_END,
        ]
    )


def write_capacity(results: Path, doc: Path) -> str:
    """docs/CAPACITY.md with its video part rewritten (created with a Video section)."""
    data, problem = load(results / "video.json")
    block = capacity_block(data, problem)
    existing = doc.read_text() if doc.exists() else None
    if existing is None:
        text = CAPACITY_HEAD + "## Video\n\n" + block + "\n"
    else:
        start, end = existing.find(CAPACITY_BEGIN), existing.find(CAPACITY_END)
        if start == -1 or end == -1 or end < start:
            text = existing.rstrip("\n") + "\n\n## Video\n\n" + block + "\n"
        else:
            text = existing[:start] + block + existing[end + len(CAPACITY_END) :]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--results", type=Path, default=results_dir())
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "PERFORMANCE.md")
    parser.add_argument("--charts", type=Path, default=REPO / "docs" / "performance")
    parser.add_argument("--capacity", type=Path, default=REPO / "docs" / "CAPACITY.md")
    args = parser.parse_args(argv)
    write(args.results, args.doc, args.charts)
    print(f"wrote {args.doc}")
    write_capacity(args.results, args.capacity)
    args.capacity.write_text(
        capacity.splice(args.capacity.read_text(), capacity.model_block(args.results))
    )
    print(f"wrote {args.capacity} (its video part and the model)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
