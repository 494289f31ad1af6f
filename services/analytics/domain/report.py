"""The post-stream report: its contract and how it is computed from a room's figures.

Definitions (persons, not accounts: linked accounts count once):
- the room's staff (its host, with their console, and whoever joined it as host or
  moderator) run the show: they are no attendee and no viewer;
- attendees: persons who did anything in the room (joined the page, wrote in a bound
  group chat, bought...); unique viewers: persons who joined the live page;
- viewers at minute m: the persons present during the minute (a person is present from
  a join until their next leave: joining again while present, from a second tab or
  after a live instance restarted and dropped the socket without a leave, changes
  nothing); peak viewers: the highest of those, over the show, never above unique;
- the curves span the show (start to end minute; without both, the minutes with
  events; at most its first 24 h); orders paid after the end count in GMV, not in
  the curve;
- messages per minute: customers' chat lines (page + bound groups, each once) over
  the show's length in minutes;
- funnel: joined (attendees) -> engaged (chat, likes, votes, red packets, check-ins
  or a claim) -> claimed (an order placed or a claim refused) -> paid (an order paid
  and not refunded in full); each stage is a subset of the one before;
- GMV: money paid for the room's orders minus refunds; average order: GMV / paid
  orders; sell-through: units paid / stock (an order's units: its last quantity, an
  amend's included); time to sell out: opened -> sold out;
- top engagers by messages + votes + red packets + check-ins + likes/10;
- the video (domain/broadcast.py): broadcast minutes (the union of its takes), takes and
  reconnects (takes after the first), watch time within the broadcast (each viewer's
  connections intersected with it, a person's time once), its average over the viewers
  who watched some of it, and the share of the broadcast that average is; the replay page
  is linked when a take came from the host's encoder (live records those);
- each offer's photo: the product's first photo when the offer's terms were last said
  (opened or updated), its thumbnail on orders; none when the product had no photo;
- new: the show is the first the person attended; segment movement: each attendee's
  fan tier from the shows before this one ("new" if none) to the shows up to it;
- groups (reach per bound group): each external group the room's events name (a message
  of ours sent there or failed, a member's line), by platform and chat id, with its title
  when an ingest event said it: our messages sent by kind (an edit of an earlier one is no
  new message), the failures for good by the platform's code and whether one paused the
  binding; the members who wrote in it during the show (persons, staff aside, lines in
  the show's minutes as the curves count them; all their lines when the show has no start
  or end) and their lines; the claims made there (a group claim's id is its line's key,
  `<platform>:<chat>:<message>`: placed or refused) and, of their orders, those paid and
  not refunded in full, their units and net money;
- conversion: buyers (funnel.paid) / unique viewers (buyers from a bound group who never
  opened the page count too, so it can pass 1); claims -> paid: paid orders / claims (every
  claim, an order placed or a claim refused); unpaid: orders that expired unpaid; cancelled:
  orders cancelled before payment (by the buyer, or a pre-sale balance not paid);
  fulfilled: orders handed over (order.fulfilled) and their units;
- referrers: per person who referred a paid order of the room (the order's referrer, first
  touch): buyers, paid orders and GMV they brought; and per person credited a commission on
  the room's orders (any level): accrued, reversed, net (accrued - reversed) and paid out
  (commission.paid_out naming the room); GMV first, then net commission;
- the announcement (report.ready, for the thank-you in the groups): once per room, when
  the first report after its end is built, and only when the room ended within the last
  ANNOUNCE_WITHIN (a catch-up after downtime does not announce shows long over): title,
  attendees, buyers (funnel.paid), units sold, paid orders, the offer that sold the most
  units (the first such in the report's order), the replay link.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from pydantic import BaseModel, Field

from services.analytics.domain.broadcast import (
    ZERO,
    TakeFacts,
    WatchSpan,
    length,
    on_air,
    union,
    watched_on_air,
)
from services.analytics.domain.segments import PersonStats
from shared.events.analytics import ReportReady
from shared.events.ingest import OUTBOUND_KINDS

TOP = 10
MAX_CURVE_MINUTES = 24 * 60  # a curve covers at most the first day of a show
# A room's report is announced (report.ready) only if the room ended this recently: the
# background build waits while the projection catches up after downtime, and a show that
# ended long ago must not thank its groups days late. Hours: the settings' default.
ANNOUNCE_WITHIN_HOURS = 6


class MinutePoint(BaseModel):
    minute: datetime
    viewers: int
    joins: int
    messages: int
    likes: int
    orders: int = Field(description="Orders placed in the minute.")
    payments: int
    paid_cents: int


class Funnel(BaseModel):
    joined: int
    engaged: int
    claimed: int
    paid: int


class OfferFigures(BaseModel):
    offer_id: str
    title: str | None
    kind: str | None
    price_cents: int | None
    stock: int | None
    orders: int = Field(description="Orders placed (units held).")
    units_claimed: int
    paid_orders: int
    units_sold: int = Field(description="Units of orders paid and not refunded in full.")
    net_cents: int
    sell_through: float | None = Field(description="units_sold / stock, 0..1.")
    opened_at: datetime | None
    sold_out_at: datetime | None
    seconds_to_sell_out: float | None
    # The product photo (defaults: reports cached before it existed still read).
    photo_thumb: str | None = Field(
        default=None,
        description="The product's first photo, its thumbnail's object name on orders.",
    )
    photo_alt: str | None = Field(default=None, description="What the photo shows.")
    photo_url: str | None = Field(
        default=None,
        description="The thumbnail on orders, /photos/{photo_thumb} (absolute when analytics "
        "knows orders' public URL); None without a photo.",
    )
    expired_orders: int = Field(default=0, description="Orders that expired unpaid.")
    cancelled_orders: int = Field(default=0, description="Orders cancelled before payment.")
    fulfilled_orders: int = Field(default=0, description="Orders handed over to the buyer.")
    units_fulfilled: int = 0


class GroupBuyOutcome(BaseModel):
    offer_id: str
    title: str | None
    outcome: str = Field(description="formed, failed, or open (not decided yet).")
    buyers: int
    minimum: int | None
    price_cents: int | None = Field(description="The final (formed) or best tier price.")


class PersonRef(BaseModel):
    person_id: str
    display_name: str


class Ranked(PersonRef):
    value: int


class ReferrerFigures(PersonRef):
    buyers: int = Field(description="Persons whose paid orders they referred.")
    paid_orders: int = Field(description="Referred orders paid and not refunded in full.")
    gmv_cents: int = Field(description="Net money of those orders.")
    commission_accrued_cents: int = Field(description="Commissions earned (every level).")
    commission_reversed_cents: int = Field(description="Taken back on refunds.")
    commission_cents: int = Field(description="accrued - reversed.")
    paid_out_cents: int = Field(description="Paid out to them for the room (payouts).")


class RedPacketFigures(BaseModel):
    packet_id: str
    message: str | None
    total_cents: int | None
    shares: int | None
    grabbed: int
    grabbed_cents: int
    finished: bool
    luckiest: PersonRef | None
    luckiest_cents: int | None


class PollFigures(BaseModel):
    poll_id: str
    question: str | None
    options: list[str]
    votes: list[int]
    closed: bool
    winner: str | None


class NewReturning(BaseModel):
    new: int
    returning: int
    new_buyers: int
    returning_buyers: int


class Movement(BaseModel):
    from_tier: str = Field(description="Fan tier before this show, or 'new'.")
    to_tier: str
    persons: int


class OnAirTake(BaseModel):
    take: int
    source: str | None = Field(description="encoder, hls_url or youtube.")
    started_at: datetime
    stopped_at: datetime
    stop_reason: str | None = Field(
        description="encoder_gone, key_revoked, room_ended or source_changed; None when no "
        "stop was seen (closed by the next take or the room's end, or still on air)."
    )
    minutes: float


class GroupKind(BaseModel):
    kind: str = Field(
        description="preview, live, offer, claim_outcome, reminder, red_packet, "
        "announcement, welcome or thank_you."
    )
    sent: int = Field(description="Messages of the kind that reached the group.")
    edits: int = Field(description="Edits of earlier messages (a claim's outcome when paid...).")
    failed: int = Field(description="Messages that could not be delivered, for good.")


class GroupFailure(BaseModel):
    code: str = Field(description="The platform's reason: bot_removed, chat_not_found...")
    failures: int
    binding_paused: bool = Field(description="A failure of this code paused the binding.")
    detail: str | None = Field(description="The platform's own words, the latest.")


class GroupReach(BaseModel):
    platform: str
    chat_id: str
    title: str | None = Field(description="The chat's title, if an ingest event said it.")
    sent: int = Field(description="Messages of ours that reached the group (edits aside).")
    edits: int
    failed: int
    kinds: list[GroupKind] = Field(description="Sent, edits and failures per kind.")
    failures: list[GroupFailure]
    binding_paused: bool = Field(description="A failure paused the group's binding.")
    members_wrote: int = Field(
        description="Persons who wrote in the group during the show (staff aside)."
    )
    lines: int = Field(description="Their lines in the group during the show.")
    claims: int = Field(description="Claims made in the group (placed or refused).")
    orders_paid: int = Field(description="Orders of those claims paid, not refunded in full.")
    units_sold: int
    net_cents: int


class RoomReport(BaseModel):
    room_id: str
    title: str | None
    host_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_minutes: float
    attendees: int
    unique_viewers: int
    peak_viewers: int
    watch_seconds: float
    average_watch_seconds: float
    # The video (defaults: reports cached before it existed still read).
    broadcast_minutes: float = Field(
        default=0.0, description="Minutes the video was on air: the union of its takes."
    )
    takes: int = Field(default=0, description="Times the video went on air.")
    reconnects: int = Field(
        default=0, description="Takes after the first (the encoder dropped, restarted...)."
    )
    broadcast_viewers: int = Field(
        default=0, description="Viewers on the page for some of the broadcast."
    )
    broadcast_watch_minutes: float = Field(
        default=0.0,
        description="Viewers' minutes on the page while the video was on air (a person's "
        "time counted once, whatever their tabs and accounts).",
    )
    average_broadcast_watch_minutes: float = Field(
        default=0.0, description="broadcast_watch_minutes / broadcast_viewers."
    )
    broadcast_share_watched: float | None = Field(
        default=None,
        description="average_broadcast_watch_minutes / broadcast_minutes, 0..1 (None: no "
        "broadcast).",
    )
    replay_url: str | None = Field(
        default=None,
        description="The replay page on live, /r/{room_id}/replay (absolute when analytics "
        "knows live's public URL); None when nothing was recorded (no take from the encoder).",
    )
    on_air: list[OnAirTake] = Field(default_factory=list, description="The takes, in order.")
    messages: int
    messages_per_minute: float
    likes: int
    funnel: Funnel
    paid_orders: int
    gmv_cents: int
    average_order_cents: int
    offers: list[OfferFigures]
    group_buys: list[GroupBuyOutcome]
    red_packets: list[RedPacketFigures]
    polls: list[PollFigures]
    top_engagers: list[Ranked]
    top_buyers: list[Ranked]
    top_referrers: list[Ranked]
    new_vs_returning: NewReturning
    previous_room_id: str | None = Field(
        description="The host's latest show that started and ended before this one started."
    )
    segment_movement: list[Movement]
    minutes: list[MinutePoint]
    # The bound groups (default: reports cached before it existed still read).
    groups: list[GroupReach] = Field(
        default_factory=list,
        description="Reach per bound group: our messages, failures, who wrote, what sold.",
    )
    # After the show (defaults: reports cached before they existed still read).
    currency: str = Field(
        default="CNY", description="ISO 4217: the platform's CURRENCY, the cents' currency."
    )
    conversion_rate: float | None = Field(
        default=None, description="Buyers (funnel.paid) / unique viewers; None: no viewers."
    )
    claims: int = Field(default=0, description="Claims: orders placed and claims refused.")
    orders_placed: int = 0
    claim_conversion: float | None = Field(
        default=None, description="Paid orders / claims, 0..1; None: no claim."
    )
    expired_orders: int = Field(default=0, description="Unpaid: orders that expired.")
    cancelled_orders: int = Field(default=0, description="Orders cancelled before payment.")
    fulfilled_orders: int = Field(default=0, description="Orders handed over.")
    units_fulfilled: int = 0
    commission_accrued_cents: int = 0
    commission_reversed_cents: int = 0
    commission_cents: int = Field(default=0, description="accrued - reversed, every referrer.")
    commission_paid_out_cents: int = 0
    referrers: list[ReferrerFigures] = Field(
        default_factory=list,
        description="GMV and commission per referrer (every one, not a top list).",
    )


@dataclass
class RoomFacts:
    room_id: str
    title: str | None
    host_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    last_event_at: datetime | None = None


class PresenceMark(NamedTuple):
    """One account's joins of the room's page in one minute, and whether it was in after
    the minute (its last event that minute a join)."""

    person_id: str
    minute: datetime
    joins: int
    last_in: bool | None


@dataclass
class Presence:
    """Who was on the page when: the viewers, and per minute the persons arriving and
    the change in persons present (arrivals minus those gone since the minute before)."""

    viewers: set[str]
    arrivals: Counter[datetime]
    changes: Counter[datetime]


def presence(marks: Iterable[PresenceMark], staff: set[str]) -> Presence:
    """Each viewer's presence, per person: from a join to the next leave.

    `marks` come in the order their minute's last events happened (the store sorts them
    by time): for one person and minute, the last mark says whether they were in after it,
    whichever of their accounts or tabs it came from. A person is present during a minute
    if they were in at its start or joined in it: however many joins they made (tabs,
    reconnections after a restart), they count once."""
    found = Presence(set(), Counter(), Counter())
    ordered = sorted(  # stable: within a person's minute the time order stays
        (m for m in marks if m.person_id not in staff), key=lambda m: (m.person_id, m.minute)
    )
    person, inside, joins = None, False, 0
    for i, m in enumerate(ordered):
        joins += m.joins
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        if nxt is not None and (nxt.person_id, nxt.minute) == (m.person_id, m.minute):
            continue  # one person's minute: its last mark has the last word
        if m.person_id != person:
            person, inside = m.person_id, False
        if joins:
            found.viewers.add(m.person_id)
        during = inside or joins > 0
        joins = 0
        if during and not inside:
            found.arrivals[m.minute] += 1
            found.changes[m.minute] += 1
        if during and not m.last_in:
            found.changes[m.minute + timedelta(minutes=1)] -= 1
        inside = bool(m.last_in) and during
    return found


@dataclass
class MinuteCounts:
    minute: datetime
    joins: int
    leaves: int
    messages: int
    likes: int
    orders: int
    payments: int
    paid_cents: int


@dataclass
class OfferFacts:
    offer_id: str
    title: str | None
    kind: str | None
    price_cents: int | None
    stock: int | None
    opened_at: datetime | None
    sold_out_at: datetime | None
    group_outcome: str | None
    group_buyers: int | None
    group_minimum: int | None
    tier_buyers: int | None
    best_price_cents: int | None
    orders: int
    units_claimed: int
    paid_orders: int
    units_sold: int
    net_cents: int
    photo_thumb: str | None = None
    photo_alt: str | None = None
    expired_orders: int = 0
    cancelled_orders: int = 0
    fulfilled_orders: int = 0
    units_fulfilled: int = 0


@dataclass
class ReferrerFacts:
    """A person's referrals in the room: sales brought and commissions credited."""

    person_id: str
    buyers: int = 0
    paid_orders: int = 0
    gmv_cents: int = 0
    accrued_cents: int = 0
    reversed_cents: int = 0
    paid_out_cents: int = 0


