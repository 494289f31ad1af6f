"""How each event contributes to the fact rows: one function per event type.

`fold(events)` turns a batch of (new, deduplicated) events into contributions, at most
one per row (facts.Contributions); the adapter merges them into the stored rows.
Plain Python: no database, no broker.

Counting rules worth knowing:
- a chat line from an external group reaches analytics twice: as the ingest event
  (INGEST) and as the room's copy (LIVE, source telegram/whatsapp/webhook). It is
  counted once, from the ingest event; room lines count only when written on the
  live page (source "web"); system lines (welcomes) are nobody's message;
- an edited external message is not a new message;
- a reaction in an external chat counts as a like;
- watch time is kept in integer milliseconds (sums of floats depend on their order);
  each page connection is kept too (viewer.left: from its time minus watch_seconds to
  its time), to be intersected with the takes of the room's video (domain/broadcast.py);
- "seen" (first/last seen, rooms attended) comes only from what the customer did
  (joined, wrote, liked, voted, grabbed, claimed, paid...), not from what happened
  to them (a commission earned, a moderation decision, a message of ours in a group
  that names them as the buyer);
- the bound groups: what ingest said in them (group.message_sent, group.delivery_failed)
  per group and kind, each member's group lines per minute, the chat's title when an
  ingest event carries it; every claim by its id (a group claim's id is its line's key);
- an order's quantity and amount are the last ones said: order.placed's, then each
  order.amended's (a buyer's edited line, up or down), so units claimed and sold count
  what was finally bought; an amend is no new claim or order;
- order.fulfilled (handed over at a pickup point) marks the order and its units; a
  commission is kept per beneficiary and room, accrued and reversed apart, and what was
  paid out to them (commission.paid_out) in the room its event names;
- report.ready is analytics' own announcement read back: it marks the room announced and
  is no event of the room (it changes neither its figures nor its report's cache key);
- an event type without a handler only counts as one of its room's events: a new type
  on the bus is accepted, never dead-lettered for being unknown to the fold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.analytics.domain import facts
from services.analytics.domain.identity import (
    InvalidLink,
    check_account,
    evidence_kind,
    pair,
    platform_of,
)
from shared.events import (
    ChatMessagePosted,
    CheckedIn,
    ClaimRejected,
    CommissionAccrued,
    CommissionPaidOut,
    CommissionReversed,
    CustomersLinked,
    CustomersUnlinked,
    GroupFailed,
    GroupFormed,
    GroupTierReached,
    IntegrationEvent,
    LikesSent,
    OfferClosed,
    OfferOpened,
    OfferSoldOut,
    OfferUpdated,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderFulfilled,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    PollClosed,
    PollOpened,
    RedPacketFinished,
    RedPacketGrabbed,
    RedPacketSent,
    RoomEnded,
    RoomOpened,
    RoomStarted,
    StreamStarted,
    StreamStopped,
    ViewerJoined,
    ViewerLeft,
    VoteCast,
)
from shared.events.analytics import ReportReady
from shared.events.ingest import (
    ExternalMemberJoined,
    ExternalMemberLeft,
    ExternalMessageReceived,
    ExternalReactionPosted,
    GroupDeliveryFailed,
    GroupMessageSent,
    IngestEvent,
)

# Room lines with these sources are copies of ingest events (counted from INGEST).
WEB_SOURCE = "web"
# Who runs the show, not watches it (viewer.joined's role): no viewer, no attendee.
STAFF_ROLES = frozenset({"host", "moderator"})
# Events about a room that are none of its events: analytics' own output read back.
NOT_ROOM_EVENTS: frozenset[type[IntegrationEvent]] = frozenset({ReportReady})


def utc(at: datetime) -> datetime:
    """Every time is UTC (a time without a zone is taken as UTC)."""
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass
class Folded:
    rows: facts.Contributions = field(default_factory=facts.Contributions)
    rooms: set[str] = field(default_factory=set)
    ended_rooms: set[str] = field(default_factory=set)
    link_pairs: set[tuple[str, str]] = field(default_factory=set)


class _Fold:
    """The per-event context: the event's time, room and actor, and the contributions."""

    def __init__(self, out: Folded) -> None:
        self.out = out
        self.rows = out.rows
        # Per room: [events, first, last], added as one contribution per room at the end.
        self._rooms: dict[str, list[Any]] = {}
        self._accounts: set[str] = set()

    def start(self, event: IntegrationEvent) -> None:
        self.event = event
        self.at = at = utc(event.occurred_at)
        self.room = room = event.room_id
        self.who = event.customer_id
        self._minute: datetime | None = None
        self.rows.insert(facts.PROCESSED, event.id, {"event_id": event.id})
        if type(event) in NOT_ROOM_EVENTS:
            return
        counts = self._rooms.get(room)
        if counts is None:
            self._rooms[room] = [1, at, at]
        else:
            counts[0] += 1
            counts[1] = min(counts[1], at)
            counts[2] = max(counts[2], at)

    def finish(self) -> None:
        self.out.rooms.update(self._rooms)
        for room, (events, first, last) in self._rooms.items():
            self.rows.add(
                facts.ROOMS, room_id=room, events=events, first_event_at=first, last_event_at=last
            )

    def account(self, account_id: str, name: str | None = None) -> None:
        if not name and account_id in self._accounts:
            return  # already in this batch; nothing new to say about it
        self._accounts.add(account_id)
        values: dict[str, Any] = {
            "account_id": account_id,
            "person_id": account_id,
            "platform": platform_of(account_id),
        }
        if name:
            values.update(display_name=name, name_at=self.at, name_key=self.event.id)
        self.rows.add(facts.ACCOUNTS, **values)

    def acted(self, name: str | None = None, engaged: bool = False, **counts: Any) -> None:
        """The actor did something in the room: seen now, plus counters."""
        if not self.who:
            return
        self.account(self.who, name)
        extra = {"last_engaged_at": self.at} if engaged else {}
        self.rows.add(
            facts.ACTIVITY,
            account_id=self.who,
            room_id=self.room,
            first_seen=self.at,
            last_seen=self.at,
            **extra,
            **counts,
        )

    def credited(self, account_id: str, **counts: Any) -> None:
        """Something happened to an account (a commission): counters, not seen."""
        self.account(account_id)
        self.rows.add(facts.ACTIVITY, account_id=account_id, room_id=self.room, **counts)

    def minute(self, **counts: int) -> None:
        if self._minute is None:
            self._minute = minute_of(self.at)
        self.rows.add(facts.MINUTES, room_id=self.room, minute=self._minute, **counts)

    def presence(self, inside: bool, **values: int) -> None:
        """The actor came onto the page or left it: in or out after this minute, unless
        a later event of the minute says otherwise."""
        if not self.who:
            return
        self.rows.add(
            facts.PRESENCE,
            room_id=self.room,
            account_id=self.who,
            minute=minute_of(self.at),
            last_at=self.at,
            last_key=self.event.id,
            last_in=inside,
            **values,
        )

    def referral(self, referrer: str | None, **values: Any) -> None:
        if not referrer or not self.who or referrer == self.who:
            return
        self.account(referrer)
        self.rows.add(
            facts.REFERRALS,
            referrer_id=referrer,
            referred_id=self.who,
            room_id=self.room,
            first_at=self.at,
            **values,
        )

    def message(self, message_id: str, text: str, source: str) -> None:
        self.rows.add(
            facts.MESSAGES,
            message_id=message_id,
            room_id=self.room,
            account_id=self.who,
            text=text,
            source=source,
            occurred_at=self.at,
        )

    def chat(self, e: IngestEvent) -> None:
        """The group's title, when the platform said it with this update."""
        if e.chat_title:
            self.rows.add(
                facts.GROUP_CHATS,
                platform=e.platform,
                chat_id=e.chat_id,
                title=e.chat_title,
                title_at=self.at,
                title_key=self.event.id,
            )

    def claim(self, claim_id: str, **values: Any) -> None:
        self.rows.add(
            facts.CLAIMS,
            room_id=self.room,
            claim_id=claim_id,
            account_id=self.who,
            first_at=self.at,
            **values,
        )

    def evidence(self, a: str, b: str, kind: str, detail: str, by: str | None) -> None:
        try:
            key = pair(check_account(a), check_account(b))
        except InvalidLink:
            return  # a malformed declaration is no evidence; the event still counts
        self.account(a)
        self.account(b)
        self.rows.add(
            facts.LINK_EVIDENCE,
            event_id=self.event.id,
            account_a=key[0],
            account_b=key[1],
            kind=kind,
            detail=detail,
            by=by,
            room_id=self.room,
            occurred_at=self.at,
        )
        link: dict[str, Any] = {"account_a": key[0], "account_b": key[1], "first_at": self.at}
        if kind in ("host_link", "host_unlink"):
            link.update(
                decision="link" if kind == "host_link" else "unlink",
                decided_by=by,
                decided_at=self.at,
                decision_key=self.event.id,
                host_links=1 if kind == "host_link" else 0,
            )
        else:
            link["auto_evidence"] = 1
        self.rows.add(facts.LINKS, **link)
        self.out.link_pairs.add(key)


