"""The Object Store buckets and serving their objects over HTTP, on a real nats-server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient

from shared.embedded_nats import NatsServer
from shared.object_http import IMMUTABLE
from shared.objects import (
    ALL_BUCKETS,
    CHUNK_BYTES,
    PRODUCT_PHOTOS,
    ROOM_MEDIA,
    Objects,
    is_object_name,
    provision_buckets,
)
from tests.support import object_app

LIMITS = {PRODUCT_PHOTOS.name: 64 * 1024**2, ROOM_MEDIA.name: 64 * 1024**2}


@pytest.fixture
async def js_client(nats_server: NatsServer) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_server.url)
    await provision_buckets(client.jetstream(), 1, LIMITS)
    try:
        yield client
    finally:
        await client.drain()


async def test_provisioning_is_idempotent_and_applies_new_limits(js_client: NatsClient) -> None:
    js = js_client.jetstream()
    store = Objects(js, ROOM_MEDIA)
    stored = await store.put(b"hello", "txt", "text/plain", scope="r1")
    await provision_buckets(js, 1, {**LIMITS, ROOM_MEDIA.name: 32 * 1024**2})
    assert (await js.stream_info("OBJ_ROOM_MEDIA")).config.max_bytes == 32 * 1024**2
    assert await store.read(stored.name) == b"hello"
    assert {b.name for b in ALL_BUCKETS} == {"PRODUCT_PHOTOS", "ROOM_MEDIA"}


async def test_objects_are_named_by_their_content_and_stored_once(js_client: NatsClient) -> None:
    store = Objects(js_client.jetstream(), PRODUCT_PHOTOS)
    data = os.urandom(3 * CHUNK_BYTES + 17)
    first = await store.put(data, "jpg", "image/jpeg")
    again = await store.put(data, "jpg", "image/jpeg")
    assert first == again
    assert first.name == hashlib.sha256(data).hexdigest() + ".jpg"
    assert (await js_client.jetstream().stream_info("OBJ_PRODUCT_PHOTOS")).state.messages == 5
    assert await store.read(first.name) == data
    assert await store.delete(first.name)
    assert await store.read(first.name) is None
    assert not await store.delete(first.name)


def test_names_outside_the_pattern_are_not_objects() -> None:
    sha = "a" * 64
    assert is_object_name(f"{sha}.jpg") and is_object_name(f"r_1/{sha}.webm")
    for bad in ("../etc/passwd", f"{sha}", f"{sha}.JPG", f"a/b/{sha}.jpg", f"{sha[:-1]}.jpg"):
        assert not is_object_name(bad)


async def test_served_with_etag_immutable_range_and_nosniff(js_client: NatsClient) -> None:
    store = Objects(js_client.jetstream(), ROOM_MEDIA)
    data = os.urandom(2 * CHUNK_BYTES + 1000)
    stored = await store.put(data, "ogg", "audio/ogg", scope="r1")
    transport = httpx.ASGITransport(app=object_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        whole = await http.get(f"/photos/{stored.name}")
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == "audio/ogg"
        assert whole.headers["content-length"] == str(len(data))
        assert whole.headers["etag"] == f'"{stored.sha256}"'
        assert whole.headers["cache-control"] == IMMUTABLE
        assert whole.headers["x-content-type-options"] == "nosniff"

        cached = await http.get(
            f"/photos/{stored.name}", headers={"If-None-Match": whole.headers["etag"]}
        )
        assert cached.status_code == 304 and cached.content == b""

        # A range across a chunk boundary, an open-ended one, the last bytes.
        start = CHUNK_BYTES - 10
        part = await http.get(
            f"/photos/{stored.name}", headers={"Range": f"bytes={start}-{start + 99}"}
        )
        assert part.status_code == 206 and part.content == data[start : start + 100]
        assert part.headers["content-range"] == f"bytes {start}-{start + 99}/{len(data)}"
        tail = await http.get(f"/photos/{stored.name}", headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == data[-500:]
        rest = await http.get(
            f"/photos/{stored.name}", headers={"Range": f"bytes={len(data) - 3}-"}
        )
        assert rest.content == data[-3:]

        outside = await http.get(f"/photos/{stored.name}", headers={"Range": f"bytes={len(data)}-"})
        assert outside.status_code == 416
        assert outside.headers["content-range"] == f"bytes */{len(data)}"

        head = await http.head(f"/photos/{stored.name}")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))

        missing = await http.get(f"/photos/r1/{'0' * 64}.ogg")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        assert (await http.get("/photos/..%2F..%2Fetc%2Fpasswd")).status_code == 404