def referrer_figures(referrers: Iterable[ReferrerFacts]) -> list[ReferrerFigures]:
    """Every referrer with a sale or a commission, GMV first, then net commission."""
    found = [
        ReferrerFigures(
            person_id=r.person_id,
            display_name="",
            buyers=r.buyers,
            paid_orders=r.paid_orders,
            gmv_cents=r.gmv_cents,
            commission_accrued_cents=r.accrued_cents,
            commission_reversed_cents=r.reversed_cents,
            commission_cents=r.accrued_cents - r.reversed_cents,
            paid_out_cents=r.paid_out_cents,
        )
        for r in referrers
        if r.paid_orders or r.accrued_cents or r.reversed_cents or r.paid_out_cents
    ]
    found.sort(key=lambda f: (-f.gmv_cents, -f.commission_cents, f.person_id))
    return found


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class PacketFacts:
    packet_id: str
    message: str | None
    total_cents: int | None
    shares: int | None
    grabs: int
    grabbed_cents: int
    finished_at: datetime | None
    luckiest_person: str | None
    luckiest_cents: int | None


@dataclass
class PollFacts:
    poll_id: str
    question: str | None
    options_json: str | None
    results_json: str | None
    closed_at: datetime | None
    counted: dict[int, int]


class GroupKey(NamedTuple):
    platform: str
    chat_id: str