Handler = Callable[[_Fold, Any], None]


def _room_opened(f: _Fold, e: RoomOpened) -> None:
    f.rows.add(facts.ROOMS, room_id=f.room, title=e.title, host_id=e.host_id, opened_at=f.at)


def _room_started(f: _Fold, e: RoomStarted) -> None:
    f.rows.add(facts.ROOMS, room_id=f.room, started_at=f.at)


def _room_ended(f: _Fold, e: RoomEnded) -> None:
    f.rows.add(facts.ROOMS, room_id=f.room, ended_at=f.at)
    f.out.ended_rooms.add(f.room)


def _viewer_joined(f: _Fold, e: ViewerJoined) -> None:
    f.acted(e.display_name, joins=1)
    f.minute(joins=1)
    f.presence(True, joins=1, staff=1 if e.role in STAFF_ROLES else 0)
    f.referral(e.referrer_id, joins=1)
    if e.external_id and e.customer_id and e.external_id != e.customer_id:
        f.evidence(
            e.customer_id,
            e.external_id,
            evidence_kind(e.external_id),
            f"joined {e.room_id} declaring {e.external_id}",
            None,
        )


def _viewer_left(f: _Fold, e: ViewerLeft) -> None:
    watch_ms = round(e.watch_seconds * 1000)
    f.acted(leaves=1, watch_ms=watch_ms)
    f.minute(leaves=1)
    f.presence(False)
    if f.who and watch_ms > 0:
        f.rows.insert(
            facts.WATCH_SPANS,
            (f.room, f.event.id),
            {
                "room_id": f.room,
                "event_id": f.event.id,
                "account_id": f.who,
                "from_at": f.at - timedelta(milliseconds=watch_ms),
                "to_at": f.at,
            },
        )


