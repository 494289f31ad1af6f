"""A room's view of an offer carries its product's photos, as orders' events say them:
opened with them, changed when the host changes them, kept through stock changes."""

from __future__ import annotations

import json

from services.live.adapters.room_feed import RoomFeed, RoomState
from shared.events import OfferOpened, OfferUpdated, ProductPinned, StockChanged
from shared.events.media import ImageSizes

ROOM = "r_photos"


def photo(n: int, alt: str = "") -> ImageSizes:
    return ImageSizes(
        thumb=f"{n:064x}.jpg",
        card=f"{n + 1:064x}.jpg",
        full=f"{n + 2:064x}.jpg",
        width=1200,
        height=1600,
        alt=alt,
    )


def offer_frames(feed: RoomFeed) -> list[dict]:
    frames = [json.loads(out.frame) for out in feed.drain()]
    return [f for f in frames if f["type"] in ("offer", "pinned")]


def test_the_offer_view_follows_the_photos_in_the_events() -> None:
    feed = RoomFeed(RoomState(status="live"))
    front, back = photo(10, "front"), photo(20, "back")
    feed.apply(
        OfferOpened(
            room_id=ROOM,
            offer_id="off_1",
            kind="flash_sale",
            title="Cherries",
            price_cents=4990,
            stock=5,
            per_buyer_limit=1,
            photos=[front, back],
        )
    )
    [frame] = offer_frames(feed)
    assert [p["card"] for p in frame["offer"]["photos"]] == [front.card, back.card]
    assert frame["offer"]["photos"][0] == front.model_dump()

    # Stock moves: the photos stay.
    feed.apply(StockChanged(room_id=ROOM, offer_id="off_1", left=4))
    [frame] = offer_frames(feed)
    assert frame["offer"]["left"] == 4 and len(frame["offer"]["photos"]) == 2

    # The host put the back first and described it anew: the view says so.
    feed.apply(
        OfferUpdated(
            room_id=ROOM,
            offer_id="off_1",
            price_cents=4990,
            stock=5,
            left=4,
            per_buyer_limit=1,
            photos=[photo(20, "背面"), front],
        )
    )
    [frame] = offer_frames(feed)
    assert [(p["card"], p["alt"]) for p in frame["offer"]["photos"]] == [
        (back.card, "背面"),
        (front.card, "front"),
    ]

    # Pinned: the pinned frame shows them too.
    feed.apply(ProductPinned(room_id=ROOM, offer_id="off_1"))
    [pinned] = offer_frames(feed)
    assert pinned["type"] == "pinned"
    assert pinned["offer"]["photos"][0]["card"] == back.card

    # Every photo removed: none shown.
    feed.apply(
        OfferUpdated(
            room_id=ROOM,
            offer_id="off_1",
            price_cents=4990,
            stock=5,
            left=4,
            per_buyer_limit=1,
            photos=[],
        )
    )
    [frame] = offer_frames(feed)
    assert frame["offer"]["photos"] == []