class GroupKindFacts(NamedTuple):
    platform: str
    chat_id: str
    kind: str
    sent: int
    edits: int
    failed: int


class GroupFailureFacts(NamedTuple):
    platform: str
    chat_id: str
    code: str
    failures: int
    paused: int | None
    detail: str | None


class GroupLineFacts(NamedTuple):
    """A person's lines in a group in one minute (one row per account: summed here)."""

    platform: str
    chat_id: str
    person_id: str
    minute: datetime
    lines: int


class ClaimFacts(NamedTuple):
    claim_id: str
    paid: bool  # its order paid and not refunded in full
    units_sold: int
    net_cents: int


@dataclass
class GroupFacts:
    kinds: list[GroupKindFacts] = field(default_factory=list)
    failures: list[GroupFailureFacts] = field(default_factory=list)
    lines: list[GroupLineFacts] = field(default_factory=list)
    claims: list[ClaimFacts] = field(default_factory=list)
    titles: dict[GroupKey, str] = field(default_factory=dict)

    def groups(self) -> set[GroupKey]:
        """The groups named: a message of ours sent or failed there, a member's line."""
        found = {GroupKey(r.platform, r.chat_id) for r in self.kinds}
        found |= {GroupKey(r.platform, r.chat_id) for r in self.failures}
        found |= {GroupKey(r.platform, r.chat_id) for r in self.lines}
        return found


