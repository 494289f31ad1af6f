"""`make run` end to end: the launcher starts NATS, the four real service processes and
live's media process, a chat line goes through live to analytics, and Ctrl-C leaves
nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.live.client import TestViewer
from tests.support import eventually, launcher

REPO = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer e2e-admin"}
SERVICE_LINE = re.compile(r"^service (\w+) url=(\S+) pid=(\d+)$", re.MULTILINE)
NATS_LINE = re.compile(r"^nats url=(\S+) pid=(\d+)$", re.MULTILINE)
MEDIA_LINE = re.compile(r"^media pid=(\d+)$", re.MULTILINE)

pytestmark = pytest.mark.timeout(90)


@dataclass
class Platform:
    process: subprocess.Popen[bytes]
    output: Path
    urls: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """The launcher on free ports with its data under tmp_path; killed if a test leaves it up."""
    output = tmp_path / "launcher.out"
    secret = "e2e-secret-key-of-at-least-32-bytes!"
    try:
        with launcher(tmp_path / "data", output, "e2e-admin", secret) as process:
            yield Platform(process, output)
    finally:  # after the launcher stopped: its logs to the end
        logs = tmp_path / "data" / "logs"
        for log in sorted(logs.glob("*.log")) if logs.exists() else []:
            print(f"--- {log.name} (end)\n{log.read_text(errors='replace')[-3000:]}")
        print(f"--- launcher output\n{output.read_text(errors='replace')}")


async def test_launcher_runs_the_platform_and_stops_it_clean(platform: Platform) -> None:
    async def ready() -> bool:
        assert platform.process.poll() is None, f"launcher exited:\n{platform.text()}"
        return "\nready in " in platform.text()

    await eventually(ready, timeout=60, interval=0.1)
    out = platform.text()
    for name, url, pid in SERVICE_LINE.findall(out):
        platform.urls[name], platform.pids[name] = url, int(pid)
    [(nats_url, nats_pid)] = NATS_LINE.findall(out)
    platform.pids["nats"] = int(nats_pid)
    [media_pid] = MEDIA_LINE.findall(out)
    platform.pids["media"] = int(media_pid)
    assert alive(platform.pids["media"])
    assert sorted(platform.urls) == ["analytics", "ingest", "live", "orders"]
    assert not nats_url.endswith(":4222")
    live, analytics = platform.urls["live"], platform.urls["analytics"]

    async with httpx.AsyncClient(base_url=live, trust_env=False, timeout=30) as http:
        for url in platform.urls.values():
            assert (await http.get(f"{url}/readyz")).status_code == 200
        created = await http.post("/rooms", json={"title": "Cherry night"}, headers=ADMIN)
        room = created.raise_for_status().json()["id"]
        (await http.post(f"/rooms/{room}/start", headers=ADMIN)).raise_for_status()
        grants = [
            (await http.post(f"/rooms/{room}/join", json={"display_name": name}))
            .raise_for_status()
            .json()
            for name in ("Lily", "伟")
        ]
    lily, wei = [await TestViewer.connect(live, grant) for grant in grants]
    try:
        await lily.send(type="chat", text="+1 樱桃 two boxes")
        line = ("Lily", lily.customer_id, "+1 樱桃 two boxes")
        await wei.wait_for(
            lambda f: (
                f["type"] == "chat"
                and line in [(m["name"], m["customer_id"], m["text"]) for m in f["messages"]]
            )
        )
    finally:
        await lily.close()
        await wei.close()

    async with httpx.AsyncClient(
        base_url=analytics, trust_env=False, headers=ADMIN, timeout=30
    ) as http:

        async def profile() -> dict[str, object]:
            response = await http.get(f"/customers/{lily.customer_id}")
            found = response.status_code == 200 and response.json()["messages"] >= 1
            return response.json() if found else {}

        customer = await eventually(profile, timeout=15, interval=0.1)
        assert customer["messages"] == 1, customer

    platform.process.send_signal(signal.SIGINT)

    async def exited() -> bool:
        return platform.process.poll() is not None

    await eventually(exited, timeout=20)
    assert platform.process.returncode == 0, platform.text()

    # The launcher has reaped them all; allow the kernel a moment all the same.
    async def none_alive() -> bool:
        left = {name: pid for name, pid in platform.pids.items() if alive(pid)}
        assert not left, f"still running after the launcher exited: {left}"
        return True

    await eventually(none_alive, timeout=2)
