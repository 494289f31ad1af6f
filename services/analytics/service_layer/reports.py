"""Post-stream reports: built when a room ends, cached, rebuilt when the room changed;
the first built after the end announced on the bus (report.ready), once per room."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.analytics.adapters.store import FirstBuys, Scope, Store
from services.analytics.domain.broadcast import TakeFacts, WatchSpan
from services.analytics.domain.exports import (
    Audience,
    BuyerRow,
    EngagedRow,
    buyers_of,
    engaged_of,
    person_orders,
)
from services.analytics.domain.report import (
    ANNOUNCE_WITHIN_HOURS,
    ClaimFacts,
    GroupFacts,
    GroupFailureFacts,
    GroupKey,
    GroupKindFacts,
    GroupLineFacts,
    MinuteCounts,
    OfferFacts,
    PacketFacts,
    PollFacts,
    PresenceMark,
    ReferrerFacts,
    RoomFacts,
    RoomReport,
    announces,
    build_report,
    report_ready,
    with_live_url,
)
from services.analytics.domain.segments import PersonStats, through_show, tier
from shared.background import STOP_TIMEOUT_S
from shared.events import IntegrationEvent, utcnow
from shared.messaging import EventPublisher

log = logging.getLogger("qunlive.analytics.reports")


class RoomNotFound(LookupError):
    pass


@dataclass
class People:
    """A room's persons' figures: before the show, in it, and up to and including it."""

    before: dict[str, PersonStats]
    in_room: dict[str, PersonStats]
    after: dict[str, PersonStats]


@dataclass
class Announcer:
    """Where a room's announcement goes: the bus first (the record; the id `report:<room>`
    makes a re-publish a duplicate), then the projection, so the room reads as announced at
    once (the consumer skips the id when it comes round), as the hosts' link decisions do."""

    publisher: Callable[[], EventPublisher]
    record: Callable[[Sequence[IntegrationEvent]], Awaitable[object]]
    live_url: str = ""  # the replay link made absolute, when analytics knows live's URL
    within: timedelta = timedelta(hours=ANNOUNCE_WITHIN_HOURS)


