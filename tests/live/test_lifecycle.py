"""A room's life as the host runs it, the bus sees it, and a restarted instance serves it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import nats
import websockets

from services.live.adapters.tokens import ViewerTokens
from services.live.bootstrap import build
from services.live.domain.viewers import Viewer
from services.live.main import create_app
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import LikesSent, ViewerLeft, parse_event
from tests.live.client import TestViewer
from tests.live.conftest import ADMIN, join, live_settings, open_room, ws_url
from tests.support import next_frame, of_type, serving

SECRET = "test-secret-key-of-at-least-32-bytes!"


async def test_scheduled_preview_live_ended_each_with_its_event(
    live_url: str, nats_server: NatsServer
) -> None:
    nc = await nats.connect(nats_server.url)
    seen = await nc.subscribe(subjects.domain_events("live"))
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        created = await http.post(
            "/rooms",
            headers=ADMIN,
            json={
                "title": "Cherry night",
                "scheduled_at": "2026-12-01T12:00:00Z",
                "lineup": ["off_cherry", "off_dress"],
            },
        )
        room = created.json()
        assert (room["status"], room["lineup"]) == ("scheduled", ["off_cherry", "off_dress"])
        preview = await http.post(
            f"/rooms/{room['id']}/preview",
            headers=ADMIN,
            json={"text": "Tomorrow 20:00: cherries, 499 a box"},
        )
        assert preview.status_code == 200
        assert (await http.post(f"/rooms/{room['id']}/start", headers=ADMIN)).json()[
            "status"
        ] == "live"
        assert (await http.post(f"/rooms/{room['id']}/end", headers=ADMIN)).json()[
            "status"
        ] == "ended"
    types = []
    while "room.ended" not in types:
        event = parse_event((await seen.next_msg(timeout=10)).data)
        if event.room_id == room["id"]:
            types.append(event.type)
    assert types == ["room.opened", "room.preview_announced", "room.started", "room.ended"]
    await nc.close()


async def test_an_expired_token_is_refused(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        room = (await http.post("/rooms", json={"title": "x"}, headers=ADMIN)).json()["id"]
    token, _ = ViewerTokens(SECRET, ttl_s=-60).issue(
        Viewer(room_id=room, customer_id="web:late", display_name="Late")
    )
    url = live_url.replace("http", "ws") + f"/rooms/{room}/ws?token={token}"
    async with websockets.connect(url) as ws:
        error = await next_frame(ws, of_type("error"))
        assert error["code"] == "unauthorized" and "expired" in error["message"]
        await ws.wait_closed()
        assert ws.close_code == 4401


async def test_a_restarted_instance_still_serves_the_history(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/live.db"
    async with serving(create_app(build(live_settings(nats_server.url, database)))) as first:
        async with httpx.AsyncClient(base_url=first, timeout=30) as http:
            room = (await http.post("/rooms", json={"title": "x"}, headers=ADMIN)).json()["id"]
            await http.post(f"/rooms/{room}/start", headers=ADMIN)
        lily = await TestViewer.connect(first, await join(first, room, "Lily"))
        await lily.send(type="chat", text="remember me 记得我")
        await lily.wait_for(lambda f: f["type"] == "chat" and "记得我" in str(f))
        await lily.close()
    # A brand-new process (no memory of the room) serves the same history from the stream.
    async with serving(create_app(build(live_settings(nats_server.url, database)))) as second:
        grant = await join(second, room, "Wei")
        async with websockets.connect(ws_url(second, grant)) as ws:
            welcome = await next_frame(ws, of_type("welcome"))
            assert "remember me 记得我" in [m["text"] for m in welcome["history"]]


async def test_a_lone_like_reaches_the_room_and_the_end_closes_every_viewer_with_its_watch_time(
    two_lives: tuple[str, str], nats_server: NatsServer
) -> None:
    """Likes are summed per viewer but never sit unsent; when the show ends every socket,
    on both instances, is closed with 4410 after the `room` frame, and each viewer's
    pending likes and watch time are published then, not when the tab is closed later."""
    url_a, url_b = two_lives
    room = await open_room(url_a)
    nc = await nats.connect(nats_server.url)
    seen = await nc.subscribe(subjects.room_events("live", room))
    mei = await TestViewer.connect(url_a, await join(url_a, room, "Mei"))
    ana = await TestViewer.connect(url_b, await join(url_b, room, "Ana"))

    await mei.send(type="like", count=3)  # below the batch size: the timer sends it
    total = await ana.wait_for(lambda f: f["type"] == "likes" and f["total"] == 3, timeout=5)
    assert total["total"] == 3
    await ana.send(type="like", count=2)  # still pending when the show ends

    async with httpx.AsyncClient(base_url=url_a, timeout=30) as http:
        ended = await http.post(f"/rooms/{room}/end", headers=ADMIN)
        assert ended.json()["status"] == "ended"
    for viewer in (mei, ana):
        await viewer.wait_for(lambda f: f["type"] == "room" and f["status"] == "ended")
        await asyncio.wait_for(viewer.ws.wait_closed(), 10)
        assert viewer.ws.close_code == 4410

    likes: dict[str, int] = {}
    left: dict[str, float] = {}
    while len(left) < 2:
        event = parse_event((await seen.next_msg(timeout=10)).data)
        if isinstance(event, LikesSent):
            likes[event.customer_id] = likes.get(event.customer_id, 0) + event.count
        elif isinstance(event, ViewerLeft):
            assert event.customer_id not in likes or likes[event.customer_id] > 0
            left[event.customer_id] = event.watch_seconds
    assert likes == {mei.customer_id: 3, ana.customer_id: 2}
    assert set(left) == {mei.customer_id, ana.customer_id}
    assert all(0 < seconds < 30 for seconds in left.values())
    await nc.close()
