"""Pictures and voice clips in the JetStream Object Store, content-addressed.

One bucket per purpose, declared here like the streams and provisioned at start by
every service (idempotent), replicated like the streams (R3 on the cluster). An
object's name is the sha256 of its bytes plus an extension (`<sha256>.jpg`), under a
prefix where the owner scopes it (`<room_id>/<sha256>.ogg`): the same bytes stored
twice are one object, and a name never changes meaning, so it is cached for ever.

Reading streams one 128 KiB chunk at a time with JetStream's direct get (any replica
answers, nothing is held for a slow client): serving a large picture to many
clients costs a chunk per client, not the picture (docs/decisions/0025).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    ObjectInfo,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectStoreConfig,
    RawStreamMsg,
    StorageType,
)
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

CHUNK_BYTES = 128 * 1024
CONTENT_TYPE = "Content-Type"
# A stored name: an optional scope (a room id), the content's sha256, an extension.
NAME = re.compile(r"^(?:[A-Za-z0-9_-]{1,64}/)?[0-9a-f]{64}\.[a-z0-9]{2,5}$")
GIB = 1024**3


@dataclass(frozen=True)
class BucketSpec:
    name: str
    description: str

    def config(self, replicas: int, max_bytes: int) -> ObjectStoreConfig:
        return ObjectStoreConfig(
            bucket=self.name,
            description=self.description,
            storage=StorageType.FILE,
            replicas=replicas,
            max_bytes=max_bytes,
        )


# orders: the sizes (thumb, card, full) of every product photo.
PRODUCT_PHOTOS = BucketSpec("PRODUCT_PHOTOS", "Product photos, each size, by sha256 (orders).")
# live: what is posted in rooms (images with their sizes, voice clips), by the room's
# staff and members or brought from the groups by ingest; `<room_id>/<sha256>.<ext>`.
ROOM_MEDIA = BucketSpec(
    "ROOM_MEDIA", "Images and voice clips posted in rooms, by room and sha256 (live)."
)
ALL_BUCKETS: tuple[BucketSpec, ...] = (PRODUCT_PHOTOS, ROOM_MEDIA)


class ObjectTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Stored:
    name: str
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class ObjectHead:
    name: str
    size: int
    content_type: str
    chunks: int
    nuid: str

    @property
    def etag(self) -> str:
        return '"' + self.name.rsplit("/", 1)[-1].split(".", 1)[0] + '"'


def object_name(data: bytes, extension: str, scope: str = "") -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{scope}/{digest}.{extension}" if scope else f"{digest}.{extension}"


def is_object_name(name: str) -> bool:
    return bool(NAME.match(name))


async def provision_buckets(
    js: JetStreamContext,
    replicas: int,
    max_bytes: dict[str, int],
    specs: tuple[BucketSpec, ...] = ALL_BUCKETS,
) -> None:
    """Create each bucket, or bring an existing one to the declared limits."""
    for spec in specs:
        config = spec.config(replicas, max_bytes.get(spec.name, -1))
        try:
            await js.object_store(spec.name)
        except BucketNotFoundError:
            await js.create_object_store(spec.name, config=config)
            continue
        # An object store is a stream (OBJ_<bucket>): its limits are the stream's.
        stream = await js.stream_info(f"OBJ_{spec.name}")
        cfg = stream.config
        if cfg.max_bytes != config.max_bytes or cfg.num_replicas != replicas:
            cfg.max_bytes = config.max_bytes
            cfg.num_replicas = replicas
            await js.update_stream(cfg)


class Objects:
    """One bucket: put bytes under their content's name, read them back as a stream."""

    def __init__(self, js: JetStreamContext, bucket: BucketSpec) -> None:
        self._js = js
        self.bucket = bucket
        self._store: ObjectStore | None = None
        self._stream = f"OBJ_{bucket.name}"

    async def _bucket(self) -> ObjectStore:
        if self._store is None:
            self._store = await self._js.object_store(self.bucket.name)
        return self._store

    async def put(self, data: bytes, extension: str, content_type: str, scope: str = "") -> Stored:
        """Store `data` under `[scope/]<sha256>.<extension>`; storing it again writes nothing."""
        name = object_name(data, extension, scope)
        stored = Stored(name, name.rsplit("/", 1)[-1].split(".", 1)[0], len(data), content_type)
        if await self.head(name) is not None:
            return stored
        store = await self._bucket()
        meta = ObjectMeta(
            name=name,
            headers={CONTENT_TYPE: content_type},
            options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES),
        )
        await store.put(name, data, meta=meta)
        return stored

    async def head(self, name: str) -> ObjectHead | None:
        if not is_object_name(name):
            return None
        info = await self._info(name)
        if info is None:
            return None
        headers = info.headers or {}
        content_type = headers.get(CONTENT_TYPE)
        if isinstance(content_type, list):  # the Go server keeps header values as lists
            content_type = content_type[0] if content_type else None
        return ObjectHead(
            name=name,
            size=info.size or 0,
            content_type=content_type or "application/octet-stream",
            chunks=info.chunks or 0,
            nuid=info.nuid,
        )

    async def _info(self, name: str) -> ObjectInfo | None:
        """The object's meta message by direct get: one request, answered without the
        API's JSON and base64 envelope (a third of the CPU of the stream leader's
        `get_info`). A replica a moment behind a fresh put may not have it yet: a miss is
        asked again of the stream leader before it is believed. While the stream has no
        leader (its node died, the others elect one: ~2 s) nothing answers a direct get
        and NoRespondersError says so at once, where the API's request would wait out its
        timeout."""
        key = base64.urlsafe_b64encode(name.encode()).decode()
        subject = f"$O.{self.bucket.name}.M.{key}"
        try:
            msg = await self._js.get_last_msg(self._stream, subject, direct=True)
        except NotFoundError:
            store = await self._bucket()
            try:
                return await store.get_info(name)
            except (ObjectNotFoundError, NotFoundError):
                return None
        info = ObjectInfo.from_response(json.loads(msg.data or b"{}"))
        return None if info.deleted else info

    async def read(self, name: str) -> bytes | None:
        head = await self.head(name)
        if head is None:
            return None
        return b"".join([chunk async for chunk in self.chunks(head)])

    async def chunks(
        self, head: ObjectHead, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes [start, end) of an object, a chunk at a time, fetched as they are sent
        (direct get by subject and sequence: any replica answers, no consumer is made)."""
        end = head.size if end is None else min(end, head.size)
        subject = f"$O.{self.bucket.name}.C.{head.nuid}"
        seq, offset = 0, 0
        for _ in range(head.chunks):
            if offset >= end:
                return
            msg = await self._chunk(seq + 1, subject)
            seq = msg.seq or seq + 1
            data = msg.data or b""
            chunk_start, offset = offset, offset + len(data)
            if offset <= start:
                continue
            yield data[max(0, start - chunk_start) : end - chunk_start]

    async def _chunk(self, seq: int, subject: str) -> RawStreamMsg:
        """The first chunk of `subject` from `seq` on, by direct get; from the stream leader
        if the replica that answered does not have it yet (a put a moment ago)."""
        try:
            return await self._js.get_msg(
                self._stream, seq=seq, subject=subject, direct=True, next=True
            )
        except NotFoundError:
            return await self._js.get_msg(self._stream, seq=seq, subject=subject, next=True)

    async def delete(self, name: str) -> bool:
        if await self.head(name) is None:
            return False
        store = await self._bucket()
        try:
            await store.delete(name)
        except (ObjectNotFoundError, NotFoundError):
            return False
        return True
