"""One customer per person: accounts linked by evidence (a declared account, the same
phone, a host's word), the evidence kept, every merge reversible; host-only access."""

from __future__ import annotations

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from shared.events import ChatMessagePosted, RoomOpened, ViewerJoined
from shared.events.ingest import ExternalMessageReceived
from tests.analytics.conftest import ADMIN, SECRET, Analytics, host_headers
from tests.support import eventually

PHONE = "phone:+8613800000000"


def line(who: str, n: int, room: str = "r1") -> ChatMessagePosted:
    return ChatMessagePosted(
        room_id=room, customer_id=who, message_id=f"{who}-{n}", display_name=who, text="+1"
    )


def tg_line(user: str, n: int) -> ExternalMessageReceived:
    return ExternalMessageReceived(
        id=f"telegram:-1001:{user}{n}",
        room_id="r1",
        customer_id=f"telegram:{user}",
        platform="telegram",
        chat_id="-1001",
        external_user_id=user,
        display_name="Mei TG",
        message_id=f"{user}{n}",
        text="好",
    )


async def test_same_phone_declared_accounts_and_host_links_make_one_person_reversibly(
    analytics: Analytics,
) -> None:
    events = [
        ViewerJoined(room_id="r1", customer_id="web:a1", display_name="Mei", external_id=PHONE),
        ViewerJoined(room_id="r2", customer_id="web:a2", display_name="Mei", external_id=PHONE),
        line("web:a1", 1),
        line("web:a2", 1, room="r2"),
        tg_line("555", 1),
        tg_line("555", 2),
    ]
    await analytics.publish(events)
    await analytics.settled(len(events))

    # Two web accounts that gave the same phone are one person (via the phone).
    mei = await analytics.get("/customers/web:a2")
    assert mei["person_id"] == "web:a1"
    assert [a["account_id"] for a in mei["accounts"]] == [PHONE, "web:a1", "web:a2"]
    assert (mei["messages"], mei["rooms_attended"]) == (2, 2)
    assert [e["kind"] for e in mei["evidence"]] == ["phone", "phone"]

    # The host says her Telegram account is hers too.
    linked = await analytics.http.post(
        "/customers/links",
        headers=host_headers("host:h1"),
        json={"account_id": "telegram:555", "other_account_id": "web:a2", "note": "asked her"},
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["active"] is True
    mei = await analytics.get("/customers/web:a1")
    assert mei["person_id"] == "telegram:555"  # the smallest account id names the person
    assert mei["messages"] == 4
    host_link = [e for e in mei["evidence"] if e["kind"] == "host_link"]
    assert [(e["by"], e["detail"]) for e in host_link] == [("host:h1", "asked her")]

    # ...and takes it back: the Telegram account is its own person again, nothing lost.
    undone = await analytics.http.post(
        "/customers/unlinks",
        headers=ADMIN,
        json={"account_id": "web:a2", "other_account_id": "telegram:555", "note": "wrong Mei"},
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["active"] is False
    assert (await analytics.get("/customers/telegram:555"))["person_id"] == "telegram:555"
    assert (await analytics.get("/customers/telegram:555"))["messages"] == 2
    assert (await analytics.get("/customers/web:a1"))["person_id"] == "web:a1"
    assert (await analytics.get("/customers/web:a1"))["messages"] == 2

    # Automatic evidence cannot override a host's unlink: undo the phone link of web:a2,
    # then web:a2 declares the phone again on a later join: still apart.
    await analytics.http.post(
        "/customers/unlinks",
        headers=ADMIN,
        json={"account_id": "web:a2", "other_account_id": PHONE},
    )
    rejoin = ViewerJoined(room_id="r3", customer_id="web:a2", display_name="Mei", external_id=PHONE)
    await analytics.publish([rejoin])

    async def apart() -> dict | None:
        profile = await analytics.get("/customers/web:a2")
        seen = [e["kind"] for e in profile["evidence"]]
        return profile if seen.count("phone") == 2 and profile["rooms_attended"] == 2 else None

    a2 = await eventually(apart)
    assert a2["person_id"] == "web:a2"
    assert [a["account_id"] for a in a2["accounts"]] == ["web:a2"]
    (phone_link,) = [x for x in a2["links"] if PHONE in x["accounts"]]
    assert (phone_link["active"], phone_link["host_decision"]) == (False, "unlink")
    assert phone_link["automatic_evidence"] == 2


async def test_only_hosts_read_the_customer_database(analytics: Analytics) -> None:
    events = [
        RoomOpened(room_id="r_h1", title="Mine", host_id="host:h1"),
        ViewerJoined(room_id="r_h1", customer_id="web:v", display_name="V"),
    ]
    await analytics.publish(events)
    await analytics.settled(len(events))
    http = analytics.http
    viewer, _ = ViewerTokens(SECRET, 3600).issue(
        Viewer(room_id="r_h1", customer_id="web:v", display_name="V")
    )

    assert (await http.get("/customers/web:v")).status_code == 401
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert (await http.get("/customers/web:v", headers=as_viewer)).status_code == 403
    assert (await http.get("/segments", headers=as_viewer)).status_code == 403
    assert (await http.get("/rooms/r_h1/report")).status_code == 401
    mine, theirs = host_headers("host:h1"), host_headers("host:h2")
    assert (await http.get("/rooms/r_h1/report", headers=mine)).status_code == 200
    assert (await http.get("/rooms/r_h1/report.html", headers=theirs)).status_code == 403
    assert (await http.get("/rooms/r_h1/audiences/waitlisted", headers=theirs)).status_code == 403
    assert (await http.get("/rooms/r_nope/report", headers=ADMIN)).status_code == 404
    assert (await http.get("/customers/web:nobody", headers=ADMIN)).status_code == 404

    bad = await http.post(
        "/customers/links",
        headers=ADMIN,
        json={"account_id": "web:v", "other_account_id": "web:v"},
    )
    assert bad.status_code == 422
    bad = await http.post(
        "/customers/links", headers=ADMIN, json={"account_id": "web:v", "other_account_id": "nope"}
    )
    assert bad.status_code == 422
    assert "platform:id" in bad.json()["detail"]
