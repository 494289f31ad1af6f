"""Ack after store: when NATS is away, every webhook says 503 (retry), never 200."""

from __future__ import annotations

from pathlib import Path

from shared.embedded_nats import NatsServer, start_nats_server
from tests.ingest import payloads as p
from tests.ingest.conftest import start_ingest
from tests.support import eventually


async def test_nats_down_is_503_for_every_webhook_and_a_retry_later_is_stored(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with start_ingest(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/i.db") as ingest:
        bus = ingest.app.bus
        await ingest.bind("telegram", p.GROUP_ID, "r_down")
        nats_server.stop()

        async def disconnected() -> bool:
            return not bus.connected

        await eventually(disconnected)
        bound = p.telegram_message("+1", message_id=80)
        attempts = [
            await ingest.telegram(bound),
            await ingest.telegram(p.telegram_message("unbound", chat_id=-100777)),
            await ingest.whatsapp(p.whatsapp_body([p.whatsapp_text()])),
            await ingest.generic(p.generic_message()),
            await ingest.generic(b"{not json"),  # cannot even be dead-lettered: retry
        ]
        for response in attempts:
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
        assert (await ingest.http.get("/readyz")).status_code == 503
        assert (
            await ingest.telegram(bound, **{"X-Telegram-Bot-Api-Secret-Token": "x"})
        ).status_code == 401
        unbound = await ingest.http.get("/unbound", headers={"Authorization": "Bearer test-admin"})
        assert unbound.json() == []  # the 503'd unbound message was not parked either

        # NATS is back: the platform's retry is stored.
        restarted = start_nats_server(nats_server.store_dir, port=nats_server.port)
        try:

            async def reconnected() -> bool:
                return bus.connected

            await eventually(reconnected, timeout=15)
            retry = await ingest.telegram(bound)
            assert retry.status_code == 200 and retry.json()["accepted"] == 1
        finally:
            restarted.stop()
