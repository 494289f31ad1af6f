"""The room's video as live keeps it: the key per room (rotated, revoked at the end), what
the media side reports (events, frames, the console's view), hosted sources and their
CSP, the HLS files, and MediaMTX's auth hook with its documented request bodies."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.live.bootstrap import build
from services.live.main import create_app
from shared import subjects
from shared.embedded_nats import NatsServer
from shared.events import OfferOpened, OfferSoldOut, parse_event
from shared.messaging import EventPublisher
from tests.live.client import TestViewer
from tests.live.conftest import ADMIN, join, live_settings
from tests.support import eventually, serving

MEDIA = {"Authorization": "Bearer test-media-secret"}


@pytest.fixture
async def live(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """live on its own data dir, SRT ports 9810-9812: (url, media dir)."""
    settings = live_settings(
        nats_server.url,
        f"sqlite+aiosqlite:///{tmp_path}/live.db",
        media_dir=str(tmp_path / "media"),
        media_hook_secret="test-media-secret",
        srt_ports="9810-9812",
        publish_host="media.example.com",
    )
    async with serving(create_app(build(settings))) as url:
        yield url, tmp_path / "media"


async def new_room(http: httpx.AsyncClient, start: bool = True) -> str:
    room = (await http.post("/rooms", json={"title": "Mango night"}, headers=ADMIN)).json()
    if start:
        await http.post(f"/rooms/{room['id']}/start", headers=ADMIN)
    return str(room["id"])


def auth_body(room: str, action: str = "publish", password: str = "", **extra: str) -> dict:
    """MediaMTX's HTTP auth request (authMethod: http), as its docs show it."""
    return {
        "user": "host",
        "password": password,
        "token": "",
        "ip": "203.0.113.7",
        "action": action,
        "path": f"live/{room}",
        "protocol": "rtmp",
        "id": None,
        "query": "",
        **extra,
    }


async def test_a_room_has_a_secret_key_and_an_srt_address_for_its_host(
    live: tuple[str, Path],
) -> None:
    url, _ = live
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        stream = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
        again = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
        nobody = await http.get(f"/rooms/{room}/stream")
        viewer = await join(url, room, "Lily")
        as_viewer = await http.get(
            f"/rooms/{room}/stream", headers={"Authorization": f"Bearer {viewer['token']}"}
        )
    (srt,) = stream["publish"]
    key = srt["stream_key"]
    assert len(key) == 32 and again["publish"][0]["stream_key"] == key
    assert srt["server"] == "srt://media.example.com:9810"
    assert srt["url"] == f"srt://media.example.com:9810?passphrase={key}&pbkeylen=16"
    assert stream["state"] == "offline" and stream["source"] == "encoder"
    assert stream["recommended"]["keyframe_interval_s"] == 1
    assert (nobody.status_code, as_viewer.status_code) == (401, 403)


async def test_rooms_get_their_own_ports_until_the_range_is_used_up(
    live: tuple[str, Path],
) -> None:
    url, _ = live
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        rooms = [await new_room(http, start=False) for _ in range(4)]
        answers = [await http.get(f"/rooms/{room}/stream", headers=ADMIN) for room in rooms]
        listed = (await http.get("/media/publishers", headers=MEDIA)).json()["publishers"]
        await http.post(f"/rooms/{rooms[0]}/start", headers=ADMIN)
        await http.post(f"/rooms/{rooms[0]}/end", headers=ADMIN)  # frees its port
        freed = await http.get(f"/rooms/{rooms[3]}/stream", headers=ADMIN)
    ports = [a.json()["publish"][0]["server"].rsplit(":", 1)[1] for a in answers[:3]]
    assert ports == ["9810", "9811", "9812"]
    assert answers[3].status_code == 503 and answers[3].json()["code"] == "no_media_port"
    assert sorted(p["srt_port"] for p in listed) == [9810, 9811, 9812]
    assert freed.json()["publish"][0]["server"].endswith(":9810")


