"""Importing a chat log: records in order, published in batches, checkpointed after each.

Idempotent twice over: the checkpoint skips what an earlier run stored, and each
event's Nats-Msg-Id is the message's platform key, so even a run without its
checkpoint (or overlapping a webhook) adds nothing JetStream already has, within
the INGEST stream's 24 h duplicate window. Older history imported twice is
stored twice with the same event ids; readers dedupe by id.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from nats.js.api import PubAck

from services.ingest.adapters.checkpoint import Checkpoint, CheckpointFile, fingerprint
from services.ingest.domain.events import ingest_event
from services.ingest.domain.exports import (
    BadRecord,
    csv_header_problem,
    csv_message,
    telegram_export_chat,
    telegram_export_message,
)
from services.ingest.domain.fields import json_document
from services.ingest.domain.model import ChatMessage, UnknownShape
from shared.events import IntegrationEvent

Record = list[ChatMessage] | BadRecord
Publish = Callable[[IntegrationEvent], Awaitable[PubAck]]


class ImportRefused(ValueError):
    """The file or the checkpoint cannot be used as asked; nothing was published."""


@dataclass
class Source:
    total: int
    records: Iterator[Record]


def open_source(path: Path, fmt: str, platform: str, chat_override: str | None) -> Source:
    if fmt == "telegram-json":
        try:
            export = json_document(path.read_bytes())
            chat_id, title, messages = telegram_export_chat(export)
        except (ValueError, RecursionError, UnknownShape) as exc:
            raise ImportRefused(f"{path}: {exc}") from None
        chat = chat_override or chat_id

        def exported() -> Iterator[Record]:
            for message in messages:
                try:
                    yield telegram_export_message(message, chat, title)
                except BadRecord as exc:
                    yield exc

        return Source(len(messages), exported())
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            total = max(sum(1 for _ in csv.reader(handle)) - 1, 0)
            handle.seek(0)
            problem = csv_header_problem(next(csv.reader(handle), None))
        if problem:
            raise ImportRefused(f"{path}: {problem}")

        def rows() -> Iterator[Record]:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                for row in csv.DictReader(handle):
                    try:
                        messages = csv_message(row, platform)
                    except BadRecord as exc:
                        yield exc
                        continue
                    if chat_override is not None:
                        messages = [replace(m, chat_id=chat_override) for m in messages]
                    yield messages

        return Source(total, rows())
    raise ImportRefused(f"unknown format {fmt!r}")


async def run_import(
    path: Path,
    source: Source,
    room_id: str,
    publish: Publish,
    checkpoints: CheckpointFile,
    restart: bool = False,
    batch_size: int = 200,
    on_progress: Callable[[Checkpoint, int], None] = lambda _c, _t: None,
    on_bad: Callable[[int, str], None] = lambda _n, _r: None,
) -> Checkpoint:
    """Publish every record from the checkpoint on; returns the final checkpoint."""
    mark = fingerprint(path)
    checkpoint = None if restart else checkpoints.load()
    if checkpoint is not None and (checkpoint.fingerprint != mark or checkpoint.room_id != room_id):
        raise ImportRefused(
            f"{checkpoints.path} belongs to another file or room; use --restart to import anew"
        )
    checkpoint = checkpoint or Checkpoint(file=str(path), fingerprint=mark, room_id=room_id)
    if checkpoint.done:
        on_progress(checkpoint, source.total)
        return checkpoint
    pending: list[IntegrationEvent] = []
    position = 0
    for record in source.records:
        position += 1
        if position <= checkpoint.position:
            continue  # stored by an earlier run
        if isinstance(record, BadRecord):
            checkpoint.skipped += 1
            on_bad(position, str(record))
        else:
            pending.extend(ingest_event(m, room_id, "import") for m in record)
        if len(pending) >= batch_size:
            await _flush(pending, publish, checkpoint)
            checkpoint.position = position
            checkpoints.save(checkpoint)
            on_progress(checkpoint, source.total)
    await _flush(pending, publish, checkpoint)
    checkpoint.position = position
    checkpoint.done = True
    checkpoints.save(checkpoint)
    on_progress(checkpoint, source.total)
    return checkpoint


async def _flush(
    pending: list[IntegrationEvent],
    publish: Publish,
    checkpoint: Checkpoint,
) -> None:
    """Publish a batch concurrently and wait for every ack before the checkpoint moves."""
    acks = await asyncio.gather(*(publish(event) for event in pending))
    for ack in acks:
        if ack.duplicate:
            checkpoint.duplicates += 1
        else:
            checkpoint.published += 1
    pending.clear()
