"""Real orders processes for the correctness tests: started, killed, restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.embedded_nats import free_port
from tests.orders.conftest import SECRET

REPO = Path(__file__).resolve().parents[2]


@dataclass
class OrdersProcess:
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OrdersProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.orders"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"orders exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"orders not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def orders_process(nats_url: str, database_url: str, tmp_path: Path, name: str) -> OrdersProcess:
    port = free_port()
    env = dict(os.environ) | {
        "PORT": str(port),
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN": "test-admin",
        "SECRET_KEY": SECRET,
        "PAYMENT_SECRET": "test-payment-secret",
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }
    return OrdersProcess(port, env, tmp_path / f"{name}.log")