async def test_rotating_the_key_refuses_the_old_one_and_cuts_its_publisher(
    live: tuple[str, Path], nats_server: NatsServer
) -> None:
    url, _ = live
    nc = await nats.connect(nats_server.url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        stopped = await nc.subscribe(subjects.room_event("live", room, "stream.stopped"))
        old = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
        old_key = old["publish"][0]["stream_key"]
        ok = await http.post("/media/auth", json=auth_body(room, password=old_key))
        await http.post("/media/hooks/ready", json={"room_id": room}, headers=MEDIA)
        new = (await http.post(f"/rooms/{room}/stream/key", headers=ADMIN)).json()
        new_key = new["publish"][0]["stream_key"]
        refused = await http.post("/media/auth", json=auth_body(room, password=old_key))
        accepted = await http.post(
            "/media/auth", json=auth_body(room, query=f"user=host&pass={new_key}")
        )
        listed = (await http.get("/media/publishers", headers=MEDIA)).json()["publishers"]
    event = parse_event((await stopped.next_msg(timeout=5)).data)
    await nc.close()
    assert new_key != old_key and new["key_version"] == old["key_version"] + 1
    assert (ok.status_code, refused.status_code, accepted.status_code) == (204, 401, 204)
    assert refused.headers["content-type"] == "application/problem+json"
    assert [(p["room_id"], p["passphrase"]) for p in listed] == [(room, new_key)]
    assert (event.reason, event.take) == ("key_revoked", 1)  # type: ignore[attr-defined]
    assert new["state"] == "reconnecting"


async def test_the_media_side_reports_takes_and_viewers_see_the_state(
    live: tuple[str, Path], nats_server: NatsServer
) -> None:
    url, _ = live
    nc = await nats.connect(nats_server.url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        stream_events = await nc.subscribe(subjects.room_event("live", room, "stream.*"))
        lily = await TestViewer.connect(url, await join(url, room, "Lily"))
        assert lily.frames[0]["stream"]["state"] == "offline"
        info = {"video_codec": "h264", "audio_codec": "aac", "width": 1280, "height": 720}
        ready = {"room_id": room, "protocol": "srt", "info": info}
        for _ in range(2):  # said twice (a retried hook): one take
            assert (await http.post("/media/hooks/ready", json=ready, headers=MEDIA)).is_success
        await http.post(
            "/media/hooks/stats",
            json={"room_id": room, "info": {"keyframe_interval_s": 4.0, "fps": 25.0}},
            headers=MEDIA,
        )
        on_air = await lily.wait_for(lambda f: f["type"] == "stream" and f["state"] == "live")
        console = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
        playing = (await http.get(f"/rooms/{room}/playback")).json()
        await http.post("/media/hooks/not-ready", json={"path": f"live/{room}"}, headers=MEDIA)
        await lily.wait_for(lambda f: f["type"] == "stream" and f["state"] == "reconnecting")
        dropped = (await http.get(f"/rooms/{room}/playback")).json()
        await http.post("/media/hooks/ready", json={"room_id": room}, headers=MEDIA)
        await http.post(f"/rooms/{room}/end", headers=ADMIN)
        await lily.wait_for(lambda f: f["type"] == "stream" and f["state"] == "ended")
        over = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
        rotate_late = await http.post(f"/rooms/{room}/stream/key", headers=ADMIN)
        listed = (await http.get("/media/publishers", headers=MEDIA)).json()["publishers"]
        old_key = console["publish"][0]["stream_key"]
        revoked = await http.post("/media/auth", json=auth_body(room, password=old_key))
    events = [parse_event((await stream_events.next_msg(timeout=5)).data) for _ in range(4)]
    await nc.close()
    assert [(e.type, e.take) for e in events] == [  # type: ignore[attr-defined]
        ("stream.started", 1),
        ("stream.stopped", 1),
        ("stream.started", 2),
        ("stream.stopped", 2),
    ]
    assert [getattr(e, "reason", None) for e in events] == [
        None,
        "encoder_gone",
        None,
        "room_ended",
    ]
    assert on_air["url"] == f"/rooms/{room}/hls/live.m3u8"
    assert console["incoming"]["width"] == 1280 and console["incoming"]["keyframe_interval_s"] == 4
    assert any("keyframe interval 4.0 s" in w for w in console["warnings"])
    assert playing["state"] == "live" and playing["url"] == on_air["url"]
    assert dropped["state"] == "reconnecting"
    assert over["state"] == "ended" and over["publish"] == []
    assert rotate_late.status_code == 409 and rotate_late.json()["code"] == "room_ended"
    assert listed == [] and revoked.status_code == 401


async def test_hooks_need_the_media_secret(live: tuple[str, Path]) -> None:
    url, _ = live
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        none = await http.post("/media/hooks/ready", json={"room_id": room})
        wrong = await http.post(
            "/media/hooks/ready", json={"room_id": room}, headers={"Authorization": "Bearer x"}
        )
        listing = await http.get("/media/publishers")
        unknown = await http.post("/media/hooks/ready", json={"room_id": "r_nope"}, headers=MEDIA)
        nameless = await http.post("/media/hooks/ready", json={"path": "other/x"}, headers=MEDIA)
    assert (none.status_code, wrong.status_code, listing.status_code) == (401, 401, 401)
    assert unknown.status_code == 404
    assert nameless.status_code == 422 and nameless.json()["code"] == "no_room"


async def test_mediamtx_auth_allows_publish_with_the_key_and_reads_of_rooms_only(
    live: tuple[str, Path],
) -> None:
    url, _ = live
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        key = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()["publish"][0][
            "stream_key"
        ]
        asked = {
            "publish with key": auth_body(room, password=key),
            "publish over srt": auth_body(room, password=key, protocol="srt"),
            "publish wrong key": auth_body(room, password="x" * 32),
            "publish no key": auth_body(room),
            "publish other room": auth_body("r_other", password=key),
            "read": auth_body(room, action="read", protocol="hls"),
            "read unknown room": auth_body("r_nope", action="read", protocol="hls"),
            "api": auth_body(room, action="api") | {"path": ""},
            "metrics": auth_body(room, action="metrics") | {"path": ""},
            "outside live/": auth_body(room, password=key) | {"path": f"x/{room}"},
        }
        answers = {
            name: (await http.post("/media/auth", json=body)).status_code
            for name, body in asked.items()
        }
    assert answers == {
        "publish with key": 204,
        "publish over srt": 204,
        "publish wrong key": 401,
        "publish no key": 401,
        "publish other room": 401,
        "read": 204,
        "read unknown room": 401,
        "api": 401,
        "metrics": 401,
        "outside live/": 401,
    }


async def test_a_hosted_stream_goes_on_air_with_the_room_and_only_its_origin_is_allowed(
    live: tuple[str, Path], nats_server: NatsServer
) -> None:
    url, _ = live
    nc = await nats.connect(nats_server.url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http, start=False)
        started = await nc.subscribe(subjects.room_event("live", room, "stream.started"))
        hosted = "https://cdn.example.net/shows/mango/index.m3u8"
        chosen = await http.put(
            f"/rooms/{room}/stream/source",
            json={"source": "hls_url", "url": hosted},
            headers=ADMIN,
        )
        page = await http.get(f"/r/{room}")
        await http.post(f"/rooms/{room}/start", headers=ADMIN)
        event = parse_event((await started.next_msg(timeout=5)).data)
        playing = (await http.get(f"/rooms/{room}/playback")).json()
        youtube = await http.put(
            f"/rooms/{room}/stream/source",
            json={"source": "youtube", "url": "https://www.youtube.com/live/dQw4w9WgXcQ?si=x"},
            headers=ADMIN,
        )
        tube_page = await http.get(f"/r/{room}")
        plain_page = await http.get("/r/r_some_other_room")
        bad = [
            await http.put(
                f"/rooms/{room}/stream/source", json={"source": source, "url": bad}, headers=ADMIN
            )
            for source, bad in [
                ("hls_url", "http://cdn.example.net/x.m3u8"),
                ("hls_url", "https://cdn.example.net/x.mp4"),
                ("hls_url", "https://user:pw@cdn.example.net/x.m3u8"),
                ("youtube", "https://vimeo.com/123"),
                ("youtube", None),
            ]
        ]
    await nc.close()
    assert chosen.status_code == 200 and chosen.json()["publish"] == []
    csp = page.headers["content-security-policy"]
    assert "media-src 'self' blob: https://cdn.example.net;" in csp
    assert "https://cdn.example.net" in csp.split("connect-src", 1)[1].split(";")[0]
    assert "frame-src 'none'" in csp
    assert (event.source, event.playback_url) == ("hls_url", hosted)  # type: ignore[attr-defined]
    assert playing == playing | {"state": "live", "source": "hls_url", "url": hosted}
    assert youtube.json()["youtube_video_id"] == "dQw4w9WgXcQ"
    tube_csp = tube_page.headers["content-security-policy"]
    assert "frame-src https://www.youtube-nocookie.com;" in tube_csp
    assert "cdn.example.net" not in tube_csp
    plain = plain_page.headers["content-security-policy"]
    assert "media-src 'self' blob:;" in plain and "frame-src 'none'" in plain
    assert "http:" not in plain.split("connect-src", 1)[1].split(";")[0].split()
    assert [b.status_code for b in bad] == [422] * 5
    assert {b.json()["code"] for b in bad[:4]} == {"bad_source"}


LIVE_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:1796623857085890
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-07T06:10:58.086+0000
l1796623857085890.ts
"""


def recording(first: datetime) -> str:
    """Two takes of 3 s, 10 s apart, each closed by ffmpeg with an ENDLIST."""

    def take(start: datetime, number: int) -> list[str]:
        lines = []
        for i in range(3):
            at = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            lines += ["#EXTINF:1.000000,", f"#EXT-X-PROGRAM-DATE-TIME:{at}", f"r{number + i}.ts"]
        return lines

    second = first + timedelta(seconds=13)
    head = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:1", "#EXT-X-PLAYLIST-TYPE:EVENT"]
    lines = [*head, *take(first, 100), "#EXT-X-ENDLIST", "#EXT-X-DISCONTINUITY"]
    return "\n".join([*lines, *take(second, 200), "#EXT-X-ENDLIST", ""])


async def test_hls_files_are_served_with_their_types_and_caching(live: tuple[str, Path]) -> None:
    url, media = live
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        folder = media / "hls" / room
        folder.mkdir(parents=True)
        (folder / "live.m3u8").write_text(LIVE_PLAYLIST)
        (folder / "l1796623857085890.ts").write_bytes(b"\x47" * 188 * 10)
        (folder / "replay.m3u8").write_text(recording(datetime.now(UTC)))
        (folder / "secret.txt").write_text("not served")
        playlist = await http.get(f"/rooms/{room}/hls/live.m3u8")
        segment = await http.get(f"/rooms/{room}/hls/l1796623857085890.ts")
        head = await http.head(f"/rooms/{room}/hls/l1796623857085890.ts")
        during = await http.get(f"/rooms/{room}/hls/replay.m3u8")
        await http.post(f"/rooms/{room}/end", headers=ADMIN)
        after = await http.get(f"/rooms/{room}/hls/replay.m3u8")
        refused = [
            (await http.get(f"/rooms/{room}/hls/{name}")).status_code
            for name in ("secret.txt", "..%2Fsecret.txt", "l1.ts", "index.m3u8")
        ]
        traversal = await http.get("/rooms/..%2F..%2Fetc/hls/live.m3u8")
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert playlist.headers["cache-control"] == "no-cache"
    assert playlist.text == LIVE_PLAYLIST
    assert segment.headers["content-type"] == "video/mp2t"
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert segment.headers["content-length"] == str(188 * 10)
    assert segment.headers["x-content-type-options"] == "nosniff"
    assert head.status_code == 200 and head.content == b""
    assert "#EXT-X-ENDLIST" not in during.text  # the show goes on: an EVENT playlist
    assert after.text.count("#EXT-X-ENDLIST") == 1 and after.text.rstrip().endswith("ENDLIST")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in after.text and "#EXT-X-DISCONTINUITY" in after.text
    assert refused == [404, 404, 404, 404]
    assert traversal.status_code in (404, 422)


async def test_the_replay_has_chapters_where_offers_were_pinned_opened_and_sold_out(
    live: tuple[str, Path], nats_server: NatsServer
) -> None:
    url, media = live
    nc = await nats.connect(nats_server.url)
    bus = EventPublisher(nc.jetstream())
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        nothing_yet = await http.get(f"/rooms/{room}/replay")
        await http.post("/media/hooks/ready", json={"room_id": room}, headers=MEDIA)
        first = datetime.now(UTC) - timedelta(seconds=1)
        folder = media / "hls" / room
        folder.mkdir(parents=True)
        (folder / "replay.m3u8").write_text(recording(first))
        await bus.publish(
            OfferOpened(
                room_id=room,
                offer_id="o_mango",
                kind="flash_sale",
                title="Mangoes 芒果",
                price_cents=3900,
                stock=10,
                per_buyer_limit=1,
            )
        )
        await http.post(f"/rooms/{room}/pin", json={"offer_id": "o_mango"}, headers=ADMIN)
        await bus.publish(
            OfferSoldOut(room_id=room, offer_id="o_mango", occurred_at=first + timedelta(seconds=8))
        )

        async def three_chapters() -> dict:
            replay = (await http.get(f"/rooms/{room}/replay")).json()
            return replay if len(replay["chapters"]) == 3 else {}

        replay = await eventually(three_chapters)
    await nc.close()
    assert nothing_yet.status_code == 404 and nothing_yet.json()["code"] == "no_replay"
    assert replay["url"] == f"/rooms/{room}/hls/replay.m3u8"
    kinds = [(c["kind"], c["title"]) for c in replay["chapters"]]
    assert kinds == [
        ("opened", "Mangoes 芒果"),
        ("pinned", "Mangoes 芒果"),
        ("sold_out", "Mangoes 芒果"),
    ]
    opened, pinned, sold_out = (c["at_s"] for c in replay["chapters"])
    assert 0.5 < opened <= pinned < 3.0  # ~1 s into the first take
    assert sold_out == 3.0  # between the takes: the second take's first picture


def fake_mediamtx(live_url: list[str], kicked: list[str]) -> FastAPI:
    """MediaMTX's control API as its OpenAPI documents it (paths/get, <kind>/kick), asking
    live's auth hook for the `api` action as MediaMTX does with authMethod: http."""
    app = FastAPI()

    async def allowed(request: Request) -> bool:
        user, _, password = (
            base64.b64decode(request.headers.get("authorization", "Basic ")[6:])
            .decode()
            .partition(":")
        )
        body = {
            "user": user,
            "password": password,
            "ip": "127.0.0.1",
            "action": "api",
            "path": "",
            "protocol": "",
            "id": None,
            "query": "",
        }
        async with httpx.AsyncClient(timeout=30) as http:
            return (await http.post(f"{live_url[0]}/media/auth", json=body)).is_success

    @app.get("/v3/paths/get/{name:path}")
    async def path(name: str, request: Request) -> JSONResponse:
        if not await allowed(request):
            return JSONResponse({"status": "error", "error": "authentication error"}, 401)
        source = {"type": "rtmpConn", "id": f"conn-of-{name.rsplit('/', 1)[-1]}"}
        return JSONResponse({"name": name, "ready": True, "source": source})

    @app.post("/v3/rtmpconns/kick/{conn}")
    async def kick(conn: str, request: Request) -> JSONResponse:
        if not await allowed(request):
            return JSONResponse({"status": "error", "error": "authentication error"}, 401)
        kicked.append(conn)
        return JSONResponse({"status": "ok"})

    return app


async def test_with_mediamtx_a_revoked_key_or_an_ended_room_cuts_the_publisher(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    kicked: list[str] = []
    live_url: list[str] = []
    async with serving(fake_mediamtx(live_url, kicked)) as api:
        settings = live_settings(
            nats_server.url,
            f"sqlite+aiosqlite:///{tmp_path}/live.db",
            media_mode="mediamtx",
            media_api_url=api,
            media_hook_secret="test-media-secret",
            publish_rtmp_url="rtmp://media.example.com:1935",
            publish_srt_url="srt://media.example.com:8890",
            playback_url_template="/hls/live/{room_id}/index.m3u8",
        )
        async with (
            serving(create_app(build(settings))) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            live_url.append(url)
            room = await new_room(http)
            stream = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
            await http.post("/media/hooks/ready", json={"path": f"live/{room}"}, headers=MEDIA)
            playing = (await http.get(f"/rooms/{room}/playback")).json()
            await http.post(f"/rooms/{room}/stream/key", headers=ADMIN)
            await eventually(lambda: _async(kicked == [f"conn-of-{room}"]))
            await http.post(f"/rooms/{room}/end", headers=ADMIN)
            await eventually(lambda: _async(len(kicked) == 2))
            wrong = await http.post(
                "/media/auth", json=auth_body(room, action="api", user="live", password="nope")
            )
    rtmp, srt = stream["publish"]
    key = rtmp["url"].rsplit("pass=", 1)[1]
    assert rtmp["url"] == f"rtmp://media.example.com:1935/live/{room}?user=host&pass={key}"
    assert (rtmp["server"], rtmp["stream_key"]) == (
        "rtmp://media.example.com:1935/live",
        f"{room}?user=host&pass={key}",
    )
    assert srt["url"] == f"srt://media.example.com:8890?streamid=publish:live/{room}:host:{key}"
    assert playing["url"] == f"/hls/live/{room}/index.m3u8"
    assert wrong.status_code == 401


async def _async(value: bool) -> bool:
    return value


async def test_mediamtx_documented_auth_requests_get_the_answers_the_contract_says(
    live: tuple[str, Path],
) -> None:
    """tests/deploy/mediamtx_auth_requests.json: MediaMTX's own request bodies (all ten
    fields, as v1.20.1 sends them), each with the answer live must give."""
    fixture = Path(__file__).parents[1] / "deploy" / "mediamtx_auth_requests.json"
    documented = json.loads(fixture.read_text())
    url, _ = live
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        room = await new_room(http)
        stream = (await http.get(f"/rooms/{room}/stream", headers=ADMIN)).json()
        key = stream["publish"][0]["stream_key"]
        text = fixture.read_text()
        text = text.replace(documented["room"]["room_id"], room)
        text = text.replace(documented["room"]["key"], key)
        answers = {}
        for case in json.loads(text)["cases"]:
            answer = await http.post("/media/auth", json=case["request"])
            answers[case["name"]] = "allow" if answer.is_success else "deny"
    assert answers == {case["name"]: case["expect"] for case in documented["cases"]}
    assert len(answers) >= 10
