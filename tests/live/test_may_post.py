"""What a viewer may post besides text, as the pages learn it: `welcome.may_post` (the role,
the room's rules, a mute), the `rules` frame when the host changes the rules, and the `role`
notice's `may_post` when their role changes. Plain code first, then over a real nats-server
(one instance, and two: the rules set on one reach a viewer on the other)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from services.live import protocol
from services.live.adapters.room_feed import RoomFeed, RoomState
from services.live.domain.moderation import RoomRules
from services.live.domain.posts import MayPost, may_post
from services.live.domain.viewers import Role
from shared.embedded_nats import NatsServer
from shared.events import ModerationApplied, RoleChanged, RoomRulesChanged, utcnow
from tests.live.client import TestViewer, kind
from tests.live.conftest import ADMIN, join, open_room
from tests.live.test_posts import answer_to, live_at, plain_picture, post, set_rules

NOTHING, EVERYTHING = MayPost(media=False, links=False), MayPost(media=True, links=True)

# ---- without a server -------------------------------------------------------------------


def test_staff_may_post_everything_whatever_the_rules() -> None:
    strict = RoomRules(block_links=True, members_post_media=False)
    for role in (Role.HOST, Role.MODERATOR):
        assert may_post(role, strict) == EVERYTHING


def test_members_and_the_committee_follow_the_rules() -> None:
    for role in (Role.MEMBER, Role.COMMITTEE):
        assert may_post(role, RoomRules()) == NOTHING  # the defaults: no links, no media
        assert may_post(role, RoomRules(members_post_media=True)) == MayPost(True, False)
        assert may_post(role, RoomRules(block_links=False)) == MayPost(False, True)
        both = RoomRules(members_post_media=True, block_links=False)
        assert may_post(role, both) == EVERYTHING
        # Blocked words bind what a link says, not whether links may be posted.
        assert may_post(role, RoomRules(block_links=False, blocked_words=("", "x"))).links


def test_nobody_muted_may_post() -> None:
    open_rules = RoomRules(members_post_media=True, block_links=False)
    for role in Role:
        assert may_post(role, open_rules, muted=True) == NOTHING


def test_the_room_state_says_it_per_customer() -> None:
    now = utcnow()
    state = RoomState(
        status="live",
        rules=RoomRules(members_post_media=True),
        roles={"mod": Role.MODERATOR},
        muted_until={"muted": now + timedelta(minutes=5), "was_muted": now - timedelta(minutes=1)},
        banned={"banned"},
    )
    assert state.may_post("mod", now) == EVERYTHING
    assert state.may_post("lily", now) == MayPost(media=True, links=False)
    assert state.may_post("was_muted", now) == MayPost(media=True, links=False)
    assert state.may_post("muted", now) == NOTHING
    assert state.may_post("banned", now) == NOTHING


def _frames(feed: RoomFeed) -> list[tuple[dict[str, object], str | None]]:
    return [(json.loads(out.frame), out.to) for out in feed.drain()]


def test_the_feed_tells_everyone_the_rules_and_a_member_their_new_role() -> None:
    feed = RoomFeed(RoomState(status="live"))
    feed.apply(RoomRulesChanged(room_id="r", by="host", members_post_media=True, block_links=True))
    assert _frames(feed) == [
        ({"type": "rules", "members_post_media": True, "block_links": True}, None)
    ]
    feed.apply(RoleChanged(room_id="r", customer_id="wei", role="moderator", by="host"))
    [(notice, to)] = _frames(feed)
    assert to == "wei"
    assert notice["kind"] == "role"
    assert notice["data"] == {"role": "moderator", "may_post": {"media": True, "links": True}}
    # Back to member: the room's rules decide again (media yes, links no).
    feed.apply(RoleChanged(room_id="r", customer_id="wei", role="member", by="host"))
    [(notice, _)] = _frames(feed)
    assert notice["data"] == {"role": "member", "may_post": {"media": True, "links": False}}
    # Muted, then made committee: still nothing until the mute ends.
    until = utcnow() + timedelta(minutes=10)
    feed.apply(
        ModerationApplied(
            room_id="r", customer_id="wei", action="mute", by="host", reason="", until=until
        )
    )
    feed.drain()
    feed.apply(RoleChanged(room_id="r", customer_id="wei", role="committee", by="host"))
    [(notice, _)] = _frames(feed)
    assert notice["data"] == {"role": "committee", "may_post": {"media": False, "links": False}}


def test_the_rules_frame_and_may_post_are_in_the_protocol() -> None:
    schema = json.dumps(protocol.json_schema())
    assert '"rules"' in schema and "members_post_media" in schema
    welcome = protocol.Welcome.model_json_schema()
    assert "may_post" in welcome["required"]


# ---- over a real nats-server ------------------------------------------------------------


async def test_the_welcome_says_what_each_viewer_may_post(
    nats_server: NatsServer, database_url: str
) -> None:
    async with live_at(nats_server.url, database_url) as (live, _):
        room = await open_room(live)
        lily = await TestViewer.connect(live, await join(live, room, "Lily"))
        welcome = lily.frames[0]
        assert welcome["type"] == "welcome" and welcome["role"] == "member"
        assert welcome["may_post"] == {"media": False, "links": False}
        async with httpx.AsyncClient(base_url=live, timeout=30) as http:
            grant = await http.post(
                f"/rooms/{room}/join", json={"display_name": "Mei"}, headers=ADMIN
            )
        host = await TestViewer.connect(live, grant.json())
        assert host.frames[0]["role"] == "host"
        assert host.frames[0]["may_post"] == {"media": True, "links": True}

        await set_rules(live, room, members_post_media=True, block_links=False)
        wei = await TestViewer.connect(live, await join(live, room, "Wei"))
        assert wei.frames[0]["may_post"] == {"media": True, "links": True}

        # Muted: nothing, said at the welcome of a page opened meanwhile.
        async with httpx.AsyncClient(base_url=live, timeout=30) as http:
            mute = {"action": "mute", "customer_id": wei.customer_id, "minutes": 5}
            answer = await http.post(f"/rooms/{room}/moderation", json=mute, headers=ADMIN)
            assert answer.is_success, answer.text
        second_tab = await TestViewer.connect(live, wei.grant)
        assert second_tab.frames[0]["may_post"] == {"media": False, "links": False}
        for viewer in (lily, host, wei, second_tab):
            await viewer.close()


async def test_a_rules_change_reaches_viewers_on_every_instance_without_reconnecting(
    nats_server: NatsServer, database_url: str
) -> None:
    async with (
        live_at(nats_server.url, database_url) as (first, _),
        live_at(nats_server.url, database_url) as (second, _),
    ):
        room = await open_room(first)
        lily = await TestViewer.connect(second, await join(second, room, "Lily"))
        assert lily.frames[0]["may_post"] == {"media": False, "links": False}
        refused = await post(second, room, lily, plain_picture((200, 40, 40)))
        assert refused.json()["code"] == "media_not_allowed"

        await set_rules(first, room, members_post_media=True)  # on the other instance
        rules = await lily.wait_for(kind("rules"))
        assert rules == {"type": "rules", "members_post_media": True, "block_links": True}
        # What the frame says is what the room takes: her picture now, still no link.
        allowed = await post(second, room, lily, plain_picture((40, 200, 40)), text="mine")
        assert allowed.status_code == 201, allowed.text
        await lily.send(type="link", url="https://example.com/x", ref="l1")
        assert (await answer_to(lily, "l1"))["code"] == "blocked_link"

        await set_rules(first, room, members_post_media=False, block_links=False)
        await lily.wait_for(kind("rules", members_post_media=False, block_links=False))
        await lily.close()


async def test_a_role_change_tells_the_member_what_they_may_post_now(
    nats_server: NatsServer, database_url: str
) -> None:
    async with (
        live_at(nats_server.url, database_url) as (first, _),
        live_at(nats_server.url, database_url) as (second, _),
    ):
        room = await open_room(first)
        wei = await TestViewer.connect(second, await join(second, room, "Wei"))
        path = f"/rooms/{room}/members/{wei.customer_id}/role"
        async with httpx.AsyncClient(base_url=first, timeout=30) as http:
            assert (await http.put(path, json={"role": "moderator"}, headers=ADMIN)).is_success
        made = await wei.wait_for(lambda f: f.get("kind") == "role")
        assert made["data"] == {"role": "moderator", "may_post": {"media": True, "links": True}}
        async with httpx.AsyncClient(base_url=first, timeout=30) as http:
            assert (await http.put(path, json={"role": "member"}, headers=ADMIN)).is_success
        back = await wei.wait_for(
            lambda f: f.get("kind") == "role" and f["data"]["role"] == "member"
        )
        assert back["data"]["may_post"] == {"media": False, "links": False}
        await wei.close()
