"""ingest's record of the groups' media it fetched: per-room weight and jobs done."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.ingest.adapters.tables import GroupMediaRow
from shared.events import utcnow


@dataclass(frozen=True)
class Entry:
    bytes: int
    done: bool


class MediaLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect  # "on conflict" is spelled per database

    async def entry(self, key: str) -> Entry | None:
        async with self._sessions() as session:
            row = await session.get(GroupMediaRow, key)
        return Entry(row.bytes, row.done_at is not None) if row else None

    async def room_bytes(self, room_id: str) -> int:
        """What the room's group media weigh in ROOM_MEDIA, as counted here."""
        query = sa_select(func.coalesce(func.sum(col(GroupMediaRow.bytes)), 0)).where(
            col(GroupMediaRow.room_id) == room_id
        )
        async with self._sessions() as session:
            return int((await session.exec(query)).scalar_one())  # type: ignore[call-overload]

    async def stored(self, key: str, room_id: str, kind: str, size: int) -> None:
        """The media is in ROOM_MEDIA (counted once, whatever the tries)."""
        await self._upsert(key, room_id, kind, size, "", done=False)

    async def done(self, key: str, room_id: str, kind: str, size: int, reason: str = "") -> None:
        """ChatMediaFetched is published: a redelivery of the job does nothing."""
        await self._upsert(key, room_id, kind, size, reason, done=True)

    async def _upsert(
        self, key: str, room_id: str, kind: str, size: int, reason: str, done: bool
    ) -> None:
        values = {
            "key": key,
            "room_id": room_id,
            "kind": kind,
            "bytes": size,
            "reason": reason[:300],
            "done_at": utcnow() if done else None,
            "created_at": utcnow(),
        }
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(GroupMediaRow).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={name: statement.excluded[name] for name in ("bytes", "reason", "done_at")},
        )
        async with self._sessions() as session:
            await session.exec(statement)
            await session.commit()
