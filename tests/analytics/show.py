"""A scripted show, as the real services would publish it, with every time fixed.

Two shows of host:h1. r_prev (a week before): Lily and Dan buy cherries. r_show
(12:00-12:10 UTC): Lily (web, and her Telegram account, declared when joining), Wei
(invited by Lily), Bo, Cat, Dan on the page; Ann only in the bound Telegram group. The
host's encoder is on air 12:00:15-12:03:00, drops, and is back 12:03:30 to the end.
The figures the tests expect are worked out by hand in test_report.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.events import (
    ChatMessagePosted,
    CheckedIn,
    ClaimRejected,
    CommissionAccrued,
    GroupFormed,
    IntegrationEvent,
    LikesSent,
    OfferOpened,
    OfferSoldOut,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    PollClosed,
    PollOpened,
    ProductPinned,
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
from shared.events.ingest import ExternalMessageReceived

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TP = T0 - timedelta(days=7)
HOST = "host:h1"
LILY, WEI, BO, CAT, DAN = "web:lily", "web:wei", "web:bo", "web:cat", "web:dan"
LILY_TG, ANN = "telegram:100", "telegram:200"
ROOM, PREV = "r_show", "r_prev"


def at(minutes: float, base: datetime = T0) -> datetime:
    return base + timedelta(seconds=round(minutes * 60))


def m(minute: int, second: int = 0) -> datetime:
    return T0 + timedelta(minutes=minute, seconds=second)


def previous_show() -> list[IntegrationEvent]:
    r = PREV
    return [
        RoomOpened(room_id=r, title="Cherry warm-up", host_id=HOST, occurred_at=TP),
        RoomStarted(room_id=r, occurred_at=TP),
        OfferOpened(
            room_id=r,
            offer_id="o_prev",
            kind="flash_sale",
            title="Cherries 樱桃 2kg",
            price_cents=4990,
            stock=10,
            per_buyer_limit=2,
            occurred_at=at(1, TP),
        ),
        ViewerJoined(room_id=r, customer_id=LILY, display_name="Lily", occurred_at=at(1, TP)),
        ViewerJoined(room_id=r, customer_id=DAN, display_name="Dan", occurred_at=at(1, TP)),
        OrderPlaced(
            room_id=r,
            customer_id=LILY,
            order_id="p1",
            claim_id="pc1",
            offer_id="o_prev",
            quantity=1,
            amount_cents=4990,
            pay_by=at(20, TP),
            occurred_at=at(2, TP),
        ),
        OrderPaid(
            room_id=r,
            customer_id=LILY,
            order_id="p1",
            offer_id="o_prev",
            amount_cents=4990,
            occurred_at=at(3, TP),
        ),
        OrderPlaced(
            room_id=r,
            customer_id=DAN,
            order_id="p2",
            claim_id="pc2",
            offer_id="o_prev",
            quantity=1,
            amount_cents=4990,
            pay_by=at(20, TP),
            occurred_at=at(2, TP),
        ),
        OrderPaid(
            room_id=r,
            customer_id=DAN,
            order_id="p2",
            offer_id="o_prev",
            amount_cents=4990,
            occurred_at=at(3, TP),
        ),
        ViewerLeft(room_id=r, customer_id=LILY, watch_seconds=600, occurred_at=at(11, TP)),
        ViewerLeft(room_id=r, customer_id=DAN, watch_seconds=300, occurred_at=at(6, TP)),
        RoomEnded(room_id=r, occurred_at=at(30, TP)),
    ]


def the_show() -> list[IntegrationEvent]:
    r = ROOM
    return [
        RoomOpened(room_id=r, title="Cherry night 樱桃专场", host_id=HOST, occurred_at=m(-30)),
        RoomStarted(room_id=r, occurred_at=m(0)),
        # the video: two takes, 165 s + 390 s on air
        StreamStarted(room_id=r, source="encoder", take=1, protocol="srt", occurred_at=m(0, 15)),
        StreamStopped(
            room_id=r,
            source="encoder",
            take=1,
            reason="encoder_gone",
            on_air_seconds=165,
            occurred_at=m(3),
        ),
        StreamStarted(room_id=r, source="encoder", take=2, protocol="srt", occurred_at=m(3, 30)),
        StreamStopped(
            room_id=r,
            source="encoder",
            take=2,
            reason="room_ended",
            on_air_seconds=390,
            occurred_at=m(10),
        ),
        # joins (viewers per minute: 1, 3, 5, 5, 4, 4, 4, 4, 4, 4, 0)
        ViewerJoined(
            room_id=r,
            customer_id=LILY,
            display_name="Lily",
            external_id=LILY_TG,
            occurred_at=m(0, 30),
        ),
        ChatMessagePosted(
            room_id=r,
            customer_id=None,
            message_id="w1",
            display_name="Qunlive",
            text="Welcome @Lily!",
            source="system",
            occurred_at=m(0, 31),
        ),
        ViewerJoined(
            room_id=r, customer_id=WEI, display_name="Wei", referrer_id=LILY, occurred_at=m(1, 10)
        ),
        ViewerJoined(room_id=r, customer_id=BO, display_name="Bo", occurred_at=m(1, 20)),
        ViewerJoined(room_id=r, customer_id=CAT, display_name="Cat", occurred_at=m(2)),
        ViewerJoined(room_id=r, customer_id=DAN, display_name="Dan", occurred_at=m(2, 30)),
        ViewerLeft(room_id=r, customer_id=BO, watch_seconds=100, occurred_at=m(3)),
        # offers
        OfferOpened(
            room_id=r,
            offer_id="o_cherry",
            kind="flash_sale",
            title="Cherries 樱桃 5kg",
            price_cents=9900,
            stock=3,
            per_buyer_limit=2,
            occurred_at=m(1),
        ),
        OfferOpened(
            room_id=r,
            offer_id="o_group",
            kind="group_buy",
            title="Lychee 荔枝 group",
            price_cents=5000,
            stock=100,
            per_buyer_limit=1,
            occurred_at=m(1),
        ),
        ProductPinned(room_id=r, offer_id="o_cherry", occurred_at=m(1)),
        # chat: 3 lines on the page, 2 in the Telegram group (one of them copied into the room)
        ChatMessagePosted(
            room_id=r,
            customer_id=LILY,
            message_id="c1",
            display_name="Lily",
            text="樱桃来了 +1",
            occurred_at=m(1, 30),
        ),
        ChatMessagePosted(
            room_id=r,
            customer_id=WEI,
            message_id="c2",
            display_name="Wei",
            text="hello",
            occurred_at=m(2, 10),
        ),
        ExternalMessageReceived(
            id="telegram:-1001:1",
            room_id=r,
            customer_id=LILY_TG,
            platform="telegram",
            chat_id="-1001",
            external_user_id="100",
            display_name="Lily TG",
            message_id="1",
            text="我要樱桃",
            occurred_at=m(3),
        ),
        ChatMessagePosted(
            id="chat:telegram:-1001:1",
            room_id=r,
            customer_id=LILY_TG,
            message_id="telegram:-1001:1",
            display_name="Lily TG",
            text="我要樱桃",
            source="telegram",
            occurred_at=m(3),
        ),
        ChatMessagePosted(
            room_id=r,
            customer_id=LILY,
            message_id="c3",
            display_name="Lily",
            text="cherries please",
            occurred_at=m(4),
        ),
        ExternalMessageReceived(
            id="telegram:-1001:2",
            room_id=r,
            customer_id=ANN,
            platform="telegram",
            chat_id="-1001",
            external_user_id="200",
            display_name="Ann",
            message_id="2",
            text="荔枝多少钱",
            occurred_at=m(5),
        ),
        ExternalMessageReceived(
            id="telegram:-1001:2:edit:1",
            room_id=r,
            customer_id=ANN,
            platform="telegram",
            chat_id="-1001",
            external_user_id="200",
            display_name="Ann",
            message_id="2",
            text="荔枝多少钱?",
            edited=True,
            occurred_at=m(5, 20),
        ),
        # likes, check-in
        LikesSent(room_id=r, customer_id=WEI, count=25, occurred_at=m(2, 20)),
        LikesSent(room_id=r, customer_id=CAT, count=5, occurred_at=m(3, 30)),
        CheckedIn(
            room_id=r, customer_id=BO, day="2026-03-01", streak=3, points=30, occurred_at=m(1, 30)
        ),
        # orders: the cherries sell out in 90 s
        OrderPlaced(
            room_id=r,
            customer_id=LILY,
            order_id="o1",
            claim_id="k1",
            offer_id="o_cherry",
            quantity=2,
            amount_cents=19800,
            pay_by=m(20),
            occurred_at=m(2),
        ),
        OrderPlaced(
            room_id=r,
            customer_id=WEI,
            order_id="o2",
            claim_id="k2",
            offer_id="o_cherry",
            quantity=1,
            amount_cents=9900,
            pay_by=m(20),
            referrer_id=LILY,
            occurred_at=m(2, 30),
        ),
        OfferSoldOut(room_id=r, offer_id="o_cherry", occurred_at=m(2, 30)),
        ClaimRejected(
            room_id=r,
            customer_id=CAT,
            claim_id="k3",
            offer_id="o_cherry",
            reason="sold_out_waitlisted",
            message="sold out: you are on the waitlist",
            occurred_at=m(2, 40),
        ),
        OrderPaid(
            room_id=r,
            customer_id=LILY,
            order_id="o1",
            offer_id="o_cherry",
            amount_cents=19800,
            occurred_at=m(3),
        ),
        OrderPaid(
            room_id=r,
            customer_id=WEI,
            order_id="o2",
            offer_id="o_cherry",
            amount_cents=9900,
            referrer_chain=[LILY],
            occurred_at=m(4),
        ),
        CommissionAccrued(
            room_id=r,
            customer_id=LILY,
            order_id="o2",
            level=1,
            amount_cents=495,
            occurred_at=m(4),
        ),
        # red packet
        RedPacketSent(
            room_id=r,
            customer_id=HOST,
            packet_id="pk1",
            total_cents=1000,
            shares=2,
            message="hot cherries",
            occurred_at=m(5),
        ),
        RedPacketGrabbed(
            room_id=r,
            customer_id=WEI,
            packet_id="pk1",
            amount_cents=600,
            remaining_shares=1,
            occurred_at=m(5, 10),
        ),
        RedPacketGrabbed(
            room_id=r,
            customer_id=CAT,
            packet_id="pk1",
            amount_cents=400,
            remaining_shares=0,
            occurred_at=m(5, 12),
        ),
        RedPacketFinished(
            room_id=r,
            customer_id=WEI,
            packet_id="pk1",
            luckiest_amount_cents=600,
            occurred_at=m(5, 12),
        ),
        # poll
        PollOpened(
            room_id=r,
            poll_id="poll1",
            question="Next: lychee or mango?",
            options=["lychee", "mango"],
            occurred_at=m(6),
        ),
        VoteCast(room_id=r, customer_id=LILY, poll_id="poll1", option=0, occurred_at=m(6, 10)),
        VoteCast(room_id=r, customer_id=WEI, poll_id="poll1", option=0, occurred_at=m(6, 15)),
        VoteCast(room_id=r, customer_id=DAN, poll_id="poll1", option=1, occurred_at=m(6, 20)),
        PollClosed(room_id=r, poll_id="poll1", results=[2, 1], occurred_at=m(7)),
        # the group buy: Dan does not pay in time, Cat does; the group forms with 1 buyer
        OrderPlaced(
            room_id=r,
            customer_id=DAN,
            order_id="o3",
            claim_id="k4",
            offer_id="o_group",
            quantity=1,
            amount_cents=5000,
            pay_by=m(9),
            kind="group_buy",
            occurred_at=m(6, 30),
        ),
        OrderPlaced(
            room_id=r,
            customer_id=CAT,
            order_id="o4",
            claim_id="k5",
            offer_id="o_group",
            quantity=1,
            amount_cents=5000,
            pay_by=m(9),
            kind="group_buy",
            occurred_at=m(7),
        ),
        OrderPaid(
            room_id=r,
            customer_id=CAT,
            order_id="o4",
            offer_id="o_group",
            amount_cents=5000,
            occurred_at=m(7, 30),
        ),
        OrderExpired(
            room_id=r,
            customer_id=DAN,
            order_id="o3",
            offer_id="o_group",
            quantity=1,
            occurred_at=m(9),
        ),
        GroupFormed(
            room_id=r, offer_id="o_group", buyers=1, price_cents=5000, occurred_at=m(9, 55)
        ),
        # everyone leaves
        ViewerLeft(room_id=r, customer_id=DAN, watch_seconds=390, occurred_at=m(9)),
        ViewerLeft(room_id=r, customer_id=LILY, watch_seconds=540, occurred_at=m(9, 30)),
        ViewerLeft(room_id=r, customer_id=WEI, watch_seconds=510, occurred_at=m(9, 40)),
        ViewerLeft(room_id=r, customer_id=CAT, watch_seconds=470, occurred_at=m(9, 50)),
        RoomEnded(room_id=r, occurred_at=m(10)),
    ]


def scripted_show() -> list[IntegrationEvent]:
    return previous_show() + the_show()
