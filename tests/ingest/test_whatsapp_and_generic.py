"""WhatsApp and the generic signed webhook over real HTTP and a real nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from nats.aio.client import Client as NatsClient

from shared.events import parse_event
from shared.events.ingest import ExternalMessageReceived, ExternalReactionPosted
from shared.messaging import H_REASON
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, stream_messages


async def test_whatsapp_verification_handshake(ingest: Ingest) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    ok = await ingest.http.get(
        "/webhooks/whatsapp", params={**query, "hub.verify_token": p.WHATSAPP_VERIFY_TOKEN}
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = await ingest.http.get("/webhooks/whatsapp", params={**query, "hub.verify_token": "x"})
    assert wrong.status_code == 403
    assert (await ingest.http.get("/webhooks/whatsapp")).status_code == 403


async def test_whatsapp_signed_messages_and_reactions_are_stored(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("whatsapp", "GROUP-9", "r_wa")
    body = p.whatsapp_body([
        p.whatsapp_text("要2箱", message_id="wamid.T1", group_id="GROUP-9"),
        {**p.whatsapp_reaction("wamid.T1", "👍", "wamid.R1"), "group_id": "GROUP-9"},
    ])  # fmt: skip
    response = await ingest.whatsapp(body)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    line, reaction = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.>")]
    assert isinstance(line, ExternalMessageReceived) and line.customer_id == "whatsapp:16505551234"
    assert line.display_name == "Sheena Nelson" and line.text == "要2箱"
    assert isinstance(reaction, ExternalReactionPosted) and reaction.target_message_id == "wamid.T1"
    [room_line] = await stream_messages(nc, "LIVE", "live.r_wa.>")
    assert json.loads(room_line.data)["source"] == "whatsapp"


async def test_whatsapp_bad_signature_is_401_and_nothing_is_kept(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("whatsapp", p.PHONE_NUMBER_ID, "r_wa")
    raw = p.encode(p.whatsapp_body([p.whatsapp_text()]))
    tampered = raw.replace(b"another color", b"another colour")
    cases = [
        {},
        p.whatsapp_headers(raw, secret="not-the-app-secret"),
        p.whatsapp_headers(raw),  # signature of the original, body tampered below
    ]
    for headers, body in zip(cases, (raw, raw, tampered), strict=True):
        response = await ingest.whatsapp(body, headers=headers or {"content-type": "x"})
        assert response.status_code == 401, response.text
    for stream in ("INGEST", "INGEST_RAW", "DEADLETTER"):
        assert (await nc.jetstream().stream_info(stream)).state.messages == 0
    assert (await ingest.whatsapp(raw)).json()["accepted"] == 1  # the genuine one


async def test_generic_webhook_accepts_signed_events_and_refuses_replays(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("line", "line-group-7", "r_gen")
    raw = p.encode(p.generic_message("+1 樱桃"))
    assert (await ingest.generic(raw)).json()["accepted"] == 1
    again = await ingest.generic(raw)  # same event, freshly signed: a re-delivery
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    stale = await ingest.generic(raw, p.generic_headers(raw, timestamp=p.now() - 301))
    assert stale.status_code == 401 and "replayed" in stale.json()["detail"]
    future = await ingest.generic(raw, p.generic_headers(raw, timestamp=p.now() + 301))
    assert future.status_code == 401
    forged = await ingest.generic(raw, p.generic_headers(raw, secret="guess"))
    assert forged.status_code == 401
    [event] = await stream_messages(nc, "INGEST", "ingest.r_gen.>")
    assert event.headers["Nats-Msg-Id"] == "line:line-group-7:m-1001"
    [room_line] = await stream_messages(nc, "LIVE", "live.r_gen.>")
    assert json.loads(room_line.data)["source"] == "webhook"


async def test_bad_input_answers_with_the_reason_and_keeps_the_body_in_dead_letters(
    ingest: Ingest, nc: NatsClient
) -> None:
    malformed = await ingest.generic(b'{"type": "message", ')
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["detail"]
    unknown = await ingest.generic({"type": "message", "chat_id": "g"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "message.user: Field required"
    not_telegram = await ingest.telegram({"hello": "world"})
    assert not_telegram.status_code == 422 and "update_id" in not_telegram.json()["detail"]
    letters = await stream_messages(nc, "DEADLETTER", "deadletter.ingest")
    assert [m.data for m in letters] == [
        b'{"type": "message", ',
        p.encode({"type": "message", "chat_id": "g"}),
        p.encode({"hello": "world"}),
    ]
    assert "malformed JSON" in letters[0].headers[H_REASON]
    assert letters[2].headers["Qunlive-Original-Subject"] == "http:/webhooks/telegram"
    assert (await nc.jetstream().stream_info("INGEST")).state.messages == 0


async def test_oversized_bodies_are_refused(ingest: Ingest, nc: NatsClient) -> None:
    huge = p.encode(p.generic_message("x" * 300_000))
    response = await ingest.generic(huge)
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 65536

    chunked = await ingest.http.post(  # no Content-Length: streamed, counted as it comes
        "/webhooks/telegram", content=chunks(), headers=p.telegram_headers()
    )
    assert chunked.status_code == 413
    assert (await nc.jetstream().stream_info("INGEST_RAW")).state.messages == 0
