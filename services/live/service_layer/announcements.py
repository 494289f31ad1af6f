"""Scheduled announcements: tomorrow's preview at 20:00, the hot item every hour.

Every live instance runs the scheduler; each occurrence has a fixed event id
(`<announcement>-<slot>`), so JetStream's dedupe keeps exactly one when several
instances post it. An occurrence more than a minute late (the platform was
down) is skipped rather than posted stale.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.live.adapters.tables import AnnouncementRow
from shared.background import ItemFailures, Periodic
from shared.events import AnnouncementPosted, new_id, utcnow
from shared.messaging import EventPublisher, is_transient_nats_error, item_dead_letter

log = logging.getLogger("qunlive.live.announcements")
LATE_LIMIT_S = 60.0


def due_slot(at: datetime, every_s: int | None, now: datetime) -> int | None:
    """The occurrence due now (0, 1, 2...), or None if none is due or it is too late."""
    elapsed = (now - at).total_seconds()
    if elapsed < 0:
        return None
    slot = int(elapsed // every_s) if every_s else 0
    slot_time = slot * (every_s or 0)
    return slot if elapsed - slot_time <= LATE_LIMIT_S else None


class Announcements:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], publisher: Callable[[], EventPublisher]
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._posted: dict[str, int] = {}
        self._job = Periodic("announcements", self.tick, every_s=1.0)
        # One announcement that cannot be posted (a row no event can carry) fails alone:
        # the other rooms' announcements still go out (decision 0015).
        self._failures = ItemFailures("announcements", transient=is_transient_nats_error)

    async def schedule(
        self, room_id: str, text: str, at: datetime | None, every_s: int | None
    ) -> str:
        row = AnnouncementRow(
            id=f"a_{new_id()[:12]}", room_id=room_id, text=text, at=at or utcnow(), every_s=every_s
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
        await self.tick()
        return row.id

    async def tick(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        posted = 0
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(AnnouncementRow).where(col(AnnouncementRow.active).is_(True))
                )
            ).all()
            for row in rows:
                at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
                slot = due_slot(at, row.every_s, now)
                if slot is None or self._posted.get(row.id) == slot:
                    continue
                if not await self._failures.attempt(
                    row.id,
                    self._poster(row, slot),
                    item_dead_letter(
                        self._publisher, service="live", job="announcements", item=row.id
                    ),
                ):
                    continue
                self._posted[row.id] = slot
                posted += 1
                if not row.every_s:
                    row.active = False
                    session.add(row)
            await session.commit()
        return posted

    def _poster(self, row: AnnouncementRow, slot: int) -> Callable[[], Awaitable[object]]:
        async def post() -> None:
            event = AnnouncementPosted(
                id=f"{row.id}-{slot}", room_id=row.room_id, announcement_id=row.id, text=row.text
            )
            await self._publisher().publish(event)

        return post

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
