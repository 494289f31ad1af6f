"""The texts the show posts in its bound groups: defaults in English and Chinese, the host's
own versions, and how both are checked and filled in.

A template is plain text with `{placeholders}` (docs/ingest.md, "The groups hear back"):
only bare names of the kind's placeholders, no attribute, index, conversion or format spec
(`{title.__class__}` or `{title:>999999999}` would read or build what the host should not).
A placeholder with nothing to say is empty, and a line left empty by it is dropped.
Money is formatted from cents, times in the zone of OUTBOUND_TIMEZONE.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from services.ingest.domain.outbound import Language, OutboundSettings
from shared.events.ingest import OUTBOUND_KINDS
from shared.money import money as shared_money

MAX_TEMPLATE_CHARS = 3500  # SendToGroup.text's limit; WhatsApp's body is 4096, Telegram's 4096

# Each kind's placeholders, in the order GET /outbound/templates lists them.
_ROOM = ("title", "room_link")
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "preview": (*_ROOM, "when", "lineup", "text"),
    "live": _ROOM,
    "offer": (*_ROOM, "offer", "price", "left", "stock", "buy_link"),
    "claim_outcome": (*_ROOM, "offer", "quantity", "amount", "pay_by", "pay_within", "pay_link"),
    "reminder": (*_ROOM, "offer", "quantity", "amount", "pay_by", "pay_within", "pay_link"),
    "red_packet": (*_ROOM, "amount", "shares", "message"),
    "announcement": (*_ROOM, "text"),
    "welcome": (*_ROOM, "name"),
    "thank_you": (
        *_ROOM,
        "highlights",
        "attendees",
        "buyers",
        "units_sold",
        "orders_paid",
        "top_offer",
        "replay_link",
    ),
}

# Short, warm, the way a community host writes in the group. Links ride in buttons.
DEFAULTS: dict[str, dict[Language, str]] = {
    "preview": {
        "en": "{when} live: {title}\n{text}\n{lineup}\nSee you there!",
        "zh": "{when}直播：{title}\n{text}\n{lineup}\n不见不散！",
    },
    "live": {
        "en": "We are live now! Come in and say hi 👋",
        "zh": "直播开始啦！快来直播间 👋",
    },
    "offer": {
        "en": "{price}, {left} left. Write +1 here or tap to buy.",
        "zh": "{price}，还剩{left}份。群里回复 +1 或点按钮下单。",
    },
    "claim_outcome": {
        "en": "Yours: {quantity} × {offer}, {amount}. Please pay by {pay_by} ({pay_within}).",
        "zh": "抢到啦：{offer} ×{quantity}，共{amount}。请在{pay_by}前付款（{pay_within}内）。",
    },
    "reminder": {
        "en": "Reminder: {offer} is held for you until {pay_by}. Pay now so it stays yours.",
        "zh": "提醒：你的{offer}保留到{pay_by}，记得付款哦，过时就释放了。",
    },
    "red_packet": {
        "en": "🧧 Red packet! {amount} in {shares} shares. {message}\nGrab yours in the room.",
        "zh": "🧧 发红包啦！{amount}，共{shares}份。{message}\n快去直播间抢！",
    },
    "announcement": {
        "en": "📣 {text}",
        "zh": "📣 {text}",
    },
    "welcome": {
        "en": "Welcome {name}! 🎉 Glad you are here.",
        "zh": "欢迎{name}入群！🎉",
    },
    "thank_you": {
        "en": "Thank you all for tonight! ❤️\n{highlights}",
        "zh": "感谢大家今晚的支持！❤️\n{highlights}",
    },
}

# The other states of a claim's reply (not the host's to edit: they answer one buyer, and
# orders' own reason is part of them). Same placeholders as claim_outcome, plus `reason`
# and `waitlist_place`.
CLAIM_STATES: dict[str, dict[Language, str]] = {
    "paid": {
        "en": "Paid: {quantity} × {offer}, {amount}. Thank you! ✅",
        "zh": "已付款：{offer} ×{quantity}，{amount}。谢谢！✅",
    },
    "expired": {
        "en": "Not paid by {pay_by}: {offer} went back on sale.",
        "zh": "未在{pay_by}前付款，{offer}已释放。",
    },
    "cancelled": {
        "en": "Your order of {offer} was cancelled.",
        "zh": "你的{offer}订单已取消。",
    },
    "waitlisted_at": {
        "en": "Sorry, {offer} is sold out. You are number {waitlist_place} on the waitlist.",
        "zh": "{offer}已抢光，你在候补第{waitlist_place}位。",
    },
    "sold_out_waitlisted": {
        "en": "Sorry, {offer} is sold out. You are on the waitlist: a unit released is yours.",
        "zh": "{offer}已抢光，已为你登记候补，有人释放就给你。",
    },
    "limit_reached": {
        "en": "You have reached the limit for {offer}. {reason}",
        "zh": "{offer}每人限购，已到上限。{reason}",
    },
    "closed": {
        "en": "Sorry, {offer} is closed.",
        "zh": "{offer}已结束。",
    },
    "not_open": {
        "en": "{offer} is not open yet: stay tuned!",
        "zh": "{offer}还没开始，稍等哦！",
    },
    "not_amended": {
        "en": "Your order stays as it was. {reason}",
        "zh": "订单未修改。{reason}",
    },
    "other": {
        "en": "That did not work: {reason}",
        "zh": "没有成功：{reason}",
    },
}

BUTTONS: dict[str, dict[Language, str]] = {
    "room": {"en": "Open the room", "zh": "进入直播间"},
    "buy": {"en": "Buy on the page", "zh": "去下单"},
    "pay": {"en": "Pay", "zh": "去付款"},
    "replay": {"en": "Watch the replay", "zh": "看回放"},
}


class TemplateError(ValueError):
    """A host's template that cannot be used; the message names what is wrong."""


