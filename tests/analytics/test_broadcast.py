"""The room's video through the real projection: stream events published to JetStream out
of order, some twice, beside the viewers' visits and the host's console; the report's
figures and its link to the replay (SQLite, and PostgreSQL where TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import csv
import io
import random

from nats.aio.client import Client as NatsClient

from services.analytics.cli import report
from shared import subjects
from shared.embedded_nats import NatsServer
from tests.analytics import video
from tests.analytics.conftest import ADMIN, Analytics, analytics_settings
from tests.analytics.video import ROOM, t
from tests.support import eventually

LIVE_PAGE = "http://127.0.0.1:8002"


async def test_the_video_in_the_report(
    analytics: Analytics, nc: NatsClient, nats_server: NatsServer, database_url: str
) -> None:
    events = video.a_show() + video.visit("host:h1", t(-5), t(11), role="host")
    random.Random(5).shuffle(events)
    await analytics.publish(events)
    # Some again, past JetStream's duplicate window (no Nats-Msg-Id): skipped by id.
    js = nc.jetstream()
    for event in events[:4]:
        await js.publish(subjects.event_subject(event), event.model_dump_json().encode())

    async def all_seen() -> bool:
        projection = analytics.app.projection
        return projection.applied + projection.duplicates >= len(events) + 4

    await eventually(all_seen)
    assert analytics.app.projection.applied == len(events)  # none dead-lettered

    async def built() -> bool:
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)
    # The console (a page of live) asks: its Origin is where live's pages are.
    answer = await analytics.http.get(
        f"/rooms/{ROOM}/report", headers={**ADMIN, "Origin": LIVE_PAGE}
    )
    r = answer.json()
    # Take 1 20:00:10-20:05, take 2 20:05:20 to the room's end at 20:10: 570 s. Ann
    # 20:00:10-20:03 (170 s), Ben 20:02-20:05 and 20:05:20-20:10 (460 s); the host's
    # console is staff, no viewer.
    assert (r["takes"], r["reconnects"], r["broadcast_minutes"]) == (2, 1, 9.5)
    assert (r["broadcast_viewers"], r["broadcast_watch_minutes"]) == (2, 10.5)
    assert r["average_broadcast_watch_minutes"] == 5.25
    assert r["broadcast_share_watched"] == round(315 / 570, 4)
    assert [(x["take"], x["stop_reason"]) for x in r["on_air"]] == [(1, "encoder_gone"), (2, None)]
    assert r["replay_url"] == f"{LIVE_PAGE}/r/{ROOM}/replay"
    assert r["unique_viewers"] == 2

    # Asked without an Origin (curl), and no LIVE_PUBLIC_URL: the page's path.
    plain = await analytics.get(f"/rooms/{ROOM}/report.csv")
    summary = dict(list(csv.reader(io.StringIO(plain.lstrip("\ufeff").split("\n\n")[0])))[2:])
    assert (summary["broadcast_watch_minutes"], summary["replay_url"]) == (
        "10.5",
        f"/r/{ROOM}/replay",
    )
    # With LIVE_PUBLIC_URL (the launcher passes live's), the link is absolute everywhere.
    told = analytics_settings(
        nats_server.url, database_url, live_public_url="https://live.example.com"
    )
    page = await report(told, ROOM, "html")
    assert f'<a href="https://live.example.com/r/{ROOM}/replay">Watch the replay</a>' in page
    assert "<b>9.5 min</b>" in page and "<b>2 (1)</b>" in page and "<b>55%</b>" in page