class Reports:
    """Reports are built in the background when a room ends, and built again when
    events of a reported room arrive later (payments after the show, a stream that
    lagged): a short pause first gathers a burst into one build. While the projection
    is behind (`busy`: after downtime), catching up comes first; a report built mid-way
    would be stale at once. A request for a stale report builds it there and then.

    The first background build after a room ended announces the report (`announcer`):
    once per room, and only for a room that ended recently (domain.report.announces)."""

    SETTLE_S = 0.3
    # Background builds at a time: at the end of a busy evening many rooms end together,
    # and each build holds a database connection for its queries (the pool is finite).
    BUILDERS = 2

    def __init__(
        self,
        store: Store,
        write_lock: asyncio.Lock,
        busy: Callable[[], bool] = lambda: False,
        announcer: Announcer | None = None,
        currency: str = "CNY",
    ) -> None:
        self.store = store
        self.announcer = announcer
        self.currency = currency
        self._write_lock = write_lock
        self._busy = busy
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._in_database: set[str] = set()  # rooms whose build is querying right now
        self._stopping = False
        self._reported: set[str] = set()
        self._builders = asyncio.Semaphore(self.BUILDERS)
        self.last_build_s: float | None = None

    async def load(self) -> None:
        self._reported = await self.store.reported_rooms()
        if self.announcer is not None:
            # Ended recently and not announced: stopped between a build and its announcement.
            for room_id in await self.store.unannounced_rooms(utcnow() - self.announcer.within):
                self.schedule(room_id)

    def changed(self, rooms: set[str]) -> None:
        """Events of these rooms were applied: rebuild the reports that exist."""
        for room_id in rooms & self._reported:
            self.schedule(room_id)

    def schedule(self, room_id: str) -> None:
        """Build a room's report in the background (the room just ended, or changed)."""
        if room_id in self._tasks or self._stopping:
            return
        task = asyncio.create_task(self._build_quietly(room_id), name=f"report-{room_id}")
        self._tasks[room_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(room_id, None))

    @property
    def building(self) -> int:
        return len(self._tasks)

    async def _build_quietly(self, room_id: str) -> None:
        try:
            for _ in range(5):  # built again while events keep coming, a few times at most
                if self._stopping:
                    return
                await self._settled()
                async with self._builders:
                    if self._stopping:
                        return
                    self._in_database.add(room_id)
                    try:
                        await self._announce(await self.refresh(room_id))
                        if await self.is_ready(room_id):
                            return
                    finally:
                        self._in_database.discard(room_id)
        except Exception:
            log.exception("report build failed; it is built on demand", extra={"room": room_id})

    async def _announce(self, report: RoomReport) -> None:
        """Announce the room's report if it is the first built since the room ended."""
        announcer = self.announcer
        if announcer is None:
            return
        room = await self.store.room(report.room_id)
        now = utcnow()
        if room is None or not announces(room.ended_at, room.announced_at, now, announcer.within):
            return
        event = report_ready(with_live_url(report, announcer.live_url), now)
        try:
            await announcer.publisher().publish(event)
        except Exception:  # NATS away: the next build of the room, or a restart, tries again
            log.warning("report not announced", extra={"room": report.room_id}, exc_info=True)
            return
        await announcer.record([event])
        log.info("report announced", extra={"room": report.room_id})

    async def _settled(self) -> None:
        await asyncio.sleep(self.SETTLE_S)
        for _ in itertools.count():
            if not self._busy():
                return
            await asyncio.sleep(0.2)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Drop the builds that are waiting; let the ones querying finish (see
        shared.background: a query cancelled on aiosqlite can hang the event loop's close)."""
        self._stopping = True
        for room_id, task in self._tasks.items():
            if room_id not in self._in_database:
                task.cancel()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def get(self, room_id: str) -> RoomReport:
        """The room's report: the cached one if the room has not changed since, else built."""
        cached = await self.store.cached_report(room_id)
        if cached is not None and cached.key == await self.store.cache_key(room_id):
            return RoomReport.model_validate_json(cached.body)
        return await self.refresh(room_id)

    async def is_ready(self, room_id: str) -> bool:
        cached = await self.store.cached_report(room_id)
        return cached is not None and cached.key == await self.store.cache_key(room_id)

    async def refresh(self, room_id: str) -> RoomReport:
        started = time.perf_counter()
        key = await self.store.cache_key(room_id)
        report = await self.build(room_id)
        async with self._write_lock:
            await self.store.save_report(room_id, key, utcnow(), report.model_dump_json())
        self._reported.add(room_id)
        self.last_build_s = time.perf_counter() - started
        log.info("report built", extra={"room": room_id, "seconds": self.last_build_s})
        return report

    async def _through_show(
        self,
        before: dict[str, PersonStats],
        in_room: dict[str, PersonStats],
        scope: Scope,
        first_buys: FirstBuys | None = None,
    ) -> dict[str, PersonStats]:
        """Each attendee's figures up to and including the show (`scope`; the "after" of
        segment movement), added up from before and in the show; referrals counted again."""
        counted = await self.store.referral_counts(scope, first_buys)
        nobody = PersonStats(person_id="")
        after: dict[str, PersonStats] = {}
        for person, show in in_room.items():
            if show.rooms == 0:
                continue
            c = counted.get(person, nobody)
            referrals = (c.referrals, c.buyers_brought, c.new_buyers_brought)
            earlier = before.get(person)
            if earlier is None and referrals == (
                show.referrals,
                show.buyers_brought,
                show.new_buyers_brought,
            ):
                after[person] = show  # the first show they came to: it is the sum (shared)
                continue
            s = through_show(earlier or nobody, show)
            s.referrals, s.buyers_brought, s.new_buyers_brought = referrals
            after[person] = s
        return after

    async def people(self, room: Any) -> People:
        """The room's persons: their figures before the show, in it and up to it (with it)."""
        store, room_id = self.store, room.room_id
        at = room.started_at or room.first_event_at
        # Read side by side: SQLite and PostgreSQL work on one while Python reads another.
        # Referred buyers' first purchases are read once for the three scopes.
        first_buys: FirstBuys = {}
        before, in_room = await asyncio.gather(
            store.person_stats(Scope(upto=(at, room_id, False), attendees_of=room_id), first_buys),
            store.person_stats(Scope(room=room_id), first_buys),
        )
        after = await self._through_show(
            before, in_room, Scope(upto=(at, room_id, True), attendees_of=room_id), first_buys
        )
        return People(before, in_room, after)

    async def build(self, room_id: str) -> RoomReport:
        store = self.store
        room = await store.room(room_id)
        if room is None:
            raise RoomNotFound(room_id)
        people, presence_rows, staff, watch_rows = await asyncio.gather(
            self.people(room),
            store.presence(room_id),
            store.staff(room_id, room.host_id),
            store.watch_spans(room_id),
        )
        before, in_room, after = people.before, people.in_room, people.after
        offers = [_offer(row) for row in await store.offers_of(room_id)]
        packet_rows = await store.red_packets(room_id)
        lucky = await store.person_of_accounts(r.luckiest_id for r in packet_rows if r.luckiest_id)
        previous = await store.previous_room(room)
        marks = [PresenceMark._make(row) for row in presence_rows]
        takes = [TakeFacts._make(row) for row in await store.stream_takes(room_id)]
        groups = await self._group_facts(room_id)
        referrers = await self._referrers(room_id)
        report = build_report(
            room=RoomFacts(
                room_id,
                room.title,
                room.host_id,
                room.started_at,
                room.ended_at,
                room.last_event_at,
            ),
            minutes=[
                MinuteCounts(
                    m.minute,
                    m.joins,
                    m.leaves,
                    m.messages,
                    m.likes,
                    m.orders,
                    m.payments,
                    m.paid_cents,
                )
                for m in await store.minutes(room_id)
            ],
            in_room=in_room,
            offers=offers,
            packets=[
                PacketFacts(
                    r.packet_id,
                    r.message,
                    r.total_cents,
                    r.shares,
                    r.grabs,
                    r.grabbed_cents,
                    r.finished_at,
                    lucky.get(r.luckiest_id) if r.luckiest_id else None,
                    r.luckiest_cents,
                )
                for r in packet_rows
            ],
            polls=[
                PollFacts(p.poll_id, p.question, p.options, p.results, p.closed_at, counted)
                for p, counted in await store.polls(room_id)
            ],
            returning={p for p, s in before.items() if s.rooms > 0},
            tiers_before={p: tier(s) for p, s in before.items() if s.rooms > 0},
            tiers_after={p: tier(s) for p, s in after.items()},
            previous_room_id=previous.room_id if previous is not None else None,
            marks=marks,
            staff=frozenset(staff),
            takes=takes,
            watch_spans=[WatchSpan._make(row) for row in watch_rows],
            groups=groups,
            claims=await store.claim_count(room_id),
            referrers=referrers,
            currency=self.currency,
        )
        # Names only for the few persons the report names (the top lists, the luckiest):
        # reading every attendee's took as long as a pass over their figures.
        named = [
            *report.top_engagers,
            *report.top_buyers,
            *report.top_referrers,
            *report.referrers,
            *(p.luckiest for p in report.red_packets if p.luckiest is not None),
        ]
        names = await store.names(Scope(persons=frozenset(ref.person_id for ref in named)))
        for ref in named:
            ref.display_name = names.get(ref.person_id, "")
        return report

    async def _referrers(self, room_id: str) -> list[ReferrerFacts]:
        sales, credited = await asyncio.gather(
            self.store.referred_sales(room_id), self.store.commissions_of(room_id)
        )
        found: dict[str, ReferrerFacts] = {}
        for person, buyers, paid_orders, net in sales:
            found[person] = ReferrerFacts(person, int(buyers), int(paid_orders), int(net or 0))
        for person, accrued, reversed_, paid_out, _payouts in credited:
            r = found.setdefault(person, ReferrerFacts(person))
            r.accrued_cents = int(accrued or 0)
            r.reversed_cents = int(reversed_ or 0)
            r.paid_out_cents = int(paid_out or 0)
        return list(found.values())

    async def _group_facts(self, room_id: str) -> GroupFacts:
        store = self.store
        kinds, failures, lines, claims = await asyncio.gather(
            store.group_messages(room_id),
            store.group_failures(room_id),
            store.group_lines(room_id),
            store.group_claims(room_id),
        )
        found = GroupFacts(
            kinds=[GroupKindFacts._make(row) for row in kinds],
            failures=[GroupFailureFacts._make(row) for row in failures],
            lines=[GroupLineFacts._make(row) for row in lines],
            claims=[
                ClaimFacts(claim_id, bool(paid), int(units or 0), int(net or 0))
                for claim_id, paid, units, net in claims
            ],
        )
        chats = {key.chat_id for key in found.groups()}
        if chats:
            titles = await store.group_titles(chats)
            found.titles = {GroupKey(*key): title for key, title in titles.items()}
        return found


def _offer(row: Any) -> OfferFacts:
    return OfferFacts(
        offer_id=row.offer_id,
        title=row.title,
        kind=row.kind,
        price_cents=row.price_cents,
        stock=row.stock,
        opened_at=row.opened_at,
        sold_out_at=row.sold_out_at,
        group_outcome=row.group_outcome,
        group_buyers=row.group_buyers,
        group_minimum=row.group_minimum,
        tier_buyers=row.tier_buyers,
        best_price_cents=row.best_price_cents,
        orders=int(row.orders or 0),
        units_claimed=int(row.units_claimed or 0),
        paid_orders=int(row.paid_orders or 0),
        units_sold=int(row.units_sold or 0),
        net_cents=int(row.net_cents or 0),
        photo_thumb=row.photo_thumb,
        photo_alt=row.photo_alt,
        expired_orders=int(row.expired_orders or 0),
        cancelled_orders=int(row.cancelled_orders or 0),
        fulfilled_orders=int(row.fulfilled_orders or 0),
        units_fulfilled=int(row.units_fulfilled or 0),
    )


async def audience(reports: Reports, room_id: str) -> Audience:
    """What the show's exports are read from (domain/exports.py)."""
    store = reports.store
    room = await store.room(room_id)
    if room is None:
        raise RoomNotFound(room_id)
    people, staff, order_rows = await asyncio.gather(
        reports.people(room),
        store.staff(room_id, room.host_id),
        store.orders_by_person(room_id),
    )
    orders = person_orders(order_rows)
    persons = set(orders) | {p for p, s in people.in_room.items() if s.rooms > 0}
    referrers = {o.referrer for o in orders.values() if o.referrer} - persons
    names = await store.names(Scope(attendees_of=room_id))
    if referrers:
        names.update(await store.names(Scope(persons=frozenset(referrers))))
    return Audience(
        in_room=people.in_room,
        orders=orders,
        staff=frozenset(staff),
        names=names,
        accounts=await store.person_accounts(persons),
        tiers={p: tier(s) for p, s in people.after.items()},
        returning=frozenset(p for p, s in people.before.items() if s.rooms > 0),
    )


async def buyers_export(reports: Reports, room_id: str) -> list[BuyerRow]:
    return buyers_of(await audience(reports, room_id), reports.currency)


async def engaged_export(reports: Reports, room_id: str) -> list[EngagedRow]:
    return engaged_of(await audience(reports, room_id))