def validate(kind: str, template: str) -> None:
    """Raise TemplateError for a template over MAX_TEMPLATE_CHARS, with a placeholder the
    kind does not have (named), or one written other than `{name}`."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"{kind}: {len(template)} characters, at most {MAX_TEMPLATE_CHARS}")
    known = PLACEHOLDERS.get(kind)
    if known is None:
        raise TemplateError(f"unknown kind {kind!r}")
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:  # a lone "{" or "}": write "{{" or "}}" for the character
        raise TemplateError(f"{kind}: {exc} (write {{{{ or }}}} for a brace)") from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(f"{kind}: write placeholders as {{name}}, not {{{name}...}}")
        if name not in known:
            raise TemplateError(
                f"{kind}: unknown placeholder {{{name}}}; known: "
                + ", ".join(f"{{{p}}}" for p in known)
            )


def validate_settings(settings: OutboundSettings) -> None:
    for kind, template in settings.templates.items():
        validate(kind, template)


def template_for(settings: OutboundSettings, kind: str) -> str:
    """The host's text for a kind when it is usable, else the default of the language (a
    text stored before a rule changed must not stop the message)."""
    own = settings.templates.get(kind)  # type: ignore[call-overload]
    if own:
        try:
            validate(kind, own)
            return str(own)
        except TemplateError:
            pass
    return DEFAULTS[kind][settings.language]


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill a validated template in; a line that only held empty placeholders is dropped."""
    filled = template.format_map(
        _Values({k: "" if v is None else str(v) for k, v in values.items()})
    )
    lines = [line.rstrip() for line in filled.splitlines()]
    text = "\n".join(line for line in lines if line.strip(" ·,.:;，。：；"))
    return text[:MAX_TEMPLATE_CHARS]


def defaults_listing() -> list[dict[str, object]]:
    """GET /outbound/templates: each kind's placeholders and default texts."""
    return [
        {
            "kind": kind,
            "placeholders": list(PLACEHOLDERS[kind]),
            "en": DEFAULTS[kind]["en"],
            "zh": DEFAULTS[kind]["zh"],
        }
        for kind in OUTBOUND_KINDS
    ]


# ---- values: money, times, counts ---------------------------------------------------------


def money(cents: int, currency: str = "CNY") -> str:
    """¥499 for whole amounts, ¥49.90 otherwise; thousands separated."""
    return shared_money(cents, currency, whole=True)


def count(number: int) -> str:
    return f"{number:,}"


def clock(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def offset_label(moment: datetime, zone: tzinfo) -> str:
    """UTC+8, UTC-5:30, UTC."""
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}


def when(moment: datetime, now: datetime, zone: tzinfo, language: Language) -> str:
    """A show's start as a host says it: "Tomorrow 20:00 (UTC+8)", "明晚20:00".

    Relative to `now` (the event's time, so a redelivery says the same) in the zone of
    OUTBOUND_TIMEZONE. Chinese omits the offset when it is Beijing time (what readers
    assume); English always shows it (the groups' members are anywhere)."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    hhmm = local.strftime("%H:%M")
    offset = offset_label(moment, zone)
    if language == "zh":
        evening = local.hour >= 18
        if days == 0:
            day = "今晚" if evening else "今天"
        elif days == 1:
            day = "明晚" if evening else "明天"
        else:
            day = f"{local.month}月{local.day}日{_WEEKDAYS['zh'][local.weekday()]} "
        return f"{day}{hhmm}" + ("" if offset == "UTC+8" else f"（{offset}）")
    if days == 0:
        day = "Today"
    elif days == 1:
        day = "Tomorrow"
    else:
        day = f"{_WEEKDAYS['en'][local.weekday()]} {local.day} {local.strftime('%b')}"
    return f"{day} {hhmm} ({offset})"


def within(delta: timedelta, language: Language) -> str:
    """How long is left, rounded down to minutes (at least 1): "15 min", "15分钟"."""
    minutes = max(1, int(delta.total_seconds() // 60))
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes // 60} h" if language == "en" else f"{minutes // 60}小时"
    return f"{minutes} min" if language == "en" else f"{minutes}分钟"


_PLACE = re.compile(r"(?:place|position|number|no\.|#)\s*(\d{1,6})|第\s*(\d{1,6})\s*位", re.I)


def waitlist_place(message: str) -> int | None:
    """The place on the waitlist when orders' message says it ("place 3", "第3位")."""
    found = _PLACE.search(message)
    if not found:
        return None
    return int(found.group(1) or found.group(2))


@dataclass(frozen=True)
class Highlights:
    attendees: int
    buyers: int
    units_sold: int
    top_offer: str | None


def highlights(report: Highlights, language: Language) -> str:
    """The report's highlights in one or two lines."""
    if language == "zh":
        came, bought, units = (
            count(report.attendees),
            count(report.buyers),
            count(report.units_sold),
        )
        line = f"{came}人来看，{bought}人下单，共{units}件。"
        return line + (f"\n最受欢迎：{report.top_offer}" if report.top_offer else "")
    line = (
        f"{count(report.attendees)} came, {count(report.buyers)} bought "
        f"{count(report.units_sold)} {'unit' if report.units_sold == 1 else 'units'}."
    )
    return line + (f"\nThe favourite: {report.top_offer}" if report.top_offer else "")
