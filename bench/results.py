"""Each benchmark's results as JSON in test-artifacts/bench/<name>.json, one shape for all.

`python -m bench.report` reads these files and writes docs/PERFORMANCE.md. Every file
has the same envelope (schema 1):

    benchmark, schema, title, date (UTC, when written),
    machine {cpu_model, cpus, ram_gib, kernel, python, nats_server, loadavg},
    code {commit, uncommitted_files},
    parameters {...}, load_generator {name, version, how},
    databases [{kind, version}], run_count,
    scenarios [{key, label, role: "reference" | "measured", runs, median {...}, per_run [{...}]}],
    ratios [{key, label, median, per_run [...]}]

plus whatever the benchmark kept of its own (its earlier keys stay as they were).
A median is taken over the runs for every numeric figure; the other values are the
last run's. BENCH_RESULTS_DIR writes elsewhere (a trial run must not replace the
figures of a real one).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from shared.embedded_nats import nats_server_binary

REPO = Path(__file__).resolve().parents[1]
SCHEMA = 1


# The system's Chromium, headless, as the video benchmark and the browser tests drive it.
CHROMIUM = os.environ.get("QUNLIVE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS_DIR") or REPO / "test-artifacts" / "bench")


def first_line(command: list[str]) -> str:
    """The first line a tool prints (stdout or stderr), '' if it cannot run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return next(iter((done.stdout + done.stderr).strip().splitlines()), "")


def wrk_version() -> str:
    # "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer"
    return first_line(["wrk", "--version"]).split(" Copyright")[0].strip()


def run_wrk(
    script: Path, url: str, seconds: float, connections: int, threads: int, *args: str
) -> dict[str, int]:
    """wrk with a Lua script whose `done` prints one `RESULT {json}` line: that JSON."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
               "-s", str(script), url, *(["--", *args] if args else [])]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    result: dict[str, int] = json.loads(line.removeprefix("RESULT "))
    return result


def wrk_figures(result: dict[str, int]) -> dict[str, float]:
    """What a run_wrk result says of one URL: requests/s, body MB/s, latency percentiles."""
    seconds = result["duration_us"] / 1e6
    return {
        "per_s": result["requests"] / seconds,
        "mb_per_s": result["bytes"] / seconds / 1e6,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "requests": result["requests"],
        "non_2xx": result["non_2xx"],
        "socket_errors": result["socket_errors"],
    }


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = ""
    with_cpuinfo = Path("/proc/cpuinfo")
    if with_cpuinfo.exists():
        for line in with_cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    try:
        nats = first_line([nats_server_binary(), "--version"])
    except RuntimeError:
        nats = ""
    return {
        "cpu_model": cpu_model or platform.processor(),
        "cpus": os.cpu_count(),
        "ram_gib": ram_gib,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "nats_server": nats,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def code() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "services", "shared", "bench")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(changed.splitlines()),
    }


async def postgres_version(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def sqlite_database() -> dict[str, str]:
    import sqlite3

    return {"kind": "SQLite", "version": sqlite3.sqlite_version}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def median_figures(per_run: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The median of each numeric figure over the runs; any other value from the last run."""
    out: dict[str, Any] = {}
    for key, last in per_run[-1].items():
        values = [run[key] for run in per_run if _number(run.get(key))]
        if _number(last) and values:
            med = statistics.median(values)
            out[key] = round(med, 4) if isinstance(med, float) else med
        else:
            out[key] = last
    return out


def scenario(key: str, label: str, role: str, per_run: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "role": role,
        "runs": len(per_run),
        "median": median_figures(per_run),
        "per_run": list(per_run),
    }


def ratio(key: str, label: str, per_run: Sequence[float]) -> dict[str, Any]:
    """A ratio computed within each run (both sides from the same run), and its median."""
    values = [round(v, 4) for v in per_run]
    return {
        "key": key,
        "label": label,
        "median": round(statistics.median(values), 4) if values else None,
        "per_run": values,
    }


def write(
    name: str,
    *,
    title: str,
    parameters: dict[str, Any],
    load_generator: dict[str, str],
    run_count: int,
    scenarios: list[dict[str, Any]],
    ratios: list[dict[str, Any]],
    databases: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    path: Path | None = None,
) -> Path:
    """Write test-artifacts/bench/<name>.json (or `path`); returns where."""
    report = {
        "benchmark": name,
        "schema": SCHEMA,
        "title": title,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "code": code(),
        "parameters": parameters,
        "load_generator": load_generator,
        "databases": databases or [],
        "run_count": run_count,
        "scenarios": scenarios,
        "ratios": ratios,
    }
    for key, value in (extra or {}).items():
        report.setdefault(key, value)
    out = path or results_dir() / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    return out