def _kind_order(kind: str) -> tuple[int, str]:
    return (OUTBOUND_KINDS.index(kind) if kind in OUTBOUND_KINDS else len(OUTBOUND_KINDS), kind)


def group_of_claim(claim_id: str, groups: Iterable[GroupKey]) -> GroupKey | None:
    """The group a claim was made in: its id is `<platform>:<chat>:<message>` (the longest
    matching prefix wins, should one chat id start like another)."""
    best: GroupKey | None = None
    for g in groups:
        prefix = f"{g.platform}:{g.chat_id}:"
        longer = best is None or len(g.chat_id) > len(best.chat_id)
        if longer and claim_id.startswith(prefix) and len(claim_id) > len(prefix):
            best = g
    return best


def group_reach(
    facts: GroupFacts,
    start: datetime | None,
    end: datetime | None,
    staff: frozenset[str] = frozenset(),
) -> list[GroupReach]:
    """Reach per group (see the module's definitions), groups in platform and chat order."""
    keys = facts.groups()
    window = (_floor(start), _floor(end)) if start and end else None
    writers: dict[GroupKey, set[str]] = {}
    lines: Counter[GroupKey] = Counter()
    for row in facts.lines:
        if row.person_id in staff:
            continue
        if window and not window[0] <= row.minute <= window[1]:
            continue
        key = GroupKey(row.platform, row.chat_id)
        writers.setdefault(key, set()).add(row.person_id)
        lines[key] += row.lines
    claims: dict[GroupKey, list[ClaimFacts]] = {}
    for claim in facts.claims:
        group = group_of_claim(claim.claim_id, keys)
        if group is not None:
            claims.setdefault(group, []).append(claim)
    found = []
    for key in sorted(keys):
        kinds = sorted(
            (r for r in facts.kinds if (r.platform, r.chat_id) == key),
            key=lambda r: _kind_order(r.kind),
        )
        failures = sorted(
            (r for r in facts.failures if (r.platform, r.chat_id) == key),
            key=lambda r: (-r.failures, r.code),
        )
        made = claims.get(key, [])
        paid = [c for c in made if c.paid]
        found.append(
            GroupReach(
                platform=key.platform,
                chat_id=key.chat_id,
                title=facts.titles.get(key),
                sent=sum(r.sent for r in kinds),
                edits=sum(r.edits for r in kinds),
                failed=sum(r.failed for r in kinds),
                kinds=[
                    GroupKind(kind=r.kind, sent=r.sent, edits=r.edits, failed=r.failed)
                    for r in kinds
                ],
                failures=[
                    GroupFailure(
                        code=r.code,
                        failures=r.failures,
                        binding_paused=bool(r.paused),
                        detail=r.detail or None,
                    )
                    for r in failures
                ],
                binding_paused=any(r.paused for r in failures),
                members_wrote=len(writers.get(key, ())),
                lines=lines[key],
                claims=len(made),
                orders_paid=len(paid),
                units_sold=sum(c.units_sold for c in paid),
                net_cents=sum(c.net_cents for c in paid),
            )
        )
    return found