def _stream_started(f: _Fold, e: StreamStarted) -> None:
    f.rows.add(
        facts.TAKES,
        room_id=f.room,
        take=e.take,
        source=e.source,
        protocol=e.protocol,
        started_at=f.at,
    )


def _stream_stopped(f: _Fold, e: StreamStopped) -> None:
    f.rows.add(
        facts.TAKES,
        room_id=f.room,
        take=e.take,
        source=e.source,
        stopped_at=f.at,
        stop_reason=e.reason,
        on_air_ms=round(e.on_air_seconds * 1000),
    )


def _chat_line(f: _Fold, e: ChatMessagePosted) -> None:
    if e.source != WEB_SOURCE or not e.customer_id:
        return  # an external line's room copy (counted from ingest), or a system line
    f.acted(e.display_name, engaged=True, messages=1)
    f.minute(messages=1)
    f.message(e.message_id, e.text, e.source)


def _likes(f: _Fold, e: LikesSent) -> None:
    f.acted(engaged=True, likes=e.count)
    f.minute(likes=e.count)


def _checked_in(f: _Fold, e: CheckedIn) -> None:
    f.acted(
        engaged=True,
        checkins=1,
        best_streak=e.streak,
        checkin_day=e.day,
        checkin_streak=e.streak,
    )


def _packet_sent(f: _Fold, e: RedPacketSent) -> None:
    f.rows.add(
        facts.RED_PACKETS,
        packet_id=e.packet_id,
        room_id=f.room,
        sender_id=e.customer_id,
        total_cents=e.total_cents,
        shares=e.shares,
        message=e.message,
        sent_at=f.at,
    )


