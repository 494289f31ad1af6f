"""ingest's ledger of messages to the groups (`ingest_outbound`), and what the sender reads
besides: the binding (and its pause), the state of an order told of in a group.

One row per SendToGroup.key, claimed with an insert that does nothing when the row is
there (atomic on SQLite and PostgreSQL, whatever the replicas): a redelivered or
republished job finds the row and posts nothing new once it is `sent`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.ingest.adapters.tables import BindingRow, GroupOrderRow, OutboundRow
from shared.events import utcnow
from shared.events.commands import SendToGroup

SENDING, SENT, FAILED, SKIPPED = "sending", "sent", "failed", "skipped"
REASON_MAX = 500


@dataclass(frozen=True)
class Entry:
    """Where one message stands."""

    key: str
    state: str  # sending, sent, failed, skipped
    attempts: int  # requests made to the platform so far
    platform_message_id: str | None
    reason: str

    @classmethod
    def of(cls, row: OutboundRow) -> Entry:
        return cls(row.key, row.state, row.attempts, row.platform_message_id, row.reason)


@dataclass(frozen=True)
class Counts:
    sent: int = 0
    failed: int = 0


class OutboundStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect  # "on conflict do nothing" is spelled per database

    # ---- the ledger ------------------------------------------------------------------

    async def claim(self, message: SendToGroup) -> Entry:
        """The message's row: a new one (`sending`, no attempt yet), or the one there."""
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = (
            insert(OutboundRow)
            .values(
                key=message.key,
                room_id=message.room_id,
                platform=message.platform,
                chat_id=message.chat_id,
                kind=message.kind,
                source_event_id=message.source_event_id,
                order_id=message.order_id,
                state=SENDING,
                attempts=0,
                reason="",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        async with self._sessions() as session:
            await session.exec(statement)
            row = await session.get(OutboundRow, message.key)
            await session.commit()
        assert row is not None  # inserted, or there already
        return Entry.of(row)

    async def entry(self, key: str) -> Entry | None:
        async with self._sessions() as session:
            row = await session.get(OutboundRow, key)
        return Entry.of(row) if row else None

    async def attempt(self, key: str) -> int:
        """A request is about to go to the platform: count it; the tries so far."""
        statement = (
            update(OutboundRow)
            .where(col(OutboundRow.key) == key)
            .values(attempts=col(OutboundRow.attempts) + 1)
        )
        async with self._sessions() as session:
            await session.exec(statement)
            await session.commit()
            row = await session.get(OutboundRow, key)
        return row.attempts if row else 0

    async def sent(self, key: str, platform_message_id: str) -> None:
        statement = (
            update(OutboundRow)
            .where(col(OutboundRow.key) == key)
            .values(
                state=SENT, platform_message_id=platform_message_id, sent_at=utcnow(), reason=""
            )
        )
        await self._run(statement)

    async def failed(self, key: str, reason: str) -> None:
        await self._end(key, FAILED, reason)

    async def skipped(self, key: str, reason: str) -> None:
        await self._end(key, SKIPPED, reason)

    async def _end(self, key: str, state: str, reason: str) -> None:
        # A row that says `sent` stays so: the message is in the group.
        statement = (
            update(OutboundRow)
            .where(col(OutboundRow.key) == key, col(OutboundRow.state) != SENT)
            .values(state=state, reason=reason[:REASON_MAX])
        )
        await self._run(statement)

    async def counts(self, bindings: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Counts]:
        """Messages sent and failed per binding (platform, chat id): the console's figures."""
        wanted = set(bindings)
        if not wanted:
            return {}
        chats = {chat for _, chat in wanted}
        query = (
            sa_select(
                col(OutboundRow.platform),
                col(OutboundRow.chat_id),
                col(OutboundRow.state),
                func.count(),
            )
            .where(col(OutboundRow.chat_id).in_(chats), col(OutboundRow.state).in_((SENT, FAILED)))
            .group_by(col(OutboundRow.platform), col(OutboundRow.chat_id), col(OutboundRow.state))
        )
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()  # type: ignore[call-overload]
        found: dict[tuple[str, str], dict[str, int]] = {ref: {} for ref in wanted}
        for platform, chat_id, state, count in rows:
            if (platform, chat_id) in found:
                found[(platform, chat_id)][state] = int(count)
        return {
            ref: Counts(sent=by.get(SENT, 0), failed=by.get(FAILED, 0)) for ref, by in found.items()
        }

    async def recent(self, platform: str, chat_id: str, limit: int = 20) -> list[OutboundRow]:
        """A binding's latest messages, newest first (the console's list)."""
        query = (
            select(OutboundRow)
            .where(OutboundRow.platform == platform, OutboundRow.chat_id == chat_id)
            .order_by(col(OutboundRow.created_at).desc(), col(OutboundRow.key))
            .limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    # ---- bindings and orders -----------------------------------------------------------

    async def binding(self, platform: str, chat_id: str) -> BindingRow | None:
        async with self._sessions() as session:
            return await session.get(BindingRow, (platform, chat_id))

    async def pause(self, platform: str, chat_id: str, code: str, reason: str) -> bool:
        """The group refuses the bot: nothing more goes to it until the host resumes the
        binding. False when there is no binding (unbound meanwhile)."""
        statement = (
            update(BindingRow)
            .where(col(BindingRow.platform) == platform, col(BindingRow.chat_id) == chat_id)
            .values(paused_code=code, paused_reason=reason[:REASON_MAX], paused_at=utcnow())
        )
        return await self._run(statement) > 0

    async def order_state(self, order_id: str) -> str | None:
        """held, paid, expired, cancelled; None for an order not placed from a group."""
        async with self._sessions() as session:
            row = await session.get(GroupOrderRow, order_id)
        return row.state if row else None

    async def _run(self, statement: object) -> int:
        async with self._sessions() as session:
            result = await session.exec(statement)  # type: ignore[call-overload]
            await session.commit()
        return int(result.rowcount or 0)
