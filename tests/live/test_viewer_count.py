"""Who the room's "viewers now" counts: distinct customers with a viewer role. The
host's console (and a moderator) watch through the same websocket, and one person can
have two tabs open: neither makes a viewer more."""

from __future__ import annotations

import httpx
import nats
import pytest

from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import ViewerJoined, parse_event
from tests.live.client import TestViewer, kind
from tests.live.conftest import ADMIN, join, open_room

pytestmark = pytest.mark.usefixtures("nats_server")


async def test_viewers_now_counts_persons_with_a_viewer_role(
    live_url: str, nats_server: NatsServer
) -> None:
    nc = await nats.connect(nats_server.url)
    joined = await nc.subscribe(subjects.room_event("live", "*", "viewer.joined"))
    room = await open_room(live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        grant = await http.post(f"/rooms/{room}/join", json={"display_name": "host"}, headers=ADMIN)
        assert grant.status_code == 200, grant.text
    console = await TestViewer.connect(live_url, grant.json())
    lily_grant = await join(live_url, room, "Lily")
    lily, lily_again = [await TestViewer.connect(live_url, lily_grant) for _ in range(2)]
    wei = await TestViewer.connect(live_url, await join(live_url, room, "Wei"))

    await console.wait_for(kind("presence", viewers=2))
    # The counted frame is the last one: a moment later it still says 2, never 4.
    await wei.send(type="chat", text="hi")
    await console.wait_for(
        lambda f: f["type"] == "chat" and any(m["text"] == "hi" for m in f["messages"])
    )
    presence = [f["viewers"] for f in console.frames if f["type"] == "presence"]
    assert presence[-1] == 2 and max(presence) <= 2

    roles = {}
    for _ in range(4):
        event = parse_event((await joined.next_msg(timeout=5)).data)
        assert isinstance(event, ViewerJoined)
        roles[event.customer_id] = event.role
    assert roles[console.customer_id] == "host"
    assert roles[lily.customer_id] == roles[wei.customer_id] == "member"
    for v in (console, lily, lily_again, wei):
        await v.close()
    await nc.close()
