"""Apply bus events to the customer database, idempotently (event id recorded once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.analytics.adapters.tables import ChatMessageRow, CustomerRow, ProcessedEvent
from services.analytics.domain.profiles import Profile
from shared.events import ChatMessagePosted, IntegrationEvent, ViewerJoined


def _utc(at: datetime) -> datetime:
    """SQLite hands datetimes back naive; every time here is UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Projection:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def apply(self, event: IntegrationEvent) -> bool:
        """Apply one event; False if it was already applied."""
        async with self._sessions() as session:
            session.add(
                ProcessedEvent(
                    event_id=event.id,
                    type=event.type,
                    room_id=event.room_id,
                    occurred_at=event.occurred_at,
                )
            )
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                return False
            await self._apply(session, event)
            await session.commit()
            return True

    async def _apply(self, session: AsyncSession, event: IntegrationEvent) -> None:
        if isinstance(event, ChatMessagePosted):
            session.add(
                ChatMessageRow(
                    message_id=event.message_id,
                    room_id=event.room_id,
                    customer_id=event.customer_id,
                    text=event.text,
                    source=event.source,
                    occurred_at=event.occurred_at,
                )
            )
            if event.customer_id:
                await self._update(
                    session,
                    event.customer_id,
                    event.occurred_at,
                    lambda p: p.posted(event.occurred_at, event.display_name),
                )
        elif isinstance(event, ViewerJoined) and event.customer_id:
            await self._update(
                session,
                event.customer_id,
                event.occurred_at,
                lambda p: p.joined(event.occurred_at, event.display_name),
            )

    async def _update(
        self,
        session: AsyncSession,
        customer_id: str,
        at: datetime,
        change: Callable[[Profile], None],
    ) -> None:
        row = await session.get(CustomerRow, customer_id, with_for_update=True)
        if row is None:
            row = CustomerRow(customer_id=customer_id, first_seen=at, last_seen=at)
        profile = Profile(
            customer_id=customer_id,
            display_name=row.display_name,
            first_seen=_utc(row.first_seen),
            last_seen=_utc(row.last_seen),
            messages=row.messages,
            rooms_joined=row.rooms_joined,
        )
        change(profile)
        row.display_name = profile.display_name
        row.first_seen, row.last_seen = profile.first_seen, profile.last_seen
        row.messages, row.rooms_joined = profile.messages, profile.rooms_joined
        session.add(row)

    async def customer(self, customer_id: str) -> CustomerRow | None:
        async with self._sessions() as session:
            return await session.get(CustomerRow, customer_id)
