"""Replay: read the kept webhook bodies again with the current code (the bodies the ingest
events carry, and the archive of those that gave no event).

After a normalisation bug is fixed, what was refused (422) or skipped comes in;
what was already stored is dropped by its Nats-Msg-Id (the same platform key),
so a replay never doubles an event. Replayed lines become ingest events only:
old lines are not shown in the live room, and so never place claims.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from services.ingest.adapters.bus import Bus
from services.ingest.domain.model import UnknownShape
from services.ingest.service_layer.intake import NORMALISERS, Intake, Malformed, parse


@dataclass
class ReplayReport:
    payloads: int = 0
    published: int = 0
    duplicates: int = 0
    parked: int = 0
    ignored: int = 0
    failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)


async def replay(
    bus: Bus, intake: Intake, since: datetime, source: str | None = None, limit: int = 100_000
) -> ReplayReport:
    report = ReplayReport()
    async for archived in bus.archived(since, source, limit):
        report.payloads += 1
        if archived.source not in NORMALISERS:
            report.failed += 1
            report.failures[f"unknown source {archived.source!r}"] += 1
            continue
        try:
            normalised = parse(archived.source, archived.raw)
        except (Malformed, UnknownShape) as exc:
            report.failed += 1
            report.failures[str(exc)[:200]] += 1
            continue
        receipt = await intake.receive(
            archived.source, archived.raw, normalised, via="replay", to_room=False
        )
        report.published += receipt.accepted
        report.duplicates += receipt.duplicates
        report.parked += receipt.parked
        report.ignored += len(receipt.ignored)
    return report
