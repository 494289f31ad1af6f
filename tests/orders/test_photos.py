"""Product photos on orders: uploaded by the host as real pictures made here, checked by
content, stored upright without EXIF in three sizes, ordered, described, removed, served
to anyone; and the rooms of open offers told each change (real nats-server; SQLite, and
PostgreSQL where TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from PIL import Image

from services.live.adapters.room_feed import RoomFeed, RoomState
from services.live.adapters.room_past import room_past
from services.orders.bootstrap import build
from services.orders.main import create_app
from shared.embedded_nats import NatsServer
from shared.events import OfferOpened, OfferUpdated
from shared.events.media import ImageSizes
from shared.object_http import IMMUTABLE
from tests.orders import pictures
from tests.orders.conftest import ADMIN, SECRET, Orders, orders_settings
from tests.support import eventually, serving

JPEG_MAGIC = b"\xff\xd8\xff"


async def product(orders: Orders, title: str = "Cherries 樱桃") -> str:
    created = await orders.http.post("/products", headers=ADMIN, json={"title": title})
    assert created.status_code == 201, created.text
    assert created.json()["photos"] == []
    return str(created.json()["id"])


async def upload(
    http: httpx.AsyncClient,
    product_id: str,
    data: bytes,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    alt: str | None = None,
    headers: dict[str, str] = ADMIN,
) -> httpx.Response:
    form = {"alt": alt} if alt is not None else None
    return await http.post(
        f"/products/{product_id}/photos",
        headers=headers,
        files={"file": (name, data, content_type)},
        data=form,
    )


async def stored_objects(nc: NatsClient) -> set[str]:
    """The names of the objects in PRODUCT_PHOTOS (not deleted)."""
    store = await nc.jetstream().object_store("PRODUCT_PHOTOS")
    try:
        return {info.name for info in await store.list(ignore_deletes=True)}
    except NotFoundError:
        return set()


async def fetch(orders: Orders, name: str) -> bytes:
    answer = await orders.http.get(f"/photos/{name}")
    assert answer.status_code == 200, answer.text
    return answer.content


async def listed(orders: Orders, path: str) -> list[Any]:
    """A list the host reads (orders.get is for objects)."""
    answer = await orders.http.get(path, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    found: list[Any] = answer.json()
    return found


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_phone_photo_is_stored_upright_without_exif_in_three_sizes(
    orders: Orders, nc: NatsClient
) -> None:
    product_id = await product(orders)
    original = pictures.phone_jpeg(400, 200)
    assert opened(original).getexif().get_ifd(0x8825)  # the GPS position is in the upload

    answer = await upload(orders.http, product_id, original, alt="Red cherries, box of 2 kg")
    assert answer.status_code == 201, answer.text
    [photo] = answer.json()
    assert photo["alt"] == "Red cherries, box of 2 kg"
    assert photo["id"].startswith("pho_")
    # Turned upright: 400 x 200 taken, 200 x 400 shown (the full size is not enlarged).
    assert (photo["width"], photo["height"]) == (200, 400)

    full = await fetch(orders, photo["full"])
    assert full.startswith(JPEG_MAGIC)
    image = opened(full)
    assert image.format == "JPEG" and image.size == (200, 400)
    # The red half (the sensor's left) is on top now.
    top, bottom = image.getpixel((100, 20)), image.getpixel((100, 380))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 and top[2] < 100, top
    assert bottom[2] > 150 and bottom[0] < 100, bottom
    # No EXIF at all: no orientation left to apply twice, no GPS, no phone make.
    for name in ("thumb", "card", "full"):
        data = await fetch(orders, photo[name])
        size = opened(data)
        assert not size.getexif(), name
        assert "exif" not in size.info, name
        assert b"Exif\x00\x00" not in data and b"QunPhone" not in data, name
    thumb = opened(await fetch(orders, photo["thumb"]))
    assert thumb.size == (120, 240)  # long side 240
    assert opened(await fetch(orders, photo["card"])).size == (200, 400)
    assert {photo[n] for n in ("thumb", "card", "full")} <= await stored_objects(nc)
    # The host's catalog lists it with the product.
    [mine] = [p for p in await listed(orders, "/products") if p["id"] == product_id]
    assert mine["photos"] == [photo]


async def test_png_with_alpha_and_webp_are_taken_as_jpeg_sizes(orders: Orders) -> None:
    product_id = await product(orders)
    png = await upload(orders.http, product_id, pictures.png_with_alpha(), "cut.png", "image/png")
    assert png.status_code == 201, png.text
    card = opened(await fetch(orders, png.json()[0]["card"]))
    assert card.format == "JPEG" and card.mode == "RGB" and card.size == (300, 300)
    corner, middle = card.getpixel((5, 5)), card.getpixel((150, 150))
    assert isinstance(corner, tuple) and min(corner) > 240  # transparency became white
    assert isinstance(middle, tuple) and middle[1] > 120 and middle[0] < 80

    # Named .bin and sent as octet-stream: read by its content, a WebP.
    big = await upload(
        orders.http, product_id, pictures.webp(2400, 1200), "x.bin", "application/octet-stream"
    )
    assert big.status_code == 201, big.text
    photo = big.json()[1]
    assert (photo["width"], photo["height"]) == (1600, 800)
    assert opened(await fetch(orders, photo["full"])).size == (1600, 800)
    assert opened(await fetch(orders, photo["card"])).size == (720, 360)
    assert opened(await fetch(orders, photo["thumb"])).size == (240, 120)


BAD: list[tuple[str, bytes, str, int, str]] = [
    ("bomb.png", pictures.bomb(), "image/png", 422, "image_too_many_pixels"),
    ("empty.jpg", b"", "image/jpeg", 422, "image_empty"),
    ("cut.jpg", pictures.truncated_jpeg(), "image/jpeg", 422, "image_damaged"),
    ("both.jpg", pictures.polyglot(), "image/jpeg", 422, "image_has_hidden_data"),
    ("page.jpg", pictures.HTML_AS_JPEG, "image/jpeg", 415, "not_an_image"),
    ("notes.jpg", "价格 49.9\n".encode() * 50, "image/jpeg", 415, "not_an_image"),
    ("anim.gif", pictures.gif(), "image/gif", 415, "unsupported_image_format"),
]


async def test_bad_files_are_refused_with_a_code_and_nothing_is_stored(
    orders: Orders, nc: NatsClient
) -> None:
    product_id = await product(orders)
    assert len(pictures.bomb()) < 50_000  # 72 megapixels in a few KB
    before = await stored_objects(nc)
    for name, data, content_type, status, code in BAD:
        answer = await upload(orders.http, product_id, data, name, content_type)
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == code, (name, answer.json())
    no_file = await orders.http.post(
        f"/products/{product_id}/photos", headers=ADMIN, files={"alt": (None, "a photo")}
    )
    assert no_file.status_code == 422 and no_file.json()["code"] == "invalid_request"
    assert no_file.json()["errors"][0]["loc"] == ["body", "file"]
    assert await stored_objects(nc) == before
    assert await listed(orders, f"/products/{product_id}/photos") == []


async def test_over_the_size_limit_is_413_before_or_after_reading(
    nats_server: NatsServer, database_url: str, nc: NatsClient
) -> None:
    app = build(orders_settings(nats_server.url, database_url, photo_max_bytes=100_000))
    async with serving(create_app(app)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        created = await http.post("/products", headers=ADMIN, json={"title": "Tea"})
        product_id = created.json()["id"]
        before = await stored_objects(nc)
        # Far over: refused from its Content-Length, before the body is read.
        far = await upload(http, product_id, b"\xff\xd8\xff" + bytes(300_000))
        # Just over (the multipart's own bytes still within the slack): after reading.
        near = await upload(http, product_id, b"\xff\xd8\xff" + bytes(120_000))
        for answer in (far, near):
            assert answer.status_code == 413, answer.text
            assert answer.json()["code"] == "image_too_large"
        assert "100000" in near.json()["detail"]
        assert await stored_objects(nc) == before

        # Without a Content-Length (chunked): 411, nothing read.
        async def chunks() -> Any:
            yield b"--x\r\n"

        chunked = await http.post(
            f"/products/{product_id}/photos",
            headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=x"},
            content=chunks(),
        )
        assert chunked.status_code == 411 and chunked.json()["code"] == "length_required"
        # Under the limit: taken.
        assert (await upload(http, product_id, pictures.plain_jpeg(9))).status_code == 201


async def test_ten_photos_at_most_then_reorder_alt_and_remove(
    orders: Orders, nc: NatsClient
) -> None:
    product_id = await product(orders)
    for shade in range(10):
        answer = await upload(orders.http, product_id, pictures.plain_jpeg(shade * 20))
        assert answer.status_code == 201, answer.text
    photos = answer.json()
    assert len(photos) == 10
    before = await stored_objects(nc)
    eleventh = await upload(orders.http, product_id, pictures.plain_jpeg(250))
    assert eleventh.status_code == 409
    assert eleventh.json()["code"] == "too_many_photos"
    assert await stored_objects(nc) == before  # its sizes were not kept

    # Reorder: the last first.
    ids = [p["id"] for p in photos]
    wanted = [ids[-1], *ids[:-1]]
    reordered = await orders.http.put(
        f"/products/{product_id}/photos/order", headers=ADMIN, json={"photo_ids": wanted}
    )
    assert reordered.status_code == 200, reordered.text
    assert [p["id"] for p in reordered.json()] == wanted
    assert [p["id"] for p in await listed(orders, f"/products/{product_id}/photos")] == wanted
    for stale in (ids[:-1], [*wanted[:-1], wanted[0]], [*wanted[:-1], "pho_nope"]):
        refused = await orders.http.put(
            f"/products/{product_id}/photos/order", headers=ADMIN, json={"photo_ids": stale}
        )
        assert refused.status_code == 409 and refused.json()["code"] == "photo_order_mismatch"
    eleven = await orders.http.put(
        f"/products/{product_id}/photos/order", headers=ADMIN, json={"photo_ids": [*ids, "x"]}
    )
    assert eleven.status_code == 422 and eleven.json()["code"] == "invalid_request"

    # Alt text.
    described = await orders.http.patch(
        f"/products/{product_id}/photos/{wanted[0]}", headers=ADMIN, json={"alt": "盒装 2kg"}
    )
    assert described.status_code == 200
    assert described.json()[0]["alt"] == "盒装 2kg"
    too_long = await orders.http.patch(
        f"/products/{product_id}/photos/{wanted[0]}", headers=ADMIN, json={"alt": "x" * 301}
    )
    assert too_long.status_code == 422

    # Remove: its objects go, the others close ranks.
    gone = next(p for p in photos if p["id"] == wanted[0])
    removed = await orders.http.delete(f"/products/{product_id}/photos/{gone['id']}", headers=ADMIN)
    assert removed.status_code == 200
    assert [p["id"] for p in removed.json()] == wanted[1:]
    for size in ("thumb", "card", "full"):
        assert (await orders.http.get(f"/photos/{gone[size]}")).status_code == 404
    assert await stored_objects(nc) == before - {gone["thumb"], gone["card"], gone["full"]}
    again = await orders.http.delete(f"/products/{product_id}/photos/{gone['id']}", headers=ADMIN)
    assert again.status_code == 404
    # Room for one more now.
    assert (await upload(orders.http, product_id, pictures.plain_jpeg(250))).status_code == 201


async def test_the_same_picture_on_two_products_is_stored_once(orders: Orders) -> None:
    first, second = await product(orders, "A"), await product(orders, "B")
    data = pictures.plain_jpeg(77)
    [a] = (await upload(orders.http, first, data)).json()
    [b] = (await upload(orders.http, second, data)).json()
    assert (a["full"], a["card"], a["thumb"]) == (b["full"], b["card"], b["thumb"])
    assert a["id"] != b["id"]
    await orders.http.delete(f"/products/{first}/photos/{a['id']}", headers=ADMIN)
    assert (await orders.http.get(f"/photos/{a['full']}")).status_code == 200  # B's still
    await orders.http.delete(f"/products/{second}/photos/{b['id']}", headers=ADMIN)
    assert (await orders.http.get(f"/photos/{a['full']}")).status_code == 404


async def test_photos_are_served_to_anyone_as_immutable_jpegs(orders: Orders) -> None:
    product_id = await product(orders)
    [photo] = (await upload(orders.http, product_id, pictures.phone_jpeg())).json()
    async with httpx.AsyncClient(base_url=orders.url, timeout=30) as anyone:  # no credential
        answer = await anyone.get(f"/photos/{photo['card']}")
        assert answer.status_code == 200
        headers = answer.headers
        assert headers["content-type"] == "image/jpeg"
        assert headers["etag"] == '"' + photo["card"].removesuffix(".jpg") + '"'
        assert headers["cache-control"] == IMMUTABLE
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-length"] == str(len(answer.content))
        cached = await anyone.get(
            f"/photos/{photo['card']}", headers={"If-None-Match": headers["etag"]}
        )
        assert cached.status_code == 304 and cached.content == b""
        head = await anyone.head(f"/photos/{photo['card']}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == headers["content-length"]
        part = await anyone.get(f"/photos/{photo['card']}", headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.content == answer.content[:10]
        for missing in (f"{'0' * 64}.jpg", "..%2Fsecret", "nothing"):
            assert (await anyone.get(f"/photos/{missing}")).status_code == 404
        # Changing photos is the host's: no credential 401, a viewer's token 403 (orders
        # reads it as a buyer's, not a host's).
        refused = await upload(anyone, product_id, pictures.plain_jpeg(1), headers={})
        assert refused.status_code == 401
        viewer = {"Authorization": orders.buyer("Lily")["Authorization"]}
        assert (
            await upload(anyone, product_id, pictures.plain_jpeg(1), headers=viewer)
        ).status_code == 403
        listing = await anyone.get(f"/products/{product_id}/photos")
        assert listing.status_code == 401
        # The console (a page of live) may reorder and remove from the browser.
        for method in ("PUT", "DELETE"):
            preflight = await anyone.options(
                f"/products/{product_id}/photos/order",
                headers={
                    "Origin": "http://127.0.0.1:8002",
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization,content-type",
                },
            )
            assert preflight.status_code == 200, method
            assert method in preflight.headers["access-control-allow-methods"]


async def test_a_host_changes_only_their_own_products_photos(orders: Orders) -> None:
    from services.live.adapters.tokens import HostTokens

    mei = {"Authorization": f"Bearer {HostTokens(SECRET).issue('host:mei', 'Mei')}"}
    admins = await product(orders)
    refused = await upload(orders.http, admins, pictures.plain_jpeg(3), headers=mei)
    assert refused.status_code == 403
    missing = await upload(orders.http, "prod_nothing", pictures.plain_jpeg(3))
    assert missing.status_code == 404
    created = await orders.http.post("/products", headers=mei, json={"title": "Tea"})
    hers = created.json()["id"]
    assert (await upload(orders.http, hers, pictures.plain_jpeg(3), headers=mei)).status_code == 201
    assert (await orders.http.get(f"/products/{admins}/photos", headers=mei)).status_code == 403


def said(photos: list[ImageSizes]) -> list[tuple[str, str]]:
    """What an event or the room's view says of the photos: each card's name and alt."""
    return [(p.card, p.alt) for p in photos]


async def test_offers_and_their_rooms_carry_the_products_photos(
    orders: Orders, nc: NatsClient
) -> None:
    room = "r_photos"
    product_id = await product(orders)
    first = (await upload(orders.http, product_id, pictures.plain_jpeg(40), alt="front")).json()
    body = {"product_id": product_id, "price_cents": 4990, "stock": 5, "per_buyer_limit": 1}
    created = await orders.http.post(f"/rooms/{room}/offers", headers=ADMIN, json=body)
    assert created.status_code == 201
    offer_id = created.json()["id"]
    scheduled = await orders.http.post(f"/rooms/{room}/offers", headers=ADMIN, json=body)
    assert created.json()["photos"] == first

    # Opened: the offer says its photos.
    opened_offer = await orders.http.post(f"/offers/{offer_id}/open", headers=ADMIN)
    assert opened_offer.json()["photos"] == first
    # The host adds one, puts it first, describes it, removes the old one: each change
    # reaches the room as an OfferUpdated of the open offer (not of the scheduled one).
    second = (await upload(orders.http, product_id, pictures.plain_jpeg(90), alt="back")).json()
    order = [second[1]["id"], second[0]["id"]]
    await orders.http.put(
        f"/products/{product_id}/photos/order", headers=ADMIN, json={"photo_ids": order}
    )
    await orders.http.patch(
        f"/products/{product_id}/photos/{order[0]}", headers=ADMIN, json={"alt": "背面"}
    )
    await orders.http.delete(f"/products/{product_id}/photos/{order[1]}", headers=ADMIN)
    final = await listed(orders, f"/products/{product_id}/photos")
    assert [(p["card"], p["alt"]) for p in final] == [(second[1]["card"], "背面")]
    assert (await orders.get(f"/offers/{offer_id}"))["photos"] == final
    sales = await orders.get(f"/rooms/{room}/sales")
    assert [o["photos"] for o in sales["offers"]] == [final, final]

    async def told() -> list[Any]:
        events = await room_past(nc.jetstream(), room)
        updates = [e for e in events if isinstance(e, OfferUpdated)]
        return events if len(updates) >= 4 else []

    events = await eventually(told)
    opens = [e for e in events if isinstance(e, OfferOpened)]
    updates = [e for e in events if isinstance(e, OfferUpdated)]
    assert [e.offer_id for e in opens] == [offer_id]
    assert said(opens[0].photos) == [(first[0]["card"], "front")]
    assert {e.offer_id for e in updates} == {offer_id}  # the scheduled offer: nothing yet
    assert [said(e.photos) for e in updates] == [
        [(second[0]["card"], "front"), (second[1]["card"], "back")],
        [(second[1]["card"], "back"), (second[0]["card"], "front")],
        [(second[1]["card"], "背面"), (second[0]["card"], "front")],
        [(second[1]["card"], "背面")],
    ]
    assert all((e.price_cents, e.stock, e.left) == (4990, 5, 5) for e in updates)
    # The room's view of the offer (live's feed, from the same events) shows the photos.
    feed = RoomFeed(RoomState(status="live"))
    for event in events:
        feed.apply(event)
    assert said(feed.offers[offer_id].photos) == [(second[1]["card"], "背面")]

    # The scheduled offer, opened now, says the photos as they are.
    later = scheduled.json()["id"]
    await orders.http.post(f"/offers/{later}/open", headers=ADMIN)

    async def opened_later() -> list[Any]:
        events = await room_past(nc.jetstream(), room)
        return [e for e in events if isinstance(e, OfferOpened) and e.offer_id == later]

    [late] = await eventually(opened_later)
    assert said(late.photos) == [(second[1]["card"], "背面")]


async def test_concurrent_uploads_never_make_an_eleventh(orders: Orders, nc: NatsClient) -> None:
    product_id = await product(orders)
    for shade in range(9):
        assert (
            await upload(orders.http, product_id, pictures.plain_jpeg(shade))
        ).status_code == 201
    before = await stored_objects(nc)
    answers = await asyncio.gather(
        *(upload(orders.http, product_id, pictures.plain_jpeg(200 + n)) for n in range(4))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"too_many_photos"}
    photos = await listed(orders, f"/products/{product_id}/photos")
    rows = (await orders.app.photos.of_products([product_id]))[product_id]
    assert [r.position for r in rows] == list(range(10))
    assert [r.id for r in rows] == [p["id"] for p in photos]
    # Only the one taken left objects behind.
    assert await stored_objects(nc) - before == {photos[-1]["full"]}


async def test_a_removal_crossing_an_upload_of_the_same_picture_keeps_it(
    orders: Orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host removes a picture from one product while adding the same picture to
    another: the upload's row is committed between the removal's look (nobody else names
    the objects) and its delete. The objects must still be there for the new row."""
    first, second = await product(orders, "A"), await product(orders, "B")
    data = pictures.phone_jpeg(900, 600)
    [old] = (await upload(orders.http, first, data)).json()
    photos = orders.app.photos
    real_delete = photos.objects.delete
    crossed: list[httpx.Response] = []

    async def delete_after_the_upload(name: str) -> bool:
        if not crossed:
            crossed.append(await upload(orders.http, second, data))
        return await real_delete(name)

    monkeypatch.setattr(photos.objects, "delete", delete_after_the_upload)
    removed = await orders.http.delete(f"/products/{first}/photos/{old['id']}", headers=ADMIN)
    assert removed.status_code == 200 and removed.json() == []
    [new] = crossed[0].json()
    assert new["full"] == old["full"]  # the same picture: the same objects
    for size in ("thumb", "card", "full"):
        assert (await orders.http.get(f"/photos/{new[size]}")).status_code == 200, size


