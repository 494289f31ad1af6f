"""Fold a room's events into what its viewers see.

Plain code (no NATS, no sockets): the hub feeds it every event of the room and
asks it, once per tick, for the frames to send. High-rate values (stock left,
likes, red packet shares left, poll counts) are coalesced: only the latest
value per tick goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.live import protocol
from services.live.adapters.history import chat_line
from services.live.domain.chat import is_edit_of_a_group_line
from services.live.domain.moderation import RoomRules
from services.live.domain.posts import MayPost, may_post
from services.live.domain.viewers import Role
from shared.events import (
    AnnouncementPosted,
    ChatMediaFetched,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ClaimRejected,
    GroupTierReached,
    IntegrationEvent,
    LikesSent,
    ModerationApplied,
    OfferClosed,
    OfferOpened,
    OfferSoldOut,
    OfferUpdated,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    PollClosed,
    PollOpened,
    ProductPinned,
    RedPacketFinished,
    RedPacketGrabbed,
    RedPacketSent,
    RoleChanged,
    RoomEnded,
    RoomRulesChanged,
    RoomStarted,
    StockChanged,
    StreamStarted,
    StreamStopped,
    VoteCast,
    utcnow,
)


def variant_views(
    names: list[str], variant_left: dict[str, int], left: int
) -> list[protocol.VariantView]:
    """Every variant of the product with what is left of it (its own units when the host
    split the stock, else the offer's)."""
    if variant_left:
        return [
            protocol.VariantView(
                name=n, left=variant_left.get(n, 0), sold_out=variant_left.get(n, 0) == 0
            )
            for n in names
        ]
    return [protocol.VariantView(name=n, left=None, sold_out=left == 0) for n in names]


def restock(
    known: list[protocol.VariantView] | None, variant_left: dict[str, int], left: int
) -> list[protocol.VariantView] | None:
    """The variants after a stock change (None while this instance does not know them)."""
    if known is None:
        return None
    names = [v.name for v in known]
    if variant_left:
        return variant_views(names, variant_left, left)
    if known and known[0].left is not None:  # split: nothing left is none of each
        return variant_views(names, {n: 0 for n in names}, left) if left == 0 else known
    return variant_views(names, {}, left)


# Deleted lines remembered, so media fetched for one later is not shown.
DELETED_KEPT = 1000


@dataclass(frozen=True)
class Outgoing:
    frame: str
    to: str | None = None  # a customer id for private frames; None is everyone


@dataclass
class RoomState:
    """What a live instance knows of a room; the hub keeps it current from events."""

    status: str
    title: str = ""
    rules: RoomRules = field(default_factory=RoomRules)
    pinned_offer_id: str | None = None
    roles: dict[str, Role] = field(default_factory=dict)
    muted_until: dict[str, datetime] = field(default_factory=dict)
    banned: set[str] = field(default_factory=set)
    stream: protocol.StreamFrame | None = None

    def role_of(self, customer_id: str) -> Role:
        return self.roles.get(customer_id, Role.MEMBER)

    def may_post(self, customer_id: str, now: datetime) -> MayPost:
        """What they may post besides text, as this instance sees the room now."""
        until = self.muted_until.get(customer_id)
        muted = customer_id in self.banned or (until is not None and until > now)
        return may_post(self.role_of(customer_id), self.rules, muted)

    def apply(self, event: IntegrationEvent) -> None:
        """Fold a decision into the state. Idempotent: the instance that made the decision
        applies it before answering, then sees it again from the bus."""
        match event:
            case RoomStarted():
                self.status = "live"
            case RoomEnded():
                self.status = "ended"
            case ProductPinned():
                self.pinned_offer_id = event.offer_id
            case StreamStarted():
                self.stream = protocol.StreamFrame(
                    state="live",
                    source=event.source,
                    url=event.playback_url,
                    youtube_video_id=event.youtube_video_id,
                    since=event.occurred_at,
                )
            case StreamStopped():
                if self.stream is None or self.stream.state == "live":
                    # The stop may be seen before the room's end: it says so itself.
                    ended = event.reason == "room_ended" or self.status == "ended"
                    state = "reconnecting" if self.status == "live" else "offline"
                    self.stream = protocol.StreamFrame(
                        state="ended" if ended else state,
                        source=event.source,
                        url=self.stream.url if self.stream else None,
                        youtube_video_id=self.stream.youtube_video_id if self.stream else None,
                    )
            case RoomRulesChanged():
                self.rules = RoomRules(
                    blocked_words=tuple(event.blocked_words),
                    block_links=event.block_links,
                    block_ads=event.block_ads,
                    max_length=event.max_length,
                    slow_mode_s=event.slow_mode_s,
                    members_post_media=event.members_post_media,
                )
            case RoleChanged() if event.customer_id:
                self.roles[event.customer_id] = Role(event.role)
            case ModerationApplied() if event.customer_id:
                target = event.customer_id
                if event.action == "mute" and event.until:
                    self.muted_until[target] = event.until
                elif event.action == "unmute":
                    self.muted_until.pop(target, None)
                elif event.action == "ban":
                    self.banned.add(target)
                elif event.action == "unban":
                    self.banned.discard(target)
            case _:
                pass


class RoomFeed:
    def __init__(self, state: RoomState) -> None:
        self.state = state
        self.offers: dict[str, protocol.OfferView] = {}
        self.likes = 0
        self._chat: list[protocol.ChatLine] = []
        self._deleted: dict[str, None] = {}  # the lines deleted lately, oldest first
        self._frames: list[Outgoing] = []
        self._dirty_offers: set[str] = set()
        self._dirty_packets: set[str] = set()
        self._dirty_polls: set[str] = set()
        self._likes_dirty = False
        self._packets: dict[str, protocol.RedPacketUpdate] = {}
        self._polls: dict[str, protocol.PollUpdate] = {}

    def pinned(self) -> protocol.OfferView | None:
        offer_id = self.state.pinned_offer_id
        if offer_id is None:
            return None
        return self.offers.get(offer_id) or protocol.OfferView(offer_id=offer_id)

    def _say(self, model: protocol.BaseModel, to: str | None = None) -> None:
        self._frames.append(Outgoing(model.model_dump_json(), to))

    def apply(self, event: IntegrationEvent) -> None:
        state = self.state
        state.apply(event)
        match event:
            case ChatMessagePosted():
                self._chat.append(chat_line(event))
            case ChatMessageDeleted():
                self._chat = [c for c in self._chat if c.id != event.message_id]
                self._deleted[event.message_id] = None
                if len(self._deleted) > DELETED_KEPT:
                    del self._deleted[next(iter(self._deleted))]
                self._say(protocol.ChatDeleted(message_id=event.message_id))
            case ChatMessageEdited() if is_edit_of_a_group_line(event):
                pending = next((c for c in self._chat if c.id == event.message_id), None)
                if pending is not None:  # not sent yet: it goes out edited
                    if is_edit_of_a_group_line(event, pending.source):
                        pending.text, pending.edited = event.text, True
                elif event.message_id not in self._deleted:
                    self._say(protocol.ChatEdited(message_id=event.message_id, text=event.text))
            case ChatMediaFetched() if event.message_id not in self._deleted:
                # A group's picture or voice note for a line shown as pending (or why not);
                # never for a line deleted meanwhile (its media is deleted on arrival).
                self._say(
                    protocol.Attached(
                        message_id=event.message_id,
                        attachment=event.attachment,
                        reason=event.reason,
                    )
                )
            case RoomStarted():
                self._say(protocol.RoomStatus(status="live"))
            case RoomEnded():
                self._say(protocol.RoomStatus(status="ended"))
            case StreamStarted() | StreamStopped() if state.stream is not None:
                self._say(state.stream)
            case ProductPinned():
                self._say(protocol.Pinned(offer=self.pinned()))
            case RoomRulesChanged():
                # Everyone: each page works out what it may post from it with its role.
                self._say(
                    protocol.RulesFrame(
                        members_post_media=state.rules.members_post_media,
                        block_links=state.rules.block_links,
                    )
                )
            case RoleChanged() if event.customer_id:
                allowed = state.may_post(event.customer_id, utcnow())
                self._say(
                    protocol.Notice(
                        kind="role",
                        message=f"You are now {event.role}.",
                        data={
                            "role": event.role,
                            "may_post": {"media": allowed.media, "links": allowed.links},
                        },
                    ),
                    to=event.customer_id,
                )
            case ModerationApplied():
                self._moderation(event)
            case LikesSent():
                self.likes += event.count
                self._likes_dirty = True
            case RedPacketSent():
                self._packets[event.packet_id] = protocol.RedPacketUpdate(
                    packet_id=event.packet_id,
                    status="open",
                    shares=event.shares,
                    remaining=event.shares,
                    message=event.message,
                )
                self._dirty_packets.add(event.packet_id)
            case RedPacketGrabbed():
                packet = self._packets.get(event.packet_id)
                if packet and event.remaining_shares < packet.remaining:
                    packet.remaining = event.remaining_shares
                    self._dirty_packets.add(event.packet_id)
            case RedPacketFinished():
                packet = self._packets.get(event.packet_id)
                if packet:
                    packet.status, packet.remaining = "finished", 0
                    packet.luckiest = event.customer_id
                    packet.luckiest_amount_cents = event.luckiest_amount_cents
                    self._dirty_packets.add(event.packet_id)
            case PollOpened():
                self._polls[event.poll_id] = protocol.PollUpdate(
                    poll_id=event.poll_id,
                    question=event.question,
                    options=event.options,
                    counts=[0] * len(event.options),
                )
                self._dirty_polls.add(event.poll_id)
            case VoteCast():
                poll = self._polls.get(event.poll_id)
                if poll and not poll.closed and event.option < len(poll.counts):
                    poll.counts[event.option] += 1
                    self._dirty_polls.add(event.poll_id)
            case PollClosed():
                poll = self._polls.get(event.poll_id)
                if poll:
                    poll.counts, poll.closed = list(event.results), True
                    self._dirty_polls.add(event.poll_id)
            case AnnouncementPosted():
                self._say(protocol.Announcement(text=event.text))
            case OfferOpened():
                self.offers[event.offer_id] = protocol.OfferView(
                    offer_id=event.offer_id,
                    kind=event.kind,
                    title=event.title,
                    price_cents=event.price_cents,
                    stock=event.stock,
                    left=event.stock,
                    per_buyer_limit=event.per_buyer_limit,
                    ends_at=event.ends_at,
                    photos=list(event.photos),
                    variants=variant_views(event.variants, event.variant_left, event.stock),
                )
                self._dirty_offers.add(event.offer_id)
            case StockChanged():
                offer = self.offers.setdefault(
                    event.offer_id, protocol.OfferView(offer_id=event.offer_id)
                )
                offer.left = event.left
                offer.variants = restock(offer.variants, event.variant_left, event.left)
                self._dirty_offers.add(event.offer_id)
            case OfferSoldOut():
                offer = self.offers.setdefault(
                    event.offer_id, protocol.OfferView(offer_id=event.offer_id)
                )
                offer.left, offer.sold_out = 0, True
                offer.variants = restock(offer.variants, {}, 0)
                self._dirty_offers.add(event.offer_id)
            case OfferClosed():
                offer = self.offers.setdefault(
                    event.offer_id, protocol.OfferView(offer_id=event.offer_id)
                )
                offer.closed = True
                self._dirty_offers.add(event.offer_id)
            case OrderPlaced() if event.customer_id:
                self._say(
                    protocol.Notice(
                        kind="order_placed",
                        message="It's yours! Pay before the deadline to confirm.",
                        data={
                            "order_id": event.order_id,
                            "offer_id": event.offer_id,
                            "quantity": event.quantity,
                            "variant": event.variant,
                            "amount_cents": event.amount_cents,
                            "pay_by": event.pay_by.isoformat(),
                            "claim_id": event.claim_id,
                        },
                    ),
                    to=event.customer_id,
                )
            case OfferUpdated():
                offer = self.offers.setdefault(
                    event.offer_id, protocol.OfferView(offer_id=event.offer_id)
                )
                offer.price_cents, offer.stock, offer.left = (
                    event.price_cents,
                    event.stock,
                    event.left,
                )
                offer.per_buyer_limit, offer.ends_at = event.per_buyer_limit, event.ends_at
                offer.sold_out = event.left == 0
                # The product's photos as they are now (the host added, reordered, removed).
                offer.photos = list(event.photos)
                offer.variants = (
                    variant_views(event.variants, event.variant_left, event.left)
                    if event.variants
                    else restock(offer.variants, event.variant_left, event.left)
                )
                self._dirty_offers.add(event.offer_id)
            case GroupTierReached():
                offer = self.offers.setdefault(
                    event.offer_id, protocol.OfferView(offer_id=event.offer_id)
                )
                offer.price_cents, offer.buyers = event.price_cents, event.buyers
                offer.next_tier_at = event.next_tier_at
                self._dirty_offers.add(event.offer_id)
            case OrderPaid() if event.customer_id:
                self._say(
                    protocol.Notice(
                        kind="order_paid",
                        message="Paid: your order is confirmed."
                        + (f" Pickup code {event.pickup_code}." if event.pickup_code else ""),
                        data={
                            "order_id": event.order_id,
                            "stage": event.stage,
                            "pickup_code": event.pickup_code,
                        },
                    ),
                    to=event.customer_id,
                )
            case OrderExpired() if event.customer_id:
                self._say(
                    protocol.Notice(
                        kind="order_expired",
                        message="Your order was not paid in time; the unit went back on sale.",
                        data={"order_id": event.order_id, "offer_id": event.offer_id},
                    ),
                    to=event.customer_id,
                )
            case ClaimRejected() if event.customer_id:
                self._say(
                    protocol.Notice(
                        kind="claim_rejected",
                        message=event.message,
                        data={
                            "reason": event.reason,
                            "offer_id": event.offer_id,
                            "claim_id": event.claim_id,
                        },
                    ),
                    to=event.customer_id,
                )
            case _:
                pass

    def _moderation(self, event: ModerationApplied) -> None:
        if event.action == "block":
            # Automatic rule hits are private: the author learns why, the room sees nothing.
            return
        self._say(
            protocol.ModerationNotice(
                action=event.action, customer_id=event.customer_id, reason=event.reason
            )
        )

    def pending_chat_ids(self) -> set[str]:
        """The lines that go out with the next tick's `chat` frame."""
        return {line.id for line in self._chat}

    def drain(self) -> list[Outgoing]:
        """The frames to send this tick, each encoded once, in a stable order."""
        out: list[Outgoing] = []
        if self._chat:
            out.append(Outgoing(protocol.ChatBatch(messages=self._chat).model_dump_json()))
            self._chat = []
        out.extend(self._frames)
        self._frames = []
        for offer_id in sorted(self._dirty_offers):
            offer = self.offers[offer_id]
            out.append(Outgoing(protocol.OfferUpdate(offer=offer).model_dump_json()))
        self._dirty_offers.clear()
        for packet_id in sorted(self._dirty_packets):
            out.append(Outgoing(self._packets[packet_id].model_dump_json()))
        self._dirty_packets.clear()
        for poll_id in sorted(self._dirty_polls):
            out.append(Outgoing(self._polls[poll_id].model_dump_json()))
        self._dirty_polls.clear()
        if self._likes_dirty:
            out.append(Outgoing(protocol.Likes(total=self.likes).model_dump_json()))
            self._likes_dirty = False
        return out
