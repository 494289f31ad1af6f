"""`POST /me/token`: one person, one customer id, in every room and on the /me page."""

from __future__ import annotations

import httpx
import jwt

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from shared.auth import read_viewer_token
from tests.live.conftest import join, open_room

SECRET = "test-secret-key-of-at-least-32-bytes!"


async def test_a_previous_token_even_expired_names_the_person_in_a_fresh_roomless_token(
    live_url: str,
) -> None:
    room_a = await open_room(live_url, "Cherry night")
    room_b = await open_room(live_url, "Lychee night")
    first = await join(live_url, room_a, "Lily 莉莉")
    # Joining room B with room A's token keeps the person (what the viewer page does).
    second = await join(live_url, room_b, "Lily 莉莉", previous_token=first["token"])
    assert second["customer_id"] == first["customer_id"]

    # A token that expired a day ago still says who it was.
    expired, _ = ViewerTokens(SECRET, 60).issue(
        Viewer(room_id=room_a, customer_id=first["customer_id"], display_name="Lily 莉莉"),
        now=0,
    )
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        answer = await http.post("/me/token", json={"previous_token": expired})
    assert answer.status_code == 200, answer.text
    grant = answer.json()
    assert grant["customer_id"] == first["customer_id"]
    holder = read_viewer_token(grant["token"], SECRET)  # orders reads it as a buyer's
    assert (holder.customer_id, holder.room_id, holder.display_name) == (
        first["customer_id"],
        "",
        "Lily 莉莉",
    )
    assert grant["expires_at"] > 0

    # The room-less token names the person when joining a room, too.
    third = await join(live_url, room_b, "Lily", previous_token=grant["token"])
    assert third["customer_id"] == first["customer_id"]


async def test_a_token_not_ours_is_401_and_bad_bodies_are_422(live_url: str) -> None:
    forged = jwt.encode(
        {"aud": "qunlive-viewer", "sub": "web:someone", "room": "", "exp": 2**31},
        "another-secret-key-of-at-least-32-bytes",
        algorithm="HS256",
    )
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        host = (
            await http.post(
                "/hosts", json={"name": "Mei"}, headers={"Authorization": "Bearer test-admin"}
            )
        ).json()
        for token in ("garbage", forged, host["token"], "test-admin"):
            answer = await http.post("/me/token", json={"previous_token": token})
            assert (answer.status_code, answer.json()["code"]) == (401, "invalid_token"), token
        for body in ({}, {"previous_token": ""}, {"previous_token": 42}, {"previous_token": None}):
            answer = await http.post("/me/token", json=body)
            assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request"), body
        not_json = await http.post(
            "/me/token", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422


async def test_the_me_page_is_served_with_its_policy(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        page = await http.get("/me")
        static = await http.get("/static/me.html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy and "blob:" in policy  # the QR code's image
    assert '<script type="module" src="/static/js/me.js">' in page.text
    assert static.status_code == 404  # a page only by its route, with its policy
