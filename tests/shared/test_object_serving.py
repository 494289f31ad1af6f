"""serve_object's paths beyond tests/shared/test_objects.py: an object of one chunk answered
whole (not streamed), the chunk boundary, a deleted object, and a store that does not answer
(503, not 500). On a real nats-server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient

from shared.embedded_nats import NatsServer
from shared.object_http import IMMUTABLE
from shared.objects import CHUNK_BYTES, PRODUCT_PHOTOS, Objects, provision_buckets
from tests.support import object_app


@pytest.fixture
async def client(nats_server: NatsServer) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(nats_server.url)
    await provision_buckets(nc.jetstream(), 1, {PRODUCT_PHOTOS.name: 64 * 1024**2})
    try:
        yield nc
    finally:
        if not nc.is_closed:
            await nc.drain()


def http_for(objects: Objects) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=object_app(objects)), base_url="http://t"
    )


async def test_an_object_of_one_chunk_is_answered_whole(client: NatsClient) -> None:
    objects = Objects(client.jetstream(), PRODUCT_PHOTOS)
    data = os.urandom(98_914)  # a card
    stored = await objects.put(data, "jpg", "image/jpeg")
    async with http_for(objects) as http:
        url = f"/photos/{stored.name}"
        whole = await http.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-length"] == str(len(data))
        assert whole.headers["content-type"] == "image/jpeg"
        assert whole.headers["etag"] == f'"{stored.sha256}"'
        assert whole.headers["cache-control"] == IMMUTABLE
        assert whole.headers["x-content-type-options"] == "nosniff"
        assert whole.headers["accept-ranges"] == "bytes"

        part = await http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        assert part.headers["content-length"] == "100"
        tail = await http.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        # If-Range with another ETag: the whole object, not the range.
        other = await http.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        assert other.status_code == 200 and other.content == data

        cached = await http.get(url, headers={"If-None-Match": whole.headers["etag"]})
        assert cached.status_code == 304 and cached.content == b""
        head = await http.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(data))
        outside = await http.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert outside.status_code == 416


@pytest.mark.parametrize("size", [1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1])
async def test_either_side_of_the_chunk_boundary(client: NatsClient, size: int) -> None:
    objects = Objects(client.jetstream(), PRODUCT_PHOTOS)
    data = os.urandom(size)
    stored = await objects.put(data, "bin", "application/octet-stream")
    head = await objects.head(stored.name)
    assert head is not None and head.size == size
    assert head.chunks == (1 if size <= CHUNK_BYTES else 2)
    async with http_for(objects) as http:
        whole = await http.get(f"/photos/{stored.name}")
        assert whole.status_code == 200 and whole.content == data
        last = await http.get(f"/photos/{stored.name}", headers={"Range": "bytes=-1"})
        assert last.status_code == 206 and last.content == data[-1:]


async def test_a_deleted_object_is_gone_at_once(client: NatsClient) -> None:
    objects = Objects(client.jetstream(), PRODUCT_PHOTOS)
    stored = await objects.put(os.urandom(5000), "jpg", "image/jpeg")
    async with http_for(objects) as http:
        assert (await http.get(f"/photos/{stored.name}")).status_code == 200
        assert await objects.delete(stored.name)
        assert await objects.head(stored.name) is None
        gone = await http.get(f"/photos/{stored.name}", headers={"If-None-Match": "*"})
        assert gone.status_code == 404 and gone.json()["code"] == "not_found"


async def test_a_store_that_does_not_answer_is_a_503_to_retry(client: NatsClient) -> None:
    objects = Objects(client.jetstream(), PRODUCT_PHOTOS)
    stored = await objects.put(os.urandom(5000), "jpg", "image/jpeg")
    await client.close()  # as when no node answers: every request fails at once
    async with http_for(objects) as http:
        answer = await http.get(f"/photos/{stored.name}")
    assert answer.status_code == 503
    assert answer.json()["code"] == "object_store_unavailable"
    assert answer.headers["retry-after"] == "1"
