"""The post-show report shows each offer's product photo: the first photo when the offer's
terms were last said (opened, then updated as the host changed photos), its thumbnail on
orders, in the JSON, the CSV and the page; an offer without a photo reads as before
(real projection on JetStream; SQLite, and PostgreSQL where TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from services.analytics.cli import report
from shared.embedded_nats import NatsServer
from shared.events import IntegrationEvent, OfferOpened, OfferUpdated
from shared.events.media import ImageSizes
from tests.analytics import show
from tests.analytics.conftest import ADMIN, Analytics, analytics_settings
from tests.analytics.show import ROOM, m
from tests.support import eventually

CONSOLE = "http://127.0.0.1:8002"  # live's page: orders is on its host, port 8003


def photo(n: int, alt: str) -> ImageSizes:
    return ImageSizes(
        thumb=f"{n:064x}.jpg",
        card=f"{n + 1:064x}.jpg",
        full=f"{n + 2:064x}.jpg",
        width=1200,
        height=1600,
        alt=alt,
    )


FRONT, BACK = photo(0xA0, "front"), photo(0xB0, 'Box "2 kg" <top>')


def with_photos() -> list[IntegrationEvent]:
    """The scripted show where the cherries open with two photos and the host then puts
    the back one first; the lychees open with one and the host removes it."""
    events: list[IntegrationEvent] = []
    for event in show.scripted_show():
        if isinstance(event, OfferOpened) and event.offer_id == "o_cherry":
            event = event.model_copy(update={"photos": [FRONT, BACK]})
        if isinstance(event, OfferOpened) and event.offer_id == "o_group":
            event = event.model_copy(update={"photos": [FRONT]})
        events.append(event)
    terms = {"room_id": ROOM, "per_buyer_limit": 2}
    events += [
        OfferUpdated(
            offer_id="o_cherry",
            price_cents=9900,
            stock=3,
            left=3,
            photos=[BACK, FRONT],
            occurred_at=m(1, 30),
            **terms,
        ),
        OfferUpdated(
            offer_id="o_group", price_cents=5000, stock=100, left=100, occurred_at=m(2), **terms
        ),
    ]
    return events


async def test_the_report_shows_each_offers_photo(
    analytics: Analytics, nats_server: NatsServer, database_url: str
) -> None:
    events = with_photos()
    await analytics.publish(events)
    await analytics.settled(len(events))

    async def built() -> bool:
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)
    plain = await analytics.get(f"/rooms/{ROOM}/report")
    cherry, group = plain["offers"]
    assert (cherry["photo_thumb"], cherry["photo_alt"]) == (BACK.thumb, BACK.alt)
    assert cherry["photo_url"] == f"/photos/{BACK.thumb}"  # no ORDERS_PUBLIC_URL, no Origin
    assert cherry["sell_through"] == 1.0  # the figures are as before
    assert (group["photo_thumb"], group["photo_alt"], group["photo_url"]) == (None, None, None)

    # The console (live's page) asks: orders is where its pages find it.
    asked = await analytics.http.get(f"/rooms/{ROOM}/report", headers={**ADMIN, "Origin": CONSOLE})
    cherry = asked.json()["offers"][0]
    assert cherry["photo_url"] == f"http://127.0.0.1:8003/photos/{BACK.thumb}"
    page = (
        await analytics.http.get(f"/rooms/{ROOM}/report.html", headers={**ADMIN, "Origin": CONSOLE})
    ).text
    assert (
        f'<img src="http://127.0.0.1:8003/photos/{BACK.thumb}" '
        'alt="Box &quot;2 kg&quot; &lt;top&gt;"'
    ) in page
    assert page.count("<img ") == 1  # the lychees have no photo now

    csv_text = await analytics.get(f"/rooms/{ROOM}/report.csv")
    offers_block = next(b for b in csv_text.split("\n\n") if b.startswith("# offers"))
    assert "photo_thumb,photo_alt,photo_url" in offers_block
    assert f"{BACK.thumb}," in offers_block

    # ORDERS_PUBLIC_URL (the launcher passes orders'): absolute everywhere, the CLI too.
    told = analytics_settings(
        nats_server.url, database_url, orders_public_url="https://orders.example.com/"
    )
    exported = await report(told, ROOM, "html")
    assert f'<img src="https://orders.example.com/photos/{BACK.thumb}"' in exported


async def test_a_report_without_photos_has_no_pictures(analytics: Analytics) -> None:
    events = show.scripted_show()
    await analytics.publish(events)
    await analytics.settled(len(events))

    async def built() -> bool:
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)
    r = await analytics.get(f"/rooms/{ROOM}/report")
    assert [o["photo_url"] for o in r["offers"]] == [None, None]
    page = await analytics.get(f"/rooms/{ROOM}/report.html")
    assert "<img" not in page and "<th>photo</th>" in page


def test_orders_default_port_is_the_one_live_and_the_launcher_use() -> None:
    from services.analytics.entrypoints.deps import ORDERS_DEFAULT_PORT
    from services.launcher import SERVICES
    from services.live.entrypoints.pages import DEFAULT_PORTS

    assert ORDERS_DEFAULT_PORT == DEFAULT_PORTS["orders"] == SERVICES["orders"]
