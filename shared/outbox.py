"""Transactional outbox: state changes and the events they cause commit together.

A service adds events to its outbox inside the same database transaction as
the change; a relay publishes them after commit (Nats-Msg-Id = event id, so a
re-publish after a crash is dropped by JetStream) and marks them sent.

A row NATS refuses (a subject that is not one, a payload over the limit) fails alone:
the rows after it go out, it is tried again a few times, then it goes to dead letters
(its payload and subject, untouched) and is marked sent. NATS being away is no row's
fault: nothing is marked, the next pass publishes them all again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.background import ItemFailures, Periodic
from shared.events import IntegrationEvent, utcnow
from shared.messaging import EventPublisher, is_transient_nats_error
from shared.subjects import event_subject

log = logging.getLogger("qunlive.outbox")


def outbox_table(base: type[SQLModel], table_name: str) -> Any:
    """Declare the outbox table on a service's own metadata."""

    class OutboxRow(base, table=True):  # type: ignore[misc, valid-type, call-arg]
        __tablename__ = table_name
        seq: int | None = Field(default=None, primary_key=True)
        event_id: str = Field(index=True, unique=True)
        subject: str
        payload: str
        created_at: datetime = Field(default_factory=utcnow)
        sent_at: datetime | None = Field(default=None, index=True)

    return OutboxRow


class Outbox:
    def __init__(
        self, row_cls: Any, sessions: async_sessionmaker[AsyncSession], service: str = ""
    ) -> None:
        self._row = row_cls
        self._sessions = sessions
        self._relay = Periodic("outbox-relay", self._relay_all, every_s=1.0)
        self._failures = ItemFailures("outbox-relay", transient=is_transient_nats_error)
        # The dead letters' service: the table's prefix (orders_outbox -> orders) by default.
        self._service = service or str(row_cls.__tablename__).split("_", 1)[0]
        # One relay pass at a time in this process: flush() and the periodic relay must not
        # publish the same rows twice (core subscribers would see both copies).
        self._lock = asyncio.Lock()
        self.publisher: EventPublisher | None = None

    def add(self, session: AsyncSession, event: IntegrationEvent) -> None:
        """Stage an event in the caller's transaction; call notify() after commit."""
        session.add(
            self._row(
                event_id=event.id, subject=event_subject(event), payload=event.model_dump_json()
            )
        )

    async def insert(self, conn: AsyncConnection, events: Sequence[IntegrationEvent]) -> None:
        """Stage many events with one INSERT in the caller's transaction (a hot path's bulk
        write; no ORM object per event); call notify() after commit."""
        if events:
            now = utcnow()
            rows = [
                {
                    "event_id": e.id,
                    "subject": event_subject(e),
                    "payload": e.model_dump_json(),
                    "created_at": now,
                }
                for e in events
            ]
            await conn.execute(sa.insert(self._row), rows)

    def notify(self) -> None:
        self._relay.wake()

    async def flush(self, events: Sequence[IntegrationEvent]) -> None:
        """Publish what is staged, up to and including `events`, now; return once JetStream
        stored it. For a decision that must be in force when its caller hears "done" (a mute,
        a deletion): every instance and the durable streams have it. Earlier rows go first,
        so the order stays the outbox's. A failure is logged and left to the relay (the rows
        stay unsent); the caller's change is committed either way."""
        if not events:
            return
        if self.publisher is None:
            self.notify()
            return
        table = self._row.__table__
        try:
            async with self._lock:
                async with self._sessions() as session:
                    conn = await session.connection()
                    through = (
                        await conn.execute(
                            sa.select(sa.func.max(table.c.seq)).where(
                                table.c.event_id.in_([e.id for e in events])
                            )
                        )
                    ).scalar()
                if through is None:
                    return
                while await self._relay_locked(200, through=through):
                    pass
        except Exception:
            log.warning("outbox flush failed; the relay will retry", exc_info=True)
            self.notify()

    async def relay_once(self, batch: int = 200) -> int:
        """Publish a batch of unsent rows; how many left the outbox (sent or dead-lettered)."""
        async with self._lock:
            return await self._relay_locked(batch)

    async def _relay_locked(self, batch: int, through: int | None = None) -> int:
        if self.publisher is None:
            return 0
        publisher, table = self.publisher, self._row.__table__
        pending = table.c.sent_at.is_(None)
        if through is not None:
            pending = sa.and_(pending, table.c.seq <= through)
        resting = self._failures.skipped()
        async with self._sessions() as session:
            conn = await session.connection()
            query = sa.select(table.c.seq, table.c.event_id, table.c.subject, table.c.payload)
            if resting:  # a row that failed waits out its backoff; the others go on
                query = query.where(table.c.event_id.not_in(resting))
            rows = (
                await conn.execute(
                    query.where(pending)
                    .order_by(table.c.seq)
                    .limit(batch)
                    # Replicas relay different rows instead of queueing on the same ones
                    # (PostgreSQL; SQLite has one writer anyway and ignores it). A flush
                    # waits for rows another replica is publishing instead: once that
                    # replica commits they are sent, and the flush's caller may answer.
                    .with_for_update(skip_locked=through is None)
                )
            ).all()
            if not rows:
                return 0
            # The batch goes out at once, in outbox order (one socket write, acks awaited
            # together), not one write and one ack wait per event: the relay was an eighth of
            # a flash sale's CPU. What failed is not marked sent and the next pass publishes
            # it again; JetStream drops the duplicates (Nats-Msg-Id).
            outcomes = await asyncio.gather(
                *(publisher.publish_raw(r.subject, r.payload.encode(), r.event_id) for r in rows),
                return_exceptions=True,
            )
            done = []
            for row, outcome in zip(rows, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    self._failures.succeeded(row.event_id)
                    done.append(row.seq)
                elif isinstance(outcome, Exception) and await self._failures.failed(
                    row.event_id, outcome, self._dead_letter(publisher, row)
                ):
                    done.append(row.seq)  # kept in dead letters: it leaves the outbox
                elif not isinstance(outcome, Exception):
                    raise outcome  # a cancel
            if done:
                await conn.execute(
                    sa.update(table).where(table.c.seq.in_(done)).values(sent_at=utcnow())
                )
            await session.commit()
        return len(done)

    def _dead_letter(self, publisher: EventPublisher, row: Any) -> Any:
        async def keep(reason: str) -> None:
            await publisher.dead_letter(
                service=self._service,
                original_subject=row.subject,
                data=row.payload.encode(),
                reason=reason,
                msg_id=f"{self._service}:outbox:{row.event_id}",
            )

        return keep

    async def _relay_all(self) -> None:
        while await self.relay_once():
            pass

    async def start(self, publisher: EventPublisher) -> None:
        self.publisher = publisher
        self._relay.start()

    async def stop(self) -> None:
        if self.publisher is not None:
            await self._relay.stop()
            try:
                await self.relay_once()  # flush what committed just before stop
            except Exception:
                log.warning("outbox flush at stop failed; rows stay for next start")
