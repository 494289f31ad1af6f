"""The console's API for what goes out to each group: settings, pauses, the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.ingest.adapters.tables import BindingRow, OutboundRow
from shared.embedded_nats import NatsServer
from shared.events import utcnow
from shared.events.ingest import OUTBOUND_KINDS
from tests.ingest.conftest import ADMIN, Ingest, start_ingest

CHAT = "/bindings/telegram/-1001"


@pytest.fixture
async def ingest(nats_server: NatsServer, database_url: str) -> AsyncIterator[Ingest]:
    """On both databases: the ledger's counts and the settings' JSON are SQL of their own."""
    async with start_ingest(nats_server.url, database_url) as running:
        yield running


async def add_ledger(ingest: Ingest, *rows: OutboundRow) -> None:
    async with ingest.app.infra.sessions() as session:
        session.add_all(rows)
        await session.commit()


def ledger_row(
    key: str, state: str, minutes_ago: int, chat: str = "-1001", **extra: object
) -> OutboundRow:
    return OutboundRow(
        key=key,
        room_id="r1",
        platform="telegram",
        chat_id=chat,
        kind="live",
        source_event_id=key.split(":")[0],
        state=state,
        created_at=utcnow() - timedelta(minutes=minutes_ago),
        **extra,
    )


async def test_bindings_list_their_settings_pause_and_counts(ingest: Ingest) -> None:
    await ingest.bind("telegram", "-1001", "r1")
    await ingest.bind("telegram", "-1002", "r1")
    await add_ledger(
        ingest,
        ledger_row("e1:telegram:-1001", "sent", 3, platform_message_id="900"),
        ledger_row("e2:telegram:-1001", "sent", 2, platform_message_id="901"),
        ledger_row("e3:telegram:-1001", "failed", 1, reason="bot_removed"),
        ledger_row("e1:telegram:-1002", "skipped", 1, chat="-1002", reason="paused"),
    )
    async with ingest.app.infra.sessions() as session:
        row = await session.get(BindingRow, ("telegram", "-1001"))
        assert row is not None
        row.paused_code, row.paused_reason = "bot_removed", "Forbidden: bot was kicked"
        row.paused_at = utcnow()
        session.add(row)
        await session.commit()
    listed = await ingest.http.get("/bindings", params={"room_id": "r1"}, headers=ADMIN)
    assert listed.status_code == 200
    first, second = listed.json()
    assert (first["sent"], first["failed"]) == (2, 1)
    assert first["paused"]["code"] == "bot_removed" and "kicked" in first["paused"]["reason"]
    assert (second["sent"], second["failed"], second["paused"]) == (0, 0, None)
    assert second["outbound"]["language"] == "en"
    assert second["outbound"]["kinds"]["welcome"] is False and second["outbound"]["kinds"]["live"]

    resumed = await ingest.http.post(f"{CHAT}/resume", headers=ADMIN)
    assert resumed.status_code == 200 and resumed.json()["paused"] is None
    assert resumed.json()["sent"] == 2


async def test_setting_what_goes_out(ingest: Ingest) -> None:
    await ingest.bind("telegram", "-1001", "r1")
    body = {
        "kinds": {"welcome": True, "offer": False},
        "language": "zh",
        "templates": {"live": "开播啦：{title} {room_link}"},
        "referrer_id": "web:partner",
    }
    saved = await ingest.http.put(f"{CHAT}/outbound", json=body, headers=ADMIN)
    assert saved.status_code == 200, saved.text
    outbound = saved.json()["outbound"]
    assert outbound["kinds"]["welcome"] is True and outbound["kinds"]["offer"] is False
    assert outbound["templates"] == {"live": "开播啦：{title} {room_link}"}
    listed = (await ingest.http.get("/bindings", headers=ADMIN)).json()
    assert listed[0]["outbound"]["referrer_id"] == "web:partner"
    # The planner sees it at once (its cache is dropped on a change).
    (binding,) = await ingest.app.bindings.store.of_room("r1")
    assert binding.outbound is not None and binding.outbound["language"] == "zh"


async def test_a_template_with_an_unknown_placeholder_or_too_long_is_422(ingest: Ingest) -> None:
    await ingest.bind("telegram", "-1001", "r1")
    unknown = await ingest.http.put(
        f"{CHAT}/outbound", json={"templates": {"offer": "Only {prize}!"}}, headers=ADMIN
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "invalid_template" and "{prize}" in unknown.json()["detail"]
    long = await ingest.http.put(
        f"{CHAT}/outbound", json={"templates": {"live": "x" * 3501}}, headers=ADMIN
    )
    assert long.status_code == 422 and "3500" in long.json()["detail"]
    spec = await ingest.http.put(
        f"{CHAT}/outbound", json={"templates": {"live": "{title:>99999999}"}}, headers=ADMIN
    )
    assert spec.status_code == 422
    kind = await ingest.http.put(f"{CHAT}/outbound", json={"kinds": {"spam": True}}, headers=ADMIN)
    assert kind.status_code == 422 and kind.json()["code"] == "invalid_request"
    stored = (await ingest.http.get("/bindings", headers=ADMIN)).json()[0]["outbound"]
    assert stored["templates"] == {}  # nothing refused was kept


async def test_unknown_bindings_are_404(ingest: Ingest) -> None:
    for method, path in (
        ("PUT", "/bindings/telegram/-9/outbound"),
        ("POST", "/bindings/telegram/-9/resume"),
        ("GET", "/bindings/telegram/-9/messages"),
    ):
        answer = await ingest.http.request(method, path, json={}, headers=ADMIN)
        assert answer.status_code == 404, (method, path)
        assert answer.headers["content-type"] == "application/problem+json"


async def test_recent_messages_newest_first(ingest: Ingest) -> None:
    await ingest.bind("telegram", "-1001", "r1")
    await add_ledger(
        ingest,
        ledger_row("e1:telegram:-1001", "sent", 3, platform_message_id="900"),
        ledger_row("e2:telegram:-1001", "failed", 1, reason="chat_not_found"),
        ledger_row("e1:telegram:-1002", "sent", 1, chat="-1002"),
    )
    recent = await ingest.http.get(f"{CHAT}/messages", params={"limit": 1}, headers=ADMIN)
    assert recent.status_code == 200
    assert [(m["key"], m["state"], m["reason"]) for m in recent.json()] == [
        ("e2:telegram:-1001", "failed", "chat_not_found")
    ]
    both = (await ingest.http.get(f"{CHAT}/messages", headers=ADMIN)).json()
    assert [m["platform_message_id"] for m in both] == [None, "900"]
    assert (await ingest.http.get(f"{CHAT}/messages?limit=0", headers=ADMIN)).status_code == 422


async def test_the_default_templates(ingest: Ingest) -> None:
    answer = await ingest.http.get("/outbound/templates", headers=ADMIN)
    assert answer.status_code == 200
    listed = answer.json()
    assert [t["kind"] for t in listed] == list(OUTBOUND_KINDS)
    preview = listed[0]
    assert "when" in preview["placeholders"] and preview["zh"].startswith("{when}直播")


async def test_only_an_admin(ingest: Ingest) -> None:
    assert (await ingest.http.get("/outbound/templates")).status_code == 401
    put = await ingest.http.put(
        f"{CHAT}/outbound", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert put.status_code == 401
