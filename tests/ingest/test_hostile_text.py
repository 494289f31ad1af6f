"""Text a JavaScript client cut in half, and JSON that is not JSON: never a 500.

A lone UTF-16 surrogate (half an emoji, `\\ud83d`) is repaired to U+FFFD and the line
is taken; NaN and Infinity are not JSON: 400, and the body is kept in dead letters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.ingest import importer
from shared.embedded_nats import NatsServer
from shared.events import parse_event
from shared.events.ingest import ExternalMessageReceived
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, stream_messages

HALF = "\ud83d"  # the first half of 😀 (\ud83d\ude00)
CUT = f"樱桃 {HALF}"
REPAIRED = "樱桃 \ufffd"


def ascii_json(payload: Any) -> bytes:
    """As a JavaScript client sends it: the lone surrogate as a \\u escape."""
    return json.dumps(payload).encode()


async def received(nc: NatsClient, room: str) -> list[ExternalMessageReceived]:
    events = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", f"ingest.{room}.>")]
    assert all(isinstance(e, ExternalMessageReceived) for e in events)
    return events  # type: ignore[return-value]


async def room_texts(nc: NatsClient, room: str) -> list[tuple[str, str]]:
    lines = await stream_messages(nc, "LIVE", f"live.{room}.chat.message_posted")
    return [(json.loads(m.data)["display_name"], json.loads(m.data)["text"]) for m in lines]


async def test_telegram_text_and_name_with_half_an_emoji_are_repaired(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_half")
    update = p.telegram_message(CUT, user=p.telegram_user(111, f"Lily{HALF}", None))
    response = await ingest.http.post(
        "/webhooks/telegram", content=ascii_json(update), headers=p.telegram_headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    [event] = await received(nc, "r_half")
    assert (event.text, event.display_name) == (REPAIRED, "Lily\ufffd")
    assert await room_texts(nc, "r_half") == [("Lily\ufffd", REPAIRED)]


async def test_a_surrogate_pair_sent_as_two_utf8_halves_is_joined(
    ingest: Ingest, nc: NatsClient
) -> None:
    """Some encoders write each half of a pair as its own 3-byte sequence (CESU-8)."""
    await ingest.bind("telegram", p.GROUP_ID, "r_cesu")
    halves = b"\xed\xa0\xbd\xed\xb8\x80 \xed\xa0\xbd"  # 😀, then half of one
    raw = p.encode(p.telegram_message("PLACEHOLDER")).replace(b"PLACEHOLDER", halves)
    response = await ingest.http.post(
        "/webhooks/telegram", content=raw, headers=p.telegram_headers()
    )
    assert response.status_code == 200, response.text
    [event] = await received(nc, "r_cesu")
    assert event.text == "😀 \ufffd"


async def test_whatsapp_text_and_profile_name_with_half_an_emoji_are_repaired(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("whatsapp", "G-half", "r_wa_half")
    body = p.whatsapp_body(
        [p.whatsapp_text(CUT, group_id="G-half")], names={"16505551234": f"Sheena{HALF}"}
    )
    response = await ingest.whatsapp(ascii_json(body))
    assert response.status_code == 200, response.text
    [event] = await received(nc, "r_wa_half")
    assert (event.text, event.display_name) == (REPAIRED, "Sheena\ufffd")


async def test_generic_webhook_with_half_an_emoji_is_repaired(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("line", "line-group-7", "r_gen_half")
    event = p.generic_message(CUT, user={"id": "u-7", "name": f"莉莉{HALF}"})
    response = await ingest.generic(ascii_json(event))
    assert response.status_code == 200, response.text
    [stored] = await received(nc, "r_gen_half")
    assert (stored.text, stored.display_name) == (REPAIRED, "莉莉\ufffd")


async def test_an_unbound_chat_with_half_an_emoji_is_parked(ingest: Ingest) -> None:
    update = p.telegram_message(CUT, chat_id=-1009999)
    response = await ingest.http.post(
        "/webhooks/telegram", content=ascii_json(update), headers=p.telegram_headers()
    )
    assert response.status_code == 200 and response.json()["parked"] == 1, response.text
    unbound = await ingest.http.get("/unbound", headers={"Authorization": "Bearer test-admin"})
    assert unbound.status_code == 200, unbound.text
    [chat] = unbound.json()
    assert chat["recent"][0]["text"] == REPAIRED


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(constant: str, ingest: Ingest, nc: NatsClient) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_nan")
    raw = p.encode(p.telegram_message("+1")).replace(
        b'"update_id": ', f'"x": {constant}, "update_id": '.encode()
    )
    response = await ingest.http.post(
        "/webhooks/telegram", content=raw, headers=p.telegram_headers()
    )
    assert response.status_code == 400, response.text
    assert constant in response.json()["detail"]
    [letter] = await stream_messages(nc, "DEADLETTER", "deadletter.ingest")
    assert letter.data == raw
    assert (await nc.jetstream().stream_info("INGEST")).state.messages == 0


async def test_a_telegram_export_with_half_an_emoji_imports(
    nats_server: NatsServer, nc: NatsClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = {
        "name": "G",
        "type": "private_supergroup",
        "id": 1234567890,
        "messages": [
            {"id": 2, "type": "message", "date": "2026-01-01T10:00:00", "from": f"Mei{HALF}",
             "from_id": "user100", "text": ["+1 ", {"type": "bold", "text": CUT}]},
        ],
    }  # fmt: skip
    path = tmp_path / "result.json"
    path.write_bytes(ascii_json(export))
    code = await importer.main(
        [str(path), "--room", "r_import_half", "--nats", nats_server.url, "--no-progress"]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    [event] = await received(nc, "r_import_half")
    assert (event.text, event.display_name) == ("+1 " + REPAIRED, "Mei\ufffd")


async def test_a_replay_reads_an_archived_body_with_half_an_emoji(
    ingest: Ingest, nc: NatsClient
) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_replay_half")
    update = p.telegram_message(CUT, message_id=77)
    response = await ingest.http.post(
        "/webhooks/telegram", content=ascii_json(update), headers=p.telegram_headers()
    )
    assert response.status_code == 200, response.text
    replayed = await ingest.http.post(
        "/replay", json={"since_minutes": 5}, headers={"Authorization": "Bearer test-admin"}
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["duplicates"] == 1 and replayed.json()["failed"] == 0
    [event] = await received(nc, "r_replay_half")
    assert event.text == REPAIRED