def announces(
    ended_at: datetime | None,
    announced_at: datetime | None,
    now: datetime,
    within: timedelta = timedelta(hours=ANNOUNCE_WITHIN_HOURS),
) -> bool:
    """Whether a report just built is the room's announcement: the room ended, was not
    announced yet, and ended within `within` of now (not a show long over, met again while
    catching up after downtime or rebuilding from the streams)."""
    return ended_at is not None and announced_at is None and now - ended_at <= within


def _clip(text: str | None, limit: int = 200) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def report_ready(report: RoomReport, at: datetime) -> ReportReady:
    """The report's highlights as its announcement (id `report:<room>`: a re-publish is a
    duplicate). Its links as the report has them: make them absolute first if known."""
    sold = [o for o in report.offers if o.units_sold > 0]
    top = max(sold, key=lambda o: o.units_sold, default=None)  # the first of the best
    return ReportReady(
        id=f"report:{report.room_id}",
        room_id=report.room_id,
        occurred_at=at,
        title=_clip(report.title),
        attendees=report.attendees,
        buyers=report.funnel.paid,
        units_sold=sum(o.units_sold for o in report.offers),
        orders_paid=report.paid_orders,
        top_offer_title=_clip(top.title) if top else None,
        replay_url=report.replay_url,
    )


