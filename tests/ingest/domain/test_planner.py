"""What goes out to the bound groups for each event, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from services.ingest.domain.outbound import OutboundSettings
from services.ingest.domain.planner import (
    Binding,
    Config,
    GroupOrder,
    Known,
    OfferCard,
    claim_origin,
    plan,
)
from shared.auth import read_pay_token
from shared.events import (
    AnnouncementPosted,
    ClaimRejected,
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
    StockChanged,
)
from shared.events.analytics import ReportReady
from shared.events.ingest import ExternalMemberJoined
from shared.events.media import ImageSizes

SECRET = "test-secret-key-of-at-least-32-bytes!"
CONFIG = Config(
    live_public_url="https://live.example",
    orders_public_url="https://orders.example",
    secret_key=SECRET,
    zone=ZoneInfo("Asia/Shanghai"),
    reminder_lead=timedelta(seconds=300),
)
ROOM = "r1"
NOW = datetime(2036, 6, 1, 12, 0, tzinfo=UTC)  # pay links expire with pay_by
TG = Binding("telegram", "-1001")
WA = Binding("whatsapp", "g1", OutboundSettings(language="zh", referrer_id="web:partner"))
CHERRIES = OfferCard("o1", "Cherries", 49900, 8000, 7999, "a" * 64 + ".jpg")
PHOTO = ImageSizes(
    thumb="b" * 64 + ".jpg", card="c" * 64 + ".jpg", full="d" * 64 + ".jpg", width=1, height=1
)


def known(*bindings: Binding, order: GroupOrder | None = None, **extra: object) -> Known:
    return Known(
        room_id=ROOM,
        bindings=bindings or (TG, WA),
        title="Cherry night",
        offers={"o1": CHERRIES},
        order=order,
        **extra,  # type: ignore[arg-type]
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def placed(claim_id: str = "telegram:-1001:61", minutes: int = 15) -> OrderPlaced:
    return OrderPlaced(
        id="placed1",
        room_id=ROOM,
        customer_id="telegram:111",
        occurred_at=NOW,
        order_id="ord1",
        claim_id=claim_id,
        offer_id="o1",
        quantity=2,
        amount_cents=99800,
        pay_by=NOW + timedelta(minutes=minutes),
    )


def group_order(**changes: object) -> GroupOrder:
    values: dict[str, object] = {
        "order_id": "ord1",
        "claim_id": "telegram:-1001:61",
        "platform": "telegram",
        "chat_id": "-1001",
        "message_id": "61",
        "customer_id": "telegram:111",
        "pay_by": NOW + timedelta(minutes=15),
        "offer_id": "o1",
        "quantity": 2,
        "amount_cents": 99800,
        "outcome_key": "placed1:telegram:-1001",
    }
    return GroupOrder(**{**values, **changes})  # type: ignore[arg-type]


class TestToEveryGroup:
    def test_the_preview_goes_to_every_group_once_pinned_with_its_ref(self) -> None:
        event = RoomPreviewAnnounced(
            id="pv1",
            room_id=ROOM,
            occurred_at=NOW,
            text="Cherries 499 a box, 8,000 boxes",
            scheduled_at=NOW + timedelta(days=1, hours=0),  # 20:00 Shanghai tomorrow
            lineup=["o1", "o_unknown"],
        )
        commands = plan(event, known(), CONFIG).commands
        assert [c.key for c in commands] == ["pv1:telegram:-1001", "pv1:whatsapp:g1"]
        assert all(c.pin and c.kind == "preview" and c.id == c.key for c in commands)
        english, chinese = commands
        assert english.text.startswith("Tomorrow 20:00 (UTC+8) live: Cherry night")
        assert "Cherries 499 a box" in english.text
        assert "• Cherries ¥499 (8,000 available)" in english.text
        assert chinese.text.startswith("明晚20:00直播：Cherry night")
        assert english.buttons[0].url == "https://live.example/r/r1"
        assert query(chinese.buttons[0].url) == {"ref": ["web:partner"]}
        assert chinese.buttons[0].text == "进入直播间"

    def test_we_are_live(self) -> None:
        commands = plan(RoomStarted(id="st1", room_id=ROOM), known(), CONFIG).commands
        assert [(c.kind, c.key) for c in commands] == [
            ("live", "st1:telegram:-1001"),
            ("live", "st1:whatsapp:g1"),
        ]
        assert commands[1].text == "直播开始啦！快来直播间 👋"
        assert not plan(RoomStarted(room_id=ROOM), known(ended=True), CONFIG).commands

    def test_a_pinned_offer_is_its_card_with_photo_price_left_and_buy_link(self) -> None:
        commands = plan(
            ProductPinned(id="pin1", room_id=ROOM, offer_id="o1"), known(), CONFIG
        ).commands
        english, chinese = commands
        assert english.kind == "offer" and english.title == "Cherries"
        assert english.photo_url == f"https://orders.example/photos/{'a' * 64}.jpg"
        assert english.text == "¥499, 7,999 left. Write +1 here or tap to buy."
        assert english.buttons[0].url == "https://live.example/r/r1?offer=o1"
        assert query(chinese.buttons[0].url) == {"offer": ["o1"], "ref": ["web:partner"]}
        assert "还剩7,999份" in chinese.text

    def test_an_unpin_or_a_pin_of_an_offer_without_a_card_says_nothing(self) -> None:
        assert not plan(ProductPinned(room_id=ROOM, offer_id=None), known(), CONFIG).commands
        assert not plan(ProductPinned(room_id=ROOM, offer_id="o_x"), known(), CONFIG).commands

    def test_an_opened_offer_not_yet_kept_is_carded_from_the_event(self) -> None:
        event = OfferOpened(
            id="op1",
            room_id=ROOM,
            offer_id="o2",
            kind="flash_sale",
            title="Lychees",
            price_cents=2990,
            stock=100,
            per_buyer_limit=2,
            photos=[PHOTO],
        )
        first = plan(event, known(TG), CONFIG).commands[0]
        assert first.title == "Lychees" and first.text.startswith("¥29.90, 100 left")
        assert first.photo_url == f"https://orders.example/photos/{'c' * 64}.jpg"

    def test_a_red_packet_an_announcement_and_the_thank_you(self) -> None:
        packet = RedPacketSent(
            room_id=ROOM, packet_id="p1", total_cents=8800, shares=10, message="Cherries at 9!"
        )
        sent = plan(packet, known(TG), CONFIG).commands[0]
        assert sent.kind == "red_packet" and "¥88 in 10 shares. Cherries at 9!" in sent.text
        assert sent.buttons[0].url == "https://live.example/r/r1"
        note = AnnouncementPosted(room_id=ROOM, announcement_id="a1", text="Pickup from 6 pm")
        assert plan(note, known(TG), CONFIG).commands[0].text == "📣 Pickup from 6 pm"
        report = ReportReady(
            id="report:r1",
            room_id=ROOM,
            attendees=120,
            buyers=45,
            units_sold=300,
            orders_paid=50,
            top_offer_title="Cherries",
            replay_url="https://live.example/r/r1/replay",
        )
        thanks = plan(report, known(TG, WA), CONFIG).commands
        assert thanks[0].key == "report:r1:telegram:-1001" and thanks[0].kind == "thank_you"
        assert "120 came, 45 bought 300 units.\nThe favourite: Cherries" in thanks[0].text
        assert thanks[0].buttons[0].url == "https://live.example/r/r1/replay"
        assert "120人来看，45人下单，共300件。" in thanks[1].text

    def test_a_kind_switched_off_or_a_paused_binding_gets_nothing(self) -> None:
        quiet = Binding("telegram", "-1002", OutboundSettings(kinds={"live": False}))
        paused = Binding("telegram", "-1003", paused=True)
        commands = plan(RoomStarted(room_id=ROOM), known(TG, quiet, paused), CONFIG).commands
        assert [c.chat_id for c in commands] == ["-1001"]
        preview = RoomPreviewAnnounced(room_id=ROOM, text="Tomorrow!")
        assert [c.chat_id for c in plan(preview, known(TG, quiet, paused), CONFIG).commands] == [
            "-1001",
            "-1002",
        ]

    def test_the_hosts_own_template(self) -> None:
        own = Binding(
            "telegram", "-1004", OutboundSettings(templates={"live": "On air: {title} {room_link}"})
        )
        command = plan(RoomStarted(room_id=ROOM), known(own), CONFIG).commands[0]
        assert command.text == "On air: Cherry night https://live.example/r/r1"

    def test_events_that_say_nothing(self) -> None:
        assert plan(StockChanged(room_id=ROOM, offer_id="o1", left=3), known(), CONFIG) == plan(
            StockChanged(room_id=ROOM, offer_id="o1", left=3), known(), CONFIG
        )
        assert not plan(StockChanged(room_id=ROOM, offer_id="o1", left=3), known(), CONFIG).commands


class TestWelcome:
    def joined(self, chat_id: str = "-1001") -> ExternalMemberJoined:
        return ExternalMemberJoined(
            id=f"telegram:{chat_id}:join:7",
            room_id=ROOM,
            platform="telegram",
            chat_id=chat_id,
            external_user_id="777",
            display_name="Mei",
        )

    def test_only_where_the_binding_wants_it_and_only_in_that_group(self) -> None:
        assert not plan(self.joined(), known(), CONFIG).commands  # welcome is off by default
        welcoming = Binding("telegram", "-1001", OutboundSettings(kinds={"welcome": True}))
        other = Binding("telegram", "-1009", OutboundSettings(kinds={"welcome": True}))
        commands = plan(self.joined(), known(welcoming, other), CONFIG).commands
        assert len(commands) == 1
        welcome = commands[0]
        assert welcome.chat_id == "-1001" and welcome.kind == "welcome"
        assert welcome.mention is not None and welcome.mention.user_id == "777"
        assert welcome.text == "Welcome Mei! 🎉 Glad you are here."

    def test_history_welcomes_nobody(self) -> None:
        welcoming = Binding("telegram", "-1001", OutboundSettings(kinds={"welcome": True}))
        imported = self.joined().model_copy(update={"via": "import"})
        assert not plan(imported, known(welcoming), CONFIG).commands
        joined = self.joined()
        late = known(welcoming, now=joined.occurred_at + timedelta(minutes=11))
        assert not plan(joined, late, CONFIG).commands
        fresh = known(welcoming, now=joined.occurred_at + timedelta(minutes=1))
        assert plan(joined, fresh, CONFIG).commands


class TestClaims:
    def test_a_claim_from_a_group_is_answered_there_with_pay_by_and_a_pay_link(self) -> None:
        result = plan(placed(), known(), CONFIG)
        reply, reminder = result.commands
        assert reply.kind == "claim_outcome" and reply.key == "placed1:telegram:-1001"
        assert (reply.platform, reply.chat_id, reply.reply_to) == ("telegram", "-1001", "61")
        assert reply.customer_id == "telegram:111" and reply.order_id == "ord1"
        assert reply.text == "Yours: 2 × Cherries, ¥998. Please pay by 20:15 (15 min)."
        pay = reply.buttons[0]
        assert pay.text == "Pay" and pay.url.startswith("https://live.example/r/r1?pay=")
        link = read_pay_token(query(pay.url)["pay"][0], SECRET)
        assert (link.order_id, link.customer_id, link.room_id) == ("ord1", "telegram:111", ROOM)
        assert reminder.kind == "reminder" and reminder.key == "placed1:telegram:-1001:reminder"
        assert reminder.not_before == NOW + timedelta(minutes=10) and reminder.reply_to == "61"
        assert result.order is not None and result.order.outcome_key == reply.key
        assert result.order.message_id == "61" and result.order.state == "held"

    def test_no_reminder_when_the_hold_is_shorter_than_twice_the_lead(self) -> None:
        commands = plan(placed(minutes=9), known(), CONFIG).commands
        assert [c.kind for c in commands] == ["claim_outcome"]

    def test_the_reply_in_the_groups_language(self) -> None:
        order = placed(claim_id="whatsapp:g1:wamid.X")
        reply = plan(order, known(), CONFIG).commands[0]
        assert reply.text == "抢到啦：Cherries ×2，共¥998。请在20:15前付款（15分钟内）。"
        assert reply.buttons[0].text == "去付款" and reply.reply_to == "wamid.X"

    @pytest.mark.parametrize(
        "claim_id", ["web-claim-1", "telegram:-1999:5", "claim:telegram:-1001:61:x", "a::b"]
    )
    def test_claims_not_from_a_bound_group_say_nothing(self, claim_id: str) -> None:
        result = plan(placed(claim_id=claim_id), known(), CONFIG)
        assert not result.commands
        if claim_origin(claim_id) is None or claim_id.startswith("telegram:-1999"):
            assert result.order is None

    def test_outcome_switched_off_keeps_the_order_without_a_reply_to_edit(self) -> None:
        quiet = Binding("telegram", "-1001", OutboundSettings(kinds={"claim_outcome": False}))
        result = plan(placed(), known(quiet), CONFIG)
        assert [c.kind for c in result.commands] == ["reminder"]
        assert result.order is not None and result.order.outcome_key is None
        paused = Binding("telegram", "-1001", paused=True)
        assert not plan(placed(), known(paused), CONFIG).commands

    def rejected(self, reason: str, message: str) -> ClaimRejected:
        return ClaimRejected(
            id="rej1",
            room_id=ROOM,
            customer_id="telegram:111",
            claim_id="telegram:-1001:62",
            offer_id="o1",
            reason=reason,
            message=message,
        )

    def test_sold_out_with_and_without_the_waitlist_place(self) -> None:
        at = plan(self.rejected("sold_out_waitlisted", "You are number 4 in line"), known(), CONFIG)
        reply = at.commands[0]
        assert reply.key == "rej1:telegram:-1001" and reply.reply_to == "62"
        assert reply.text == "Sorry, Cherries is sold out. You are number 4 on the waitlist."
        plain = plan(self.rejected("sold_out_waitlisted", "Sold out: waitlisted."), known(), CONFIG)
        assert "You are on the waitlist" in plain.commands[0].text

    def test_other_refusals_give_the_reason(self) -> None:
        limit = plan(self.rejected("limit_reached", "Limit 2 per buyer."), known(), CONFIG)
        assert (
            limit.commands[0].text == "You have reached the limit for Cherries. Limit 2 per buyer."
        )
        odd = plan(self.rejected("invalid", "No variant 'XXL'."), known(), CONFIG)
        assert odd.commands[0].text == "That did not work: No variant 'XXL'."

    def test_paid_edits_the_reply(self) -> None:
        paid = OrderPaid(
            id="paid1", room_id=ROOM, order_id="ord1", offer_id="o1", amount_cents=99800
        )
        result = plan(paid, known(order=group_order()), CONFIG)
        edit = result.commands[0]
        assert edit.key == "paid1:telegram:-1001:edit"
        assert edit.edit_of == "placed1:telegram:-1001" and edit.kind == "claim_outcome"
        assert edit.text == "Paid: 2 × Cherries, ¥998. Thank you! ✅" and not edit.buttons
        assert result.order is not None and result.order.state == "paid"
        # A balance after a deposit: settled already, nothing more.
        again = plan(paid, known(order=group_order(state="paid")), CONFIG)
        assert not again.commands and again.order is None

    def test_expired_cancelled_and_amended_edit_it_too(self) -> None:
        order = known(order=group_order())
        expired = plan(
            OrderExpired(id="exp1", room_id=ROOM, order_id="ord1", offer_id="o1", quantity=2),
            order,
            CONFIG,
        )
        assert expired.commands[0].text == "Not paid by 20:15: Cherries went back on sale."
        assert expired.order is not None and expired.order.state == "expired"
        cancelled = plan(
            OrderCancelled(id="c1", room_id=ROOM, order_id="ord1", offer_id="o1", reason="buyer"),
            order,
            CONFIG,
        )
        assert cancelled.commands[0].key == "c1:telegram:-1001:edit"
        amended = plan(
            OrderAmended(
                id="am1",
                room_id=ROOM,
                occurred_at=NOW + timedelta(minutes=5),
                order_id="ord1",
                claim_id="telegram:-1001:61",
                offer_id="o1",
                quantity=3,
                amount_cents=149700,
                pay_by=NOW + timedelta(minutes=15),
            ),
            order,
            CONFIG,
        )
        edit = amended.commands[0]
        assert edit.text == "Yours: 3 × Cherries, ¥1,497. Please pay by 20:15 (10 min)."
        assert edit.buttons[0].text == "Pay" and edit.edit_of == "placed1:telegram:-1001"
        assert amended.order is not None and amended.order.quantity == 3

    def test_no_edit_without_a_reply_or_for_orders_not_from_a_group(self) -> None:
        paid = OrderPaid(room_id=ROOM, order_id="ord1", offer_id="o1", amount_cents=1)
        assert plan(paid, known(), CONFIG).commands == []
        unanswered = plan(paid, known(order=group_order(outcome_key=None)), CONFIG)
        assert not unanswered.commands and unanswered.order is not None  # still recorded
        paused = Binding("telegram", "-1001", paused=True)
        assert not plan(paid, known(paused, order=group_order()), CONFIG).commands


class TestOfferRepeat:
    def test_opening_then_pinning_posts_one_card(self) -> None:
        posted = OfferCard(**{**CHERRIES.__dict__, "posted_at": NOW, "posted_by": "op1"})
        state = Known(room_id=ROOM, bindings=(TG,), offers={"o1": posted})
        pin = ProductPinned(id="pin1", room_id=ROOM, offer_id="o1", occurred_at=NOW)
        assert not plan(pin, state, CONFIG).commands
        later = ProductPinned(room_id=ROOM, offer_id="o1", occurred_at=NOW + timedelta(minutes=10))
        assert plan(later, state, CONFIG).commands
        # The event that posted it, redelivered, plans the same message (the sender dedupes).
        opened = OfferOpened(
            id="op1",
            room_id=ROOM,
            occurred_at=NOW,
            offer_id="o1",
            kind="flash_sale",
            title="Cherries",
            price_cents=49900,
            stock=8000,
            per_buyer_limit=2,
        )
        assert [c.key for c in plan(opened, state, CONFIG).commands] == ["op1:telegram:-1001"]
