"""Replaying every stream from the start into an empty database gives the same database;
the CLI rebuilds (with progress) and prints reports."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services.analytics.bootstrap import build
from services.analytics.cli import NotEmpty, ProgressBar, rebuild, report
from services.analytics.main import create_app
from shared.embedded_nats import NatsServer
from shared.messaging import EventPublisher
from tests.analytics import show
from tests.analytics.conftest import ADMIN, analytics_settings, dump
from tests.support import eventually, serving

REPO = Path(__file__).resolve().parents[2]


async def test_a_rebuild_from_the_streams_gives_the_same_database(
    nats_server: NatsServer, nc: object, database_url: str, other_database_url: str, tmp_path: Path
) -> None:
    events = show.scripted_show()
    app = build(analytics_settings(nats_server.url, database_url))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        bus = EventPublisher(app.infra.js)
        await asyncio.gather(*(bus.publish(e) for e in events))
        linked = await http.post(
            "/customers/links",
            headers=ADMIN,
            json={"account_id": show.BO, "other_account_id": show.ANN, "note": "same person"},
        )
        assert linked.status_code == 201, linked.text

        async def settled() -> bool:
            return app.projection.applied >= len(events) + 1

        await eventually(settled)
        served = (await http.get(f"/rooms/{show.ROOM}/report", headers=ADMIN)).json()

    again = analytics_settings(nats_server.url, other_database_url)
    progress = io.StringIO()
    done = await rebuild(again, progress=ProgressBar(progress), batch=10)
    assert (done.events, done.unreadable) == (len(events) + 1, 0)
    assert "LIVE" in progress.getvalue() and "100%" in progress.getvalue()

    assert await dump(other_database_url) == await dump(database_url)
    assert json.loads(await report(again, show.ROOM, "json")) == served

    with pytest.raises(NotEmpty):
        await rebuild(again)
    assert (await rebuild(again, force=True)).events == len(events) + 1
    assert await dump(other_database_url) == await dump(database_url)

    if database_url.startswith("sqlite"):  # the command itself, once
        out = tmp_path / "report.html"
        env = {**os.environ, "DATABASE_URL": other_database_url, "NATS_URL": nats_server.url}
        run = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "services.analytics.cli",
                "report",
                show.ROOM,
                "--format",
                "html",
                "--out",
                str(out),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert "Cherry night 樱桃专场" in out.read_text(encoding="utf-8")
