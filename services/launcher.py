"""`make run`: a nats-server with JetStream and the four services, supervised.

    python -m services.launcher [--only live,analytics] [--data-dir DIR] [--free-ports]

--free-ports picks free ports for NATS and the services (instead of 4333 and 8001-8004)
and a free UDP range for the rooms' SRT listeners (instead of 9710-9799), unless
SRT_PORTS is set.

Starts nats-server (unless NATS_URL is set) and each service as
`python -m services.<name>`, waits for every /readyz, prints where each one
listens, then restarts any child that dies (backoff 1, 2, 4 .. 30 s).
With live comes its media process (`python -m services.live.media`: the rooms'
SRT listeners, writing HLS under <data dir>/media), started once live is ready
and pointed at it by LIVE_INTERNAL_URL; it serves no HTTP, so has no /readyz.
SIGINT/SIGTERM stop the media process, then the services, then nats-server,
and exit 0.

Children run in their own session, so a terminal's Ctrl-C reaches only the
launcher, which stops them in order; on Linux they also get SIGTERM if the
launcher itself dies. Their output is appended to <data dir>/logs/<name>.log.
Besides the table, stdout has one machine-readable line per process:
`nats url=... pid=N`, `service <name> url=... pid=N` and `media pid=N`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType

import httpx

from shared.embedded_nats import free_port, nats_server_binary, wait_for_port

SERVICES = {"ingest": 8001, "live": 8002, "orders": 8003, "analytics": 8004}
NATS_PORT = 4333  # not 4222: that is where a system NATS usually runs
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 30.0
FREE_SRT_PORTS = 20  # rooms with a stream key at once, under --free-ports
STABLE_AFTER_S = 60.0  # a child that ran this long starts its backoff afresh


def say(line: str) -> None:
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        print(line, flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and NATS bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int | None, taken: set[int]) -> int:
    port = preferred if preferred and port_is_free(preferred) else free_port()
    while port in taken:
        port = free_port()
    taken.add(port)
    return port


def free_udp_range(count: int) -> str:
    """`count` consecutive UDP ports nobody holds on 127.0.0.1, as live's SRT_PORTS
    ("first-last"): with --free-ports, the rooms' SRT listeners must not meet another
    platform's (`make run`'s are 9710-9799)."""
    for _ in range(200):
        first = random.randrange(20_000, 60_000 - count)
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + count):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return f"{first}-{first + count - 1}"
    raise RuntimeError("no free UDP port range for the rooms' SRT listeners")


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the launcher dies, even by SIGKILL."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    url: str  # "" for the media process, which serves no HTTP
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = 0.0
    restart_at: float | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def line(self) -> str:
        """The machine-readable line that says where it runs."""
        if self.name == "nats":
            return f"nats url={self.url} pid={self.pid}"
        if not self.url:
            return f"{self.name} pid={self.pid}"
        return f"service {self.name} url={self.url} pid={self.pid}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"--- launcher: starting {self.name} at {datetime.now()} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.started_at = time.monotonic()
        self.restart_at = None

    def signal(self, signum: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)  # its group: anything it spawned goes too

    def log_tail(self, lines: int = 25) -> str:
        """The end of this run's log, JSON records unpacked so tracebacks read as text."""
        run = self.log_path.read_text(errors="replace").rsplit("--- launcher: starting", 1)[-1]
        out: list[str] = []
        for line in run.splitlines()[1:]:
            try:
                record = json.loads(line)
                out += f"{record['level']}: {record['msg']}\n{record.get('exc', '')}".splitlines()
            except (ValueError, TypeError, KeyError):
                out.append(line)
        return "\n".join("    " + line for line in out[-lines:] if line)


