"""Bindings (host API), parked messages of unbound chats, adoption on binding; SQLite and
PostgreSQL (TEST_POSTGRES_URL)."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from shared.embedded_nats import NatsServer
from shared.events import parse_event
from tests.ingest import payloads as p
from tests.ingest.conftest import ADMIN, Ingest, start_ingest, stream_messages


async def test_the_binding_api_needs_the_admin_token(ingest: Ingest) -> None:
    body = {"platform": "telegram", "chat_id": "-100", "room_id": "r_1"}
    assert (await ingest.http.post("/bindings", json=body)).status_code == 401
    garbage = {"Authorization": "Bearer not-the-admin"}  # not a credential: 401 (0019)
    assert (await ingest.http.post("/bindings", json=body, headers=garbage)).status_code == 401
    for path in ("/bindings", "/unbound"):
        assert (await ingest.http.get(path)).status_code == 401
    assert (await ingest.http.delete("/bindings/telegram/-100")).status_code == 401
    assert (await ingest.http.post("/replay", json={})).status_code == 401
    bad_room = {**body, "room_id": "a.b"}
    assert (await ingest.http.post("/bindings", json=bad_room, headers=ADMIN)).status_code == 422


async def test_bind_list_move_delete_and_park_unbound_chats(
    nats_server: NatsServer, database_url: str, nc: NatsClient
) -> None:
    async with start_ingest(nats_server.url, database_url) as ingest:
        # Unbound: accepted (200), parked, listed; a re-delivery parks nothing new.
        update = p.telegram_message("anyone here?", message_id=70)
        for _ in range(2):
            response = await ingest.telegram(update)
            assert response.status_code == 200 and response.json()["parked"] == 1
        await ingest.whatsapp(p.whatsapp_body([p.whatsapp_text("hello")]))
        unbound = (await ingest.http.get("/unbound", headers=ADMIN)).json()
        by_chat = {(u["platform"], u["chat_id"]): u for u in unbound}
        telegram = by_chat[("telegram", str(p.GROUP_ID))]
        assert telegram["parked"] == 1 and telegram["chat_title"].startswith("Aunt Mei")
        assert telegram["recent"][0]["text"] == "anyone here?"
        assert by_chat[("whatsapp", p.PHONE_NUMBER_ID)]["recent"][0]["user_name"] == "Sheena Nelson"
        assert (await nc.jetstream().stream_info("INGEST")).state.messages == 0

        # Binding adopts what was parked: the room's history, not its live chat.
        created = await ingest.bind("telegram", p.GROUP_ID, "r_first")
        assert created["adopted"] == 1 and created["room_id"] == "r_first"
        [adopted] = await stream_messages(nc, "INGEST", "ingest.r_first.>")
        assert parse_event(adopted.data).customer_id == "telegram:111"  # type: ignore[union-attr]
        assert (await nc.jetstream().stream_info("LIVE")).state.messages == 0
        unbound = (await ingest.http.get("/unbound", headers=ADMIN)).json()
        assert [u["platform"] for u in unbound] == ["whatsapp"]

        # Moving the chat to tomorrow's room; listing; deleting.
        moved = await ingest.http.post(
            "/bindings",
            json={"platform": "telegram", "chat_id": str(p.GROUP_ID), "room_id": "r_second"},
            headers=ADMIN,
        )
        assert moved.status_code == 200 and moved.json()["room_id"] == "r_second"
        await ingest.bind("whatsapp", p.PHONE_NUMBER_ID, "r_second")
        listed = (await ingest.http.get("/bindings", headers=ADMIN)).json()
        assert [(b["platform"], b["room_id"]) for b in listed] == [
            ("telegram", "r_second"),
            ("whatsapp", "r_second"),
        ]
        only = await ingest.http.get("/bindings", params={"room_id": "r_first"}, headers=ADMIN)
        assert only.json() == []
        path = f"/bindings/telegram/{p.GROUP_ID}"
        assert (await ingest.http.delete(path, headers=ADMIN)).status_code == 204
        assert (await ingest.http.delete(path, headers=ADMIN)).status_code == 404
        after = await ingest.telegram(p.telegram_message("back to unbound", message_id=71))
        assert after.json()["parked"] == 1
