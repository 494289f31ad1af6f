"""What goes out to the bound groups for one event: the SendToGroup commands, pure.

Given the event, the room's bindings (settings, paused) and what the planner keeps of the
room (title, offer cards, an order placed from a group), `plan` returns one command per
(event, group) with its key (docs/decisions/0033-what-goes-to-the-groups.md):
- `<event id>:<platform>:<chat>` for a message about an event;
- `<order.placed id>:<platform>:<chat>:reminder` for the pay-by reminder;
- `<event id>:<platform>:<chat>:edit` for the edit of a claim's reply (edit_of: its key).
Never for a paused binding, never a kind the binding switched off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Literal
from urllib.parse import quote, urlencode

from services.ingest.domain import templates as t
from services.ingest.domain.outbound import Language, OutboundSettings
from shared.auth import issue_pay_token
from shared.events import (
    AnnouncementPosted,
    ClaimRejected,
    IntegrationEvent,
    OfferOpened,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    ProductPinned,
    RedPacketSent,
    RoomPreviewAnnounced,
    RoomStarted,
)
from shared.events.analytics import ReportReady
from shared.events.commands import LinkButton, Mention, SendToGroup
from shared.events.ingest import ExternalMemberJoined

OrderState = Literal["held", "paid", "expired", "cancelled"]


@dataclass(frozen=True)
class Binding:
    platform: str
    chat_id: str
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    paused: bool = False

    def wants(self, kind: str) -> bool:
        return not self.paused and self.outbound.wants(kind)

    @property
    def language(self) -> Language:
        return self.outbound.language


@dataclass(frozen=True)
class OfferCard:
    """An offer as its card shows it (kept from offer.opened/updated/stock_changed)."""

    offer_id: str
    title: str
    price_cents: int
    stock: int
    left: int
    photo: str | None = None  # the first photo's card-size object name (orders serves it)
    posted_at: datetime | None = None  # when a card of it last went out, by which event
    posted_by: str | None = None


@dataclass(frozen=True)
class GroupOrder:
    """An order placed by a line in a bound group (GroupOrderRow)."""

    order_id: str
    claim_id: str
    platform: str
    chat_id: str
    message_id: str
    customer_id: str | None
    pay_by: datetime
    offer_id: str | None = None
    quantity: int | None = None
    amount_cents: int | None = None
    state: OrderState = "held"
    outcome_key: str | None = None


@dataclass(frozen=True)
class Known:
    """What the planner knows when an event arrives."""

    room_id: str
    bindings: Sequence[Binding] = ()
    title: str | None = None
    ended: bool = False
    offers: Mapping[str, OfferCard] = field(default_factory=dict)
    order: GroupOrder | None = None  # for an order's later events: the one recorded
    now: datetime | None = None  # when it is planned (a welcome for an old join is late)


@dataclass(frozen=True)
class Config:
    live_public_url: str
    orders_public_url: str
    secret_key: str  # signs the pay links (shared.auth.issue_pay_token)
    zone: tzinfo
    reminder_lead: timedelta = timedelta(seconds=300)
    currency: str = "CNY"
    # The same offer's card goes out at most once in this long (opened, then pinned: one card).
    offer_repeat: timedelta = timedelta(seconds=600)
    # A join older than this (a chat's parked history adopted by a new binding) is not
    # welcomed: LIVE_MAX_AGE_S, the age past which a line does not reach the room either.
    welcome_max_age: timedelta = timedelta(seconds=600)


@dataclass(frozen=True)
class Plan:
    commands: list[SendToGroup] = field(default_factory=list)
    order: GroupOrder | None = None  # to record (new, or its new state)


def key(event_id: str, binding: Binding, suffix: str = "") -> str:
    return f"{event_id}:{binding.platform}:{binding.chat_id}" + (f":{suffix}" if suffix else "")


def claim_origin(claim_id: str) -> tuple[str, str, str] | None:
    """(platform, chat, message) of a claim made by a line in a group, else None.

    Such a claim's id is its line's key, `<platform>:<chat>:<message>` (ingest's
    message_key; live's chat-to-buy keeps it as the claim id)."""
    parts = claim_id.split(":", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


# ---- links -------------------------------------------------------------------------------


def room_link(config: Config, room_id: str, binding: Binding, **query: str) -> str:
    """The room's page; the group's partner (referrer_id) rides along as ?ref=."""
    params = dict(query)
    if binding.outbound.referrer_id:
        params["ref"] = binding.outbound.referrer_id
    url = f"{config.live_public_url}/r/{quote(room_id, safe='')}"
    return f"{url}?{urlencode(params)}" if params else url


def photo_url(config: Config, card: OfferCard | None) -> str | None:
    return f"{config.orders_public_url}/photos/{card.photo}" if card and card.photo else None


def pay_link(config: Config, room_id: str, order: GroupOrder) -> str | None:
    """The "Pay" button: one order, payable by whoever holds the link, until pay_by."""
    if not order.customer_id:
        return None
    token = issue_pay_token(
        order.order_id, order.customer_id, room_id, order.pay_by.timestamp(), config.secret_key
    )
    return f"{config.live_public_url}/r/{quote(room_id, safe='')}?{urlencode({'pay': token})}"


# ---- the plan ----------------------------------------------------------------------------


def plan(event: IntegrationEvent, known: Known, config: Config) -> Plan:
    match event:
        case RoomPreviewAnnounced():
            return _to_every_group(event, known, config, "preview")
        case RoomStarted():
            return Plan(
                [] if known.ended else _to_every_group(event, known, config, "live").commands
            )
        case ProductPinned(offer_id=str()) | OfferOpened():
            if known.ended or _card_posted_lately(event.offer_id, event, known, config):
                return Plan()
            if isinstance(event, ProductPinned) and event.offer_id not in known.offers:
                return Plan()  # an offer never seen open (before the planner ran): no card
            return _to_every_group(event, known, config, "offer")
        case RedPacketSent():
            return _to_every_group(event, known, config, "red_packet")
        case AnnouncementPosted():
            return _to_every_group(event, known, config, "announcement")
        case ReportReady():
            return _to_every_group(event, known, config, "thank_you")
        case ExternalMemberJoined():
            return _welcome(event, known, config)
        case OrderPlaced():
            return _held(event, known, config)
        case ClaimRejected():
            return _rejected(event, known, config)
        case OrderPaid() | OrderExpired() | OrderCancelled() | OrderAmended():
            return _order_changed(event, known, config)
    return Plan()


def _to_every_group(event: IntegrationEvent, known: Known, config: Config, kind: str) -> Plan:
    commands = []
    for binding in known.bindings:
        if binding.wants(kind):
            commands.append(_message(event, known, config, binding, kind))
    return Plan(commands)


def _message(
    event: IntegrationEvent, known: Known, config: Config, binding: Binding, kind: str
) -> SendToGroup:
    lang = binding.language
    link = room_link(config, known.room_id, binding)
    values: dict[str, object] = {"title": known.title or "", "room_link": link}
    title: str | None = None
    photo: str | None = None
    buttons = [LinkButton(text=t.BUTTONS["room"][lang], url=link)]
    match event:
        case RoomPreviewAnnounced():
            soon = "Soon" if lang == "en" else "即将"
            values |= {
                "when": t.when(event.scheduled_at, event.occurred_at, config.zone, lang)
                if event.scheduled_at
                else soon,
                "text": event.text,
                "lineup": _lineup(event.lineup, known.offers, config, lang),
            }
            title = known.title
        case ProductPinned() | OfferOpened():
            offer_id = str(event.offer_id)
            card = known.offers.get(offer_id) or (
                _card_of(event) if isinstance(event, OfferOpened) else None
            )
            buy = room_link(config, known.room_id, binding, offer=offer_id)
            values |= {"buy_link": buy}
            if card is not None:
                values |= {
                    "offer": card.title,
                    "price": t.money(card.price_cents, config.currency),
                    "left": t.count(card.left),
                    "stock": t.count(card.stock),
                }
                title = card.title
            photo = photo_url(config, card)
            buttons = [LinkButton(text=t.BUTTONS["buy"][lang], url=buy)]
        case RedPacketSent():
            values |= {
                "amount": t.money(event.total_cents, config.currency),
                "shares": t.count(event.shares),
                "message": event.message,
            }
        case AnnouncementPosted():
            values |= {"text": event.text}
        case ReportReady():
            summary = t.Highlights(
                event.attendees, event.buyers, event.units_sold, event.top_offer_title
            )
            values |= {
                "title": event.title or known.title or "",
                "highlights": t.highlights(summary, lang),
                "attendees": t.count(event.attendees),
                "buyers": t.count(event.buyers),
                "units_sold": t.count(event.units_sold),
                "orders_paid": t.count(event.orders_paid),
                "top_offer": event.top_offer_title or "",
                "replay_link": event.replay_url or "",
            }
            title = event.title or known.title
            replay = event.replay_url or ""
            if replay.startswith(("http://", "https://")) and len(replay) <= 2000:
                buttons = [LinkButton(text=t.BUTTONS["replay"][lang], url=event.replay_url)]
    text = t.render(t.template_for(binding.outbound, kind), values)
    return SendToGroup(
        id=key(event.id, binding),
        key=key(event.id, binding),
        room_id=known.room_id,
        platform=binding.platform,
        chat_id=binding.chat_id,
        kind=kind,
        source_event_id=event.id,
        language=binding.language,
        whatsapp_template=binding.outbound.whatsapp_template,
        title=title[:200] if title else None,
        text=text or (title or "…"),
        photo_url=photo,
        buttons=buttons,
        pin=kind == "preview",
    )


def card_is_due(card: OfferCard | None, event: IntegrationEvent, repeat: timedelta) -> bool:
    """Whether an event may post the offer's card: not when another event posted it within
    `repeat` (a redelivery of the event that posted it plans the same messages again)."""
    if card is None or card.posted_at is None or card.posted_by == event.id:
        return True
    return abs(event.occurred_at - card.posted_at) >= repeat


def _card_posted_lately(
    offer_id: str | None, event: IntegrationEvent, known: Known, config: Config
) -> bool:
    return not card_is_due(known.offers.get(offer_id or ""), event, config.offer_repeat)


def _card_of(event: OfferOpened) -> OfferCard:
    photo = event.photos[0].card if event.photos else None
    return OfferCard(
        event.offer_id, event.title, event.price_cents, event.stock, event.stock, photo
    )


def _lineup(
    offer_ids: Sequence[str], offers: Mapping[str, OfferCard], config: Config, lang: Language
) -> str:
    """The show's offers the planner knows, one a line: "• Cherries ¥499 (8,000 available)"."""
    lines = []
    for offer_id in offer_ids:
        card = offers.get(offer_id)
        if card is None:
            continue  # not opened yet: the host's own preview text names it
        price = t.money(card.price_cents, config.currency)
        if lang == "zh":
            lines.append(f"• {card.title} {price}（限量{t.count(card.stock)}份）")
        else:
            lines.append(f"• {card.title} {price} ({t.count(card.stock)} available)")
    return "\n".join(lines)


def _welcome(event: ExternalMemberJoined, known: Known, config: Config) -> Plan:
    """A welcome @-mention, in the group they joined only."""
    if event.via != "webhook":
        return Plan()  # history (an import, a replay) welcomes nobody
    if known.now is not None and known.now - event.occurred_at > config.welcome_max_age:
        return Plan()
    binding = _binding_of(known, event.platform, event.chat_id)
    if binding is None or not binding.wants("welcome"):
        return Plan()
    link = room_link(config, known.room_id, binding)
    text = t.render(
        t.template_for(binding.outbound, "welcome"),
        {"title": known.title or "", "room_link": link, "name": event.display_name},
    )
    return Plan(
        [
            SendToGroup(
                id=key(event.id, binding),
                key=key(event.id, binding),
                room_id=known.room_id,
                platform=binding.platform,
                chat_id=binding.chat_id,
                kind="welcome",
                source_event_id=event.id,
                language=binding.language,
                whatsapp_template=binding.outbound.whatsapp_template,
                text=text or event.display_name,
                buttons=[LinkButton(text=t.BUTTONS["room"][binding.language], url=link)],
                mention=Mention(user_id=event.external_user_id, name=event.display_name),
            )
        ]
    )


def _binding_of(known: Known, platform: str, chat_id: str) -> Binding | None:
    for binding in known.bindings:
        if binding.platform == platform and binding.chat_id == chat_id:
            return binding
    return None


def _order_values(
    order: GroupOrder, known: Known, config: Config, lang: Language, now: datetime
) -> dict[str, object]:
    card = known.offers.get(order.offer_id or "")
    offer = card.title if card else ("the item" if lang == "en" else "商品")
    values: dict[str, object] = {
        "title": known.title or "",
        "offer": offer,
        "quantity": order.quantity or "",
        "amount": t.money(order.amount_cents, config.currency)
        if order.amount_cents is not None
        else "",
        "pay_by": t.clock(order.pay_by, config.zone),
        "pay_within": t.within(order.pay_by - now, lang),
        "pay_link": pay_link(config, known.room_id, order) or "",
    }
    return values


def _reply(
    event: IntegrationEvent,
    known: Known,
    binding: Binding,
    kind: str,
    text: str,
    *,
    reply_to: str | None,
    suffix: str = "",
    edit_of: str | None = None,
    buttons: list[LinkButton] | None = None,
    order_id: str | None = None,
    customer_id: str | None = None,
    not_before: datetime | None = None,
) -> SendToGroup:
    message_key = key(event.id, binding, suffix)
    return SendToGroup(
        id=message_key,
        key=message_key,
        room_id=known.room_id,
        customer_id=customer_id,
        platform=binding.platform,
        chat_id=binding.chat_id,
        kind=kind,
        source_event_id=event.id,
        language=binding.language,
        whatsapp_template=binding.outbound.whatsapp_template,
        text=text or "…",
        buttons=buttons or [],
        reply_to=reply_to,
        edit_of=edit_of,
        not_before=not_before,
        order_id=order_id,
    )


def _held(event: OrderPlaced, known: Known, config: Config) -> Plan:
    """A claim from a group held stock: reply to the buyer's line, remind before pay_by."""
    origin = claim_origin(event.claim_id)
    if origin is None:
        return Plan()
    platform, chat_id, message_id = origin
    binding = _binding_of(known, platform, chat_id)
    if binding is None:
        return Plan()  # a claim from the page, or from a chat not bound to this room
    order = GroupOrder(
        order_id=event.order_id,
        claim_id=event.claim_id,
        platform=platform,
        chat_id=chat_id,
        message_id=message_id,
        customer_id=event.customer_id,
        pay_by=event.pay_by,
        offer_id=event.offer_id,
        quantity=event.quantity,
        amount_cents=event.amount_cents,
    )
    commands = []
    lang = binding.language
    values = _order_values(order, known, config, lang, event.occurred_at)
    pay = (
        [LinkButton(text=t.BUTTONS["pay"][lang], url=str(values["pay_link"]))]
        if values["pay_link"]
        else []
    )
    common = {"reply_to": message_id, "order_id": order.order_id, "customer_id": order.customer_id}
    if binding.wants("claim_outcome"):
        text = t.render(t.template_for(binding.outbound, "claim_outcome"), values)
        reply = _reply(event, known, binding, "claim_outcome", text, buttons=pay, **common)  # type: ignore[arg-type]
        commands.append(reply)
        order = replace(order, outcome_key=reply.key)
    lead = config.reminder_lead
    if binding.wants("reminder") and event.pay_by - event.occurred_at >= 2 * lead:
        text = t.render(t.template_for(binding.outbound, "reminder"), values)
        commands.append(
            _reply(
                event,
                known,
                binding,
                "reminder",
                text,
                suffix="reminder",
                buttons=pay,
                not_before=event.pay_by - lead,
                **common,
            )
        )
    return Plan(commands, order)


def _rejected(event: ClaimRejected, known: Known, config: Config) -> Plan:
    """A claim from a group held nothing: reply to the buyer's line with why."""
    origin = claim_origin(event.claim_id)
    if origin is None:
        return Plan()
    platform, chat_id, message_id = origin
    binding = _binding_of(known, platform, chat_id)
    if binding is None or not binding.wants("claim_outcome"):
        return Plan()
    lang = binding.language
    card = known.offers.get(event.offer_id)
    values: dict[str, object] = {
        "title": known.title or "",
        "offer": card.title if card else ("this item" if lang == "en" else "该商品"),
        "reason": event.message,
    }
    state: str = event.reason if event.reason in t.CLAIM_STATES else "other"
    if event.reason == "sold_out_waitlisted":
        place = t.waitlist_place(event.message)
        if place is not None:
            state, values["waitlist_place"] = "waitlisted_at", place
    buttons = []
    if event.reason in ("sold_out_waitlisted", "limit_reached"):
        link = room_link(config, known.room_id, binding)
        buttons = [LinkButton(text=t.BUTTONS["room"][lang], url=link)]
    text = t.render(t.CLAIM_STATES[state][lang], values)
    return Plan(
        [
            _reply(
                event,
                known,
                binding,
                "claim_outcome",
                text,
                reply_to=message_id,
                buttons=buttons,
                customer_id=event.customer_id,
            )
        ]
    )


_NEW_STATE: dict[type, OrderState] = {
    OrderPaid: "paid",
    OrderExpired: "expired",
    OrderCancelled: "cancelled",
    OrderAmended: "held",
}


def _order_changed(
    event: OrderPaid | OrderExpired | OrderCancelled | OrderAmended, known: Known, config: Config
) -> Plan:
    """Paid, expired, cancelled or amended: record it, and edit the claim's reply."""
    order = known.order
    if order is None:
        return Plan()  # not an order placed from a group
    state = _NEW_STATE[type(event)]
    if order.state != "held":
        return Plan()  # settled already (a balance after a deposit, a late expiry)
    updated = replace(order, state=state)
    match event:
        case OrderAmended():
            updated = replace(
                updated,
                quantity=event.quantity,
                amount_cents=event.amount_cents,
                pay_by=event.pay_by,
            )
        case OrderPaid():
            updated = replace(updated, amount_cents=event.amount_cents)
        case OrderExpired():
            updated = replace(updated, quantity=event.quantity)
    binding = _binding_of(known, order.platform, order.chat_id)
    if binding is None or order.outcome_key is None or not binding.wants("claim_outcome"):
        return Plan([], updated)
    lang = binding.language
    values = _order_values(updated, known, config, lang, event.occurred_at)
    buttons: list[LinkButton] = []
    if state == "held":
        text = t.render(t.template_for(binding.outbound, "claim_outcome"), values)
        if values["pay_link"]:
            buttons = [LinkButton(text=t.BUTTONS["pay"][lang], url=str(values["pay_link"]))]
    else:
        text = t.render(t.CLAIM_STATES[state][lang], values)
    edit = _reply(
        event,
        known,
        binding,
        "claim_outcome",
        text,
        reply_to=order.message_id,
        suffix="edit",
        edit_of=order.outcome_key,
        buttons=buttons,
        order_id=order.order_id,
        customer_id=order.customer_id,
    )
    return Plan([edit], updated)