class Launcher:
    def __init__(self, services: list[str], data_dir: Path, free_ports: bool) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.signals = 0
        taken: set[int] = set()
        self.nats: Child | None = None
        nats_url = os.environ.get("NATS_URL", "")
        if not nats_url:
            port = pick_port(None if free_ports else NATS_PORT, taken)
            nats_url = f"nats://127.0.0.1:{port}"
            store = data_dir / "nats"
            store.mkdir(exist_ok=True)
            args = [nats_server_binary(), "--addr", "127.0.0.1", "--port", str(port)]
            args += ["--jetstream", "--store_dir", str(store)]
            self.nats = Child("nats", args, dict(os.environ), nats_url, self.logs / "nats.log")
        self.nats_url = nats_url
        self.services: list[Child] = []
        for name in services:
            port = pick_port(None if free_ports else SERVICES[name], taken)
            env = dict(os.environ)
            # DATABASE_URL, when set, is inherited; else each service uses SQLite under DATA_DIR.
            env |= {"PORT": str(port), "NATS_URL": nats_url, "DATA_DIR": str(data_dir)}
            env["PYTHONUNBUFFERED"] = "1"
            if name == "live" and free_ports:
                env.setdefault("SRT_PORTS", free_udp_range(FREE_SRT_PORTS))
            args = [sys.executable, "-m", f"services.{name}"]
            url = f"http://127.0.0.1:{port}"
            self.services.append(Child(name, args, env, url, self.logs / f"{name}.log"))
        # live's pages (viewer page, host console) call the others from the browser.
        urls = {child.name: child.url for child in self.services}
        for child in self.services:
            if child.name == "live":
                for name in ("orders", "ingest", "analytics"):
                    if name in urls:
                        child.env.setdefault(f"{name.upper()}_PUBLIC_URL", urls[name])
            # analytics' report links to the show's replay page on live, and shows the
            # product photos orders serves.
            if child.name == "analytics" and "live" in urls:
                child.env.setdefault("LIVE_PUBLIC_URL", urls["live"])
            # orders' pickup desk links open live's /desk page.
            if child.name == "orders" and "live" in urls:
                child.env.setdefault("LIVE_PUBLIC_URL", urls["live"])
            if child.name == "analytics" and "orders" in urls:
                child.env.setdefault("ORDERS_PUBLIC_URL", urls["orders"])
        # live's media process: live's settings, and live's address for its /media/ routes.
        self.media: Child | None = None
        for child in self.services:
            if child.name == "live":
                env = child.env | {"LIVE_INTERNAL_URL": child.url}
                args = [sys.executable, "-m", "services.live.media"]
                self.media = Child("media", args, env, "", self.logs / "media.log")

    @property
    def children(self) -> list[Child]:
        media = [self.media] if self.media and self.media.process else []
        return ([self.nats] if self.nats else []) + self.services + media

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1

    def run(self) -> int:
        began = time.monotonic()
        try:
            if self.nats:
                self.nats.start()
                wait_for_port("127.0.0.1", int(self.nats_url.rsplit(":", 1)[1]))
            for child in self.services:
                child.start()
            if not self.wait_ready(began + READY_TIMEOUT_S):
                return 0  # stopped by a signal during start-up
            if self.media:  # once live answers, so its first poll finds it
                self.media.start()
            self.report(time.monotonic() - began)
            self.supervise()
            return 0
        except (StartFailed, TimeoutError) as exc:
            say(f"launcher: start-up failed: {exc}")
            return 1
        finally:
            self.stop()

    def wait_ready(self, deadline: float) -> bool:
        pending = list(self.services)
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while pending:
                if self.signals:
                    return False
                for child in self.children:
                    if not child.running:
                        raise StartFailed(
                            f"{child.name} exited during start-up; the end of {child.log_path}:"
                            f"\n{child.log_tail()}"
                        )
                for child in list(pending):
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get(f"{child.url}/readyz").status_code == 200:
                            pending.remove(child)
                if pending and time.monotonic() > deadline:
                    names = ", ".join(c.name for c in pending)
                    raise StartFailed(f"not ready after {READY_TIMEOUT_S:.0f}s: {names} (see logs)")
                time.sleep(0.1)
        return True

    def report(self, took: float) -> None:
        rows = [(c.name, c.url or "-", str(c.pid), self.shown(c.log_path)) for c in self.children]
        if not self.nats:
            rows.insert(0, ("nats", self.nats_url, "external", "-"))
        widths = [
            max(len(r[i]) for r in [("service", "url", "pid", "log"), *rows]) for i in range(4)
        ]
        say("")
        for row in [("service", "url", "pid", "log"), *rows]:
            say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        say("")
        if not self.nats:
            say(f"nats url={self.nats_url} pid=external")
        for child in self.children:
            say(child.line)
        for child in self.services:
            if child.name == "live":
                say(f"host console: {child.url}/console  viewer page: {child.url}/r/<room id>")
        say(f"ready in {took:.1f}s")
        say("Ctrl-C stops everything.")

    def shown(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(Path.cwd()))
        return str(path)

    def supervise(self) -> None:
        while not self.signals:
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is None and not child.running:
                    assert child.process is not None
                    up = now - child.started_at
                    child.backoff_s = (
                        1.0
                        if up > STABLE_AFTER_S
                        else min(max(child.backoff_s * 2, 1.0), MAX_BACKOFF_S)
                    )
                    child.restart_at = now + child.backoff_s
                    say(
                        f"launcher: {child.name} exited with code {child.process.returncode} "
                        f"after {up:.1f}s; restarting in {child.backoff_s:.0f}s "
                        f"(log: {self.shown(child.log_path)})"
                    )
                elif child.restart_at is not None and now >= child.restart_at:
                    child.start()
                    say(f"launcher: restarted {child.name}")
                    say(child.line)
            time.sleep(0.2)

    def stop(self) -> None:
        """The media process first (its last hooks reach live), then the services (they
        drain into NATS), then nats-server; SIGKILL after 10 s."""
        groups = [[self.media] if self.media else [], self.services]
        for group in [*groups, [self.nats] if self.nats else []]:
            running = [c for c in group if c.running]
            if not running:
                continue
            say(f"launcher: stopping {', '.join(c.name for c in running)}")
            for child in running:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while any(c.running for c in running):
                if time.monotonic() > deadline or self.signals > 1:  # a 2nd Ctrl-C: kill now
                    for child in running:
                        child.signal(signal.SIGKILL)
                    for child in running:
                        assert child.process is not None
                        child.process.wait()
                time.sleep(0.05)
        say("launcher: stopped")


class StartFailed(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.launcher", description=__doc__)
    parser.add_argument(
        "--only", default=",".join(SERVICES), help="comma-separated services to start"
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("QUNLIVE_DATA_DIR") or os.environ.get("DATA_DIR") or ".data",
        help="NATS store, SQLite files, logs (default $QUNLIVE_DATA_DIR, $DATA_DIR or .data)",
    )
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="pick free ports instead of 4333, 8001-8004 and SRT's 9710-9799",
    )
    args = parser.parse_args(argv)
    services = [s.strip() for s in args.only.split(",") if s.strip()]
    if unknown := sorted(set(services) - set(SERVICES)):
        parser.error(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICES)}")

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "launcher.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"launcher: another launcher is already using {data_dir}")
        return 1

    launcher = Launcher(services, data_dir, args.free_ports)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, launcher.on_signal)
    return launcher.run()


if __name__ == "__main__":
    sys.exit(main())
