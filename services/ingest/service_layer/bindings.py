"""Attaching external chats to rooms; a new binding adopts what its chat said while unbound."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.ingest.adapters.bus import NatsUnavailable
from services.ingest.adapters.store import BindingStore, ParkedStore
from services.ingest.adapters.tables import BindingRow
from services.ingest.domain.model import Normalised, UnknownShape
from services.ingest.service_layer.intake import Intake, Malformed, parse

log = logging.getLogger("qunlive.ingest.bindings")


@dataclass(frozen=True)
class Bound:
    binding: BindingRow
    created: bool
    adopted: int  # parked items published for the room


class Bindings:
    def __init__(self, store: BindingStore, parked: ParkedStore, intake: Intake) -> None:
        self.store = store
        self.parked = parked
        self.intake = intake

    async def bind(self, platform: str, chat_id: str, room_id: str) -> Bound:
        row, created = await self.store.bind(platform, chat_id, room_id)
        return Bound(row, created, await self.adopt(platform, chat_id))

    async def adopt(self, platform: str, chat_id: str) -> int:
        """Publish the chat's parked items as the room's ingest events (history: not to the
        live room), then forget them. If NATS is away they stay parked for the next bind."""
        rows = await self.parked.of_chat(platform, chat_id)
        adopted: list[str] = []
        for row in rows:
            try:
                normalised = parse(row.source, row.raw)
            except (Malformed, UnknownShape):
                continue  # parked by older code that read it differently; keep it
            mine = tuple(i for i in normalised.items if i.key == row.key)
            if not mine:
                continue
            try:
                await self.intake.receive(row.source, row.raw, Normalised(mine), to_room=False)
            except NatsUnavailable:
                log.warning("NATS away: parked messages stay parked", extra={"chat": chat_id})
                break
            adopted.append(row.key)
        await self.parked.forget(adopted)
        return len(adopted)

    async def unbind(self, platform: str, chat_id: str) -> bool:
        return await self.store.unbind(platform, chat_id)
