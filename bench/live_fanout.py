"""Live-room fan-out: one room, N viewers over two live processes, chat coming in.

    python -m bench.live_fanout [--viewers 1000] [--rate 50] [--seconds 20] [--scenarios live]
                                [--runs 1] [--join-storm [1000]] [--storm-seconds 10]

Acceptance (the issue): "one room, 1,000 connected viewers across two live
processes, 50 chat messages/s in; report delivery latency p50/p99 and the memory
per connection; and, in the same run, the raw `websockets.broadcast` figure for
the same viewers as the ceiling."

Three scenarios, one after the other, each with fresh processes:

- ceiling: `bench.ceiling_server`, a bare websockets server in one process that
  `websockets.broadcast`s every incoming chat line, as its own frame, to every
  connection (no bus, no tick): the figure the issue asks for;
- ceiling-tick: the same server batching lines per tick like live (one frame per
  50 ms with the lines since the last), so the same frames reach the clients as
  from live: the ceiling of live's design, and the control for the load generator;
- live: a private nats-server and two `python -m services.live` on one SQLite
  file; viewers join over HTTP and are split evenly over the two processes.

The load generator (`bench.fanout_clients`) runs in its own worker processes
(`--client-procs`, 2 by default); some viewers also post, each well under the
per-viewer rate limit of live (2 actions/s), so nothing is refused. Each line
carries its send time; latency is receive time - send time on the same clock,
for every (viewer, line). Late lines count, with their latency, until every line
reached every viewer or no frame arrived for 2 s (at most `--drain` s): what is
still missing then is lost. Memory per connection is the growth of each server
process's RSS (VmRSS) from after a warm-up connection to all viewers connected,
divided by its viewers. CPU is each process's user+system time during the send
window.

On a shared machine other processes' CPU skews every figure: before each window
the benchmark waits (up to `--wait-quiet` s) until they use under a quarter of a
core, measures their share during the window, and measures the window again (up
to `--retries` times, viewers still connected, after the previous traffic has
drained) if they took more; it keeps the quietest window and says how quiet.

A fourth scenario, live-storm (`--join-storm N` adds it, after the others): the live
setting with `--viewers` connected and chat running, and N more viewers (1,000 by default,
their tokens taken over HTTP beforehand) opening their sockets evenly over
`--storm-seconds`, from 1 s into the window (the window is made long enough to hold the
storm and 2 s after it). Reported besides the usual figures: the connected viewers'
delivery latency of the lines sent during the storm (storm_p50_ms, storm_p99_ms) and the
joiners' join latency, socket connect -> `welcome` frame (join_p50_ms, join_p99_ms). The
joiners' own chat lines are not counted. Measured once (no retry: the joiners stay).
`--join-storm` also adds its reference, ceiling-tick-storm: the same storm of sockets
opened on the tick-batched bare server (whose welcome carries no history), so the storm
figures have a same-run ceiling from the same load generator on the same machine.

With --runs N the whole sequence runs N times, with fresh processes each time, and the
figures are also given as medians over the runs. Prints a table per run; writes
test-artifacts/bench/live_fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import connect

from bench import results as bench_results
from bench.fanout_clients import ALPHABET, WorkerSpec, worker_entry
from services.live.settings import LiveSettings
from shared.embedded_nats import free_port, nats_server_binary, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "bench"
ADMIN_TOKEN = "bench-admin-token"
SECRET_KEY = "bench-secret-key-of-at-least-32-bytes!"
TAG = "fanoutbench"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 600.0
DRAINED_AFTER_S = 2.0  # no frame for this long: nothing is on its way any more
QUIET_PERCENT = 25.0  # other processes' CPU (100 = one core) under which the machine is quiet
SCENARIOS = ("ceiling", "ceiling-tick", "live", "ceiling-tick-storm", "live-storm")
DEFAULT_SCENARIOS = ("ceiling", "ceiling-tick", "live")
STORM_AFTER_S = 1.0  # into the window: the storm starts once chat is flowing
STORM_TAIL_S = 2.0  # chat keeps running this long after the last joiner
LIVE_TICK_S = float(LiveSettings.model_fields["tick_s"].default)
JOIN_CONCURRENCY = 8
# Resolved now, not in the child between fork and exec (see Children.spawn).
_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def say(line: str = "") -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class Options:
    viewers: int
    rate: float
    seconds: float
    senders: int
    lives: int
    client_procs: int
    text_chars: int
    connect_concurrency: int
    settle_s: float
    drain_s: float
    scenarios: tuple[str, ...]
    compression: bool
    wait_quiet_s: float
    retries: int
    out: Path
    runs: int = 1
    joiners: int = 1000
    storm_s: float = 10.0


# ---- processes -----------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores spent on anything but idle (and I/O wait) since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Worker:
    process: BaseProcess
    pipe: Connection

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


class Children:
    """Every process the benchmark starts; all of them are stopped however it ends.

    Servers run in their own session (a terminal's Ctrl-C reaches only us, and we
    stop them in order) and get SIGTERM from the kernel if we die. Call spawn from
    the main thread only: the parent-death signal follows the thread that forked.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.servers: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.workers: list[Worker] = []

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.servers.append((name, process))
        return process.pid

    def alive(self, pid: int) -> bool:
        return any(p.pid == pid and p.poll() is None for _, p in self.servers)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, pid: int) -> None:
        for entry in [e for e in self.servers if e[1].pid == pid]:
            self.servers.remove(entry)
            _terminate(entry[1])

    def start_worker(self, spec: WorkerSpec) -> Worker:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        process = ctx.Process(
            target=worker_entry, args=(theirs, spec), name=f"viewers-{spec.index}", daemon=True
        )
        process.start()
        theirs.close()
        worker = Worker(process, ours)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        """Closing its pipe ends a worker (EOF); one that lingers is terminated."""
        for worker in self.workers:
            worker.pipe.close()
        for worker in self.workers:
            worker.process.join(timeout=3)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        self.workers.clear()

    def stop_all(self) -> None:
        self.stop_workers()
        while self.servers:
            _, process = self.servers.pop()
            _terminate(process)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def ask(worker: Worker, command: str, arg: object = None, timeout: float = 60.0) -> Any:
    worker.pipe.send((command, arg))
    return await answer(worker, timeout)