def _packet_grabbed(f: _Fold, e: RedPacketGrabbed) -> None:
    f.acted(engaged=True, red_packets=1, red_packet_cents=e.amount_cents)
    f.rows.add(
        facts.RED_PACKETS,
        packet_id=e.packet_id,
        room_id=f.room,
        grabs=1,
        grabbed_cents=e.amount_cents,
    )


def _packet_finished(f: _Fold, e: RedPacketFinished) -> None:
    f.rows.add(
        facts.RED_PACKETS,
        packet_id=e.packet_id,
        room_id=f.room,
        finished_at=f.at,
        luckiest_id=e.customer_id,
        luckiest_cents=e.luckiest_amount_cents,
    )


def _poll_opened(f: _Fold, e: PollOpened) -> None:
    f.rows.add(
        facts.POLLS,
        poll_id=e.poll_id,
        room_id=f.room,
        question=e.question,
        options=json.dumps(e.options, ensure_ascii=False),
        opened_at=f.at,
    )


def _vote(f: _Fold, e: VoteCast) -> None:
    f.acted(engaged=True, votes=1)
    f.rows.add(facts.POLL_VOTES, poll_id=e.poll_id, option=e.option, room_id=f.room, votes=1)


def _poll_closed(f: _Fold, e: PollClosed) -> None:
    f.rows.add(
        facts.POLLS,
        poll_id=e.poll_id,
        room_id=f.room,
        closed_at=f.at,
        results=json.dumps(e.results),
    )


def _offer_terms(f: _Fold, offer_id: str, **values: Any) -> None:
    f.rows.add(
        facts.OFFERS,
        offer_id=offer_id,
        room_id=f.room,
        terms_at=f.at,
        terms_key=f.event.id,
        **values,
    )


def _first_photo(e: OfferOpened | OfferUpdated) -> dict[str, str | None]:
    """The card's photo (the first), as the terms say it: the thumbnail the report shows."""
    first = e.photos[0] if e.photos else None
    return {
        "photo_thumb": first.thumb if first else None,
        "photo_alt": first.alt if first else None,
    }


def _offer_opened(f: _Fold, e: OfferOpened) -> None:
    _offer_terms(
        f,
        e.offer_id,
        kind=e.kind,
        title=e.title,
        opened_at=f.at,
        price_cents=e.price_cents,
        stock=e.stock,
        best_price_cents=e.price_cents,
        **_first_photo(e),
    )


def _offer_updated(f: _Fold, e: OfferUpdated) -> None:
    _offer_terms(f, e.offer_id, price_cents=e.price_cents, stock=e.stock, **_first_photo(e))


def _offer(f: _Fold, offer_id: str, **values: Any) -> None:
    f.rows.add(facts.OFFERS, offer_id=offer_id, room_id=f.room, **values)


def _sold_out(f: _Fold, e: OfferSoldOut) -> None:
    _offer(f, e.offer_id, sold_out_at=f.at)


def _offer_closed(f: _Fold, e: OfferClosed) -> None:
    _offer(f, e.offer_id, closed_at=f.at)


def _tier(f: _Fold, e: GroupTierReached) -> None:
    _offer(f, e.offer_id, tier_buyers=e.buyers, best_price_cents=e.price_cents)


def _formed(f: _Fold, e: GroupFormed) -> None:
    _offer(
        f,
        e.offer_id,
        group_outcome="formed",
        group_buyers=e.buyers,
        best_price_cents=e.price_cents,
    )


def _failed(f: _Fold, e: GroupFailed) -> None:
    _offer(f, e.offer_id, group_outcome="failed", group_buyers=e.buyers, group_minimum=e.minimum)


def _claim_rejected(f: _Fold, e: ClaimRejected) -> None:
    waitlisted = e.reason == "sold_out_waitlisted"
    f.acted(engaged=True, claims=1, waitlisted=int(waitlisted))
    f.claim(e.claim_id, rejections=1)
    if waitlisted and e.customer_id:
        f.rows.add(
            facts.WAITLIST,
            account_id=e.customer_id,
            offer_id=e.offer_id,
            room_id=f.room,
            first_at=f.at,
            times=1,
        )


def _order(f: _Fold, order_id: str, offer_id: str, **values: Any) -> None:
    f.rows.add(
        facts.ORDERS,
        order_id=order_id,
        room_id=f.room,
        offer_id=offer_id,
        account_id=f.who,
        **values,
    )