async def test_a_photo_change_says_a_group_buys_reached_price(
    orders: Orders, nc: NatsClient
) -> None:
    """The OfferUpdated a photo change sends carries the price the room shows: a group buy's
    reached tier, not its first (a room would otherwise show the higher price again)."""
    room = "r_group_photo"
    product_id = await product(orders)
    tiers = [{"min_buyers": 1, "price_cents": 5900}, {"min_buyers": 2, "price_cents": 4900}]
    body = {
        "product_id": product_id,
        "kind": "group_buy",
        "stock": 100,
        "per_buyer_limit": 1,
        "tiers": tiers,
        "min_group": 2,
        "duration_s": 3600,
    }
    created = await orders.http.post(f"/rooms/{room}/offers", headers=ADMIN, json=body)
    offer_id = created.json()["id"]
    await orders.http.post(f"/offers/{offer_id}/open", headers=ADMIN)
    for name in ("g1", "g2"):
        assert (await orders.checkout(offer_id, orders.buyer(name, room))).status_code == 201
    assert (await orders.get(f"/offers/{offer_id}"))["current_price_cents"] == 4900
    assert (await upload(orders.http, product_id, pictures.plain_jpeg(5))).status_code == 201

    async def told() -> list[Any]:
        events = await room_past(nc.jetstream(), room)
        return [e for e in events if isinstance(e, OfferUpdated) and e.photos]

    [update] = await eventually(told)
    assert update.price_cents == 4900
