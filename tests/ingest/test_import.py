"""Chat-log import: idempotent when run twice, resumable, deduped against the webhook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.ingest import importer
from services.ingest.adapters.checkpoint import CheckpointFile
from services.ingest.service_layer.importing import ImportRefused, open_source, run_import
from shared.embedded_nats import NatsServer
from shared.events import IntegrationEvent, parse_event
from shared.messaging import EventPublisher
from tests.ingest import payloads as p
from tests.ingest.conftest import Ingest, stream_messages

REPO = Path(__file__).resolve().parents[2]
START = 1_767_261_600  # 2026-01-01 10:00 UTC


def telegram_export(path: Path, count: int) -> Path:
    """A Telegram Desktop single-chat export (result.json) of `count` lines and a service line."""
    service = {"id": 1, "type": "service", "date": "2026-01-01T09:59:00", "actor": "Mei",
               "actor_id": "user1", "action": "create_group", "title": "G"}  # fmt: skip
    messages: list[dict[str, Any]] = [service]
    for n in range(2, count + 2):
        messages.append(
            {
                "id": n,
                "type": "message",
                "date": "2026-01-01T10:00:00",
                "date_unixtime": str(START + n),
                "from": f"Member {n % 7}",
                "from_id": f"user{100 + n % 7}",
                "text": [f"line {n} ", {"type": "bold", "text": "樱桃"}] if n % 2 else f"line {n}",
                "text_entities": [],
            }
        )
    export = {"name": "Aunt Mei's fruit group", "type": "private_supergroup", "id": 1234567890,
              "messages": messages}  # fmt: skip
    path.write_text(json.dumps(export, ensure_ascii=False))
    return path


async def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = await importer.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def test_importing_twice_publishes_one_set_of_events(
    nats_server: NatsServer, nc: NatsClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = telegram_export(tmp_path / "result.json", 120)
    args = (str(export), "--room", "r_hist", "--nats", nats_server.url, "--batch", "50")
    code, out, err = await run_cli(*args, capsys=capsys)
    assert code == 0, err
    assert "120 new events" in out and "[##############################] 121/121" in err
    stored = await stream_messages(nc, "INGEST", "ingest.r_hist.>")
    assert len(stored) == 120
    event = parse_event(stored[0].data)
    assert event.id == "telegram:-1001234567890:2" and event.customer_id == "telegram:102"
    assert event.via == "import" and event.text == "line 2"  # type: ignore[attr-defined]

    code, out, _ = await run_cli(*args, capsys=capsys)  # the checkpoint says: done
    assert code == 0 and "already imported into r_hist (120 events" in out
    code, out, _ = await run_cli(*args, "--restart", capsys=capsys)  # no checkpoint: dedupe
    assert code == 0 and "0 new events, 120 already stored" in out
    assert (await nc.jetstream().stream_info("INGEST")).state.messages == 120
    assert (await nc.jetstream().stream_info("LIVE")).state.messages == 0  # history: no room lines


async def test_an_interrupted_import_resumes_from_its_checkpoint(
    nc: NatsClient, tmp_path: Path
) -> None:
    export = telegram_export(tmp_path / "result.json", 300)
    checkpoints = CheckpointFile(tmp_path / "result.json.checkpoint.json")
    publisher = EventPublisher(nc.jetstream())
    sent = 0

    async def flaky(event: IntegrationEvent) -> Any:
        nonlocal sent
        sent += 1
        if sent > 120:  # NATS "goes away" in the third batch of 50
            raise ConnectionError("nats went away")
        return await publisher.publish(event)

    source = open_source(export, "telegram-json", "telegram", None)
    with pytest.raises(ConnectionError):
        await run_import(export, source, "r_resume", flaky, checkpoints, batch_size=50)
    interrupted = checkpoints.load()
    assert interrupted is not None and not interrupted.done
    assert interrupted.published == 100 and interrupted.position == 101  # 2 batches + service line

    source = open_source(export, "telegram-json", "telegram", None)
    finished = await run_import(export, source, "r_resume", publisher.publish, checkpoints)
    assert finished.done and finished.position == 301
    # 20 of the failed batch were stored before it failed: dropped as duplicates on resume.
    assert (finished.published, finished.duplicates) == (280, 20)
    assert (await nc.jetstream().stream_info("INGEST")).state.messages == 300

    with pytest.raises(ImportRefused, match="another file or room"):
        await run_import(export, source, "r_other_room", publisher.publish, checkpoints)


async def test_an_import_and_the_webhook_of_the_same_message_are_one_event(
    ingest: Ingest, nats_server: NatsServer, nc: NatsClient, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    await ingest.bind("telegram", p.GROUP_ID, "r_both")
    update = p.telegram_message("line 3", message_id=3, user=p.telegram_user(103, "Member"))
    assert (await ingest.telegram(update)).json()["accepted"] == 1
    export = telegram_export(tmp_path / "result.json", 5)  # messages 2..6, one of them is 3
    code, out, _ = await run_cli(str(export), "--room", "r_both", "--nats", nats_server.url,
                                 "--no-progress", capsys=capsys)  # fmt: skip
    assert code == 0 and "4 new events, 1 already stored" in out
    stored = await stream_messages(nc, "INGEST", "ingest.r_both.>")
    assert sorted(m.headers["Nats-Msg-Id"] for m in stored) == [
        f"telegram:{p.GROUP_ID}:{n}" for n in range(2, 7)
    ]


def test_the_command_line_imports_a_documented_csv(nats_server: NatsServer, tmp_path: Path) -> None:
    csv_file = tmp_path / "whatsapp-history.csv"
    csv_file.write_text(
        "chat_id,message_id,sent_at,user_id,user_name,text,reply_to,edited_at\n"
        'GROUP-9,wamid.1,2026-01-01T10:00:00Z,16505551234,Sheena,"+1, two boxes",,\n'
        "GROUP-9,wamid.2,1767261660,16505559999,Wei,hello,wamid.1,1767261700\n"
        "GROUP-9,,2026-01-01T10:00:00Z,1,Broken,no message id,,\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "services.ingest.importer", str(csv_file),
               "--room", "r_csv", "--platform", "whatsapp", "--nats", nats_server.url]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "3 new events, 0 already stored, 1 records skipped" in done.stdout
    assert "record 3 skipped: message_id" in done.stderr


async def test_the_importer_refuses_what_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = telegram_export(tmp_path / "result.json", 3)
    account = tmp_path / "account.json"
    account.write_text('{"chats": {"list": []}}')
    cases = [
        ((str(export), "--room", "bad room"), "--room"),
        ((str(tmp_path / "missing.json"), "--room", "r_1"), "no such file"),
        ((str(account), "--room", "r_1"), "export one chat"),
        ((str(export), "--room", "r_1", "--platform", "whatsapp"), "platform telegram"),
    ]
    for args, reason in cases:
        code, _, err = await run_cli(*args, capsys=capsys)
        assert code == importer.EXIT_REFUSED and reason in err, err