def _order_placed(f: _Fold, e: OrderPlaced) -> None:
    f.acted(engaged=True, claims=1)
    f.minute(orders=1)
    f.claim(e.claim_id, order_id=e.order_id)
    _order(
        f,
        e.order_id,
        e.offer_id,
        kind=e.kind,
        referrer_id=e.referrer_id,
        from_waitlist=int(e.from_waitlist),
        placed_at=f.at,
        **_terms(f, e),
    )
    f.referral(e.referrer_id, orders=1)


def _terms(f: _Fold, e: OrderPlaced | OrderAmended) -> dict[str, Any]:
    """An order's quantity and amount as this event says them, with its order key: the
    last said win (facts.ORDERS), an amend lowering them included."""
    return {
        "quantity": e.quantity,
        "amount_cents": e.amount_cents,
        "terms_at": f.at,
        "terms_key": f.event.id,
    }


def _order_amended(f: _Fold, e: OrderAmended) -> None:
    # The buyer's doing (an edited line), but no new claim or order: counted nowhere else.
    f.acted()
    _order(f, e.order_id, e.offer_id, **_terms(f, e))


def _order_paid(f: _Fold, e: OrderPaid) -> None:
    f.acted()
    f.minute(payments=1, paid_cents=e.amount_cents)
    _order(
        f,
        e.order_id,
        e.offer_id,
        paid_at=f.at,
        last_paid_at=f.at,
        payments=1,
        paid_cents=e.amount_cents,
    )
    referrer = e.referrer_chain[0] if e.referrer_chain else None
    f.referral(referrer, payments=1, paid_cents=e.amount_cents, first_paid_at=f.at)


def _order_expired(f: _Fold, e: OrderExpired) -> None:
    # Its quantity (the units released) is the order's last terms, said already by
    # order.placed / order.amended; given here without their order key it would make the
    # row depend on the events' order.
    _order(f, e.order_id, e.offer_id, expired_at=f.at)


def _order_cancelled(f: _Fold, e: OrderCancelled) -> None:
    _order(f, e.order_id, e.offer_id, cancelled_at=f.at)


def _order_refunded(f: _Fold, e: OrderRefunded) -> None:
    _order(f, e.order_id, e.offer_id, refunded_cents=e.amount_cents)


def _order_fulfilled(f: _Fold, e: OrderFulfilled) -> None:
    # The desk's doing, not the buyer's: nobody is "seen".
    _order(f, e.order_id, e.offer_id, fulfilled_at=f.at, fulfilled_units=e.quantity)


def _commissions(f: _Fold, beneficiary: str, **cents: int) -> None:
    f.account(beneficiary)
    f.rows.add(facts.COMMISSIONS, account_id=beneficiary, room_id=f.room, **cents)


def _commission(f: _Fold, e: CommissionAccrued) -> None:
    if e.customer_id:
        f.credited(e.customer_id, commission_cents=e.amount_cents)
        _commissions(f, e.customer_id, accrued_cents=e.amount_cents)


def _commission_reversed(f: _Fold, e: CommissionReversed) -> None:
    if e.customer_id:
        f.credited(e.customer_id, commission_cents=-e.amount_cents)
        _commissions(f, e.customer_id, reversed_cents=e.amount_cents)


def _commission_paid_out(f: _Fold, e: CommissionPaidOut) -> None:
    # Money moved to the promoter outside the platform: no activity of theirs.
    if e.customer_id:
        _commissions(f, e.customer_id, paid_out_cents=e.amount_cents, payouts=1)


def _external_message(f: _Fold, e: ExternalMessageReceived) -> None:
    f.chat(e)
    if e.edited:
        f.acted(e.display_name)
        return
    f.acted(e.display_name, engaged=True, messages=1)
    f.minute(messages=1)
    f.message(e.id, e.text, e.platform)
    if f.who:
        f.rows.add(
            facts.GROUP_LINES,
            room_id=f.room,
            platform=e.platform,
            chat_id=e.chat_id,
            account_id=f.who,
            minute=minute_of(f.at),
            lines=1,
        )


def _external_joined(f: _Fold, e: ExternalMemberJoined) -> None:
    f.chat(e)
    f.acted(e.display_name)
    if e.added_by:
        f.referral(f"{e.platform}:{e.added_by}", joins=1)