async def answer(worker: Worker, timeout: float) -> Any:
    # Polled, not a blocking read in a thread: Ctrl-C must not wait for a thread.
    deadline = time.monotonic() + timeout
    while not worker.pipe.poll():
        if not worker.process.is_alive():
            raise RuntimeError(f"client worker {worker.pid} exited ({worker.process.exitcode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"client worker {worker.pid} did not answer in {timeout:.0f}s")
        await asyncio.sleep(0.02)
    _reply, data = worker.pipe.recv()
    return data


# ---- one measurement -----------------------------------------------------------------


@dataclass
class Target:
    """A server process and the websocket URLs of the viewers it serves."""

    name: str
    pid: int
    urls: list[str]


@dataclass
class Result:
    scenario: str
    description: str
    processes: int
    viewers: int
    target_rate: float
    seconds: float
    sent: int
    delivered: int
    expected: int
    messages_fully_delivered: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    kib_per_conn: float
    kib_per_conn_after_run: float
    rss_kib: dict[str, dict[str, int]]
    cpu_percent: dict[str, float]
    # The whole machine during the window: busy (100 = one core), ours, everyone else's.
    machine_cpu_percent: dict[str, float]
    chat_frames_per_viewer_s: float
    lines_per_chat_frame: float
    gaps_dropped: int
    error_frames: dict[str, int]
    send_failures: int
    closed_early: int
    connect_failures: int
    connect_s: float
    # Per line: its latency to the first and to the last viewer that got it.
    first_viewer_ms: dict[str, float]
    last_viewer_ms: dict[str, float]
    # Per second of the window (by send time): lines, first/last-viewer p50, worst last.
    timeline: list[dict[str, float]]
    log_levels: dict[str, dict[str, int]] = field(default_factory=dict)
    # The join storm (scenario live-storm only).
    joiners: int = 0
    joined: int = 0
    join_failures: int = 0
    join_p50_ms: float = math.nan
    join_p99_ms: float = math.nan
    join_max_ms: float = math.nan
    join_history_lines_p50: float = math.nan
    storm_p50_ms: float = math.nan
    storm_p99_ms: float = math.nan
    storm_lines: int = 0

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds


def interleave(lists: Sequence[Sequence[str]]) -> list[str]:
    out: list[str] = []
    for i in range(max(len(x) for x in lists)):
        out.extend(x[i] for x in lists if i < len(x))
    return out


def ms(ns: float) -> float:
    return round(ns / 1e6, 2)


def percentile(ordered: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of a sorted sequence."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def wait_quiet(scenario: str, ours: list[int], limit_s: float) -> None:
    """Wait (up to limit_s) until other processes use under QUIET_PERCENT of a core."""
    deadline = time.monotonic() + limit_s
    said = False
    while True:
        busy0, ours0 = machine_busy_seconds(), sum(cpu_seconds(p) for p in ours)
        await asyncio.sleep(1.0)
        busy1, ours1 = machine_busy_seconds(), sum(cpu_seconds(p) for p in ours)
        others = 100 * ((busy1 - busy0) - (ours1 - ours0))
        if others < QUIET_PERCENT:
            return
        if time.monotonic() > deadline:
            say(f"[{scenario}] machine still busy ({others:.0f}% of a core elsewhere): going on")
            return
        if not said:
            say(f"[{scenario}] other processes use {others:.0f}% of a core: waiting …")
            said = True


@dataclass
class Window:
    t0: float
    cpu: dict[str, float]
    machine: dict[str, float]
    results: list[dict[str, Any]]


async def window(
    scenario: str,
    workers: list[Worker],
    pids: dict[str, int],
    opts: Options,
    tag: str,
    connected: int,
    storm: list[list[str]] | None = None,
) -> Window:
    """One send window: post for opts.seconds, wait for late lines, collect. With `storm`
    (each worker's joiners), they join during the window."""
    t0 = time.time() + 1.0
    go = {"t0": t0, "rate": opts.rate, "seconds": opts.seconds, "tag": tag}
    for worker in workers:
        worker.pipe.send(("go", go))
    if storm:
        for worker, urls in zip(workers, storm, strict=True):
            arg = {"t0": t0 + STORM_AFTER_S, "seconds": opts.storm_s, "urls": urls}
            worker.pipe.send(("storm", arg))
        say(f"[{scenario}] {sum(map(len, storm))} viewers join over {opts.storm_s:g} s …")
    await asyncio.sleep(t0 - time.time())
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy0 = machine_busy_seconds()
    say(f"[{scenario}] posting {opts.rate:g} lines/s for {opts.seconds:g} s …")
    await asyncio.sleep(t0 + opts.seconds - time.time())
    cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy1 = machine_busy_seconds()
    cpu = {name: round(100 * (cpu1[name] - cpu0[name]) / opts.seconds, 1) for name in pids}
    busy = round(100 * (busy1 - busy0) / opts.seconds, 1)
    machine = {
        "capacity": 100.0 * (os.cpu_count() or 1),
        "busy": busy,
        "ours": round(sum(cpu.values()), 1),
        "others": round(max(0.0, busy - sum(cpu.values())), 1),
    }
    # Late lines count (with their latency) until every line reached every viewer,
    # or nothing arrived for DRAINED_AFTER_S, or opts.drain_s is over.
    total = round(opts.rate * opts.seconds)
    deadline = time.monotonic() + opts.drain_s
    frames, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        status = await asyncio.gather(*(ask(w, "status") for w in workers))
        sent, received = sum(s["sent"] for s in status), sum(s["received"] for s in status)
        if sent >= total and received >= sent * connected:
            break
        if sum(s["frames"] for s in status) != frames:
            frames, still_since = sum(s["frames"] for s in status), time.monotonic()
        elif time.monotonic() - still_since > DRAINED_AFTER_S:
            break
        await asyncio.sleep(0.25)
    else:
        say(f"[{scenario}] lines still arriving {opts.drain_s:g} s after the window: stopped")
    results = await asyncio.gather(*(ask(w, "collect", timeout=120) for w in workers))
    return Window(t0, cpu, machine, list(results))


async def wait_drained(scenario: str, workers: list[Worker], limit_s: float) -> None:
    """Wait until no frame reaches any viewer for DRAINED_AFTER_S (a backlog is gone)."""
    deadline = time.monotonic() + limit_s
    frames, still_since = -1, time.monotonic()
    while time.monotonic() - still_since <= DRAINED_AFTER_S:
        if time.monotonic() > deadline:
            say(f"[{scenario}] frames still arriving after {limit_s:g} s: going on")
            return
        status = await asyncio.gather(*(ask(w, "status") for w in workers))
        if sum(s["frames"] for s in status) != frames:
            frames, still_since = sum(s["frames"] for s in status), time.monotonic()
        await asyncio.sleep(0.25)


async def measure(
    children: Children,
    scenario: str,
    description: str,
    targets: list[Target],
    opts: Options,
    others: dict[str, int],
    storm: list[list[str]] | None = None,
) -> Result:
    """Connect the viewers to `targets`, post chat for opts.seconds, gather the figures.
    `storm`: more viewers' URLs per target, who join during the window."""
    rss_before = {t.name: rss_kib(t.pid) for t in targets}
    n = opts.client_procs
    workers: list[Worker] = []
    storm_urls: list[list[str]] | None = (
        [interleave([urls[w::n] for urls in storm]) for w in range(n)] if storm else None
    )
    for w in range(n):
        urls = interleave([t.urls[w::n] for t in targets])
        senders = opts.senders // n + (1 if w < opts.senders % n else 0)
        spec = WorkerSpec(
            index=w,
            workers=n,
            urls=urls,
            senders=senders,
            text_chars=opts.text_chars,
            connect_concurrency=opts.connect_concurrency,
            compression=opts.compression,
        )
        workers.append(children.start_worker(spec))
    say(f"[{scenario}] connecting {opts.viewers} viewers from {n} client processes …")
    reports = await asyncio.gather(*(answer(w, CONNECT_TIMEOUT_S) for w in workers))
    connected = sum(r["connected"] for r in reports)
    failed = sum(r["failed"] for r in reports)
    connect_s = max(r["seconds"] for r in reports)
    say(f"[{scenario}] {connected} connected, {failed} failed, in {connect_s:.1f} s")
    for report in reports:
        for failure in report["failures"]:
            say(f"[{scenario}]   connect failure: {failure}")
    for target in targets:
        if not children.alive(target.pid):
            raise RuntimeError(f"{target.name} died:\n{children.log_tail(target.name)}")

    await asyncio.sleep(opts.settle_s)
    rss_connected = {t.name: rss_kib(t.pid) for t in targets}
    pids = {t.name: t.pid for t in targets} | others
    pids |= {f"clients-{i}": w.pid for i, w in enumerate(workers)}
    pids["bench"] = os.getpid()
    best: Window | None = None
    for attempt in range(1 + opts.retries):
        await wait_drained(scenario, workers, opts.drain_s)
        await wait_quiet(scenario, list(pids.values()), opts.wait_quiet_s)
        # A tag per attempt: late lines of a disturbed attempt do not count in the next.
        tag = TAG + ALPHABET[attempt]
        tagged = await window(scenario, workers, pids, opts, tag, connected, storm_urls)
        if best is None or tagged.machine["others"] < best.machine["others"]:
            best = tagged
        if storm_urls:
            break  # the joiners stay connected: a storm happens once
        if tagged.machine["others"] <= QUIET_PERCENT:
            break
        if attempt < opts.retries:
            say(
                f"[{scenario}] other processes took {tagged.machine['others']:.0f}% of a core "
                "during the window: measuring again"
            )
    assert best is not None
    t0, cpu, machine, results = best.t0, best.cpu, best.machine, best.results
    rss_after = {t.name: rss_kib(t.pid) for t in targets}
    await asyncio.gather(*(ask(w, "close", timeout=120) for w in workers))
    children.stop_workers()

    latencies = array("q")
    line_of = array("q")
    join_ns = array("q")
    join_history = array("q")
    join_failures: list[str] = []
    per_seq: dict[int, int] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    sent_at: dict[int, int] = {}
    errors: dict[str, int] = {}
    for r in results:
        latencies.extend(r["latencies_ns"])
        line_of.extend(r["seqs"])
        join_ns.extend(r["join_ns"])
        join_history.extend(r["join_history"])
        join_failures.extend(r["join_failures"])
        for seq, count in r["per_seq"].items():
            per_seq[seq] = per_seq.get(seq, 0) + count
            first[seq] = min(first.get(seq, r["first_ns"][seq]), r["first_ns"][seq])
            last[seq] = max(last.get(seq, 0), r["last_ns"][seq])
        sent_at |= r["sent_at_ns"]
        for code, count in r["errors"].items():
            errors[code] = errors.get(code, 0) + count
    ordered = sorted(latencies)
    sent = sum(r["sent"] for r in results)
    viewers = sum(r["viewers"] for r in results)
    chat_frames = sum(r["chat_frames"] for r in results)

    def spread(values: Sequence[int]) -> dict[str, float]:
        values = sorted(values)
        return (
            {f"p{q}": ms(percentile(values, q / 100)) for q in (50, 90, 99, 100)} if values else {}
        )

    timeline = []
    for second in range(math.ceil(opts.seconds)):
        start_ns = int((t0 + second) * 1e9)
        seqs = [q for q, at in sent_at.items() if start_ns <= at < start_ns + 1e9 and q in last]
        if seqs:
            firsts, lasts = sorted(first[q] for q in seqs), sorted(last[q] for q in seqs)
            timeline.append(
                {
                    "second": second,
                    "lines": len(seqs),
                    "first_p50_ms": ms(percentile(firsts, 0.5)),
                    "last_p50_ms": ms(percentile(lasts, 0.5)),
                    "last_max_ms": ms(lasts[-1]),
                }
            )

    def per_conn(rss: dict[str, int], joined: bool = False) -> float:
        share = (len(join_ns) / len(targets)) if joined else 0  # joiners are spread evenly
        grown = [(rss[t.name] - rss_before[t.name]) / (len(t.urls) + share) for t in targets]
        return round(sum(grown) / len(grown), 1)

    storm_figures: dict[str, Any] = {}
    if storm_urls:
        for failure in join_failures[:5]:
            say(f"[{scenario}]   join failure: {failure}")
        begin_ns = int((t0 + STORM_AFTER_S) * 1e9)
        end_ns = begin_ns + int(opts.storm_s * 1e9)
        during = {q for q, at in sent_at.items() if begin_ns <= at < end_ns}
        in_storm = sorted(lat for lat, q in zip(latencies, line_of, strict=True) if q in during)
        joins = sorted(join_ns)
        storm_figures = {
            "joiners": sum(map(len, storm_urls)),
            "joined": len(joins),
            "join_failures": len(join_failures),
            "join_p50_ms": ms(percentile(joins, 0.5)) if joins else math.nan,
            "join_p99_ms": ms(percentile(joins, 0.99)) if joins else math.nan,
            "join_max_ms": ms(joins[-1]) if joins else math.nan,
            "join_history_lines_p50": (
                float(percentile(sorted(join_history), 0.5)) if join_history else math.nan
            ),
            "storm_p50_ms": ms(percentile(in_storm, 0.5)) if in_storm else math.nan,
            "storm_p99_ms": ms(percentile(in_storm, 0.99)) if in_storm else math.nan,
            "storm_lines": len(during),
        }

    return Result(
        scenario=scenario,
        description=description,
        processes=len(targets),
        viewers=viewers,
        target_rate=opts.rate,
        seconds=opts.seconds,
        sent=sent,
        delivered=len(ordered),
        expected=sent * viewers,
        messages_fully_delivered=sum(1 for c in per_seq.values() if c >= viewers),
        p50_ms=ms(percentile(ordered, 0.50)) if ordered else math.nan,
        p90_ms=ms(percentile(ordered, 0.90)) if ordered else math.nan,
        p99_ms=ms(percentile(ordered, 0.99)) if ordered else math.nan,
        max_ms=ms(ordered[-1]) if ordered else math.nan,
        mean_ms=ms(sum(ordered) / len(ordered)) if ordered else math.nan,
        kib_per_conn=per_conn(rss_connected),
        kib_per_conn_after_run=per_conn(rss_after, joined=bool(storm_urls)),
        rss_kib={
            t.name: {
                "before": rss_before[t.name],
                "connected": rss_connected[t.name],
                "after_run": rss_after[t.name],
                "viewers": len(t.urls),
            }
            for t in targets
        },
        cpu_percent=cpu,
        machine_cpu_percent=machine,
        chat_frames_per_viewer_s=round(chat_frames / max(viewers, 1) / opts.seconds, 2),
        lines_per_chat_frame=round(len(ordered) / max(chat_frames, 1), 2),
        gaps_dropped=sum(r["gaps"] for r in results),
        error_frames=errors,
        send_failures=sum(r["send_failures"] for r in results),
        closed_early=sum(r["closed_early"] for r in results),
        connect_failures=failed,
        connect_s=round(connect_s, 1),
        first_viewer_ms=spread(list(first.values())),
        last_viewer_ms=spread(list(last.values())),
        timeline=timeline,
        **storm_figures,
    )


# ---- the two scenarios ---------------------------------------------------------------


async def warm_up(url: str) -> None:
    """One viewer in and out, so lazy imports and first-use caches are not per-connection."""
    async with connect(url, open_timeout=30) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if first.get("type") != "welcome":
            raise RuntimeError(f"warm-up: expected a welcome frame, got {str(first)[:200]}")


async def run_ceiling(
    children: Children, opts: Options, tick_s: float, storm: bool = False
) -> Result:
    """The bare server; with `storm` (tick-batched), the same join storm as live-storm: the
    ceiling of delivery while opts.joiners open their sockets."""
    name = "ceiling-tick-storm" if storm else "ceiling-tick" if tick_s else "ceiling"
    port = free_port()
    args = ["-m", "bench.ceiling_server", "--port", str(port), "--tick", str(tick_s)]
    pid = children.spawn(name, [sys.executable, *args])
    wait_for_port("127.0.0.1", port)
    say(f"[{name}] bare websockets server on :{port} (pid {pid})")
    url = f"ws://127.0.0.1:{port}/"
    await warm_up(url)
    await asyncio.sleep(1.0)
    framing = f"one frame per {tick_s * 1000:g} ms tick" if tick_s else "one frame per line"
    description = f"bench.ceiling_server: websockets.broadcast, {framing}, 1 process, no bus"
    if storm:
        description += f"; {opts.joiners:,} viewers join over {opts.storm_s:g} s"
        opts = storm_window(opts)
    result = await measure(
        children,
        name,
        description,
        [Target(name, pid, [url] * opts.viewers)],
        opts,
        others={},
        storm=[[url] * opts.joiners] if storm else None,
    )
    children.stop(pid)
    return result


async def wait_ready(children: Children, name: str, pid: int, base_url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        while True:
            if not children.alive(pid):
                raise RuntimeError(f"{name} exited during start-up:\n{children.log_tail(name)}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready in {READY_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.2)


async def open_room(base_url: str) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        created = await http.post("/rooms", json={"title": "Fan-out bench"}, headers=admin)
        created.raise_for_status()
        room_id = str(created.json()["id"])
        (await http.post(f"/rooms/{room_id}/start", headers=admin)).raise_for_status()
    return room_id


async def join_all(base_url: str, room_id: str, names: list[str]) -> list[str]:
    """Viewer tokens from the join endpoint; the websocket URLs, in order."""
    ws_base = base_url.replace("http://", "ws://")
    semaphore = asyncio.Semaphore(JOIN_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def join(name: str) -> str:
            async with semaphore:
                response = await http.post(f"/rooms/{room_id}/join", json={"display_name": name})
                response.raise_for_status()
                return ws_base + str(response.json()["websocket_path"])

        return list(await asyncio.gather(*(join(name) for name in names)))


def log_levels(path: Path) -> dict[str, int]:
    """How many log lines of each level a service wrote (JSON lines; others are 'raw')."""
    counts: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            level = str(json.loads(line).get("level", "raw"))
        except (ValueError, AttributeError):
            level = "raw"
        counts[level] = counts.get(level, 0) + 1
    return counts


def storm_window(opts: Options) -> Options:
    """A window long enough to hold the storm; measured once (the joiners stay)."""
    seconds = max(opts.seconds, STORM_AFTER_S + opts.storm_s + STORM_TAIL_S)
    return replace(opts, seconds=seconds, retries=0)


async def run_live(children: Children, opts: Options, scratch: Path, storm: bool = False) -> Result:
    """The live scenario; with `storm`, live-storm (opts.joiners join during the window)."""
    scenario = "live-storm" if storm else "live"
    nats_port = free_port()
    nats_pid = children.spawn(
        "nats-server",
        [
            nats_server_binary(),
            "--addr",
            "127.0.0.1",
            "--port",
            str(nats_port),
            "--jetstream",
            "--store_dir",
            str(scratch / "jetstream"),
        ],
    )
    wait_for_port("127.0.0.1", nats_port)
    say(f"[{scenario}] nats-server on :{nats_port} (pid {nats_pid})")
    base_env = os.environ | {
        "NATS_URL": f"nats://127.0.0.1:{nats_port}",
        "DATABASE_URL": f"sqlite+aiosqlite:///{scratch}/live.db",
        "DATA_DIR": str(scratch),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": SECRET_KEY,
        "HOST": "127.0.0.1",
    }
    lives: list[tuple[str, int, str]] = []
    for i in range(opts.lives):
        name, port = f"live-{'abcdefgh'[i]}", free_port()
        pid = children.spawn(
            name, [sys.executable, "-m", "services.live"], base_env | {"PORT": str(port)}
        )
        base_url = f"http://127.0.0.1:{port}"
        # One after the other: both migrate the same SQLite file at start.
        await wait_ready(children, name, pid, base_url)
        say(f"[{scenario}] {name} ready on :{port} (pid {pid})")
        lives.append((name, pid, base_url))

    room_id = await open_room(lives[0][2])
    for name, _pid, base_url in lives:
        (url,) = await join_all(base_url, room_id, [f"warm-up {name}"])
        await warm_up(url)
    await asyncio.sleep(1.0)
    say(f"[{scenario}] room {room_id} is live; joining {opts.viewers} viewers over HTTP …")
    targets = []
    joiners: list[list[str]] = []
    for i, (name, pid, base_url) in enumerate(lives):
        names = [f"viewer {v:04d}" for v in range(i, opts.viewers, len(lives))]
        targets.append(Target(name, pid, await join_all(base_url, room_id, names)))
        if storm:
            names = [f"joiner {v:04d}" for v in range(i, opts.joiners, len(lives))]
            joiners.append(await join_all(base_url, room_id, names))
    description = (
        f"services.live × {opts.lives} processes, nats-server, SQLite; "
        f"tick {LIVE_TICK_S * 1000:g} ms"
    )
    if storm:
        description += f"; {opts.joiners:,} viewers join over {opts.storm_s:g} s"
        opts = storm_window(opts)
    result = await measure(
        children,
        scenario,
        description,
        targets,
        opts,
        others={"nats-server": nats_pid},
        storm=joiners or None,
    )
    for name, pid, _ in lives:
        children.stop(pid)
        result.log_levels[name] = log_levels(children.log_dir / f"{name}.log")
    children.stop(nats_pid)
    return result


# ---- report --------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    header = (
        "scenario",
        "viewers",
        "msgs/s",
        "delivered",
        "p50 ms",
        "p99 ms",
        "max ms",
        "KiB/conn",
        "KiB/conn after run",
    )
    rows = [header]
    for r in results:
        share = 100 * r.delivered / r.expected if r.expected else 0.0
        rows.append(
            (
                r.scenario,
                f"{r.viewers:,}",
                f"{r.achieved_rate:g}",
                f"{r.delivered:,}/{r.expected:,} ({share:.2f}%)",
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                f"{r.max_ms:.1f}",
                f"{r.kib_per_conn:.1f}",
                f"{r.kib_per_conn_after_run:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def details(r: Result) -> list[str]:
    cpu = ", ".join(f"{name} {pct:.0f}%" for name, pct in r.cpu_percent.items())
    m = r.machine_cpu_percent
    rss = ", ".join(
        f"{name} {'→'.join(f'{v[k] / 1024:.0f}' for k in ('before', 'connected', 'after_run'))}"
        f" MiB ({v['viewers']} viewers)"
        for name, v in r.rss_kib.items()
    )
    lines = [
        f"{r.scenario}: {r.description}",
        f"  latency p50 {r.p50_ms:.1f} / p90 {r.p90_ms:.1f} / p99 {r.p99_ms:.1f} / "
        f"max {r.max_ms:.1f} / mean {r.mean_ms:.1f} ms; "
        f"lines reaching every viewer {r.messages_fully_delivered}/{r.sent}",
        f"  CPU during the window (100% = one core): {cpu}",
        f"  machine: {m['busy']:.0f}% busy of {m['capacity']:.0f}%, ours {m['ours']:.0f}%, "
        f"other processes' {m['others']:.0f}%"
        + ("  << NOT QUIET: other load skews these figures" if m["others"] > QUIET_PERCENT else ""),
        f"  RSS before→connected→after run: {rss}",
        f"  chat frames per viewer per s {r.chat_frames_per_viewer_s:g}, "
        f"lines per chat frame {r.lines_per_chat_frame:g}; "
        f"dropped (gap) {r.gaps_dropped}, error frames {r.error_frames or 0}, "
        f"send failures {r.send_failures}, closed early {r.closed_early}, "
        f"connect failures {r.connect_failures}, connect time {r.connect_s:g} s",
    ]
    if r.first_viewer_ms:
        lines.append(
            f"  per line, to its first viewer: p50 {r.first_viewer_ms['p50']:.1f} / "
            f"p99 {r.first_viewer_ms['p99']:.1f} ms; to its last viewer: "
            f"p50 {r.last_viewer_ms['p50']:.1f} / p99 {r.last_viewer_ms['p99']:.1f} ms"
        )
        lines.append(
            "  last-viewer p50 by second (ms): "
            + " ".join(f"{t['last_p50_ms']:.0f}" for t in r.timeline)
        )
    if r.joiners:
        lines.append(
            f"  join storm: {r.joined}/{r.joiners} joined ({r.join_failures} failed); "
            f"join (connect → welcome) p50 {r.join_p50_ms:.1f} / p99 {r.join_p99_ms:.1f} / "
            f"max {r.join_max_ms:.1f} ms, history lines p50 {r.join_history_lines_p50:g}; "
            f"delivery of the {r.storm_lines} lines sent during it: p50 {r.storm_p50_ms:.1f} / "
            f"p99 {r.storm_p99_ms:.1f} ms"
        )
    for name, levels in r.log_levels.items():
        lines.append(f"  {name} log lines by level: {levels}")
    return lines


def environment(opts: Options) -> dict[str, object]:
    nats_version = subprocess.run(
        [nats_server_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "services/live", "shared"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    per_worker = opts.viewers // opts.client_procs
    return {
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "nats_server": nats_version,
        "commit": commit,
        "uncommitted_files_in_live_and_shared": len(changed),
        "load_generator": (
            f"websockets {websockets.__version__} asyncio clients on {loop}, "
            f"{opts.client_procs} processes × ~{per_worker} viewers; "
            f"{opts.senders} of the viewers post, {opts.rate / opts.senders:g} lines/s each; "
            f"~{opts.text_chars}-char lines; permessage-deflate "
            f"{'on' if opts.compression else 'off'}"
        ),
    }


async def run(opts: Options, children: Children, scratch: Path) -> list[Result]:
    results = []
    for scenario in opts.scenarios:
        if scenario in ("live", "live-storm"):
            storm = scenario == "live-storm"
            results.append(await run_live(children, opts, scratch, storm))
        else:
            tick_s = 0.0 if scenario == "ceiling" else LIVE_TICK_S
            storm = scenario == "ceiling-tick-storm"
            results.append(await run_ceiling(children, opts, tick_s, storm))
    return results


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live_fanout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="chat lines per second, in all")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long lines are posted")
    parser.add_argument(
        "--senders",
        type=int,
        default=None,
        help="viewers that post (default: one per line/s, half live's 2/s limit each)",
    )
    parser.add_argument("--lives", type=int, default=2, help="live processes")
    parser.add_argument("--client-procs", type=int, default=2, help="load-generator processes")
    parser.add_argument("--text-chars", type=int, default=40, help="length of a chat line")
    parser.add_argument("--connect-concurrency", type=int, default=16, help="per client process")
    parser.add_argument("--settle", type=float, default=5.0, help="s between connect and run")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="at most this many s to wait for late lines"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"comma-separated, in order, of {','.join(SCENARIOS)} "
        f"(default: {','.join(DEFAULT_SCENARIOS)})",
    )
    parser.add_argument("--no-compression", action="store_true", help="no permessage-deflate")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=300.0,
        help="before each window, wait up to this many s for other processes to calm down",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure a window again (viewers stay connected) if other processes disturbed it",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat everything; medians")
    parser.add_argument(
        "--join-storm",
        type=int,
        nargs="?",
        const=1000,
        default=None,
        metavar="N",
        help="add the live-storm scenario: N viewers (1,000) join during the window",
    )
    parser.add_argument(
        "--storm-seconds", type=float, default=10.0, help="the join storm lasts this long"
    )
    parser.add_argument(
        "--out", type=Path, default=bench_results.results_dir() / "live_fanout.json"
    )
    args = parser.parse_args(argv)
    senders = args.senders or max(1, math.ceil(args.rate))
    if not 1 <= senders <= args.viewers:
        parser.error("--senders must be between 1 and --viewers")
    if args.viewers < args.client_procs * args.lives:
        parser.error("fewer viewers than client processes × live processes")
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    if not scenarios or set(scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: choose from {', '.join(SCENARIOS)}")
    if args.join_storm is not None:  # the storm and its ceiling, in the same run
        scenarios += tuple(s for s in ("ceiling-tick-storm", "live-storm") if s not in scenarios)
    joiners = args.join_storm if args.join_storm is not None else 1000
    if joiners < args.client_procs * args.lives or args.storm_seconds <= 0:
        parser.error("--join-storm: at least one joiner per client and live process")
    return Options(
        viewers=args.viewers,
        rate=args.rate,
        seconds=args.seconds,
        senders=senders,
        lives=args.lives,
        client_procs=args.client_procs,
        text_chars=args.text_chars,
        connect_concurrency=args.connect_concurrency,
        settle_s=args.settle,
        drain_s=args.drain,
        scenarios=scenarios,
        compression=not args.no_compression,
        wait_quiet_s=args.wait_quiet,
        retries=min(max(args.retries, 0), 25),
        out=args.out,
        runs=max(1, args.runs),
        joiners=joiners,
        storm_s=args.storm_seconds,
    )


ROLES = {
    "ceiling": ("raw websockets.broadcast, one frame per line", "reference"),
    "ceiling-tick": (
        f"websockets.broadcast, a frame per {LIVE_TICK_S * 1000:g} ms tick",
        "reference",
    ),
    "live": ("services.live, nats-server, SQLite", "measured"),
    "live-storm": ("services.live, a join storm during the window", "measured"),
    "ceiling-tick-storm": (
        f"websockets.broadcast, a frame per {LIVE_TICK_S * 1000:g} ms tick, the same join storm",
        "reference",
    ),
}


def headline(r: Result) -> dict[str, Any]:
    """The figures of one scenario in one run that the report and the medians use."""

    def num(x: float) -> float | None:
        return None if math.isnan(x) else x

    return {
        "viewers": r.viewers,
        "processes": r.processes,
        "achieved_rate": r.achieved_rate,
        "sent": r.sent,
        "delivered": r.delivered,
        "expected": r.expected,
        "delivered_pct": round(100 * r.delivered / r.expected, 3) if r.expected else 0.0,
        "p50_ms": num(r.p50_ms),
        "p90_ms": num(r.p90_ms),
        "p99_ms": num(r.p99_ms),
        "max_ms": num(r.max_ms),
        "kib_per_conn": r.kib_per_conn,
        "kib_per_conn_after_run": r.kib_per_conn_after_run,
        "others_cpu_percent": r.machine_cpu_percent["others"],
        "gaps_dropped": r.gaps_dropped,
        "connect_failures": r.connect_failures,
    } | (
        {
            "joiners": r.joiners,
            "joined": r.joined,
            "join_failures": r.join_failures,
            "join_p50_ms": num(r.join_p50_ms),
            "join_p99_ms": num(r.join_p99_ms),
            "storm_p50_ms": num(r.storm_p50_ms),
            "storm_p99_ms": num(r.storm_p99_ms),
        }
        if r.joiners
        else {}
    )


def write_results(
    opts: Options, env: dict[str, object], runs: list[list[Result]], elapsed: float
) -> list[dict[str, Any]]:
    """test-artifacts/bench/live_fanout.json (the earlier keys kept); the scenarios' medians."""
    per_run: dict[str, list[dict[str, Any]]] = {}
    for results in runs:
        for r in results:
            per_run.setdefault(r.scenario, []).append(headline(r))
    scenarios = []
    for key, rows in per_run.items():
        label, role = ROLES.get(key, (key, "reference"))
        if key == "live":
            label = f"services.live × {opts.lives} processes, nats-server, SQLite"
        elif key == "live-storm":
            label = (
                f"services.live × {opts.lives} processes, {opts.joiners:,} viewers joining "
                f"over {opts.storm_s:g} s"
            )
        scenarios.append(bench_results.scenario(key, label, role, rows))

    def ratio(
        key: str, label: str, figure: str, top: str, bottom: str, of_bottom: str = ""
    ) -> dict[str, Any] | None:
        pairs = [
            (a.get(figure), b.get(of_bottom or figure))
            for a, b in zip(per_run.get(top, []), per_run.get(bottom, []), strict=False)
        ]
        values = [a / b for a, b in pairs if a is not None and b]
        return bench_results.ratio(key, label, values) if values else None

    ratios = [
        ratio("live_p99_vs_ceiling", "live p99 / broadcast p99", "p99_ms", "live", "ceiling"),
        ratio(
            "live_p99_vs_ceiling_tick",
            "live p99 / tick-batched broadcast p99",
            "p99_ms",
            "live",
            "ceiling-tick",
        ),
        ratio(
            "live_storm_p99_vs_ceiling_tick",
            "delivery p99 during a join storm / tick-batched broadcast p99",
            "storm_p99_ms",
            "live-storm",
            "ceiling-tick",
            "p99_ms",
        ),
        ratio(
            "live_storm_p99_vs_ceiling_tick_storm",
            "delivery p99 during a join storm / the same storm's tick-batched broadcast p99",
            "storm_p99_ms",
            "live-storm",
            "ceiling-tick-storm",
        ),
        ratio(
            "live_join_p99_vs_ceiling_tick_storm",
            "join p99 (connect → welcome) / the same storm's on the tick-batched broadcast",
            "join_p99_ms",
            "live-storm",
            "ceiling-tick-storm",
        ),
        ratio(
            "live_kib_vs_ceiling",
            "live KiB/conn / broadcast KiB/conn",
            "kib_per_conn",
            "live",
            "ceiling",
        ),
    ]
    last = runs[-1]
    extra: dict[str, Any] = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "environment": env,
        "elapsed_s": round(elapsed, 1),
        "results": [asdict(r) | {"achieved_rate": r.achieved_rate} for r in last],
    }
    if len(runs) > 1:
        extra["all_runs"] = [
            [asdict(r) | {"achieved_rate": r.achieved_rate} for r in results] for results in runs
        ]
    bench_results.write(
        "live_fanout",
        title="Live-room chat fan-out",
        parameters={
            k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items() if k != "out"
        },
        load_generator={
            "name": "bench.fanout_clients",
            "version": f"websockets {websockets.__version__}",
            "how": str(env["load_generator"]),
        },
        run_count=len(runs),
        scenarios=scenarios,
        ratios=[r for r in ratios if r is not None],
        databases=[bench_results.sqlite_database()] if "live" in per_run else [],
        extra=extra,
        path=opts.out,
    )
    return scenarios


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    env = environment(opts)
    say(f"load generator: {env['load_generator']}")
    say(
        f"machine: {env['cpus']} CPUs, Python {env['python']}, {env['nats_server']}; "
        f"code: {env['commit']} + {env['uncommitted_files_in_live_and_shared']} uncommitted "
        "files in services/live and shared"
    )
    children = Children(ARTIFACTS / "logs")
    runs: list[list[Result]] = []
    try:
        for n in range(opts.runs):
            if opts.runs > 1:
                say(f"run {n + 1}/{opts.runs}")
            with tempfile.TemporaryDirectory(prefix="qunlive-bench-") as scratch:
                try:
                    runs.append(asyncio.run(run(opts, children, Path(scratch))))
                finally:
                    children.stop_all()
    except KeyboardInterrupt:
        say("interrupted: every process stopped")
        return 130
    elapsed = time.monotonic() - started

    for n, results in enumerate(runs):
        say()
        say(
            f"one room, {opts.viewers:,} viewers, {opts.rate:g} chat lines/s for "
            f"{opts.seconds:g} s (run took {elapsed:.0f} s)"
            if opts.runs == 1
            else f"run {n + 1}/{opts.runs}: one room, {opts.viewers:,} viewers, "
            f"{opts.rate:g} chat lines/s for {opts.seconds:g} s"
        )
        say(table(results))
        busy = [r.scenario for r in results if r.machine_cpu_percent["others"] > QUIET_PERCENT]
        if busy:
            say(f"warning: other processes loaded the machine during {', '.join(busy)} (see below)")
        say()
        for result in results:
            for line in details(result):
                say(line)
    summary = write_results(opts, env, runs, elapsed)
    if opts.runs > 1:
        say()
        say(f"medians of {opts.runs} runs (all took {elapsed:.0f} s):")
        for item in summary:
            med = {k: math.nan if v is None else v for k, v in item["median"].items()}
            say(
                f"  {item['key']:13} p50 {med['p50_ms']:.1f} / p99 {med['p99_ms']:.1f} ms, "
                f"{med['kib_per_conn']:.1f} KiB/conn, delivered {med['delivered_pct']:.2f}%"
            )
    say(f"load generator: {env['load_generator']}")
    say(f"figures: {opts.out.relative_to(ROOT) if opts.out.is_relative_to(ROOT) else opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