def _floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def curve(
    rows: list[MinuteCounts], present: Presence, start: datetime | None, end: datetime | None
) -> list[MinutePoint]:
    """Minute by minute over the show; viewers: the persons present during the minute."""
    marked = set(present.changes)
    if not rows and not marked and (start is None or end is None):
        return []
    by_minute = {r.minute: r for r in rows}
    known = set(by_minute) | marked
    first = _floor(start) if start and end else min(known)
    last = _floor(end) if start and end else max(known)
    last = min(last, first + timedelta(minutes=MAX_CURVE_MINUTES - 1))
    viewers = sum(n for at, n in present.changes.items() if at < first)
    points = []
    minute = first
    while minute <= last:
        r = by_minute.get(minute)
        viewers += present.changes.get(minute, 0)
        points.append(
            MinutePoint(
                minute=minute,
                viewers=viewers,
                joins=present.arrivals.get(minute, 0),
                messages=r.messages if r else 0,
                likes=r.likes if r else 0,
                orders=r.orders if r else 0,
                payments=r.payments if r else 0,
                paid_cents=r.paid_cents if r else 0,
            )
        )
        minute += timedelta(minutes=1)
    return points


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 2)


def replay_path(room_id: str) -> str:
    """live's replay page of the room (room ids are URL-safe: subject tokens)."""
    return f"/r/{room_id}/replay"


def with_live_url(report: RoomReport, live_url: str) -> RoomReport:
    """The report with its links to live made absolute: a report opened from a file or a
    blob: URL (the console's) has no base to resolve a path against."""
    if not live_url or report.replay_url is None or not report.replay_url.startswith("/"):
        return report
    return report.model_copy(update={"replay_url": live_url.rstrip("/") + report.replay_url})


def photo_path(name: str) -> str:
    """orders' address of a product photo's size (object names are URL-safe)."""
    return f"/photos/{name}"


def with_orders_url(report: RoomReport, orders_url: str) -> RoomReport:
    """The report with its photos' addresses on orders made absolute (see with_live_url)."""
    if not orders_url:
        return report
    base = orders_url.rstrip("/")
    offers = [
        o.model_copy(update={"photo_url": base + o.photo_url})
        if o.photo_url and o.photo_url.startswith("/")
        else o
        for o in report.offers
    ]
    return report.model_copy(update={"offers": offers})


def _ranked(score: dict[str, tuple[int, ...]]) -> list[Ranked]:
    """The top persons by score (a tuple: the value shown, then tie-breakers)."""
    order = heapq.nsmallest(TOP, score.items(), key=lambda kv: (tuple(-v for v in kv[1]), kv[0]))
    # Display names are filled in by the caller, who reads them for these few persons only.
    return [Ranked(person_id=p, display_name="", value=v[0]) for p, v in order[:TOP]]


