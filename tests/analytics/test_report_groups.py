"""The bound groups in the report (reach per group) and the report's announcement
(report.ready): a show with two bound groups, published to JetStream with the real event
classes (SQLite, and PostgreSQL where TEST_POSTGRES_URL is set).

Telegram group -1001 ("Mango fans"): our preview, "we are live", two offer cards and a
claim's outcome (edited when paid); Tg 7 writes before the show and claims in it (paid),
Tg 8 claims too late (refused) and edits a line, Tg 9 writes only before the show.
WhatsApp group 1203@g.us: "we are live" and an offer card went out, an offer card was
refused (template rejected: the binding paused) and a reminder too (outside the 24 h
window); Wa 55 claims in it (not paid). A web buyer's order came from no group.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from services.analytics.domain.report import ANNOUNCE_WITHIN_HOURS
from services.analytics.service_layer.reports import Announcer
from shared.events import (
    ChatMessageEdited,
    ClaimRejected,
    IntegrationEvent,
    OfferOpened,
    OrderAmended,
    OrderPaid,
    OrderPlaced,
    RoomEnded,
    RoomOpened,
    RoomStarted,
    StockChanged,
)
from shared.events.analytics import ReportReady
from shared.events.ingest import (
    ExternalMemberJoined,
    ExternalMessageReceived,
    GroupDeliveryFailed,
    GroupMessageSent,
)
from shared.messaging import EventPublisher
from tests.analytics.conftest import Analytics
from tests.support import eventually

ROOM = "r_groups"
TG, WA = "-1001", "1203@g.us"
TG7, TG8, TG9, WA55 = "telegram:7", "telegram:8", "telegram:9", "whatsapp:55"


def _line(t0: datetime, who: str, chat: str, message: str, minute: float, **kw: Any) -> Any:
    platform, user = who.split(":")
    return ExternalMessageReceived(
        id=f"{platform}:{chat}:{message}" + (":edit:1" if kw.get("edited") else ""),
        room_id=ROOM,
        customer_id=who,
        platform=platform,
        chat_id=chat,
        external_user_id=user,
        display_name=f"member {user}",
        message_id=message,
        text=kw.pop("text", "+1"),
        occurred_at=t0 + timedelta(minutes=minute),
        **kw,
    )


def _out(t0: datetime, platform: str, chat: str, kind: str, minute: float, **kw: Any) -> Any:
    source = kw.pop("source", f"src-{kind}-{minute}")
    common = {
        "room_id": ROOM,
        "platform": platform,
        "chat_id": chat,
        "kind": kind,
        "key": f"{source}:{platform}:{chat}" + (":edit" if kw.get("edited") else ""),
        "occurred_at": t0 + timedelta(minutes=minute),
    }
    if "code" in kw:
        return GroupDeliveryFailed(**common, **kw)
    return GroupMessageSent(
        **common, platform_message_id=f"pm-{minute}", source_event_id=source, **kw
    )


def groups_show(t0: datetime) -> list[IntegrationEvent]:
    """The show, 10 minutes from t0; every time relative to it."""

    def at(minute: float) -> datetime:
        return t0 + timedelta(minutes=minute)

    def placed(order: str, claim: str, who: str, minute: float, quantity: int = 1) -> Any:
        return OrderPlaced(
            room_id=ROOM,
            customer_id=who,
            order_id=order,
            claim_id=claim,
            offer_id="o_mango",
            quantity=quantity,
            amount_cents=3000 * quantity,
            pay_by=at(30),
            occurred_at=at(minute),
        )

    def paid(order: str, who: str, minute: float, cents: int) -> Any:
        return OrderPaid(
            room_id=ROOM,
            customer_id=who,
            order_id=order,
            offer_id="o_mango",
            amount_cents=cents,
            occurred_at=at(minute),
        )

    return [
        RoomOpened(room_id=ROOM, title="Mango night", host_id="host:h2", occurred_at=at(-30)),
        _out(t0, "telegram", TG, "preview", -20),
        _line(t0, TG7, TG, "40", -5, text="can't wait", chat_title="Mango fans 芒果群"),
        _line(t0, TG9, TG, "41", -4, text="me neither"),
        RoomStarted(room_id=ROOM, occurred_at=at(0)),
        _out(t0, "telegram", TG, "live", 0),
        _out(t0, "whatsapp", WA, "live", 0),
        OfferOpened(
            room_id=ROOM,
            offer_id="o_mango",
            kind="flash_sale",
            title="Mangoes 芒果 3kg",
            price_cents=3000,
            stock=3,
            per_buyer_limit=2,
            occurred_at=at(1),
        ),
        _out(t0, "telegram", TG, "offer", 1),
        _out(t0, "whatsapp", WA, "offer", 1),
        _out(
            t0,
            "whatsapp",
            WA,
            "offer",
            1.5,
            code="template_rejected",
            binding_paused=True,
            detail="Template name does not exist",
        ),
        _line(t0, TG7, TG, "50", 2),
        placed("g1", f"telegram:{TG}:50", TG7, 2.1, quantity=2),
        _out(
            t0,
            "telegram",
            TG,
            "claim_outcome",
            2.2,
            customer_id=TG7,
            order_id="g1",
            source="placed-g1",
        ),
        StockChanged(room_id=ROOM, offer_id="o_mango", left=1, occurred_at=at(2.1)),
        OrderAmended(
            room_id=ROOM,
            customer_id=TG7,
            order_id="g1",
            claim_id=f"telegram:{TG}:50",
            offer_id="o_mango",
            quantity=2,
            amount_cents=6000,
            pay_by=at(30),
            occurred_at=at(2.5),
        ),
        _out(t0, "telegram", TG, "offer", 2.6),
        _line(t0, WA55, WA, "wamid.A", 3),
        placed("g2", f"whatsapp:{WA}:wamid.A", WA55, 3.1),
        placed("w1", "c-web-1", "web:zoe", 3.2),
        paid("g1", TG7, 4, 6000),
        _out(
            t0,
            "telegram",
            TG,
            "claim_outcome",
            4.1,
            customer_id=TG7,
            order_id="g1",
            edited=True,
            source="paid-g1",
        ),
        paid("w1", "web:zoe", 4.2, 3000),
        _line(t0, TG8, TG, "51", 4.5),
        ClaimRejected(
            room_id=ROOM,
            customer_id=TG8,
            claim_id=f"telegram:{TG}:51",
            offer_id="o_mango",
            reason="limit_reached",
            message="limit reached",
            occurred_at=at(4.6),
        ),
        _line(t0, TG8, TG, "51", 5, text="+1 please", edited=True),
        ChatMessageEdited(
            room_id=ROOM,
            message_id=f"telegram:{TG}:51",
            text="+1 please",
            source="telegram",
            occurred_at=at(5),
        ),
        _out(
            t0, "whatsapp", WA, "reminder", 6, code="outside_window", detail="Re-engagement message"
        ),
        ExternalMemberJoined(
            id=f"telegram:{TG}:60:joined:10",
            room_id=ROOM,
            customer_id="telegram:10",
            platform="telegram",
            chat_id=TG,
            external_user_id="10",
            display_name="member 10",
            chat_title="Mango fans 🥭",
            occurred_at=at(7),
        ),
        RoomEnded(room_id=ROOM, occurred_at=at(10)),
    ]


def _spy(analytics: Analytics) -> list[ReportReady]:
    """Every announcement analytics publishes (it goes on to the bus as before)."""
    announcer = analytics.app.reports.announcer
    assert isinstance(announcer, Announcer)
    real = announcer.publisher
    seen: list[ReportReady] = []

    class Spy(EventPublisher):
        def __init__(self) -> None:
            pass

        async def publish(self, event: IntegrationEvent) -> Any:
            assert isinstance(event, ReportReady)
            seen.append(event)
            return await real().publish(event)

    announcer.publisher = Spy
    return seen


async def _built(analytics: Analytics) -> dict[str, Any]:
    async def ready() -> bool:
        reports = analytics.app.reports
        return await reports.is_ready(ROOM) and reports.building == 0

    await eventually(ready)
    report: dict[str, Any] = await analytics.get(f"/rooms/{ROOM}/report")
    return report


async def test_reach_per_group_in_the_report_and_one_announcement(analytics: Analytics) -> None:
    announced = _spy(analytics)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=20)
    events = groups_show(t0)
    await analytics.publish(events)
    await analytics.settled(len(events))
    r = await _built(analytics)

    tg, wa = r["groups"]
    assert (tg["platform"], tg["chat_id"], tg["title"]) == ("telegram", TG, "Mango fans 🥭")
    assert (tg["sent"], tg["edits"], tg["failed"]) == (5, 1, 0)
    assert [(k["kind"], k["sent"], k["edits"], k["failed"]) for k in tg["kinds"]] == [
        ("preview", 1, 0, 0),
        ("live", 1, 0, 0),
        ("offer", 2, 0, 0),
        ("claim_outcome", 1, 1, 0),
    ]
    assert (tg["failures"], tg["binding_paused"]) == ([], False)
    # Tg 7 and Tg 8 wrote during the show (Tg 7's earlier line and Tg 9 were before it;
    # an edit is no new line); two claims from the group, one paid: 2 units, ¥60.
    assert (tg["members_wrote"], tg["lines"]) == (2, 2)
    assert (tg["claims"], tg["orders_paid"], tg["units_sold"], tg["net_cents"]) == (
        2,
        1,
        2,
        6000,
    )

    assert (wa["platform"], wa["chat_id"], wa["title"]) == ("whatsapp", WA, None)
    assert (wa["sent"], wa["edits"], wa["failed"]) == (2, 0, 2)
    assert [(k["kind"], k["sent"], k["failed"]) for k in wa["kinds"]] == [
        ("live", 1, 0),
        ("offer", 1, 1),
        ("reminder", 0, 1),
    ]
    assert wa["failures"] == [
        {
            "code": "outside_window",
            "failures": 1,
            "binding_paused": False,
            "detail": "Re-engagement message",
        },
        {
            "code": "template_rejected",
            "failures": 1,
            "binding_paused": True,
            "detail": "Template name does not exist",
        },
    ]
    assert wa["binding_paused"] is True
    assert (wa["members_wrote"], wa["lines"], wa["claims"], wa["orders_paid"]) == (1, 1, 1, 0)

    # Our messages in the groups are nobody's doing (the buyer named in a claim's outcome
    # is not "seen" by it): attendees are Tg 7, 8, 9, 10 (joined the group), Wa 55, Zoe.
    assert r["attendees"] == 6
    assert r["paid_orders"] == 2

    # The first report after the end was announced, once, with its highlights.
    (event,) = announced
    assert event.id == f"report:{ROOM}"
    assert (event.title, event.attendees, event.buyers) == ("Mango night", r["attendees"], 2)
    assert (event.units_sold, event.orders_paid) == (3, 2)
    assert (event.top_offer_title, event.replay_url) == ("Mangoes 芒果 3kg", None)
    room = await analytics.app.store.room(ROOM)
    assert room is not None and room.announced_at is not None

    # The consumer meets the announcement on the ANALYTICS stream: a duplicate, applied
    # already; nothing on any stream was dead-lettered (new types included).
    async def read_back() -> bool:
        return analytics.app.projection.duplicates >= 1

    await eventually(read_back)
    assert sum(c.dead_lettered for c in analytics.app.consumers) == 0

    # A late payment rebuilds the report; it is not announced again.
    late = OrderPaid(
        room_id=ROOM,
        customer_id=WA55,
        order_id="g2",
        offer_id="o_mango",
        amount_cents=3000,
        occurred_at=t0 + timedelta(minutes=15),
    )
    await analytics.publish([late])
    await analytics.settled(len(events) + 2)  # the announcement read back, the payment
    again = await _built(analytics)
    assert again["groups"][1]["orders_paid"] == 1
    assert len(announced) == 1

    # The CSV and the page show the groups.
    text = await analytics.get(f"/rooms/{ROOM}/report.csv")
    block = next(b for b in text.lstrip("\ufeff").split("\n\n") if b.startswith("# groups\n"))
    rows = list(csv.DictReader(io.StringIO(block.split("\n", 1)[1])))
    assert [(g["chat_id"], g["sent"], g["claims"], g["binding_paused"]) for g in rows] == [
        (TG, "5", "2", "False"),
        (WA, "2", "1", "True"),
    ]
    assert "# group messages\nplatform,chat_id,kind,sent,edits,failed\ntelegram,-1001,preview" in (
        text
    )
    page = await analytics.get(f"/rooms/{ROOM}/report.html")
    assert "<h2>Groups</h2>" in page and "Mango fans 🥭" in page
    assert "template_rejected ×1" in page and "binding paused" in page


async def test_a_show_long_over_is_not_announced(analytics: Analytics) -> None:
    """Met again while catching up (downtime, a rebuild): its report, no announcement."""
    announced = _spy(analytics)
    t0 = datetime.now(UTC) - timedelta(hours=ANNOUNCE_WITHIN_HOURS, minutes=11)
    events = groups_show(t0)
    await analytics.publish(events)
    await analytics.settled(len(events))
    r = await _built(analytics)
    assert [g["chat_id"] for g in r["groups"]] == [TG, WA]
    assert announced == []
    room = await analytics.app.store.room(ROOM)
    assert room is not None and room.announced_at is None


async def test_a_restart_announces_what_it_had_not(analytics: Analytics) -> None:
    """Stopped between a report's build and its announcement (NATS away): the next build
    tries again; so does a start, for rooms that ended recently and were not announced."""
    announcer = analytics.app.reports.announcer
    assert announcer is not None
    real = announcer.publisher

    class Away(EventPublisher):
        def __init__(self) -> None:
            pass

        async def publish(self, event: IntegrationEvent) -> Any:
            raise ConnectionError("NATS is away")

    announcer.publisher = Away
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    events = groups_show(t0)
    await analytics.publish(events)
    await analytics.settled(len(events))
    await _built(analytics)
    assert await analytics.app.store.unannounced_rooms(t0) == [ROOM]

    announcer.publisher = real
    await analytics.app.reports.load()  # what a start does
    await _built(analytics)
    room = await analytics.app.store.room(ROOM)
    assert room is not None and room.announced_at is not None
    assert await analytics.app.store.unannounced_rooms(t0) == []
