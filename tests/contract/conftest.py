"""The platform as ops run it (`python -m services.launcher`: nats-server and the four
service processes, SQLite), once for this package's tests: the contract is checked
against the real running services, not an in-process app."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import launcher

ADMIN_TOKEN = "contract-admin-token"
SECRET_KEY = "contract-secret-key-of-at-least-32-bytes!"
SERVICE_LINE = re.compile(r"^service (\w+) url=(\S+) pid=(\d+)$", re.MULTILINE)


@dataclass
class Launched:
    urls: dict[str, str]
    logs: Path

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")


@pytest.fixture(scope="package")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    data = tmp_path_factory.mktemp("launched")
    output = data / "launcher.out"
    with launcher(data, output, ADMIN_TOKEN, SECRET_KEY) as process:
        deadline = time.monotonic() + 90
        while "\nready in " not in output.read_text(errors="replace"):
            assert process.poll() is None, output.read_text(errors="replace")
            assert time.monotonic() < deadline, output.read_text(errors="replace")
            time.sleep(0.2)
        urls = {name: url for name, url, _ in SERVICE_LINE.findall(output.read_text())}
        for url in urls.values():
            httpx.get(f"{url}/readyz", trust_env=False).raise_for_status()
        yield Launched(urls, data / "logs")