def _offer(o: OfferFacts) -> OfferFigures:
    to_sell_out = (
        (o.sold_out_at - o.opened_at).total_seconds() if o.sold_out_at and o.opened_at else None
    )
    return OfferFigures(
        offer_id=o.offer_id,
        title=o.title,
        kind=o.kind,
        price_cents=o.price_cents,
        stock=o.stock,
        orders=o.orders,
        units_claimed=o.units_claimed,
        paid_orders=o.paid_orders,
        units_sold=o.units_sold,
        net_cents=o.net_cents,
        sell_through=round(o.units_sold / o.stock, 4) if o.stock else None,
        opened_at=o.opened_at,
        sold_out_at=o.sold_out_at,
        seconds_to_sell_out=to_sell_out,
        photo_thumb=o.photo_thumb,
        photo_alt=o.photo_alt,
        photo_url=photo_path(o.photo_thumb) if o.photo_thumb else None,
        expired_orders=o.expired_orders,
        cancelled_orders=o.cancelled_orders,
        fulfilled_orders=o.fulfilled_orders,
        units_fulfilled=o.units_fulfilled,
    )


def _group(o: OfferFacts) -> GroupBuyOutcome:
    return GroupBuyOutcome(
        offer_id=o.offer_id,
        title=o.title,
        outcome=o.group_outcome or "open",
        buyers=o.group_buyers if o.group_buyers is not None else (o.tier_buyers or 0),
        minimum=o.group_minimum,
        price_cents=o.best_price_cents,
    )


def _poll(p: PollFacts) -> PollFigures:
    options: list[str] = json.loads(p.options_json) if p.options_json else []
    if p.results_json:
        votes: list[int] = json.loads(p.results_json)
    else:
        size = max([len(options), *(i + 1 for i in p.counted)])
        votes = [p.counted.get(i, 0) for i in range(size)]
    best = max(votes, default=0)
    leaders = [i for i, v in enumerate(votes) if v == best and best > 0]
    winner = None
    if len(leaders) == 1:
        i = leaders[0]
        winner = options[i] if i < len(options) else str(i)
    return PollFigures(
        poll_id=p.poll_id,
        question=p.question,
        options=options,
        votes=votes,
        closed=p.closed_at is not None,
        winner=winner,
    )


