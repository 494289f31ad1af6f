"""A scripted show, published to JetStream with the real event classes: the post-stream
report (JSON, CSV, HTML), the profile and the audience lists equal figures worked out by
hand (SQLite, and PostgreSQL where TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.analytics.adapters.store import Scope, Store
from services.analytics.bootstrap import build
from services.analytics.main import create_app
from shared.db import make_engine
from shared.embedded_nats import NatsServer
from shared.messaging import EventPublisher
from tests.analytics import show
from tests.analytics.conftest import Analytics, analytics_settings
from tests.analytics.show import ANN, BO, CAT, DAN, LILY, LILY_TG, ROOM, WEI
from tests.support import eventually, serving

# Lily's two accounts are one person, named by its smallest account id.
LILY_P = LILY_TG


async def test_the_report_of_a_scripted_show(analytics: Analytics) -> None:
    events = show.scripted_show()
    await analytics.publish(events)
    await analytics.settled(len(events))

    async def built() -> bool:  # RoomEnded triggered the build: no request needed
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)
    r = await analytics.get(f"/rooms/{ROOM}/report")

    assert r["title"] == "Cherry night 樱桃专场"
    assert r["duration_minutes"] == 10
    # Lily (web + telegram), Wei, Bo, Cat, Dan on the page; Ann in the Telegram group.
    assert r["attendees"] == 6
    assert r["unique_viewers"] == 5
    viewers = [p["viewers"] for p in r["minutes"]]
    assert viewers == [1, 3, 5, 5, 4, 4, 4, 4, 4, 4, 0]
    assert r["peak_viewers"] == 5
    assert r["watch_seconds"] == 540 + 510 + 100 + 470 + 390
    assert r["average_watch_seconds"] == 2010 / 5
    # The video: on air 0:15-3:00 and 3:30-10:00 (165 + 390 s). Within it: Lily 0:30-9:30
    # -> 150 + 360, Wei 1:10-9:40 -> 110 + 370, Bo 1:20-3:00 -> 100, Cat 2:00-9:50 ->
    # 60 + 380, Dan 2:30-9:00 -> 30 + 330: 1890 s over 5 viewers, 378 s of 555 s each.
    assert (r["takes"], r["reconnects"], r["broadcast_minutes"]) == (2, 1, 9.25)
    assert (r["broadcast_viewers"], r["broadcast_watch_minutes"]) == (5, 31.5)
    assert r["average_broadcast_watch_minutes"] == 6.3
    assert r["broadcast_share_watched"] == round(378 / 555, 4)
    assert r["replay_url"] == f"/r/{ROOM}/replay"  # no LIVE_PUBLIC_URL, no Origin: a path
    assert [(t["take"], t["minutes"], t["stop_reason"]) for t in r["on_air"]] == [
        (1, 2.75, "encoder_gone"),
        (2, 6.5, "room_ended"),
    ]
    # 3 page lines + 2 Telegram lines; the room copy of a Telegram line, the welcome
    # line and the edit do not count.
    assert [p["messages"] for p in r["minutes"]] == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert r["messages"] == 5
    assert r["messages_per_minute"] == 0.5
    assert r["likes"] == 30
    assert [p["orders"] for p in r["minutes"]] == [0, 0, 2, 0, 0, 0, 1, 1, 0, 0, 0]
    # joined 6; engaged: all (Bo checked in, Ann wrote); claimed: Lily, Wei, Cat, Dan;
    # paid: Lily, Wei, Cat (Dan's order expired).
    assert r["funnel"] == {"joined": 6, "engaged": 6, "claimed": 4, "paid": 3}
    assert r["paid_orders"] == 3
    assert r["gmv_cents"] == 19800 + 9900 + 5000
    assert r["average_order_cents"] == round(34700 / 3)

    cherry, group = r["offers"]
    assert cherry["offer_id"] == "o_cherry"
    assert (cherry["orders"], cherry["units_claimed"], cherry["units_sold"]) == (2, 3, 3)
    assert cherry["sell_through"] == 1.0
    assert cherry["seconds_to_sell_out"] == 90
    assert cherry["net_cents"] == 29700
    assert (group["orders"], group["units_sold"], group["sell_through"]) == (2, 1, 0.01)
    assert group["seconds_to_sell_out"] is None
    assert r["group_buys"] == [
        {
            "offer_id": "o_group",
            "title": "Lychee 荔枝 group",
            "outcome": "formed",
            "buyers": 1,
            "minimum": None,
            "price_cents": 5000,
        }
    ]
    (packet,) = r["red_packets"]
    assert (packet["grabbed"], packet["grabbed_cents"], packet["finished"]) == (2, 1000, True)
    assert packet["luckiest"] == {"person_id": WEI, "display_name": "Wei"}
    (poll,) = r["polls"]
    assert (poll["votes"], poll["winner"], poll["closed"]) == ([2, 1], "lychee", True)

    # engagement = messages + votes + red packets + check-ins + likes // 10
    assert [(e["person_id"], e["value"]) for e in r["top_engagers"]] == [
        (WEI, 1 + 1 + 1 + 25 // 10),
        (LILY_P, 3 + 1),
        (CAT, 1),  # ties: more likes first, then by id
        (ANN, 1),
        (BO, 1),
        (DAN, 1),
    ]
    assert r["top_engagers"][1]["display_name"] == "Lily"
    assert [(b["person_id"], b["value"]) for b in r["top_buyers"]] == [
        (LILY_P, 19800),
        (WEI, 9900),
        (CAT, 5000),
    ]
    assert [(x["person_id"], x["value"]) for x in r["top_referrers"]] == [(LILY_P, 1)]
    # Lily and Dan came to r_prev; Wei and Cat are new buyers.
    assert r["new_vs_returning"] == {
        "new": 4,
        "returning": 2,
        "new_buyers": 2,
        "returning_buyers": 1,
    }
    assert r["previous_room_id"] == "r_prev"
    # Lily: 2 paid orders -> active; Dan: 1 paid order, engaged in 2 shows -> active.
    assert r["segment_movement"] == [
        {"from_tier": "new", "to_tier": "ordinary", "persons": 4},
        {"from_tier": "ordinary", "to_tier": "active", "persons": 2},
    ]
    # The "after" side is added up from before + in the show (one pass less over the
    # database); asked directly, the database gives the same figures, referrals included.
    store = analytics.app.store
    room = await store.room(ROOM)
    assert room is not None
    at = room.started_at or room.first_event_at
    through = Scope(upto=(at, ROOM, True), attendees_of=ROOM)
    before = await store.person_stats(Scope(upto=(at, ROOM, False), attendees_of=ROOM))
    in_room = await store.person_stats(Scope(room=ROOM))
    added = await analytics.app.reports._through_show(before, in_room, through)
    assert added == await store.person_stats(through)
    assert any(s.buyers_brought for s in added.values())

    # The same report as CSV and as a page with its charts.
    text = await analytics.get(f"/rooms/{ROOM}/report.csv")
    blocks = text.lstrip("\ufeff").split("\n\n")
    summary = dict(list(csv.reader(io.StringIO(blocks[0])))[2:])
    assert summary["peak_viewers"] == "5"
    assert summary["gmv_cents"] == "34700"
    assert (summary["broadcast_minutes"], summary["takes"], summary["reconnects"]) == (
        "9.25",
        "2",
        "1",
    )
    assert summary["broadcast_share_watched"] == str(round(378 / 555, 4))
    assert "# on air\ntake,source,started_at,stopped_at,stop_reason,minutes\n1,encoder," in text
    assert "# funnel\nstage,persons\njoined,6\nengaged,6\nclaimed,4\npaid,3" in text
    page = await analytics.get(f"/rooms/{ROOM}/report.html")
    assert page.count("<svg") == 4  # viewers, messages, orders, funnel
    assert "<polyline" in page and "Cherry night 樱桃专场" in page and "<script" not in page
    assert f'<a href="/r/{ROOM}/replay">Watch the replay</a>' in page
    assert "<b>9.25 min</b>" in page and "<b>2 (1)</b>" in page and "<b>68%</b>" in page


async def test_profile_audiences_and_csv_export(analytics: Analytics) -> None:
    events = show.scripted_show()
    await analytics.publish(events)
    await analytics.settled(len(events))

    lily = await analytics.get(f"/customers/{LILY}", as_of="2026-03-02T00:00:00Z")
    assert lily["person_id"] == LILY_P
    assert [a["account_id"] for a in lily["accounts"]] == [LILY_TG, LILY]
    assert lily["display_name"] == "Lily"  # the name used last
    assert (lily["rooms_attended"], lily["messages"], lily["votes"]) == (2, 3, 1)
    assert lily["watch_seconds"] == 600 + 540
    assert (lily["orders"], lily["spend_cents"]) == (2, 4990 + 19800)
    assert lily["last_purchase_at"] == "2026-03-01T12:03:00Z"
    assert (lily["referrals"], lily["buyers_brought"], lily["new_buyers_brought"]) == (1, 1, 1)
    assert lily["commission_cents"] == 495
    # bought twice (3 points each) and said 樱桃 twice, cherries once (1 point each)
    assert lily["interests"] == [
        {"tag": "樱桃", "points": 8},
        {"tag": "cherries", "points": 7},
    ]
    assert lily["tier"] == "active"
    assert "seed" in lily["segments"]
    assert lily["rfm"]["code"] == "522"  # 12 h ago, 2 orders, ¥247.90
    assert lily["value_class"] == "promoter"
    (evidence,) = lily["evidence"]
    assert (evidence["kind"], evidence["accounts"]) == ("declared", [LILY_TG, LILY])

    bo = await analytics.get(f"/customers/{BO}")
    assert (bo["checkin_streak"], bo["checkins"]) == (3, 1)

    lapsed = await analytics.get(f"/rooms/{ROOM}/audiences/lapsed_category")
    assert [(p["person_id"], p["reason"]) for p in lapsed] == [
        (DAN, "bought before: cherries, 樱桃")
    ]
    unpaid = await analytics.get(f"/rooms/{ROOM}/audiences/unpaid_claims")
    assert [(p["person_id"], p["reason"]) for p in unpaid] == [(DAN, "Lychee 荔枝 group")]
    waiting = await analytics.get(f"/rooms/{ROOM}/audiences/waitlisted")
    assert [(p["person_id"], p["reason"]) for p in waiting] == [(CAT, "Cherries 樱桃 5kg")]

    exported = await analytics.get(f"/rooms/{ROOM}/audiences/lapsed_category", format="csv")
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert len(rows) == 1
    assert rows[0]["person_id"] == DAN
    assert rows[0]["display_name"] == "Dan"
    assert rows[0]["accounts"] == DAN
    assert rows[0]["spend_cents"] == "4990"
    assert rows[0]["tier"] == "active"

    seeds = await analytics.get("/segments/seed", format="csv")
    assert [row["person_id"] for row in csv.DictReader(io.StringIO(seeds.lstrip("\ufeff")))] == [
        LILY_P
    ]
    summary = await analytics.get("/segments", as_of="2026-03-02T00:00:00Z")
    assert summary["persons"] == 6
    assert summary["tiers"] == {"core": 0, "active": 2, "ordinary": 4}
    assert summary["seed"] == 1


async def test_a_stop_during_a_report_build_lets_it_finish(
    nats_server: NatsServer, nc: NatsClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service stops while the room's report is being built: the build is finished and
    saved, not cancelled half-way through its queries (which, on aiosqlite, could leave a
    connection's close pending forever and the process unable to exit)."""
    app = build(analytics_settings(nats_server.url, database_url))
    built_once, release = asyncio.Event(), asyncio.Event()
    real_build = app.reports.build

    async def held_build(room_id: str) -> Any:
        report = await real_build(room_id)
        built_once.set()
        await release.wait()  # still inside the build when the stop comes
        return report

    monkeypatch.setattr(app.reports, "build", held_build)
    events = show.scripted_show()
    async with serving(create_app(app)):
        bus = EventPublisher(nc.jetstream())
        for event in events:
            await bus.publish(event)
        await asyncio.wait_for(built_once.wait(), 15)
        asyncio.get_running_loop().call_later(0.2, release.set)
    # stopped: the build was let finish, and its report saved

    engine = make_engine(database_url)
    try:
        store = Store(engine)
        cached = await store.cached_report(ROOM)
        assert cached is not None
        assert cached.key == await store.cache_key(ROOM)
    finally:
        await engine.dispose()
