"""The raw archive and replay: after a normaliser fix, what was refused comes in, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.ingest import replay as replay_cli
from services.ingest.domain import telegram
from services.ingest.domain.model import Normalised, UnknownShape
from services.ingest.service_layer import intake
from shared.embedded_nats import NatsServer
from shared.events import parse_event
from tests.ingest import payloads as p
from tests.ingest.conftest import ADMIN, Ingest, stream_messages


def buggy(update: Any) -> Normalised:
    """A normaliser with a bug: it refuses any line with an emoji."""
    text = update.get("message", {}).get("text", "")
    if any(ord(c) > 0x1F000 for c in text):
        raise UnknownShape("message.text: unexpected character")
    return telegram.normalise_update(update)


async def test_replay_re_normalises_the_archive_and_never_doubles(
    ingest: Ingest,
    nats_server: NatsServer,
    nc: NatsClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await ingest.bind("telegram", p.GROUP_ID, "r_replay")
    monkeypatch.setitem(intake.NORMALISERS, "telegram", buggy)
    fine_update = p.telegram_message("plain", message_id=90)
    fine = await ingest.telegram(fine_update)
    refused = await ingest.telegram(p.telegram_message("🍒 +1", message_id=91))
    assert fine.status_code == 200 and refused.status_code == 422
    # The stored line carries its body; the refused body, which gave no event, is archived.
    [stored] = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.>")]
    assert stored.raw is not None and stored.raw.source == "telegram"  # type: ignore[attr-defined]
    assert stored.raw.body == p.encode(fine_update)  # type: ignore[attr-defined]
    assert len(await stream_messages(nc, "INGEST_RAW", "ingest_raw.telegram")) == 1
    assert len(await stream_messages(nc, "DEADLETTER", "deadletter.ingest")) == 1

    monkeypatch.setitem(intake.NORMALISERS, "telegram", telegram.normalise_update)  # the fix
    response = await ingest.http.post("/replay", json={"since_minutes": 5}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "payloads": 2, "published": 1, "duplicates": 1, "parked": 0, "ignored": 0,
        "failed": 0, "failures": {},
    }  # fmt: skip
    events = [parse_event(m.data) for m in await stream_messages(nc, "INGEST", "ingest.>")]
    assert [(e.id, e.via) for e in events] == [  # type: ignore[attr-defined]
        (f"telegram:{p.GROUP_ID}:90", "webhook"),
        (f"telegram:{p.GROUP_ID}:91", "replay"),
    ]
    assert len(await stream_messages(nc, "LIVE", "live.>")) == 1  # replayed: not a room line

    # The command line does the same; run again, it finds nothing new.
    monkeypatch.setenv("NATS_URL", nats_server.url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/ingest.db")
    assert await replay_cli.main(["--since", "10m", "--source", "telegram"]) == 0
    out = capsys.readouterr().out
    assert "replayed 2 payloads: 0 new events, 2 already stored" in out
    assert (await nc.jetstream().stream_info("INGEST")).state.messages == 2


async def test_the_archive_stream_is_bounded(nc: NatsClient) -> None:
    config = (await nc.jetstream().stream_info("INGEST_RAW")).config
    assert config.max_age == 7 * 24 * 3600 and config.max_bytes == 1024**3
    assert config.subjects == ["ingest_raw.>"]
