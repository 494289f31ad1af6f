"""Room interactions that need one authority: red packets, polls, check-ins, moderation.

The authority is live's database: every live instance writes through it, so a
red packet is split once and grabbed correctly whichever instance a viewer is on.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.live.adapters.tables import (
    CheckinRow,
    MemberRow,
    PollRow,
    RedPacketRow,
    RedPacketShareRow,
    VoteRow,
)
from services.live.domain.checkin import CheckinState, check_in
from services.live.domain.polls import Poll
from services.live.domain.red_packets import luckiest, split_red_packet
from shared.events import (
    ChatMessageDeleted,
    CheckedIn,
    IntegrationEvent,
    ModerationApplied,
    PollClosed,
    PollOpened,
    RedPacketFinished,
    RedPacketGrabbed,
    RedPacketSent,
    VoteCast,
    new_id,
    utcnow,
)
from shared.outbox import Outbox

log = logging.getLogger("qunlive.live.interactions")


@dataclass(frozen=True)
class Outcome:
    """What the viewer is told: ok with data, or a refusal code and message."""

    ok: bool
    code: str
    message: str
    data: dict[str, object]


async def _no_lines(room_id: str, customer_id: str) -> list[str]:
    return []


def _ok(code: str, message: str, **data: object) -> Outcome:
    return Outcome(True, code, message, data)


def _no(code: str, message: str) -> Outcome:
    return Outcome(False, code, message, {})


class Interactions:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        rng: random.Random | None = None,
        *,
        applied: Callable[[list[IntegrationEvent]], None] = lambda events: None,
        lines_by: Callable[[str, str], Awaitable[list[str]]] | None = None,
        deleted: Callable[[str, list[str]], Awaitable[object]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._rng = rng or random.SystemRandom()
        self._applied = applied
        self._lines_by = lines_by or _no_lines
        # Lines deleted for everyone: what they showed goes too (stored pictures, voice).
        self._deleted = deleted

    # ---- red packets -------------------------------------------------------------------

    async def send_red_packet(
        self, room_id: str, by: str, total_cents: int, shares: int, message: str
    ) -> str:
        amounts = split_red_packet(total_cents, shares, self._rng)
        packet_id = f"rp_{new_id()[:12]}"
        async with self._sessions() as session:
            session.add(
                RedPacketRow(
                    id=packet_id,
                    room_id=room_id,
                    total_cents=total_cents,
                    shares=shares,
                    remaining=shares,
                    message=message,
                    sent_by=by,
                )
            )
            for index, amount in enumerate(amounts):
                session.add(
                    RedPacketShareRow(
                        packet_id=packet_id, index=index, room_id=room_id, amount_cents=amount
                    )
                )
            self._outbox.add(
                session,
                RedPacketSent(
                    room_id=room_id,
                    customer_id=by,
                    packet_id=packet_id,
                    total_cents=total_cents,
                    shares=shares,
                    message=message,
                ),
            )
            await session.commit()
        self._outbox.notify()
        return packet_id

    async def grab(self, room_id: str, packet_id: str, customer_id: str) -> Outcome:
        async with self._sessions() as session:
            # First statement takes the packet's lock (row lock; SQLite's write lock).
            taken = await session.exec(
                update(RedPacketRow)
                .where(
                    col(RedPacketRow.id) == packet_id,
                    col(RedPacketRow.room_id) == room_id,
                    col(RedPacketRow.remaining) > 0,
                )
                .values(remaining=RedPacketRow.remaining - 1)
                .returning(col(RedPacketRow.remaining), col(RedPacketRow.shares))
            )
            row = taken.first()
            if row is None:
                await session.rollback()
                exists = await session.get(RedPacketRow, packet_id)
                if exists is None or exists.room_id != room_id:
                    return _no("not_found", "No such red packet.")
                return _no("red_packet_empty", "Too late: every share was grabbed.")
            remaining, shares = row
            mine = await session.exec(
                select(RedPacketShareRow).where(
                    RedPacketShareRow.packet_id == packet_id,
                    RedPacketShareRow.grabbed_by == customer_id,
                )
            )
            if mine.first() is not None:
                await session.rollback()
                return _no("already_grabbed", "You already grabbed this one.")
            share = await session.get(RedPacketShareRow, (packet_id, shares - remaining - 1))
            assert share is not None
            share.grabbed_by, share.grabbed_at = customer_id, utcnow()
            session.add(share)
            self._outbox.add(
                session,
                RedPacketGrabbed(
                    room_id=room_id,
                    customer_id=customer_id,
                    packet_id=packet_id,
                    amount_cents=share.amount_cents,
                    remaining_shares=remaining,
                ),
            )
            if remaining == 0:
                await session.flush()
                grabs = (
                    await session.exec(
                        select(RedPacketShareRow)
                        .where(RedPacketShareRow.packet_id == packet_id)
                        .order_by(col(RedPacketShareRow.grabbed_at), col(RedPacketShareRow.index))
                    )
                ).all()
                pairs = [(g.grabbed_by or "", g.amount_cents) for g in grabs]
                winner = luckiest(pairs)
                self._outbox.add(
                    session,
                    RedPacketFinished(
                        room_id=room_id,
                        customer_id=winner,
                        packet_id=packet_id,
                        luckiest_amount_cents=max(amount for _, amount in pairs),
                    ),
                )
            await session.commit()
        self._outbox.notify()
        return _ok(
            "grabbed",
            f"You grabbed {share.amount_cents / 100:.2f}!",
            packet_id=packet_id,
            amount_cents=share.amount_cents,
        )

    # ---- polls -------------------------------------------------------------------------

    async def open_poll(self, room_id: str, question: str, options: list[str]) -> str:
        Poll(question=question, options=tuple(options))  # validates
        poll_id = f"p_{new_id()[:12]}"
        async with self._sessions() as session:
            session.add(PollRow(id=poll_id, room_id=room_id, question=question, options=options))
            self._outbox.add(
                session,
                PollOpened(room_id=room_id, poll_id=poll_id, question=question, options=options),
            )
            await session.commit()
        self._outbox.notify()
        return poll_id

    async def vote(self, room_id: str, poll_id: str, customer_id: str, option: int) -> Outcome:
        async with self._sessions() as session:
            poll = await session.get(PollRow, poll_id)
            if poll is None or poll.room_id != room_id:
                return _no("not_found", "No such poll.")
            if poll.closed:
                return _no("poll_closed", "This poll is closed.")
            if not 0 <= option < len(poll.options):
                return _no("bad_option", "No such option.")
            session.add(VoteRow(poll_id=poll_id, customer_id=customer_id, option=option))
            self._outbox.add(
                session,
                VoteCast(room_id=room_id, customer_id=customer_id, poll_id=poll_id, option=option),
            )
            try:
                await session.commit()
            except IntegrityError:
                return _no("already_voted", "You already voted in this poll.")
        self._outbox.notify()
        return _ok(
            "voted",
            f"Your vote for “{poll.options[option]}” counts.",
            poll_id=poll_id,
            option=option,
        )

    async def close_poll(self, room_id: str, poll_id: str) -> list[int]:
        async with self._sessions() as session:
            poll = await session.get(PollRow, poll_id, with_for_update=True)
            if poll is None or poll.room_id != room_id:
                raise LookupError(poll_id)
            votes = (await session.exec(select(VoteRow).where(VoteRow.poll_id == poll_id))).all()
            counts = Poll.tally(len(poll.options), [v.option for v in votes])
            if not poll.closed:
                poll.closed = True
                session.add(poll)
                self._outbox.add(
                    session, PollClosed(room_id=room_id, poll_id=poll_id, results=counts)
                )
            await session.commit()
        self._outbox.notify()
        return counts

    # ---- check-ins ---------------------------------------------------------------------

    async def check_in(self, host_id: str, room_id: str, customer_id: str, today: date) -> Outcome:
        async with self._sessions() as session:
            row = await session.get(CheckinRow, (host_id, customer_id), with_for_update=True)
            state = (
                None
                if row is None
                else CheckinState(
                    last_day=date.fromisoformat(row.last_day), streak=row.streak, points=row.points
                )
            )
            result = check_in(state, today)
            if not result.accepted:
                return _no("already_checked_in", result.message)
            if row is None:
                row = CheckinRow(
                    host_id=host_id, customer_id=customer_id, last_day="", streak=0, points=0
                )
            row.last_day = today.isoformat()
            row.streak, row.points = result.state.streak, result.state.points
            session.add(row)
            self._outbox.add(
                session,
                CheckedIn(
                    room_id=room_id,
                    customer_id=customer_id,
                    day=today.isoformat(),
                    streak=row.streak,
                    points=result.points_earned,
                ),
            )
            try:
                await session.commit()
            except IntegrityError:
                return _no("already_checked_in", "You already checked in today.")
        self._outbox.notify()
        return _ok(
            "checked_in",
            result.message,
            streak=row.streak,
            points_earned=result.points_earned,
            points=row.points,
        )

    # ---- moderation --------------------------------------------------------------------

    async def moderate(
        self,
        room_id: str,
        by: str,
        action: str,
        customer_id: str | None,
        reason: str,
        minutes: int = 10,
        message_id: str | None = None,
    ) -> ModerationApplied:
        """A moderator's decision, in force when this returns: committed (the send-time check
        reads it), stored in JetStream (every instance and the history have it), and applied
        to this instance's room. A ban also deletes the member's lines still in the history."""
        until = utcnow() + timedelta(minutes=minutes) if action == "mute" else None
        event = ModerationApplied(
            room_id=room_id,
            customer_id=customer_id,
            action=action,
            by=by,
            reason=reason or action,
            until=until,
            message_id=message_id,
        )
        staged: list[IntegrationEvent] = []
        async with self._sessions() as session:
            if customer_id and action in ("mute", "unmute", "ban", "unban"):
                member = await session.get(MemberRow, (room_id, customer_id), with_for_update=True)
                if member is None:
                    member = MemberRow(
                        room_id=room_id, customer_id=customer_id, display_name=customer_id
                    )
                member.muted_until = until if action == "mute" else None
                if action in ("ban", "unban"):
                    member.banned = action == "ban"
                session.add(member)
            if action == "delete" and message_id:
                staged.append(ChatMessageDeleted(room_id=room_id, message_id=message_id, by=by))
            staged.append(event)
            for staged_event in staged:
                self._outbox.add(session, staged_event)
            await session.commit()
        if action == "ban" and customer_id:
            # After the commit: the member can post nothing more, so no line escapes this read.
            staged += await self._delete_lines(room_id, customer_id, by)
        await self._outbox.flush(staged)
        self._applied(staged)
        gone = [e.message_id for e in staged if isinstance(e, ChatMessageDeleted)]
        if gone and self._deleted is not None:
            try:
                await self._deleted(room_id, gone)
            except Exception:
                log.warning("deleted lines' media not removed", exc_info=True)
        return event

    async def _delete_lines(
        self, room_id: str, customer_id: str, by: str
    ) -> list[IntegrationEvent]:
        lines = await self._lines_by(room_id, customer_id)
        if not lines:
            return []
        deletions: list[IntegrationEvent] = [
            ChatMessageDeleted(room_id=room_id, message_id=line, by=by) for line in lines
        ]
        async with self._sessions() as session:
            for deletion in deletions:
                self._outbox.add(session, deletion)
            await session.commit()
        return deletions

    async def welcome_new(self, room_id: str, customer_ids: list[str]) -> set[str]:
        """Those of the members not welcomed before, now marked: each is welcomed once."""
        if not customer_ids:
            return set()
        async with self._sessions() as session:
            result = await session.execute(
                update(MemberRow)
                .where(
                    col(MemberRow.room_id) == room_id,
                    col(MemberRow.customer_id).in_(customer_ids),
                    col(MemberRow.welcomed).is_(False),
                )
                .values(welcomed=True)
                .returning(col(MemberRow.customer_id))
            )
            new = set(result.scalars().all())
            await session.commit()
            return new
