"""The customer database: write a folded batch; read persons, rooms and reports.

Writes happen one batch at a time (the projection holds the only writer lock):
skip the ids already applied, fold, one upsert per table, recompute persons where a
link changed, commit. Reads aggregate facts per *person* (accounts joined to their
person) in SQL and hand plain rows to the domain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.analytics.adapters import tables as t
from services.analytics.adapters.upsert import InList, Upsert
from services.analytics.domain import facts
from services.analytics.domain.fold import Folded, fold
from services.analytics.domain.identity import LinkState, groups
from services.analytics.domain.segments import PersonStats
from shared.events import IntegrationEvent

ID_CHUNK = 500
# Persons' first paid order (None: never paid), shared by the reads of one report.
FirstBuys = dict[str, datetime | None]
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
SQLITE_CHECKPOINT_PAGES = 20_000  # ~80 MB of WAL: a page updated by many batches is copied once

activity = t.ActivityRow.__table__
accounts = t.AccountRow.__table__
rooms = t.RoomRow.__table__
orders = t.OrderRow.__table__
offers = t.OfferRow.__table__
referrals = t.ReferralRow.__table__
links = t.LinkRow.__table__
evidence = t.LinkEvidenceRow.__table__
processed = t.ProcessedEvent.__table__
minutes = t.MinuteRow.__table__
presence = t.PresenceRow.__table__
takes = t.StreamTakeRow.__table__
watch_spans = t.WatchSpanRow.__table__
messages = t.MessageRow.__table__
polls = t.PollRow.__table__
poll_votes = t.PollVoteRow.__table__
packets = t.RedPacketRow.__table__
waitlist = t.WaitlistRow.__table__
reports = t.ReportRow.__table__
claims = t.ClaimRow.__table__
group_chats = t.GroupChatRow.__table__
group_messages = t.GroupMessageRow.__table__
group_failures = t.GroupFailureRow.__table__
group_lines = t.GroupLineRow.__table__
commissions = t.CommissionRow.__table__

# A room's place in time: when it started, else its first event.
room_time = func.coalesce(rooms.c.started_at, rooms.c.first_event_at)
# A show is a room that started: one scheduled (room.opened) that has not started, for
# later or cancelled before it began, is nobody's attended show nor anyone's previous
# show (what was done on its page, a pre-sale order say, still counts in the person's
# figures). A room whose opening analytics never saw (events of older streams) counts.
took_place = or_(rooms.c.started_at.is_not(None), rooms.c.opened_at.is_(None))
NET = orders.c.paid_cents - orders.c.refunded_cents
# Raised when the report gains figures: reports cached before are stale then.
# 2: the room's video (takes, broadcast minutes, watch time within them, replay link).
# 3: each offer's product photo (its thumbnail on orders).
# 4: reach per bound group (messages sent, failures, writers, claims and paid orders).
# 5: GMV and commission per referrer, conversion, unpaid/cancelled/fulfilled orders.
REPORT_VERSION = 5


@dataclass
class Applied:
    events: int = 0
    duplicates: int = 0
    rooms: set[str] = field(default_factory=set)
    ended_rooms: set[str] = field(default_factory=set)
    persons_changed: int = 0


@dataclass
class Prepared:
    events: list[IntegrationEvent]  # each id once
    received: int
    folded: Folded
    params: list[tuple[Upsert, list[tuple[Any, ...]]]]


@dataclass(frozen=True)
class Scope:
    """Which facts a read aggregates.

    room: only this room's facts. upto: facts of rooms up to this one in time order
    (inclusive or not). attendees_of: only persons who attended this room.
    person: only this person. persons: only these.
    """

    room: str | None = None
    upto: tuple[datetime, str, bool] | None = None
    attendees_of: str | None = None
    person: str | None = None
    persons: frozenset[str] | None = None


def _roomier_sqlite(dbapi_conn: Any, _record: Any) -> None:
    """SQLite's default page cache is 2 MB; the customer database outgrows it fast and
    every upsert then reads its B-tree pages from the OS (measured at 1M events: 9.7k
    events/s with the default, 12.5k/s with a 64 MB cache); checkpointing less often
    copies a page that many batches touch once (another ~12%)."""
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cursor.close()


def _chunks(items: Sequence[Any], size: int = ID_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect
        if dialect.name == "sqlite":
            sa_event.listen(engine.sync_engine, "connect", _roomier_sqlite)
        self._upserts = {
            spec.name: Upsert(dialect, t.TABLES[spec.name], spec) for spec in facts.ALL_SPECS
        }
        self._known_ids = InList(dialect, "event_id", processed.name, "event_id")
        self._links_from = InList(
            dialect,
            "account_a, account_b, auto_evidence, host_links, decision, active",
            links.name,
            "account_a",
        )
        active = "active = true AND "
        self._active_from = InList(dialect, "account_a, account_b", links.name, "account_a", active)
        self._active_to = InList(dialect, "account_a, account_b", links.name, "account_b", active)
        self._persons_of = InList(dialect, "account_id, person_id", accounts.name, "account_id")
        self._set_active = (
            update(links)
            .where(links.c.account_a == bindparam("a"), links.c.account_b == bindparam("b"))
            .values(active=bindparam("now"))
        )
        self._set_person = (
            update(accounts)
            .where(accounts.c.account_id == bindparam("account"))
            .values(person_id=bindparam("person"))
        )

    # -- writing ------------------------------------------------------------------

    def prepare(self, events: Sequence[IntegrationEvent]) -> Prepared:
        """Fold a batch and build its statements' parameters: CPU work that needs no
        database, done before taking the writer's turn (ids seen twice in it: once)."""
        unique: dict[str, IntegrationEvent] = {}
        for event in events:
            unique.setdefault(event.id, event)
        return self._prepared(list(unique.values()), received=len(events))

    def _prepared(self, events: list[IntegrationEvent], received: int) -> Prepared:
        folded = fold(events)
        params = [
            (self._upserts[spec.name], self._upserts[spec.name].params(rows))
            for spec in facts.ALL_SPECS
            if (rows := folded.rows.of(spec))
        ]
        return Prepared(events, received, folded, params)

    async def write(self, batch: Prepared) -> Applied:
        """Merge a prepared batch in one transaction. Ids applied before are skipped:
        when there are any (a redelivery), the rest is folded again without them."""
        async with self.engine.begin() as conn:
            seen = {
                row[0] for row in await self._known_ids.rows(conn, [e.id for e in batch.events])
            }
            if seen:
                fresh = [e for e in batch.events if e.id not in seen]
                batch = self._prepared(fresh, batch.received)
            for statement, params in batch.params:
                await statement.execute(conn, params)
            folded = batch.folded
            changed = await self._relink(conn, folded.link_pairs) if folded.link_pairs else 0
        return Applied(
            events=len(batch.events),
            duplicates=batch.received - len(batch.events),
            rooms=folded.rooms,
            ended_rooms=folded.ended_rooms,
            persons_changed=changed,
        )

    async def apply(self, events: Sequence[IntegrationEvent]) -> Applied:
        """Apply a batch in one transaction; ids seen before (or twice in it) are skipped."""
        return await self.write(self.prepare(events))

    async def _relink(self, conn: AsyncConnection, pairs: set[tuple[str, str]]) -> int:
        """Bring links' `active` in line with their evidence; regroup persons if one flipped."""
        flips = []
        for a, b, auto, host, decision, active in await self._links_from.rows(
            conn, sorted({a for a, _ in pairs})
        ):
            now = LinkState(auto, host, decision).active
            if (a, b) in pairs and bool(active) != now:
                flips.append({"a": a, "b": b, "now": now})
        if not flips:
            return 0
        await conn.execute(self._set_active, flips)
        # The groups of every account the flipped links touch, over the active links now.
        nodes = {f["a"] for f in flips} | {f["b"] for f in flips}
        edges: set[tuple[str, str]] = set()
        frontier = sorted(nodes)
        while frontier:
            found = await self._active_from.rows(conn, frontier)
            found += await self._active_to.rows(conn, frontier)
            frontier = []
            for a, b in found:
                edges.add((a, b))
                for node in (a, b):
                    if node not in nodes:
                        nodes.add(node)
                        frontier.append(node)
        person_of = groups(nodes, edges)
        moves = [
            {"account": account_id, "person": person_of[account_id]}
            for account_id, person_id in await self._persons_of.rows(conn, sorted(nodes))
            if person_of[account_id] != person_id
        ]
        if moves:
            await conn.execute(self._set_person, moves)
        return len(moves)

    async def save_report(self, room_id: str, key: str, built_at: datetime, body: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(reports).where(reports.c.room_id == room_id))
            await conn.execute(
                reports.insert().values(room_id=room_id, key=key, built_at=built_at, body=body)
            )

    # -- reading: who --------------------------------------------------------------

    async def person_of(self, account_id: str) -> str | None:
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(accounts.c.person_id).where(accounts.c.account_id == account_id)
            )
            return found.scalar_one_or_none()

    async def accounts_of(self, person_id: str) -> list[Row[Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(accounts)
                .where(accounts.c.person_id == person_id)
                .order_by(accounts.c.account_id)
            )
            return list(result.all())

    async def evidence_of(self, account_ids: list[str]) -> list[Row[Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(evidence)
                .where(
                    or_(
                        evidence.c.account_a.in_(account_ids), evidence.c.account_b.in_(account_ids)
                    )
                )
                .order_by(evidence.c.occurred_at, evidence.c.event_id)
            )
            return list(result.all())

    async def links_of(self, account_ids: list[str]) -> list[Row[Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(links)
                .where(or_(links.c.account_a.in_(account_ids), links.c.account_b.in_(account_ids)))
                .order_by(links.c.account_a, links.c.account_b)
            )
            return list(result.all())

    async def link(self, a: str, b: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(links).where(links.c.account_a == a, links.c.account_b == b)
            )
            return result.one_or_none()

    async def names(self, scope: Scope) -> dict[str, str]:
        """Each person's display name: the one used last by any of their accounts."""
        query = select(
            accounts.c.person_id, accounts.c.display_name, accounts.c.name_at, accounts.c.name_key
        ).where(accounts.c.display_name.is_not(None))
        query = self._persons(query, scope)
        best: dict[str, tuple[Any, Any, str]] = {}
        async with self.engine.connect() as conn:
            for person, name, at, key in await conn.execute(query):
                if person not in best or (at, key) > best[person][:2]:
                    best[person] = (at, key, name)
        return {person: value[2] for person, value in best.items()}

    # -- reading: figures per person -------------------------------------------------

    def _persons(self, query: Select[Any], scope: Scope) -> Select[Any]:
        if scope.person is not None:
            query = query.where(accounts.c.person_id == scope.person)
        if scope.persons is not None:
            query = query.where(accounts.c.person_id.in_(sorted(scope.persons)))
        if scope.attendees_of is not None:
            query = query.where(accounts.c.person_id.in_(self._attendees(scope.attendees_of)))
        return query

    def _attendees(self, room_id: str) -> Select[Any]:
        a2, acc2 = activity.alias("a2"), accounts.alias("acc2")
        return (
            select(acc2.c.person_id)
            .join(a2, a2.c.account_id == acc2.c.account_id)
            .where(a2.c.room_id == room_id, a2.c.first_seen.is_not(None))
        )

    def _scoped(
        self, query: Select[Any], room_col: Any, scope: Scope, rooms_joined: bool = False
    ) -> Select[Any]:
        query = self._persons(query, scope)
        if scope.room is not None:
            query = query.where(room_col == scope.room)
        if scope.upto is not None:
            at, room_id, inclusive = scope.upto
            same = rooms.c.room_id <= room_id if inclusive else rooms.c.room_id < room_id
            if not rooms_joined:
                query = query.join(rooms, rooms.c.room_id == room_col)
            query = query.where(or_(room_time < at, and_(room_time == at, same)))
        return query

    @staticmethod
    def _shows(scope: Scope) -> Any:
        """Which rooms count as shows attended/bought in: those that took place; asked
        about one room, that room (its report describes whoever came to its page)."""
        return literal(True) if scope.room is not None else took_place

    async def person_stats(
        self, scope: Scope, first_buys: FirstBuys | None = None
    ) -> dict[str, PersonStats]:
        a = activity.c
        engaged = a.messages + a.likes + a.votes + a.red_packets + a.checkins + a.claims
        show = self._shows(scope)
        acts = self._scoped(
            select(
                accounts.c.person_id,
                func.count(distinct(case((and_(show, a.first_seen.is_not(None)), a.room_id)))),
                func.count(distinct(case((and_(show, engaged > 0), a.room_id)))),
                func.min(a.first_seen),
                func.max(a.last_seen),
                func.sum(a.joins),
                func.sum(a.watch_ms),
                func.sum(a.messages),
                func.sum(a.likes),
                func.sum(a.checkins),
                func.max(a.best_streak),
                func.sum(a.votes),
                func.sum(a.red_packets),
                func.sum(a.red_packet_cents),
                func.sum(a.claims),
                func.sum(a.waitlisted),
                func.sum(a.commission_cents),
                func.max(a.last_engaged_at),
            )
            .select_from(
                activity.join(accounts, accounts.c.account_id == a.account_id).outerjoin(
                    rooms, rooms.c.room_id == a.room_id
                )
            )
            .group_by(accounts.c.person_id),
            a.room_id,
            scope,
            rooms_joined=True,
        )
        paid = NET > 0
        buys = self._scoped(
            select(
                accounts.c.person_id,
                func.sum(case((paid, 1), else_=0)),
                func.sum(NET),
                func.min(case((paid, orders.c.paid_at))),
                func.max(case((paid, orders.c.paid_at))),
                func.count(distinct(case((and_(show, paid), orders.c.room_id)))),
            )
            .select_from(
                orders.join(accounts, accounts.c.account_id == orders.c.account_id).outerjoin(
                    rooms, rooms.c.room_id == orders.c.room_id
                )
            )
            .group_by(accounts.c.person_id),
            orders.c.room_id,
            scope,
            rooms_joined=True,
        )
        stats: dict[str, PersonStats] = {}
        async with self.engine.connect() as conn:
            for row in await conn.execute(acts):
                (person, n_rooms, n_engaged, first, last, joins, watch, msgs, likes, checkins) = (
                    tuple(row)[:10]
                )
                (streak, votes, grabs, grab_cents, claims, waitlisted, commission, last_engaged) = (
                    tuple(row)[10:]
                )
                stats[person] = PersonStats(
                    person_id=person,
                    rooms=n_rooms,
                    engaged_rooms=n_engaged,
                    first_seen=first,
                    last_seen=last,
                    joins=int(joins or 0),
                    watch_ms=int(watch or 0),
                    messages=int(msgs or 0),
                    likes=int(likes or 0),
                    checkins=int(checkins or 0),
                    best_streak=int(streak or 0),
                    votes=int(votes or 0),
                    red_packets=int(grabs or 0),
                    red_packet_cents=int(grab_cents or 0),
                    claims=int(claims or 0),
                    waitlisted=int(waitlisted or 0),
                    commission_cents=int(commission or 0),
                    last_engaged_at=last_engaged,
                )
            for person, n_orders, spend, first_buy, last_buy, n_rooms_bought in await conn.execute(
                buys
            ):
                s = stats.setdefault(person, PersonStats(person_id=person))
                s.orders = int(n_orders or 0)
                s.spend_cents = int(spend or 0)
                s.first_purchase_at, s.last_purchase_at = first_buy, last_buy
                s.rooms_bought = int(n_rooms_bought or 0)
            await self._count_referrals(conn, scope, stats, first_buys)
        return stats

    async def referral_counts(
        self, scope: Scope, first_buys: FirstBuys | None = None
    ) -> dict[str, PersonStats]:
        """Only the referral figures of person_stats (referrals, buyers and new buyers
        brought): pairs of people, which cannot be added up from two scopes."""
        stats: dict[str, PersonStats] = {}
        async with self.engine.connect() as conn:
            await self._count_referrals(conn, scope, stats, first_buys)
        return stats

    async def _count_referrals(
        self,
        conn: AsyncConnection,
        scope: Scope,
        stats: dict[str, PersonStats],
        first_buys: FirstBuys | None = None,
    ) -> None:
        referred_rows = await self._referral_rows(conn, scope)
        first_buys = {} if first_buys is None else first_buys
        await self._first_purchases(conn, {row[1] for row in referred_rows}, first_buys)
        for referrer, referred, payments, first_paid in referred_rows:
            s = stats.setdefault(referrer, PersonStats(person_id=referrer))
            s.referrals += 1
            if payments:
                s.buyers_brought += 1
                first_buy = first_buys.get(referred)
                if first_buy is not None and first_paid is not None and first_paid <= first_buy:
                    s.new_buyers_brought += 1

    async def _first_purchases(
        self, conn: AsyncConnection, persons: set[str], found: FirstBuys
    ) -> None:
        """Each person's first paid order ever (a referred buyer is *new* if it was theirs),
        into `found`, None for none; those already in it are not read again."""
        for chunk in _chunks(sorted(persons - found.keys())):
            result = await conn.execute(
                select(accounts.c.person_id, func.min(orders.c.paid_at))
                .select_from(orders.join(accounts, accounts.c.account_id == orders.c.account_id))
                .where(accounts.c.person_id.in_(chunk), NET > 0)
                .group_by(accounts.c.person_id)
            )
            paid = {person: at for person, at in result if at is not None}
            # Filled in only now: a read running beside this one must not take "not yet
            # read" for "never paid" (it reads them itself meanwhile; same answer).
            found.update({person: paid.get(person) for person in chunk})

    async def _referral_rows(self, conn: AsyncConnection, scope: Scope) -> list[Any]:
        """(referrer person, referred person, payments, first paid at), other people only."""
        ra, rb = accounts.alias("ra"), accounts.alias("rb")
        r = referrals.c
        query = (
            select(ra.c.person_id, rb.c.person_id, func.sum(r.payments), func.min(r.first_paid_at))
            .select_from(
                referrals.join(ra, ra.c.account_id == r.referrer_id).join(
                    rb, rb.c.account_id == r.referred_id
                )
            )
            .where(ra.c.person_id != rb.c.person_id)
            .group_by(ra.c.person_id, rb.c.person_id)
        )
        if scope.person is not None:
            query = query.where(ra.c.person_id == scope.person)
        if scope.attendees_of is not None:
            query = query.where(ra.c.person_id.in_(self._attendees(scope.attendees_of)))
        if scope.room is not None:
            query = query.where(r.room_id == scope.room)
        if scope.upto is not None:
            at, room_id, inclusive = scope.upto
            same = rooms.c.room_id <= room_id if inclusive else rooms.c.room_id < room_id
            query = query.join(rooms, rooms.c.room_id == r.room_id).where(
                or_(room_time < at, and_(room_time == at, same))
            )
        return list((await conn.execute(query)).all())

    async def checkin_streak(self, person_id: str) -> int:
        """The streak of the person's latest check-in."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(activity.c.checkin_streak)
                .join(accounts, accounts.c.account_id == activity.c.account_id)
                .where(accounts.c.person_id == person_id, activity.c.checkin_day.is_not(None))
                .order_by(activity.c.checkin_day.desc(), activity.c.checkin_streak.desc())
                .limit(1)
            )
            return int(result.scalar_one_or_none() or 0)

    async def bought_titles(self, person_id: str) -> list[str]:
        """One offer title per paid order of the person."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(offers.c.title)
                .select_from(
                    orders.join(accounts, accounts.c.account_id == orders.c.account_id).join(
                        offers, offers.c.offer_id == orders.c.offer_id
                    )
                )
                .where(accounts.c.person_id == person_id, NET > 0, offers.c.title.is_not(None))
            )
            return [title for (title,) in result]

    async def lines_of(self, person_id: str) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(messages.c.text)
                .join(accounts, accounts.c.account_id == messages.c.account_id)
                .where(accounts.c.person_id == person_id)
            )
            return [text for (text,) in result]

    async def offer_titles(self) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(offers.c.title).where(offers.c.title.is_not(None)).distinct()
            )
            return [title for (title,) in result]

    # -- reading: rooms -------------------------------------------------------------

    async def room(self, room_id: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(rooms).where(rooms.c.room_id == room_id))
            return result.one_or_none()

    async def previous_room(self, room: Row[Any]) -> Row[Any] | None:
        """The host's last show before this one: the latest room of the same host that
        started and ended before this one started (a room scheduled for later, or
        cancelled before it began, was no show)."""
        at = room.started_at or room.first_event_at
        started = rooms.c.started_at
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(rooms)
                .where(
                    started.is_not(None),
                    rooms.c.ended_at.is_not(None),
                    rooms.c.ended_at <= at,
                    or_(started < at, and_(started == at, rooms.c.room_id < room.room_id)),
                    rooms.c.room_id != room.room_id,
                    rooms.c.host_id == room.host_id if room.host_id is not None else literal(True),
                )
                .order_by(started.desc(), rooms.c.room_id.desc())
                .limit(1)
            )
            return result.one_or_none()

    async def cache_key(self, room_id: str) -> str:
        """What a room's report depends on: its events, the identity evidence, and what
        a report holds (REPORT_VERSION: a report cached by older code is built again)."""
        async with self.engine.connect() as conn:
            events = await conn.execute(select(rooms.c.events).where(rooms.c.room_id == room_id))
            links_seen = await conn.execute(select(func.count()).select_from(evidence))
            counted = events.scalar_one_or_none() or 0
            return f"v{REPORT_VERSION}:{counted}:{links_seen.scalar_one()}"

    async def reported_rooms(self) -> set[str]:
        async with self.engine.connect() as conn:
            return set((await conn.execute(select(reports.c.room_id))).scalars())

    async def cached_report(self, room_id: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(reports).where(reports.c.room_id == room_id))
            return result.one_or_none()

    async def minutes(self, room_id: str) -> list[Any]:
        return await self._all(
            select(minutes).where(minutes.c.room_id == room_id).order_by(minutes.c.minute)
        )

    async def presence(self, room_id: str) -> list[Any]:
        """(person, minute, joins, in after) per account and minute, in the order of each
        minute's last event (the database compares the times: ~100k rows at 1M events)."""
        p = presence.c
        return await self._all(
            select(accounts.c.person_id, p.minute, p.joins, p.last_in)
            .select_from(presence.join(accounts, accounts.c.account_id == p.account_id))
            .where(p.room_id == room_id, p.last_at.is_not(None))
            .order_by(accounts.c.person_id, p.minute, p.last_at, p.last_key)
        )

    async def stream_takes(self, room_id: str) -> list[Any]:
        k = takes.c
        return await self._all(
            select(k.take, k.source, k.started_at, k.stopped_at, k.stop_reason, k.on_air_ms)
            .where(k.room_id == room_id)
            .order_by(k.take)
        )

    async def watch_spans(self, room_id: str) -> list[Any]:
        """(person, from, to) of every page connection in the room."""
        w = watch_spans.c
        return await self._all(
            select(accounts.c.person_id, w.from_at, w.to_at)
            .select_from(watch_spans.join(accounts, accounts.c.account_id == w.account_id))
            .where(w.room_id == room_id)
        )

    async def staff(self, room_id: str, host_id: str | None) -> set[str]:
        """The persons who ran the room: its host, and who joined it as host or moderator."""
        p = presence.c
        query = (
            select(accounts.c.person_id)
            .distinct()
            .select_from(presence.join(accounts, accounts.c.account_id == p.account_id))
            .where(p.room_id == room_id, p.staff > 0)
        )
        found = {person for (person,) in await self._all(query)}
        if host_id is not None:
            found.add(await self.person_of(host_id) or host_id)
        return found

    async def offers_of(self, room_id: str) -> list[Any]:
        o = orders.c
        placed = o.placed_at.is_not(None)
        sold = NET > 0
        figures = (
            select(
                o.offer_id,
                func.sum(case((placed, 1), else_=0)).label("orders"),
                func.sum(case((placed, o.quantity), else_=0)).label("units_claimed"),
                func.sum(case((sold, 1), else_=0)).label("paid_orders"),
                func.sum(case((sold, o.quantity), else_=0)).label("units_sold"),
                func.sum(NET).label("net_cents"),
                func.sum(case((o.expired_at.is_not(None), 1), else_=0)).label("expired_orders"),
                func.sum(case((o.cancelled_at.is_not(None), 1), else_=0)).label("cancelled_orders"),
                func.sum(case((o.fulfilled_at.is_not(None), 1), else_=0)).label("fulfilled_orders"),
                func.sum(
                    case(
                        (
                            o.fulfilled_at.is_not(None),
                            func.coalesce(o.fulfilled_units, o.quantity, 0),
                        ),
                        else_=0,
                    )
                ).label("units_fulfilled"),
            )
            .where(o.room_id == room_id)
            .group_by(o.offer_id)
            .subquery()
        )
        return await self._all(
            select(
                offers,
                figures.c.orders,
                figures.c.units_claimed,
                figures.c.paid_orders,
                figures.c.units_sold,
                figures.c.net_cents,
                figures.c.expired_orders,
                figures.c.cancelled_orders,
                figures.c.fulfilled_orders,
                figures.c.units_fulfilled,
            )
            .select_from(offers.outerjoin(figures, figures.c.offer_id == offers.c.offer_id))
            .where(offers.c.room_id == room_id)
            .order_by(offers.c.opened_at, offers.c.offer_id)
        )

    async def claim_count(self, room_id: str) -> int:
        """The room's claims: orders placed and claims refused (each claim id once)."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(func.count()).select_from(claims).where(claims.c.room_id == room_id)
            )
            return int(result.scalar_one())

    async def referred_sales(self, room_id: str) -> list[Any]:
        """(referrer person, buyers, paid orders, net cents) of the room's orders paid and not
        refunded in full, by the order's referrer (first touch), other people only."""
        o = orders.c
        buyer, referrer = accounts.alias("buyer"), accounts.alias("referrer")
        return await self._all(
            select(
                referrer.c.person_id,
                func.count(distinct(buyer.c.person_id)),
                func.count(),
                func.sum(NET),
            )
            .select_from(
                orders.join(buyer, buyer.c.account_id == o.account_id).join(
                    referrer, referrer.c.account_id == o.referrer_id
                )
            )
            .where(o.room_id == room_id, NET > 0, referrer.c.person_id != buyer.c.person_id)
            .group_by(referrer.c.person_id)
        )

    async def commissions_of(self, room_id: str) -> list[Any]:
        """(person, accrued, reversed, paid out, payouts) of the room's commissions."""
        c = commissions.c
        return await self._all(
            select(
                accounts.c.person_id,
                func.sum(c.accrued_cents),
                func.sum(c.reversed_cents),
                func.sum(c.paid_out_cents),
                func.sum(c.payouts),
            )
            .select_from(commissions.join(accounts, accounts.c.account_id == c.account_id))
            .where(c.room_id == room_id)
            .group_by(accounts.c.person_id)
        )

    async def orders_by_person(self, room_id: str) -> list[Any]:
        """Per person, the room's orders: placed, paid (ever), paid and not refunded in
        full, its units, paid and refunded cents, expired, cancelled, fulfilled, first paid
        at, and the referrer (person) of their paid orders (the least id if several)."""
        o = orders.c
        buyer, referrer = accounts.alias("buyer"), accounts.alias("referrer")
        sold = NET > 0
        paid = o.paid_cents > 0
        referred = and_(paid, referrer.c.person_id != buyer.c.person_id)
        return await self._all(
            select(
                buyer.c.person_id.label("person_id"),
                func.sum(case((o.placed_at.is_not(None), 1), else_=0)).label("placed"),
                func.sum(case((paid, 1), else_=0)).label("paid_orders"),
                func.sum(case((sold, 1), else_=0)).label("kept_orders"),
                func.sum(case((sold, o.quantity), else_=0)).label("units"),
                func.sum(o.paid_cents).label("paid_cents"),
                func.sum(o.refunded_cents).label("refunded_cents"),
                func.sum(case((o.expired_at.is_not(None), 1), else_=0)).label("expired"),
                func.sum(case((o.cancelled_at.is_not(None), 1), else_=0)).label("cancelled"),
                func.sum(case((o.fulfilled_at.is_not(None), 1), else_=0)).label("fulfilled"),
                func.min(o.paid_at).label("first_paid_at"),
                func.min(case((referred, referrer.c.person_id))).label("referrer"),
            )
            .select_from(
                orders.join(buyer, buyer.c.account_id == o.account_id).outerjoin(
                    referrer, referrer.c.account_id == o.referrer_id
                )
            )
            .where(o.room_id == room_id)
            .group_by(buyer.c.person_id)
        )

    # -- reading: the bound groups -----------------------------------------------------

    async def group_messages(self, room_id: str) -> list[Any]:
        """(platform, chat, kind, sent, edits, failed) of the room's messages to groups."""
        g = group_messages.c
        return await self._all(
            select(g.platform, g.chat_id, g.kind, g.sent, g.edits, g.failed).where(
                g.room_id == room_id
            )
        )

    async def group_failures(self, room_id: str) -> list[Any]:
        """(platform, chat, code, failures, paused, detail) of the room's failed messages."""
        g = group_failures.c
        return await self._all(
            select(g.platform, g.chat_id, g.code, g.failures, g.paused, g.detail).where(
                g.room_id == room_id
            )
        )

    async def group_lines(self, room_id: str) -> list[Any]:
        """(platform, chat, person, minute, lines) of members' lines in the room's groups."""
        g = group_lines.c
        return await self._all(
            select(g.platform, g.chat_id, accounts.c.person_id, g.minute, g.lines)
            .select_from(group_lines.join(accounts, accounts.c.account_id == g.account_id))
            .where(g.room_id == room_id)
        )

    async def group_claims(self, room_id: str) -> list[Any]:
        """(claim id, paid, units sold, net cents) of the room's claims that may come from a
        group (ids with a ':'; a group claim's id is its line's key)."""
        c, o = claims.c, orders.c
        sold = NET > 0
        return await self._all(
            select(
                c.claim_id,
                func.coalesce(sold, False),
                case((sold, o.quantity), else_=0),
                case((sold, NET), else_=0),
            )
            .select_from(claims.outerjoin(orders, o.order_id == c.order_id))
            .where(c.room_id == room_id, c.claim_id.contains(":"))
        )

    async def group_titles(self, chat_ids: Iterable[str]) -> dict[tuple[str, str], str]:
        ids = sorted(set(chat_ids))
        found: dict[tuple[str, str], str] = {}
        g = group_chats.c
        async with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                result = await conn.execute(
                    select(g.platform, g.chat_id, g.title).where(
                        g.chat_id.in_(chunk), g.title.is_not(None)
                    )
                )
                found.update({(platform, chat): title for platform, chat, title in result})
        return found

    async def unannounced_rooms(self, ended_since: datetime) -> list[str]:
        """Rooms that ended since then and were not announced (a restart between a report's
        build and its announcement)."""
        r = rooms.c
        query = (
            select(r.room_id)
            .where(r.ended_at >= ended_since, r.announced_at.is_(None))
            .order_by(r.ended_at, r.room_id)
        )
        return [row.room_id for row in await self._all(query)]

    async def red_packets(self, room_id: str) -> list[Any]:
        return await self._all(
            select(packets)
            .where(packets.c.room_id == room_id)
            .order_by(packets.c.sent_at, packets.c.packet_id)
        )

    async def polls(self, room_id: str) -> list[tuple[Row[Any], dict[int, int]]]:
        found = await self._all(
            select(polls)
            .where(polls.c.room_id == room_id)
            .order_by(polls.c.opened_at, polls.c.poll_id)
        )
        votes = await self._all(select(poll_votes).where(poll_votes.c.room_id == room_id))
        counted: dict[str, dict[int, int]] = {}
        for v in votes:
            counted.setdefault(v.poll_id, {})[v.option] = v.votes
        return [(poll, counted.get(poll.poll_id, {})) for poll in found]

    async def person_of_accounts(self, account_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(account_ids))
        found: dict[str, str] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                result = await conn.execute(
                    select(accounts.c.account_id, accounts.c.person_id).where(
                        accounts.c.account_id.in_(chunk)
                    )
                )
                found.update({account: person for account, person in result})
        return found

    # -- reading: audiences -----------------------------------------------------------

    async def paid_titles(self, upto: tuple[datetime, str, bool]) -> list[Any]:
        """(person, room, offer title) of every paid order in rooms up to a room."""
        query = (
            select(accounts.c.person_id, orders.c.room_id, offers.c.title)
            .select_from(
                orders.join(accounts, accounts.c.account_id == orders.c.account_id).join(
                    offers, offers.c.offer_id == orders.c.offer_id
                )
            )
            .where(NET > 0, offers.c.title.is_not(None))
        )
        return await self._all(self._scoped(query, orders.c.room_id, Scope(upto=upto)))

    async def orders_by_offer(self, room_id: str) -> list[Any]:
        """(person, offer, title, orders placed, orders paid) in the room."""
        o = orders.c
        return await self._all(
            select(
                accounts.c.person_id,
                o.offer_id,
                offers.c.title,
                func.sum(case((o.placed_at.is_not(None), 1), else_=0)),
                func.sum(case((NET > 0, 1), else_=0)),
            )
            .select_from(
                orders.join(accounts, accounts.c.account_id == o.account_id).outerjoin(
                    offers, offers.c.offer_id == o.offer_id
                )
            )
            .where(o.room_id == room_id)
            .group_by(accounts.c.person_id, o.offer_id, offers.c.title)
        )

    async def unserved_waitlist(self, room_id: str) -> list[Any]:
        """(person, offer, title) waitlisted in the room with no order of it placed since."""
        w = waitlist.c
        own = accounts.alias("own")
        later = (
            select(literal(1))
            .select_from(orders.join(own, own.c.account_id == orders.c.account_id))
            .where(
                orders.c.offer_id == w.offer_id,
                own.c.person_id == accounts.c.person_id,
                orders.c.placed_at >= w.first_at,
            )
            .exists()
        )
        return await self._all(
            select(accounts.c.person_id, w.offer_id, offers.c.title)
            .select_from(
                waitlist.join(accounts, accounts.c.account_id == w.account_id).outerjoin(
                    offers, offers.c.offer_id == w.offer_id
                )
            )
            .where(w.room_id == room_id, ~later)
        )

    async def person_accounts(self, persons: Iterable[str]) -> dict[str, list[str]]:
        ids = sorted(set(persons))
        found: dict[str, list[str]] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                result = await conn.execute(
                    select(accounts.c.person_id, accounts.c.account_id)
                    .where(accounts.c.person_id.in_(chunk))
                    .order_by(accounts.c.account_id)
                )
                for person, account in result:
                    found.setdefault(person, []).append(account)
        return found

    async def _all(self, query: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    # -- maintenance ------------------------------------------------------------------

    async def is_empty(self) -> bool:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(func.count()).select_from(processed))
            return result.scalar_one() == 0

    async def processed_count(self) -> int:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(func.count()).select_from(processed))
            return int(result.scalar_one())


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None
