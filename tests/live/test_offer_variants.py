"""A room's view of an offer carries its variants and what is left of each, as orders'
events say it: opened with them, each sold out on its own as stock changes."""

from __future__ import annotations

import json

from services.live.adapters.room_feed import RoomFeed, RoomState
from shared.events import OfferOpened, OfferSoldOut, OfferUpdated, StockChanged

ROOM = "r_sizes"


def offer_frame(feed: RoomFeed) -> dict:
    [frame] = [f for f in (json.loads(o.frame) for o in feed.drain()) if f["type"] == "offer"]
    offer: dict = frame["offer"]
    return offer


def opened(**split: int) -> OfferOpened:
    return OfferOpened(
        room_id=ROOM,
        offer_id="off_1",
        kind="flash_sale",
        title="Tee",
        price_cents=9900,
        stock=sum(split.values()) or 5,
        per_buyer_limit=3,
        variants=["S", "M", "XL"],
        variant_left=split,
    )


def test_split_variants_sell_out_one_by_one() -> None:
    feed = RoomFeed(RoomState(status="live"))
    feed.apply(opened(S=2, M=0, XL=1))
    assert offer_frame(feed)["variants"] == [
        {"name": "S", "left": 2, "sold_out": False},
        {"name": "M", "left": 0, "sold_out": True},
        {"name": "XL", "left": 1, "sold_out": False},
    ]
    feed.apply(
        StockChanged(room_id=ROOM, offer_id="off_1", left=2, variant_left={"S": 2, "M": 0, "XL": 0})
    )
    view = offer_frame(feed)
    assert [v["sold_out"] for v in view["variants"]] == [False, True, True]
    assert view["left"] == 2 and not view["sold_out"]
    feed.apply(OfferSoldOut(room_id=ROOM, offer_id="off_1"))
    assert [v["left"] for v in offer_frame(feed)["variants"]] == [0, 0, 0]
    feed.apply(
        OfferUpdated(
            room_id=ROOM,
            offer_id="off_1",
            price_cents=9900,
            stock=6,
            left=3,
            per_buyer_limit=3,
            variants=["S", "M", "XL"],
            variant_left={"S": 0, "M": 3, "XL": 0},
        )
    )
    assert [v["left"] for v in offer_frame(feed)["variants"]] == [0, 3, 0]


def test_shared_variants_follow_the_offers_units() -> None:
    feed = RoomFeed(RoomState(status="live"))
    feed.apply(opened())
    assert offer_frame(feed)["variants"] == [
        {"name": n, "left": None, "sold_out": False} for n in ("S", "M", "XL")
    ]
    feed.apply(StockChanged(room_id=ROOM, offer_id="off_1", left=0))
    assert all(v["sold_out"] for v in offer_frame(feed)["variants"])


def test_an_offer_this_instance_did_not_see_open_says_nothing_of_variants() -> None:
    feed = RoomFeed(RoomState(status="live"))
    feed.apply(StockChanged(room_id=ROOM, offer_id="off_9", left=3, variant_left={"S": 3}))
    assert offer_frame(feed)["variants"] is None  # the page reads them from orders
