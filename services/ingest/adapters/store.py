"""ingest's database: bindings (cached for the hot path) and parked messages of unbound chats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select  # sqlmodel's select takes at most 4 columns
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.ingest.adapters.tables import BindingRow, ParkedRow
from services.ingest.domain.fields import clip
from services.ingest.domain.model import ChatMessage, Item, MemberChange, Reaction

ChatRef = tuple[str, str]  # (platform, chat id)


class BindingStore:
    """Bindings, read on every webhook: cached `ttl_s` (dropped here at once on a change).

    One database read per chat per `ttl_s`, however many webhooks arrive meanwhile:
    concurrent lookups of an expired entry wait for the same read.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float) -> None:
        self._sessions = sessions
        self._ttl = ttl_s
        self._cache: dict[ChatRef, tuple[str | None, float]] = {}
        self._loading: dict[ChatRef, asyncio.Future[str | None]] = {}
        # A room's bindings with their outbound settings, for the planner (every message
        # out reads them): the same `ttl_s`, dropped here at once on any binding change.
        self._rooms: dict[str, tuple[list[BindingRow], float]] = {}

    async def rooms_for(self, chats: Iterable[ChatRef]) -> dict[ChatRef, str | None]:
        now = time.monotonic()
        found: dict[ChatRef, str | None] = {}
        for chat in set(chats):
            cached = self._cache.get(chat)
            found[chat] = cached[0] if cached and cached[1] > now else await self._load(chat)
        return found

    async def _load(self, chat: ChatRef) -> str | None:
        pending = self._loading.get(chat)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._loading[chat] = future
        try:
            async with self._sessions() as session:
                row = await session.get(BindingRow, chat)
            room = row.room_id if row else None
            self._cache[chat] = (room, time.monotonic() + self._ttl)
            future.set_result(room)
            return room
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            del self._loading[chat]

    async def bind(self, platform: str, chat_id: str, room_id: str) -> tuple[BindingRow, bool]:
        """Attach (or move) a chat to a room; True when the binding is new."""
        try:
            return await self._bind(platform, chat_id, room_id)
        except IntegrityError:  # another request created it meanwhile: now it is a move
            return await self._bind(platform, chat_id, room_id)

    async def _bind(self, platform: str, chat_id: str, room_id: str) -> tuple[BindingRow, bool]:
        async with self._sessions() as session:
            row = await session.get(BindingRow, (platform, chat_id), with_for_update=True)
            created = row is None
            if row is None:
                row = BindingRow(platform=platform, chat_id=chat_id, room_id=room_id)
            row.room_id = room_id
            session.add(row)
            await session.commit()
            await session.refresh(row)
        self._changed(platform, chat_id)
        return row, created

    async def unbind(self, platform: str, chat_id: str) -> bool:
        async with self._sessions() as session:
            row = await session.get(BindingRow, (platform, chat_id))
            if row is None:
                return False
            await session.delete(row)
            await session.commit()
        self._changed(platform, chat_id)
        return True

    def _changed(self, platform: str, chat_id: str) -> None:
        self._cache.pop((platform, chat_id), None)
        self._rooms.clear()  # a chat moved between rooms changes two of them: drop all

    async def of_room(self, room_id: str) -> list[BindingRow]:
        """The room's bindings (cached `ttl_s`: the claim -> reply path reads them)."""
        cached = self._rooms.get(room_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        rows = await self.list(room_id)
        self._rooms[room_id] = (rows, time.monotonic() + self._ttl)
        return rows

    async def get(self, platform: str, chat_id: str) -> BindingRow | None:
        async with self._sessions() as session:
            return await session.get(BindingRow, (platform, chat_id))

    async def set_outbound(
        self, platform: str, chat_id: str, outbound: dict[str, Any]
    ) -> BindingRow | None:
        """Store what the show says in this group (None when the chat is not bound)."""
        return await self._update(platform, chat_id, outbound=outbound)

    async def resume(self, platform: str, chat_id: str) -> BindingRow | None:
        """Send to the group again after a permanent failure paused it."""
        return await self._update(
            platform, chat_id, paused_code=None, paused_reason=None, paused_at=None
        )

    async def _update(self, platform: str, chat_id: str, **values: Any) -> BindingRow | None:
        async with self._sessions() as session:
            row = await session.get(BindingRow, (platform, chat_id), with_for_update=True)
            if row is None:
                return None
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)
            await session.commit()
            await session.refresh(row)
        self._changed(platform, chat_id)
        return row

    async def list(self, room_id: str | None = None) -> list[BindingRow]:
        query = select(BindingRow).order_by(col(BindingRow.platform), col(BindingRow.chat_id))
        if room_id is not None:
            query = query.where(BindingRow.room_id == room_id)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())


@dataclass(frozen=True)
class UnboundChat:
    platform: str
    chat_id: str
    chat_title: str | None
    parked: int
    first_at: datetime
    last_at: datetime


def _kind(item: Item) -> str:
    match item:
        case ChatMessage():
            return "message"
        case MemberChange():
            return "member_joined" if item.joined else "member_left"
        case Reaction():
            return "reaction"


class ParkedStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect  # "on conflict do nothing" is spelled per database

    async def park(self, source: str, raw: bytes, items: list[Item]) -> int:
        """Keep the items (with the raw body they came in); a re-delivery adds nothing."""
        rows = [
            {
                "key": item.key,
                "source": source,
                "platform": item.platform,
                "chat_id": item.chat_id,
                "chat_title": item.chat_title,
                "kind": _kind(item),
                "user_id": item.user_id,
                "user_name": item.user_name,
                "text": clip(item.text, 500) if isinstance(item, ChatMessage) else None,
                "occurred_at": item.at,
                "raw": raw,
            }
            for item in items
        ]
        if not rows:
            return 0
        async with self._sessions() as session:
            insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            statement = (
                insert(ParkedRow).values(rows).on_conflict_do_nothing(index_elements=["key"])
            )
            result = await session.exec(statement)
            await session.commit()
        return int(result.rowcount or 0)

    async def unbound_chats(self) -> list[UnboundChat]:
        query = (
            sa_select(
                col(ParkedRow.platform),
                col(ParkedRow.chat_id),
                func.max(col(ParkedRow.chat_title)),
                func.count(),
                func.min(col(ParkedRow.occurred_at)),
                func.max(col(ParkedRow.occurred_at)),
            )
            .group_by(col(ParkedRow.platform), col(ParkedRow.chat_id))
            .order_by(func.max(ParkedRow.occurred_at).desc())
        )
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()  # type: ignore[call-overload]
        return [UnboundChat(*row) for row in rows]

    async def recent(self, platform: str, chat_id: str, limit: int) -> list[ParkedRow]:
        query = (
            select(ParkedRow)
            .where(ParkedRow.platform == platform, ParkedRow.chat_id == chat_id)
            .order_by(col(ParkedRow.occurred_at).desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def of_chat(self, platform: str, chat_id: str) -> list[ParkedRow]:
        query = (
            select(ParkedRow)
            .where(ParkedRow.platform == platform, ParkedRow.chat_id == chat_id)
            .order_by(col(ParkedRow.occurred_at))
        )
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def forget(self, keys: list[str]) -> None:
        if not keys:
            return
        async with self._sessions() as session:
            await session.exec(delete(ParkedRow).where(col(ParkedRow.key).in_(keys)))
            await session.commit()

    async def prune(self, older_than: datetime) -> int:
        async with self._sessions() as session:
            result = await session.exec(
                delete(ParkedRow).where(col(ParkedRow.received_at) < older_than)
            )
            await session.commit()
        return int(result.rowcount or 0)
