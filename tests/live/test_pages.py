"""live serves the viewer page and the host console, tells them where the other services
are, and gives the console what it needs: the lineup, moderation decisions, a host seat."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from services.live.bootstrap import build
from services.live.entrypoints.pages import WEB
from services.live.main import create_app
from shared.embedded_nats import NatsServer
from tests.live.client import TestViewer
from tests.live.conftest import ADMIN, join, live_settings, open_room
from tests.support import eventually, serving


async def test_pages_and_their_files_are_served(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        viewer = await http.get("/r/r_anything")
        console = await http.get("/console")
        script = await http.get("/static/js/viewer.js")
        style = await http.get("/static/css/qunlive.css")
        missing = await http.get("/static/js/nope.js")
    for page in (viewer, console):
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/static/js/viewer.js"' in viewer.text
    assert 'src="/static/js/console.js"' in console.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404


async def test_config_tells_the_pages_where_the_services_are(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = live_settings(
        nats_server.url,
        f"sqlite+aiosqlite:///{tmp_path}/live.db",
        orders_public_url="https://orders.example.com/",
    )
    async with serving(create_app(build(settings))) as url, httpx.AsyncClient(timeout=30) as http:
        config = (await http.get(f"{url}/config.json")).json()
        by_name = (await http.get(f"{url.replace('127.0.0.1', 'localhost')}/config.json")).json()
        policies = [
            (await http.get(f"{url}{page}")).headers["content-security-policy"]
            for page in ("/r/r_anything", "/console")
        ]
    assert config == {
        "orders_url": "https://orders.example.com",
        "ingest_url": "http://127.0.0.1:8001",  # unset: the page's host, the default port
        "analytics_url": "http://127.0.0.1:8004",
        "currency": "CNY",
    }
    assert by_name["analytics_url"] == "http://localhost:8004"
    # The pages show pictures from the services (product photos are on orders) and from
    # nowhere else: not from the websocket origin, not from any https: site.
    for policy in policies:
        images = policy.split("img-src ", 1)[1].split(";", 1)[0].split()
        assert images == [
            "'self'",
            "data:",
            "blob:",
            "https://orders.example.com",
            "http://127.0.0.1:8001",
            "http://127.0.0.1:8004",
        ]


async def test_the_admin_token_joins_as_the_rooms_host(live_url: str) -> None:
    room = await open_room(live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        grant = (
            await http.post(f"/rooms/{room}/join", json={"display_name": "Host"}, headers=ADMIN)
        ).json()
        viewer_token = {"Authorization": f"Bearer {(await join(live_url, room, 'Lily'))['token']}"}
        refused = await http.post(
            f"/rooms/{room}/join", json={"display_name": "x"}, headers=viewer_token
        )
    host = await TestViewer.connect(live_url, grant)
    welcome = await host.wait_for(lambda f: f["type"] == "welcome")
    assert (welcome["you"], welcome["role"]) == ("admin", "host")
    assert refused.status_code == 403
    await host.close()


async def test_host_sets_the_lineup(live_url: str) -> None:
    room = await open_room(live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        anonymous = await http.put(f"/rooms/{room}/lineup", json={"lineup": ["off_a"]})
        host = (await http.post("/hosts", json={"name": "Mei"}, headers=ADMIN)).json()
        not_hers = await http.put(
            f"/rooms/{room}/lineup",
            json={"lineup": ["off_a"]},
            headers={"Authorization": f"Bearer {host['token']}"},
        )
        set_ = await http.put(
            f"/rooms/{room}/lineup", json={"lineup": ["off_b", "off_a", "off_b"]}, headers=ADMIN
        )
        stored = (await http.get(f"/rooms/{room}")).json()
    assert (anonymous.status_code, not_hers.status_code) == (401, 403)
    assert set_.json() == {"room_id": room, "lineup": ["off_b", "off_a"]}
    assert stored["lineup"] == ["off_b", "off_a"]


async def test_host_sees_moderation_decisions_including_what_the_rules_blocked(
    live_url: str,
) -> None:
    room = await open_room(live_url)
    lily = await TestViewer.connect(live_url, await join(live_url, room, "Lily"))
    await lily.send(type="chat", text="cheaper at www.example.com", ref="c1")
    await lily.wait_for(lambda f: f["type"] == "error" and f["ref"] == "c1")
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        muted = await http.post(
            f"/rooms/{room}/moderation",
            json={"action": "mute", "customer_id": lily.customer_id, "reason": "calm down"},
            headers=ADMIN,
        )
        assert muted.status_code == 204

        async def both() -> list[dict]:
            response = await http.get(f"/rooms/{room}/moderation", headers=ADMIN)
            assert response.status_code == 200, response.text
            return response.json() if len(response.json()) == 2 else []  # type: ignore[no-any-return]

        decisions = await eventually(both)
        anonymous = await http.get(f"/rooms/{room}/moderation")
        one = (await http.get(f"/rooms/{room}/moderation?limit=1", headers=ADMIN)).json()
    newest, oldest = decisions
    assert (newest["action"], newest["by"], newest["reason"]) == ("mute", "admin", "calm down")
    assert newest["until"] is not None
    assert (oldest["action"], oldest["by"], oldest["customer_id"]) == (
        "block",
        "rules",
        lily.customer_id,
    )
    assert oldest["reason"] == "link: cheaper at www.example.com"
    assert [d["id"] for d in one] == [newest["id"]]
    assert anonymous.status_code == 401
    await lily.close()


async def test_the_vendored_hls_js_is_served_with_its_worker_not_its_licence(
    live_url: str,
) -> None:
    """hls.js from npm (services/live/web/vendor/hls.js, `make vendor`): its ES module and
    its worker load from /static as scripts; its VERSION names the version and the tarball."""
    vendor = WEB / "vendor" / "hls.js"
    version = (vendor / "VERSION").read_text()
    assert re.match(r"^hls\.js 1\.\d+\.\d+\n", version)
    assert "sha512-" in version and "Apache" in (vendor / "LICENSE").read_text()
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        module = await http.get("/static/vendor/hls.js/hls.min.mjs")
        worker = await http.get("/static/vendor/hls.js/hls.worker.js")
        licence = await http.get("/static/vendor/hls.js/LICENSE")
        replay = await http.get("/static/replay.html")
    for script in (module, worker):
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
    assert "export" in module.text[-2000:]  # an ES module, imported as one
    assert licence.status_code == 404 and replay.status_code == 404
