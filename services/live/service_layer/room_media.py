"""What a room keeps in ROOM_MEDIA: its usage against the room's limit, and what goes when a
line goes.

Every stored object a line shows has a row (room, line, name, bytes): a post reserves its
rows before its objects are stored, so the limit holds however many posts race; a group's
picture or voice note gets its rows when ingest says it was fetched (`chat.media_fetched`).
A deleted line's rows go, and with them each object no other line of the room still shows
(the same picture posted twice is one object); the line leaves a mark, so media fetched
for it later is deleted on arrival. All take the room's lock first, so a post that reuses
an object and a deletion that removes it cannot cross: either the deletion sees the post's
row and keeps the object, or the post stores it again after the deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.live.adapters.tables import RoomMediaRow, RoomRow
from services.live.domain.posts import stored_names
from shared.events import ChatMediaFetched, utcnow
from shared.events.media import VoiceAttachment
from shared.objects import Objects

log = logging.getLogger("qunlive.live.media")

# What a room's history shows: each line's stored objects (deleted lines too), and the
# ids of the lines still standing. Lines from the groups are known only there.
LinesMedia = tuple[dict[str, set[str]], set[str]]
HistoryMedia = Callable[[str], Awaitable[LinesMedia]]

MEDIA = RoomMediaRow.__table__
ROOMS = RoomRow.__table__
# The mark a deleted line leaves (no object, no bytes): media fetched for it later goes.
DELETED = "deleted"


class RoomMediaFull(Exception):
    def __init__(self, used: int, adding: int, limit: int) -> None:
        super().__init__(
            f"this room stores {used} bytes of pictures and voice; {adding} more would pass "
            f"its limit of {limit}: delete old posts first"
        )


@dataclass(frozen=True)
class Item:
    name: str  # <sha256>.<ext>
    bytes: int
    kind: str


async def _no_history(room_id: str) -> LinesMedia:
    return {}, set()


async def _lock_room(session: AsyncSession, room_id: str) -> bool:
    """The room's lock, as the transaction's first statement (a row lock on PostgreSQL,
    the write lock on SQLite); False when there is no such room."""
    conn = await session.connection()
    taken = await conn.execute(sa.update(ROOMS).where(ROOMS.c.id == room_id).values(id=ROOMS.c.id))
    return bool(taken.rowcount)


class RoomMedia:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        objects: Callable[[], Objects],
        limit_bytes: int,
        history: HistoryMedia = _no_history,
    ) -> None:
        self._sessions = sessions
        self._objects = objects
        self.limit_bytes = limit_bytes
        self._history = history

    async def usage(self, room_id: str) -> int:
        """Bytes the room stores, each object once."""
        async with self._sessions() as session:
            conn = await session.connection()
            return await _usage(conn, room_id)

    async def reserve(self, room_id: str, message_id: str, items: Sequence[Item]) -> None:
        """Count `items` (shown by line `message_id`) against the room's limit, or refuse
        with RoomMediaFull. An object the room already stores adds nothing."""
        wanted = {item.name: item for item in items}
        async with self._sessions() as session:
            if not await _lock_room(session, room_id):
                raise LookupError(room_id)
            conn = await session.connection()
            present = set(
                (
                    await conn.execute(
                        sa.select(MEDIA.c.name)
                        .distinct()
                        .where(MEDIA.c.room_id == room_id, MEDIA.c.name.in_(list(wanted)))
                    )
                ).scalars()
            )
            adding = sum(item.bytes for name, item in wanted.items() if name not in present)
            used = await _usage(conn, room_id)
            if adding and used + adding > self.limit_bytes:
                await session.rollback()
                raise RoomMediaFull(used, adding, self.limit_bytes)
            for item in wanted.values():
                session.add(
                    RoomMediaRow(
                        room_id=room_id,
                        message_id=message_id,
                        name=item.name,
                        bytes=item.bytes,
                        kind=item.kind,
                    )
                )
            await session.commit()

    async def release(
        self, room_id: str, message_ids: Collection[str], *, read_history: bool = True
    ) -> set[str]:
        """Lines `message_ids` are gone (deleted, or their post failed): their rows go, and
        every object they showed that no other line of the room still shows is deleted.
        The names deleted."""
        gone = set(message_ids)
        if not gone:
            return set()
        shown: set[str] = set()
        from_history: set[str] = set()
        if read_history:
            try:
                per_line, standing = await self._history(room_id)
            except Exception:
                where = {"room_id": room_id}
                log.warning("history unreadable: deleted group media may stay", extra=where)
                per_line, standing = {}, set()
            for message_id, names in per_line.items():
                if message_id in gone:
                    from_history |= names
                elif message_id in standing:
                    shown |= names
        async with self._sessions() as session:
            await _lock_room(session, room_id)
            conn = await session.connection()
            mine = MEDIA.c.message_id.in_(list(gone))
            rows = set(
                (
                    await conn.execute(
                        sa.select(MEDIA.c.name).where(MEDIA.c.room_id == room_id, mine)
                    )
                ).scalars()
            )
            await conn.execute(sa.delete(MEDIA).where(MEDIA.c.room_id == room_id, mine))
            if read_history:  # a moderator's deletion, not a failed post: mark the lines
                await conn.execute(
                    sa.insert(MEDIA),
                    [_mark(room_id, message_id) for message_id in sorted(gone)],
                )
            rows.discard("")
            candidates = rows | from_history
            still = set(
                (
                    await conn.execute(
                        sa.select(MEDIA.c.name).where(
                            MEDIA.c.room_id == room_id, MEDIA.c.name.in_(list(candidates))
                        )
                    )
                ).scalars()
            )
            doomed = candidates - still - shown
            # Deleted under the room's lock: a post reusing one of them waits, then stores it.
            objects = self._objects()
            for name in sorted(doomed):
                try:
                    await objects.delete(f"{room_id}/{name}")
                except Exception:
                    where = {"room_id": room_id, "object": name}
                    log.warning("could not delete a stored object", extra=where, exc_info=True)
            await session.commit()
        return doomed

    async def record_fetched(self, event: ChatMediaFetched) -> None:
        """A group's picture or voice note was stored for line `message_id`: count it in the
        room, or, if the line was deleted meanwhile, delete it (unless another line shows
        it). Idempotent: a redelivered event changes nothing."""
        attachment = event.attachment
        names = stored_names(attachment)
        if attachment is None or not names:
            return
        room_id, message_id = event.room_id, event.message_id
        objects = self._objects()
        sizes: dict[str, int] = {}
        if isinstance(attachment, VoiceAttachment):
            sizes[attachment.object] = attachment.bytes
        else:
            for name in names:
                head = await objects.head(f"{room_id}/{name}")
                if head is not None:
                    sizes[name] = head.size
        kind = f"group_{attachment.kind}"
        async with self._sessions() as session:
            if not await _lock_room(session, room_id):
                return  # a chat bound to a room live does not know
            conn = await session.connection()
            line = MEDIA.c.room_id == room_id, MEDIA.c.message_id == message_id
            known = {
                name: row_kind
                for name, row_kind in await conn.execute(
                    sa.select(MEDIA.c.name, MEDIA.c.kind).where(*line)
                )
            }
            if DELETED in known.values():
                still = set(
                    (
                        await conn.execute(
                            sa.select(MEDIA.c.name).where(
                                MEDIA.c.room_id == room_id, MEDIA.c.name.in_(list(names))
                            )
                        )
                    ).scalars()
                )
                for name in sorted(names - still):
                    await objects.delete(f"{room_id}/{name}")
            else:
                new = [
                    {
                        "room_id": room_id,
                        "message_id": message_id,
                        "name": name,
                        "bytes": size,
                        "kind": kind,
                        "created_at": utcnow(),
                    }
                    for name, size in sorted(sizes.items())
                    if name not in known
                ]
                if new:
                    await conn.execute(sa.insert(MEDIA), new)
            await session.commit()


def _mark(room_id: str, message_id: str) -> dict[str, object]:
    return {
        "room_id": room_id,
        "message_id": message_id,
        "name": "",
        "bytes": 0,
        "kind": DELETED,
        "created_at": utcnow(),
    }


async def _usage(conn: AsyncConnection, room_id: str) -> int:
    objects = (
        sa.select(MEDIA.c.name, sa.func.max(MEDIA.c.bytes).label("bytes"))
        .where(MEDIA.c.room_id == room_id)
        .group_by(MEDIA.c.name)
        .subquery()
    )
    total = (
        await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(objects.c.bytes), 0)))
    ).scalar()
    return int(total or 0)
