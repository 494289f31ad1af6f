"""The live thin slice over real websockets and a real nats-server."""

from __future__ import annotations

import json

import httpx
import websockets

from tests.live.conftest import ADMIN, join, open_room, ws_url
from tests.support import next_frame, of_type


def chat_with(text: str):  # type: ignore[no-untyped-def]
    return lambda f: f["type"] == "chat" and any(m["text"] == text for m in f["messages"])


async def test_a_chat_line_reaches_every_viewer_of_the_room(live_url: str) -> None:
    room = await open_room(live_url)
    lily, wei = await join(live_url, room, "Lily"), await join(live_url, room, "伟")
    async with (
        websockets.connect(ws_url(live_url, lily)) as a,
        websockets.connect(ws_url(live_url, wei)) as b,
    ):
        await next_frame(a, of_type("welcome"))
        await next_frame(b, of_type("welcome"))
        await a.send(json.dumps({"type": "chat", "text": "+1 樱桃 two boxes"}))
        for ws in (a, b):
            frame = await next_frame(ws, chat_with("+1 樱桃 two boxes"))
            [line] = [m for m in frame["messages"] if m["text"] == "+1 樱桃 two boxes"]
            assert line["name"] == "Lily"
            assert line["customer_id"] == lily["customer_id"]


async def test_a_newcomer_gets_the_recent_history_from_the_stream(live_url: str) -> None:
    room = await open_room(live_url)
    async with websockets.connect(ws_url(live_url, await join(live_url, room, "A"))) as a:
        await next_frame(a, of_type("welcome"))
        for i in range(3):
            await a.send(json.dumps({"type": "chat", "text": f"line {i}"}))
        await next_frame(a, chat_with("line 2"))
    async with websockets.connect(ws_url(live_url, await join(live_url, room, "B"))) as b:
        welcome = await next_frame(b, of_type("welcome"))
        said = [m["text"] for m in welcome["history"] if m["source"] != "system"]
        assert said == ["line 0", "line 1", "line 2"]
        assert welcome["history"][0]["text"].startswith("Welcome @A")


async def test_bad_frames_get_an_error_and_the_connection_stays_up(live_url: str) -> None:
    room = await open_room(live_url)
    async with websockets.connect(ws_url(live_url, await join(live_url, room, "A"))) as ws:
        await next_frame(ws, of_type("welcome"))
        cases = [
            ("{not json", "bad_frame"),
            (json.dumps({"type": "teleport"}), "bad_frame"),
            (json.dumps({"type": "chat"}), "bad_frame"),
            (json.dumps({"type": "chat", "text": "x" * 9000}), "too_large"),
            (json.dumps({"type": "chat", "text": "   "}), "empty"),
            (b"\x00\x01binary", "binary_not_supported"),
        ]
        for payload, code in cases:
            await ws.send(payload)
            error = await next_frame(ws, of_type("error"))
            assert error["code"] == code, (payload, error)
        await ws.send(json.dumps({"type": "ping"}))
        await next_frame(ws, of_type("pong"))


async def test_a_bad_frame_error_echoes_the_frames_ref(live_url: str) -> None:
    room = await open_room(live_url)
    async with websockets.connect(ws_url(live_url, await join(live_url, room, "A"))) as ws:
        await next_frame(ws, of_type("welcome"))
        cases = [
            {"type": "teleport", "ref": "t1"},
            {"type": "chat", "ref": "t2"},
            {"type": "vote", "poll_id": "p", "option": "first", "ref": "t3"},
            {"type": "chat", "text": "hi", "colour": "red", "ref": "t4"},
        ]
        for frame in cases:
            await ws.send(json.dumps(frame))
            error = await next_frame(ws, of_type("error"))
            assert (error["code"], error["ref"]) == ("bad_frame", frame["ref"]), error
        # A ref that is itself wrong cannot be echoed; the frame is still answered.
        await ws.send(json.dumps({"type": "teleport", "ref": "x" * 65}))
        error = await next_frame(ws, of_type("error"))
        assert (error["code"], error["ref"]) == ("bad_frame", None)


async def test_a_forged_token_or_another_rooms_token_is_refused(live_url: str) -> None:
    room, other = await open_room(live_url), await open_room(live_url)
    grant = await join(live_url, other, "A")
    forged = grant["token"][:-4] + "AAAA"
    messages = []
    for token in (grant["token"], forged, "not-a-token", grant["token"].replace(".", "", 1)):
        path = f"/rooms/{room}/ws?token={token}"
        async with websockets.connect(live_url.replace("http", "ws") + path) as ws:
            error = await next_frame(ws, of_type("error"))
            assert error["code"] == "unauthorized"
            messages.append(error["message"])
            await ws.wait_closed()
            assert ws.close_code == 4401
    assert messages[0] == "this token is for another room"
    # The decoder's own words (which check failed, how the token is malformed) stay inside.
    assert set(messages[1:]) == {"invalid token: join the room again"}


async def test_host_api_needs_host_credentials(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        assert (await http.post("/rooms", json={"title": "x"})).status_code == 401
        # Not a credential at all: 401 as well (decision 0019); a viewer token would be 403.
        bad = {"Authorization": "Bearer viewer"}
        garbage = await http.post("/rooms", json={"title": "x"}, headers=bad)
        assert (garbage.status_code, garbage.json()["code"]) == (401, "invalid_token")
        assert (await http.post("/rooms", json={"title": ""}, headers=ADMIN)).status_code == 422
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"nats": "ok", "streams": "ok", "database": "ok"}
