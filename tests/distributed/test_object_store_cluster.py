"""The Object Store on a 3-node cluster: SIGKILL one node, the pictures are still served.

Three nats-server processes clustered as in production (topology.py; no services, no
database: only NATS is under test). The product-photos bucket at R3, a multi-chunk phone
photo and a small one stored through `Objects.put`, served by a FastAPI app through
`serve_object` as orders serves them, its client given all three URLs. The node leading
the bucket's stream is killed: both pictures are served whole again (200, 304, Range)
within a deadline, and a new picture can be stored (R3 with two of three nodes alive).
Two apps serve them, as two service processes would: one connected to the node that dies
(it reconnects), one to a node that lives (it reads from the living replicas at once, no
wait for the new leader).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from PIL import Image

from shared.objects import CHUNK_BYTES, PRODUCT_PHOTOS, Objects, Stored, provision_buckets
from tests.distributed.topology import NatsCluster, NatsNode, Ports, Timeline
from tests.support import eventually, object_app, serving

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(90)]
STREAM = f"OBJ_{PRODUCT_PHOTOS.name}"
LIMITS = {PRODUCT_PHOTOS.name: 256 * 1024**2}
# A SIGKILLed leader: the others notice within the Raft election timeout (a few seconds);
# direct gets are answered by any replica meanwhile.
RECOVERY_S = 30.0


def noise_jpeg(width: int, height: int, seed: int) -> bytes:
    """A JPEG of coloured noise: about the bytes per pixel of a sharp phone photo."""
    pixels = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    nodes = NatsCluster.create(tmp_path, Ports())
    try:
        nodes.start()
        yield nodes
    except BaseException:
        for node in nodes.nodes:
            print(f"--- {node.name}\n{node.log.read_text(errors='replace')[-1500:]}")
        raise
    finally:
        nodes.stop()


@pytest.fixture
async def client(cluster: NatsCluster) -> AsyncIterator[NatsClient]:
    """A client of every node, as a service's (it fails over when its node dies)."""
    nc = await nats.connect(
        cluster.url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    try:
        yield nc
    finally:
        await nc.close()


async def provisioned(nc: NatsClient) -> None:
    """The bucket at R3, once the cluster has its meta leader (a fresh cluster answers
    503 or nothing for a moment)."""
    js = nc.jetstream(timeout=2)

    async def attempt() -> bool:
        try:
            await provision_buckets(js, 3, LIMITS, (PRODUCT_PHOTOS,))
            info = await js.stream_info(STREAM)
        except (NatsError, TimeoutError):
            return False
        return bool(info.cluster and info.cluster.leader and len(info.cluster.replicas or []) == 2)

    await eventually(attempt, timeout=30, interval=0.25)


async def served_whole(http: httpx.AsyncClient, url: str, data: bytes) -> bool:
    """200 with every byte, 304 for its ETag, a Range across a chunk boundary: all right,
    or False (a 5xx, a cut body, a refused connection while the cluster settles)."""
    try:
        whole = await http.get(url)
        if whole.status_code != 200 or whole.content != data:
            return False
        etag = whole.headers["etag"]
        assert etag == '"' + hashlib.sha256(data).hexdigest() + '"'
        assert whole.headers["content-length"] == str(len(data))
        assert whole.headers["content-type"] == "image/jpeg"
        cached = await http.get(url, headers={"If-None-Match": etag})
        if cached.status_code != 304:
            return False
        assert cached.content == b""
        start = min(CHUNK_BYTES - 10, len(data) // 2)
        end = min(start + 999, len(data) - 1)
        part = await http.get(url, headers={"Range": f"bytes={start}-{end}"})
        if part.status_code != 206:
            return False
        assert part.content == data[start : end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
        return True
    except httpx.HTTPError:
        return False


async def app_client(cluster: NatsCluster, first: NatsNode) -> NatsClient:
    """A service's client of every node, connected to `first` (it fails over when its node
    dies, to the next in the list)."""
    urls = [first.url, *(node.url for node in cluster.nodes if node is not first)]
    return await nats.connect(
        urls, dont_randomize=True, max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )


async def test_pictures_are_still_served_when_the_buckets_leader_node_is_killed(
    cluster: NatsCluster, client: NatsClient
) -> None:
    tl = Timeline("object store: SIGKILL of the node leading OBJ_PRODUCT_PHOTOS (R3)")
    await provisioned(client)
    js = client.jetstream()
    objects = Objects(js, PRODUCT_PHOTOS)
    big_bytes, small_bytes = noise_jpeg(800, 600, seed=1), noise_jpeg(32, 32, seed=2)
    assert len(big_bytes) > 300_000 and len(small_bytes) < CHUNK_BYTES
    big = await objects.put(big_bytes, "jpg", "image/jpeg")
    small = await objects.put(small_bytes, "jpg", "image/jpeg")
    info = await js.stream_info(STREAM)
    chunks = -(-len(big_bytes) // CHUNK_BYTES)
    assert info.state.messages == chunks + 1 + 1 + 1  # chunks and a meta message each
    assert info.cluster is not None and len(info.cluster.replicas or []) == 2
    leader = cluster.node(str(info.cluster.leader))
    survivor = next(node for node in cluster.nodes if node is not leader)
    tl.mark(
        f"stored {len(big_bytes):,} B ({chunks} chunks) and {len(small_bytes):,} B at R3; "
        f"{STREAM} led by {leader.name}, replicas on "
        f"{', '.join(str(p.name) for p in info.cluster.replicas or [])}"
    )

    # Two apps as two service processes: one connected to the node that will die (it
    # reconnects), one to a node that lives (it never notices but for the leader's loss).
    pictures: list[tuple[Stored, bytes]] = [(big, big_bytes), (small, small_bytes)]
    on_leader, on_survivor = await app_client(cluster, leader), await app_client(cluster, survivor)
    apps = {
        f"app on {leader.name} (killed)": Objects(on_leader.jetstream(), PRODUCT_PHOTOS),
        f"app on {survivor.name}": Objects(on_survivor.jetstream(), PRODUCT_PHOTOS),
    }
    try:
        async with (
            serving(object_app(apps[f"app on {leader.name} (killed)"])) as base_leader,
            serving(object_app(apps[f"app on {survivor.name}"])) as base_survivor,
            httpx.AsyncClient(timeout=10, trust_env=False) as http,
        ):
            bases = dict(zip(apps, (base_leader, base_survivor), strict=True))
            for base in bases.values():
                for stored, data in pictures:
                    assert await served_whole(http, f"{base}/photos/{stored.name}", data)
            tl.mark("both pictures served whole (200, 304, 206) by both apps")

            leader.kill()
            killed_at = time.monotonic()
            tl.mark(f"SIGKILL {leader.name}")

            async def recovered(app: str, base: str) -> float:
                for stored, data in pictures:
                    url = f"{base}/photos/{stored.name}"

                    async def whole(url: str = url, data: bytes = data) -> bool:
                        return await served_whole(http, url, data)

                    await eventually(whole, timeout=RECOVERY_S, interval=0.1)
                took = time.monotonic() - killed_at
                tl.mark(f"{app}: both served whole again after {took:.2f}s")
                return took

            took = await asyncio.gather(*(recovered(app, base) for app, base in bases.items()))
            # The app on a living node reads from the living replicas by direct get: no wait
            # for a new leader (an election takes seconds; a request lost with its node, the
            # JetStream timeout: 5 s). The app on the dead node reconnects first.
            assert took[1] < 5.0, f"the app on {survivor.name} waited {took[1]:.2f}s"

            # A new picture is stored with two of three nodes: a new leader, a quorum of two.
            fresh_bytes = noise_jpeg(400, 300, seed=3)

            async def put() -> Stored | None:
                try:
                    return await objects.put(fresh_bytes, "jpg", "image/jpeg")
                except (NatsError, TimeoutError):
                    return None

            fresh = await eventually(put, timeout=RECOVERY_S, interval=0.2)
            assert fresh is not None
            tl.mark(f"a new picture stored after the kill, {time.monotonic() - killed_at:.2f}s")
            assert await objects.read(fresh.name) == fresh_bytes
            after = await js.stream_info(STREAM)
            assert after.cluster is not None and after.cluster.leader not in (None, leader.name)
            tl.mark(f"{STREAM} now led by {after.cluster.leader}")

            # Every picture from both apps, many at once: nothing depends on the dead node.
            everything = [*pictures, (fresh, fresh_bytes)] * 3
            results = await asyncio.gather(
                *(
                    served_whole(http, f"{base}/photos/{s.name}", d)
                    for base in bases.values()
                    for s, d in everything
                )
            )
            assert all(results)
            tl.mark(f"{len(results)} pictures served whole at once by both apps")
    finally:
        await on_leader.close()
        await on_survivor.close()
    print(tl.report())