def build_report(
    room: RoomFacts,
    minutes: list[MinuteCounts],
    in_room: dict[str, PersonStats],
    offers: list[OfferFacts],
    packets: list[PacketFacts],
    polls: list[PollFacts],
    returning: set[str],
    tiers_before: dict[str, str],
    tiers_after: dict[str, str],
    previous_room_id: str | None,
    marks: Iterable[PresenceMark] = (),
    staff: frozenset[str] = frozenset(),
    takes: Iterable[TakeFacts] = (),
    watch_spans: Iterable[WatchSpan] = (),
    groups: GroupFacts | None = None,
    claims: int = 0,
    referrers: Iterable[ReferrerFacts] = (),
    currency: str = "CNY",
) -> RoomReport:
    attendees = {p: s for p, s in in_room.items() if s.rooms > 0 and p not in staff}
    referred = list(referrers)
    present = presence(marks, set(staff))
    points = curve(minutes, present, room.started_at, room.ended_at)
    if room.started_at and room.ended_at:
        duration = max((room.ended_at - room.started_at).total_seconds() / 60, 0.0)
    else:
        duration = float(len(points))
    messages = sum(m.messages for m in minutes)
    viewers = present.viewers  # each present in a minute: the peak is at most their number
    watch_s = sum(s.watch_ms for s in attendees.values()) / 1000
    paid = {p for p, s in attendees.items() if s.orders > 0}
    claimed = paid | {p for p, s in attendees.items() if s.claims > 0}
    engaged = claimed | {p for p, s in attendees.items() if s.engaged}
    paid_orders = sum(o.paid_orders for o in offers)
    gmv = sum(o.net_cents for o in offers)
    aired = on_air(takes, room.ended_at, room.last_event_at)
    broadcast = union(a.span for a in aired)
    broadcast_s = length(broadcast).total_seconds()
    watched = watched_on_air(watch_spans, broadcast, staff)
    watched_s = sum(watched.values(), ZERO).total_seconds()
    average_s = watched_s / len(watched) if watched else 0.0
    recorded = any(a.source == "encoder" for a in aired)
    new = set(attendees) - returning
    movement = Counter(
        (tiers_before.get(p, "new"), tiers_after.get(p, "ordinary")) for p in attendees
    )
    return RoomReport(
        room_id=room.room_id,
        title=room.title,
        host_id=room.host_id,
        started_at=room.started_at,
        ended_at=room.ended_at,
        duration_minutes=round(duration, 2),
        attendees=len(attendees),
        unique_viewers=len(viewers),
        peak_viewers=max((p.viewers for p in points), default=0),
        watch_seconds=round(watch_s, 3),
        average_watch_seconds=round(watch_s / len(viewers), 3) if viewers else 0.0,
        broadcast_minutes=_minutes(broadcast_s),
        takes=len(aired),
        reconnects=max(len(aired) - 1, 0),
        broadcast_viewers=len(watched),
        broadcast_watch_minutes=_minutes(watched_s),
        average_broadcast_watch_minutes=_minutes(average_s),
        broadcast_share_watched=round(average_s / broadcast_s, 4) if broadcast_s else None,
        replay_url=replay_path(room.room_id) if recorded else None,
        on_air=[
            OnAirTake(
                take=a.take,
                source=a.source,
                started_at=a.start,
                stopped_at=a.end,
                stop_reason=a.stop_reason,
                minutes=_minutes((a.end - a.start).total_seconds()),
            )
            for a in aired
        ],
        messages=messages,
        messages_per_minute=round(messages / duration, 2) if duration else 0.0,
        likes=sum(m.likes for m in minutes),
        funnel=Funnel(
            joined=len(attendees), engaged=len(engaged), claimed=len(claimed), paid=len(paid)
        ),
        paid_orders=paid_orders,
        gmv_cents=gmv,
        average_order_cents=round(gmv / paid_orders) if paid_orders else 0,
        offers=[_offer(o) for o in offers],
        group_buys=[_group(o) for o in offers if o.kind == "group_buy"],
        red_packets=[
            RedPacketFigures(
                packet_id=p.packet_id,
                message=p.message,
                total_cents=p.total_cents,
                shares=p.shares,
                grabbed=p.grabs,
                grabbed_cents=p.grabbed_cents,
                finished=p.finished_at is not None,
                luckiest=PersonRef(
                    person_id=p.luckiest_person,
                    display_name="",
                )
                if p.luckiest_person
                else None,
                luckiest_cents=p.luckiest_cents,
            )
            for p in packets
        ],
        polls=[_poll(p) for p in polls],
        top_engagers=_ranked(
            {p: (s.engagement, s.likes) for p, s in attendees.items() if s.engagement > 0},
        ),
        top_buyers=_ranked(
            {p: (s.spend_cents, s.orders) for p, s in attendees.items() if s.spend_cents > 0},
        ),
        top_referrers=_ranked(
            {p: (s.buyers_brought, s.referrals) for p, s in in_room.items() if s.referrals > 0},
        ),
        new_vs_returning=NewReturning(
            new=len(new),
            returning=len(attendees) - len(new),
            new_buyers=len(paid & new),
            returning_buyers=len(paid - new),
        ),
        previous_room_id=previous_room_id,
        segment_movement=[
            Movement(from_tier=a, to_tier=b, persons=n)
            for (a, b), n in sorted(movement.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        minutes=points,
        groups=group_reach(groups, room.started_at, room.ended_at, staff) if groups else [],
        currency=currency,
        conversion_rate=_rate(len(paid), len(viewers)),
        claims=claims,
        orders_placed=sum(o.orders for o in offers),
        claim_conversion=_rate(paid_orders, claims),
        expired_orders=sum(o.expired_orders for o in offers),
        cancelled_orders=sum(o.cancelled_orders for o in offers),
        fulfilled_orders=sum(o.fulfilled_orders for o in offers),
        units_fulfilled=sum(o.units_fulfilled for o in offers),
        commission_accrued_cents=sum(r.accrued_cents for r in referred),
        commission_reversed_cents=sum(r.reversed_cents for r in referred),
        commission_cents=sum(r.accrued_cents - r.reversed_cents for r in referred),
        commission_paid_out_cents=sum(r.paid_out_cents for r in referred),
        referrers=referrer_figures(referred),
    )
