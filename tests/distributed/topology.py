"""The production topology from processes, on loopback: what deploy/docker-compose.yml runs.

Three nats-server processes (the wheel's binary) clustered with routes, JetStream on each
with its own store and server name; streams at R3; one PostgreSQL database; two live, two
orders, one ingest and one analytics process, all given the three NATS URLs. Any process
can be SIGKILLed and started again on the same ports, store and database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from nats.js import JetStreamContext

from services.launcher import _die_with_parent
from shared.embedded_nats import nats_server_binary
from shared.streams import provision_streams

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CLUSTER_NAME = "qunlive"
SECRET_KEY = "distributed-secret-key-of-at-least-32-bytes"
ADMIN_TOKEN = "distributed-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READY_TIMEOUT_S = 45.0


class Ports:
    """Free loopback ports below the kernel's ephemeral range (32768 and up).

    A port picked there (as `free_port()` does) can be taken by some client socket's
    local end before the server binds it: under load that happened to a cluster port.
    """

    def __init__(self, low: int = 20000, high: int = 32000) -> None:
        self.low, self.high = low, high
        self.given: set[int] = set()

    def __call__(self) -> int:
        while True:
            port = random.randint(self.low, self.high)
            if port in self.given:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            self.given.add(port)
            return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Timeline:
    """What happened when, relative to the start of the test: printed and kept as an artifact."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.t0 = time.monotonic()
        self.lines: list[str] = []

    def mark(self, what: str) -> None:
        line = f"t={time.monotonic() - self.t0:6.2f}s  {what}"
        self.lines.append(line)
        print(line, flush=True)

    def report(self) -> str:
        text = "\n".join([f"== {self.title}", *self.lines, ""])
        ARTIFACTS.mkdir(exist_ok=True)
        with (ARTIFACTS / "distributed-faults.txt").open("a") as out:
            out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
        return text


@dataclass
class NatsNode:
    name: str
    port: int
    cluster_port: int
    http_port: int
    store: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, routes: list[str]) -> None:
        args = [
            nats_server_binary(),
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http_port",
            str(self.http_port),
            "--server_name",
            self.name,
            "--jetstream",
            "--store_dir",
            str(self.store),
            "--cluster_name",
            CLUSTER_NAME,
            "--cluster",
            f"nats://127.0.0.1:{self.cluster_port}",
            "--routes",
            ",".join(routes),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if not self.running or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{self.name} did not start:\n{tail}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: the node dies as a machine would, mid-write."""
        if self.process and self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.running:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class NatsCluster:
    nodes: list[NatsNode]

    @classmethod
    def create(cls, root: Path, ports: Ports, size: int = 3) -> NatsCluster:
        nodes = []
        for n in range(1, size + 1):
            store = root / f"nats-{n}"
            store.mkdir(parents=True)
            nodes.append(
                NatsNode(f"nats-{n}", ports(), ports(), ports(), store, root / f"nats-{n}.log")
            )
        return cls(nodes)

    @property
    def routes(self) -> list[str]:
        return [f"nats://127.0.0.1:{node.cluster_port}" for node in self.nodes]

    @property
    def url(self) -> str:
        """NATS_URL as the services get it: every node, comma-separated."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.name == name)

    def start(self) -> None:
        for node in self.nodes:
            node.start(self.routes)

    def restart(self, node: NatsNode) -> None:
        node.start(self.routes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def kill(self) -> None:
        """Every node at once, with no orderly JetStream shutdown: for stores thrown away next
        (a test's). Stopped one by one, each node's shutdown waits on the others' elections."""
        for node in self.nodes:
            node.kill()

    async def provision(self, timeout: float = 30.0) -> None:
        """Create the streams at R3 once the cluster has elected its meta leader."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                nc = await nats.connect(self.url.split(","), connect_timeout=2)
                try:
                    await provision_streams(nc.jetstream(timeout=5), replicas=3)
                    return
                finally:
                    await nc.close()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)

    async def leaders(self, js: JetStreamContext, streams: tuple[str, ...]) -> dict[str, str]:
        """Which node leads each stream (and the JetStream meta group, under 'meta')."""
        found = {}
        for name in streams:
            info = await js.stream_info(name)
            found[name] = str(info.cluster.leader if info.cluster else "?")
        async with httpx.AsyncClient(trust_env=False, timeout=2) as http:
            for node in self.nodes:
                if not node.running:
                    continue
                jsz = (await http.get(f"http://127.0.0.1:{node.http_port}/jsz")).json()
                meta = jsz.get("meta_cluster") or {}
                if meta.get("leader"):
                    found["meta"] = meta["leader"]
                    break
        return found


@dataclass
class ServiceProcess:
    name: str  # live-1, orders-2, ...
    service: str  # live, orders, ingest, analytics
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"--- start #{self.starts} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.service}"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # never outlive the test run, even if it is killed
            )

    async def ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(trust_env=False, timeout=2) as http:
            while True:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")
                await asyncio.sleep(0.1)

    async def start(self) -> None:
        self.spawn()
        await self.ready()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.process and self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.running:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Topology:
    cluster: NatsCluster
    database_url: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def of(self, service: str) -> list[ServiceProcess]:
        return [p for p in self.services.values() if p.service == service]

    async def start(self) -> None:
        """NATS nodes, then every service at once: each waits for the cluster's JetStream
        and provisions the streams at R3 itself, as the containers do."""
        self.cluster.start()
        for process in self.services.values():
            process.spawn()
        await asyncio.gather(*(p.ready() for p in self.services.values()))

    def stop(self) -> None:
        for process in self.services.values():
            if process.running and process.process:
                process.process.terminate()
        for process in self.services.values():
            process.stop()
        self.cluster.kill()  # the test's stores go with its tmp dir

    def logs(self) -> str:
        parts = [f"--- {p.name} (end)\n{p.tail(2000)}" for p in self.services.values()]
        return "\n".join(parts)


def build_topology(root: Path, database_url: str) -> Topology:
    ports = Ports()
    cluster = NatsCluster.create(root, ports)
    topology = Topology(cluster, database_url)
    common = {
        "ENV": "production",
        "NATS_URL": cluster.url,
        "STREAM_REPLICAS": "3",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "PAYMENT_SECRET": "distributed-payment-secret",
        "TELEGRAM_SECRET_TOKEN": "distributed-telegram-token",
        "WHATSAPP_APP_SECRET": "distributed-whatsapp-secret",
        "WHATSAPP_VERIFY_TOKEN": "distributed-whatsapp-verify",
        "WEBHOOK_SECRET": "distributed-webhook-secret",
        "TELEGRAM_BOT_TOKEN": "123456789:distributed-bot-token",
        "WHATSAPP_ACCESS_TOKEN": "distributed-whatsapp-access-token",
        "MEDIA_HOOK_SECRET": "distributed-media-hook-secret",
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": str(root),
        "PYTHONUNBUFFERED": "1",
    }
    for name, service in (
        ("live-1", "live"),
        ("live-2", "live"),
        ("orders-1", "orders"),
        ("orders-2", "orders"),
        ("ingest", "ingest"),
        ("analytics", "analytics"),
    ):
        port = ports()
        env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
        env |= common | {"PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
        topology.services[name] = ServiceProcess(name, service, port, env, root / f"{name}.log")
    return topology