def _external_left(f: _Fold, e: ExternalMemberLeft) -> None:
    f.chat(e)
    f.acted(e.display_name)


def _external_reaction(f: _Fold, e: ExternalReactionPosted) -> None:
    f.chat(e)
    if e.emoji is None:
        f.acted(e.display_name)
        return
    f.acted(e.display_name, engaged=True, likes=1)
    f.minute(likes=1)


def _group_message(f: _Fold, e: GroupMessageSent | GroupDeliveryFailed, **n: int) -> None:
    f.rows.add(
        facts.GROUP_MESSAGES,
        room_id=f.room,
        platform=e.platform,
        chat_id=e.chat_id,
        kind=e.kind,
        first_at=f.at,
        last_at=f.at,
        **n,
    )


def _group_message_sent(f: _Fold, e: GroupMessageSent) -> None:
    # Ours, not the buyer's doing (customer_id names the buyer): nobody is "seen".
    _group_message(f, e, **({"edits": 1} if e.edited else {"sent": 1}))


def _group_delivery_failed(f: _Fold, e: GroupDeliveryFailed) -> None:
    _group_message(f, e, failed=1)
    f.rows.add(
        facts.GROUP_FAILURES,
        room_id=f.room,
        platform=e.platform,
        chat_id=e.chat_id,
        code=e.code,
        failures=1,
        paused=int(e.binding_paused),
        detail=e.detail,
        failed_at=f.at,
        failed_key=f.event.id,
    )


def _report_ready(f: _Fold, e: ReportReady) -> None:
    f.rows.add(facts.ROOMS, room_id=f.room, announced_at=f.at)


def _linked(f: _Fold, e: CustomersLinked) -> None:
    f.evidence(e.account_id, e.other_account_id, "host_link", e.note, e.customer_id)


def _unlinked(f: _Fold, e: CustomersUnlinked) -> None:
    f.evidence(e.account_id, e.other_account_id, "host_unlink", e.note, e.customer_id)


# One table routes every event type to its handler; types not listed only count as
# the room's events (pins, announcements, rules, roles, moderation, stock ticks).
HANDLERS: dict[type[IntegrationEvent], Handler] = {
    RoomOpened: _room_opened,
    RoomStarted: _room_started,
    RoomEnded: _room_ended,
    ViewerJoined: _viewer_joined,
    ViewerLeft: _viewer_left,
    StreamStarted: _stream_started,
    StreamStopped: _stream_stopped,
    ChatMessagePosted: _chat_line,
    LikesSent: _likes,
    CheckedIn: _checked_in,
    RedPacketSent: _packet_sent,
    RedPacketGrabbed: _packet_grabbed,
    RedPacketFinished: _packet_finished,
    PollOpened: _poll_opened,
    VoteCast: _vote,
    PollClosed: _poll_closed,
    OfferOpened: _offer_opened,
    OfferUpdated: _offer_updated,
    OfferSoldOut: _sold_out,
    OfferClosed: _offer_closed,
    GroupTierReached: _tier,
    GroupFormed: _formed,
    GroupFailed: _failed,
    ClaimRejected: _claim_rejected,
    OrderPlaced: _order_placed,
    OrderAmended: _order_amended,
    OrderPaid: _order_paid,
    OrderExpired: _order_expired,
    OrderCancelled: _order_cancelled,
    OrderRefunded: _order_refunded,
    OrderFulfilled: _order_fulfilled,
    CommissionAccrued: _commission,
    CommissionReversed: _commission_reversed,
    CommissionPaidOut: _commission_paid_out,
    ExternalMessageReceived: _external_message,
    ExternalMemberJoined: _external_joined,
    ExternalMemberLeft: _external_left,
    ExternalReactionPosted: _external_reaction,
    GroupMessageSent: _group_message_sent,
    GroupDeliveryFailed: _group_delivery_failed,
    ReportReady: _report_ready,
    CustomersLinked: _linked,
    CustomersUnlinked: _unlinked,
}


def fold(events: Iterable[IntegrationEvent]) -> Folded:
    """Contributions of new events (each id once: the caller removed those already applied)."""
    out = Folded()
    f = _Fold(out)
    for event in events:
        f.start(event)
        handler = HANDLERS.get(type(event))
        if handler is not None:
            handler(f, event)
    f.finish()
    return out
