"""Pictures in the Object Store: uploads made into stored sizes, a cached picture served
(200 and 304) against the static-file ceiling of the same stack, and memory while a large
object streams to many slow clients.

    python -m bench.media [--runs 3] [--uploads 5] [--wrk-duration 5] [--connections 32]
                          [--threads 2] [--large-mib 16] [--clients 50] [--hold 2]
                          [--parts uploads,serve,memory] [--tiny]

Each run starts a nats-server (JetStream, file storage) with the PRODUCT_PHOTOS bucket
(shared.objects, R1), then:

a. Uploads. A phone-like JPEG made with Pillow (a gradient under Gaussian noise, so its
   size is a phone photo's: ~3.6 MB at 12 MP, a ~100 KB card; EXIF orientation 6, as a
   phone held upright writes it), at 12 MP and at 2 MP, --uploads times each way, the
   ways interleaved:
   - reference: bare Pillow, decode + the three sizes encoded (no checks, no storage):
     the ceiling of the stack;
   - reference: `shared.images.prepare` alone (the checks, EXIF, the three sizes);
   - measured: `prepare` + the three `Objects.put` (as a service stores an upload);
   - measured: the same through HTTP: a multipart POST to a FastAPI route that reads the
     UploadFile, prepares it in a worker thread and puts the sizes (orders' own route,
     `POST /products/{id}/photos`, is not on main yet: this is a bare route doing what it
     does, without the catalog's bookkeeping).
   Each stored upload is deleted afterwards (not timed): the next one stores anew.
b. Serving a cached picture: the card size of the 12 MP photo, stored in the bucket and
   written to a directory. wrk GETs it (200: whole body; 304: If-None-Match its ETag) from
   a FastAPI app serving it with `shared.object_http.serve_object` (as orders and live
   do), and the same bytes at the same path from a bare Starlette StaticFiles app (the
   static-file ceiling of the same stack), both served as the services are
   (shared.runtime.serve: uvicorn, uvloop, httptools, one process). Also from the same
   FastAPI app answering the same bytes and headers from memory: what the routing and
   response cost without NATS.
c. Memory while a large object (--large-mib of random bytes: the server never looks
   inside) goes to --clients slow readers at once: each opens a connection (a 256 KiB
   receive buffer, as a phone on a mobile network), reads the first 256 KiB and stops;
   all hold for --hold s; then all read to the end. The server's RSS (/proc/<pid>/status)
   is sampled every 50 ms from before the clients come until after they are gone. Once
   with `serve_object` (streamed, a chunk at a time) and once with a naive route that
   reads the whole object (`Objects.read`) per request, each in a fresh server process.

Writes test-artifacts/bench/media.json (BENCH_RESULTS_DIR elsewhere); prints a table per
run and the medians. `--tiny`: small pictures, one short run (tests/test_bench_media.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from fastapi import FastAPI, Request, Response, UploadFile

from bench import results
from bench.video import QUIET_PERCENT, die_with_parent, stop, wait_quiet
from shared import images
from shared.embedded_nats import free_port, start_nats_server
from shared.objects import PRODUCT_PHOTOS, Objects, provision_buckets

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "bench" / "media.lua"
MAX_UPLOAD = 20 * 1024**2
BUCKET_BYTES = 8 * 1024**3
KIB = 1024
MIB = 1024**2
FIRST_BYTES = 256 * KIB  # what a slow reader takes before it stops
RECEIVE_BUFFER = 256 * KIB  # a slow reader's socket receive buffer
SAMPLE_EVERY_S = 0.05
PICTURES = {"12mp": (4000, 3000), "2mp": (1600, 1200)}
TINY_PICTURES = {"12mp": (1200, 900), "2mp": (640, 480)}  # --tiny: same keys, small


# ---- the pure parts (tests/test_bench_media.py) -------------------------------------------


def rss_kib(status: str) -> int:
    """VmRSS (KiB) from the text of /proc/<pid>/status."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line")


def rate(seconds: Sequence[float]) -> dict[str, float]:
    """Figures of repeated timings of one thing: the median time, and its inverse."""
    if not seconds:
        raise ValueError("no timings")
    med = statistics.median(seconds)
    return {"per_s": 1 / med, "ms": med * 1000, "max_ms": max(seconds) * 1000}


def served(result: dict[str, int], body_bytes: int) -> dict[str, float]:
    """wrk's figures of one URL: requests/s, body MB/s, latency percentiles."""
    return {**results.wrk_figures(result), "body_kb": round(body_bytes / 1000, 1)}


def memory_figures(
    before_kib: int,
    held_kib: Sequence[int],
    during_kib: Sequence[int],
    after_kib: int,
    object_bytes: int,
    clients: int,
    whole: int,
    seconds: float,
) -> dict[str, float]:
    """RSS before the clients came, while they all held (after their first bytes), at the
    peak (until the last one was done) and after; growth = peak - before."""
    peak = max([before_kib, *held_kib, *during_kib, after_kib])
    growth = peak - before_kib
    return {
        "rss_before_mib": before_kib / KIB,
        "rss_held_mib": max(held_kib or [before_kib]) / KIB,
        "rss_peak_mib": peak / KIB,
        "rss_after_mib": after_kib / KIB,
        "growth_mib": growth / KIB,
        "growth_per_client_kib": growth / clients,
        "growth_in_objects": growth * KIB / object_bytes,
        "object_mib": object_bytes / MIB,
        "clients": clients,
        "clients_whole": whole,
        "seconds": seconds,
    }


def phone_jpeg(width: int, height: int, fine: float = 8.0, coarse: float = 40.0) -> bytes:
    """A JPEG of a phone photo's size and detail: a colour gradient under Gaussian noise at
    two scales (pixels, and blobs of 1/24 of the width: a downscaled size keeps detail, as
    a photo's does), quality 90, EXIF orientation 6 (the camera held upright). 12 MP make
    ~3.6 MB, and a card of ~100 KB."""
    from PIL import Image, ImageChops

    across = Image.linear_gradient("L").resize((width, height))
    down = Image.linear_gradient("L").rotate(90).resize((width, height))
    blobs = (max(1, width // 24), max(1, height // 24))
    channels = []
    for base in (across, down, ImageChops.invert(across)):
        texture = Image.effect_noise(blobs, coarse).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        channel = ImageChops.add(base, texture, offset=-128)
        channels.append(
            ImageChops.add(channel, Image.effect_noise((width, height), fine), offset=-128)
        )
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def bare_pillow(data: bytes) -> dict[str, bytes]:
    """The ceiling: decode, and encode the three sizes as shared.images does; no checks."""
    from PIL import Image

    sizes = {}
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    for name, long_side in images.SIZES.items():
        copy = rgb.copy()
        copy.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=images.JPEG_QUALITY, progressive=True)
        sizes[name] = out.getvalue()
    return sizes


# ---- the servers (child processes: `--serve app|static PORT ARG`) -------------------------


def media_app(nats_url: str) -> Any:
    """The app under test: GET /photos/{name} by serve_object, as the services register it;
    /memory/{name}: the same bytes and headers from memory (no NATS); /naive/{name}: the
    whole object read per request; POST /upload: an upload made into stored sizes."""
    from shared.object_http import OBJECT_HEADERS, OBJECT_RESPONSES, not_found, serve_object
    from shared.objects import ObjectHead
    from shared.problems import answer_errors_as_problems

    bucket: list[Objects] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await nats.connect(nats_url)
        bucket.append(Objects(nc.jetstream(), PRODUCT_PHOTOS))
        yield
        await nc.close()

    app = FastAPI(lifespan=lifespan)
    answer_errors_as_problems(app, {images.BadImage: (422, "bad_image")})
    memory: dict[str, tuple[ObjectHead, bytes]] = {}

    @app.get("/photos/{name}", responses=OBJECT_RESPONSES)
    async def photo(name: str, request: Request) -> Response:
        return await serve_object(bucket[0], name, request)

    @app.head("/photos/{name}", include_in_schema=False)
    async def photo_head(name: str, request: Request) -> Response:
        return await serve_object(bucket[0], name, request)

    @app.get("/memory/{name}")
    async def from_memory(name: str) -> Response:
        if name not in memory:
            head, data = await bucket[0].head(name), await bucket[0].read(name)
            if head is None or data is None:
                raise not_found(name)
            memory[name] = (head, data)
        head, data = memory[name]
        headers = {**OBJECT_HEADERS, "ETag": head.etag}
        return Response(data, headers=headers, media_type=head.content_type)

    @app.get("/naive/{name}")
    async def naive(name: str) -> Response:
        head = await bucket[0].head(name)
        data = await bucket[0].read(name)
        if head is None or data is None:
            raise not_found(name)
        headers = {**OBJECT_HEADERS, "ETag": head.etag}
        return Response(data, headers=headers, media_type=head.content_type)

    @app.post("/upload")
    async def upload(file: UploadFile) -> dict[str, list[str]]:
        data = await file.read()
        picture = await asyncio.to_thread(images.prepare, data, MAX_UPLOAD)
        names = []
        for size in picture.sizes.values():
            stored = await bucket[0].put(size, images.EXTENSION, images.CONTENT_TYPE)
            names.append(stored.name)
        return {"names": names}

    return app


def static_app(directory: str) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Starlette(routes=[Mount("/photos", app=StaticFiles(directory=directory))])


def serve(kind: str, port: int, arg: str) -> None:
    from shared.runtime import serve as serve_app
    from shared.settings import ServiceSettings

    app = media_app(arg) if kind == "app" else static_app(arg)
    serve_app(app, ServiceSettings(service_name="bench-media", port=port, log_level="WARNING"))


def spawn_server(kind: str, arg: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.media", "--serve", kind, str(port), arg],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def wait_server(process: subprocess.Popen[bytes], url: str, timeout_s: float = 30) -> None:
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            stop(process)
            raise RuntimeError(f"{process.args!r} did not start:\n{err[-3000:]}")
        time.sleep(0.05)


def rss_of(pid: int) -> int:
    return rss_kib(Path(f"/proc/{pid}/status").read_text())


def say(what: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {what}", flush=True)


# ---- one run ------------------------------------------------------------------------------


@dataclass
class Run:
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<kind>_<size>"
    served: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<server>_<status>"
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)  # "stream" | "naive"


async def measure_uploads(
    objects: Objects, app: str, pictures: dict[str, tuple[int, int]], count: int
) -> tuple[dict[str, dict[str, Any]], bytes]:
    """Per picture size, the four ways interleaved `count` times; the 12 MP card too."""
    out: dict[str, dict[str, Any]] = {}
    card = b""
    async with httpx.AsyncClient(base_url=app, timeout=60, trust_env=False) as http:
        for label, (width, height) in pictures.items():
            source = phone_jpeg(width, height)
            figures, sizes = await upload_figures(objects, http, source, count)
            card = sizes["card"] if label == "12mp" else card
            for kind, figure in figures.items():
                out[f"{kind}_{label}"] = {**figure, "megapixels": round(width * height / 1e6, 1)}
    return out, card


async def upload_figures(
    objects: Objects, http: httpx.AsyncClient, source: bytes, count: int
) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    """One picture uploaded `count` times each way, the ways interleaved (a busy moment
    of the machine slows them all alike); the figures of each way, and the sizes made."""
    times: dict[str, list[float]] = {"bare": [], "prepare": [], "stored": [], "http": []}

    async def bare() -> dict[str, bytes]:
        return await asyncio.to_thread(bare_pillow, source)

    async def prepare() -> images.Picture:
        return await asyncio.to_thread(images.prepare, source, MAX_UPLOAD)

    async def store() -> list[str]:
        picture = await prepare()
        names = []
        for size in picture.sizes.values():
            put = await objects.put(size, images.EXTENSION, images.CONTENT_TYPE)
            names.append(put.name)
        return names

    async def post() -> list[str]:
        files = {"file": ("photo.jpg", source, "image/jpeg")}
        response = await http.post("/upload", files=files)
        response.raise_for_status()
        return list(response.json()["names"])

    async def forget(names: list[str]) -> None:
        for name in set(names):  # a small picture's sizes can be the same bytes
            if not await objects.delete(name):
                raise RuntimeError(f"{name} was not stored")

    picture = await prepare()
    for _ in range(count):
        for kind, way in (("bare", bare), ("prepare", prepare), ("stored", store), ("http", post)):
            began = time.perf_counter()
            made = await way()
            times[kind].append(time.perf_counter() - began)
            if isinstance(made, list):
                await forget(made)  # not timed: the next upload stores anew
    stored_kb = round(sum(len(b) for b in picture.sizes.values()) / 1000, 1)
    source_kb = round(len(source) / 1000, 1)
    figures = {
        kind: {**rate(seconds), "source_kb": source_kb, "stored_kb": stored_kb}
        for kind, seconds in times.items()
    }
    return figures, picture.sizes


def wrk(url: str, seconds: float, connections: int, threads: int, etag: str = "") -> dict[str, int]:
    return results.run_wrk(LUA, url, seconds, connections, threads, *([etag] if etag else []))


def check_served(url: str, body: bytes) -> str:
    """The URL answers the bytes, and 304 for its ETag; the ETag."""
    with httpx.Client(timeout=10, trust_env=False) as http:
        whole = http.get(url)
        if whole.status_code != 200 or whole.content != body:
            raise RuntimeError(f"{url}: {whole.status_code}, {len(whole.content)} bytes")
        etag = whole.headers["etag"]
        cached = http.get(url, headers={"If-None-Match": etag})
        if cached.status_code != 304:
            raise RuntimeError(f"{url} with If-None-Match {etag}: {cached.status_code}")
    return etag


def measure_serving(
    args: argparse.Namespace, app: str, static: str, name: str, card: bytes
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    targets = {
        "serve": f"{app}/photos/{name}",
        "memory": f"{app}/memory/{name}",
        "static": f"{static}/photos/{name}",
    }
    for server, url in targets.items():
        etag = check_served(url, card) if server != "memory" else ""
        statuses = {"200": ""} if server == "memory" else {"200": "", "304": etag}
        for status, header in statuses.items():
            if not args.tiny:
                wrk(url, 1, args.connections, args.threads, header)  # warm
            result = wrk(url, args.wrk_duration, args.connections, args.threads, header)
            if result["non_2xx"] or result["socket_errors"]:
                raise RuntimeError(f"{url} ({status}): {result}")
            out[f"{server}_{status}"] = served(result, len(card) if status == "200" else 0)
    return out


async def slow_reader(
    port: int, path: str, first: int, reached: Callable[[], None], go: asyncio.Event
) -> int:
    """GET `path`, read `first` bytes of the body, call `reached`, wait for `go`, read the
    rest; the body's bytes if all came, else -1."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=RECEIVE_BUFFER)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split()[1])
        length = next(
            int(line.split(":", 1)[1]) for line in head.split("\r\n") if "content-length" in line
        )
        got = 0
        while got < min(first, length):
            data = await reader.read(64 * KIB)
            if not data:
                break
            got += len(data)
        reached()
        await go.wait()
        while data := await reader.read(MIB):
            got += len(data)
        return got if status == 200 and got == length else -1
    finally:
        writer.close()


async def measure_memory(
    pid: int,
    port: int,
    path: str,
    object_bytes: int,
    clients: int,
    hold_s: float,
    settle_s: float = 1.0,
) -> dict[str, float]:
    """RSS of `pid` while `clients` slow readers fetch `path`; `settle_s` before and after."""
    await asyncio.sleep(settle_s / 2)
    before = rss_of(pid)
    held: list[int] = []
    during: list[int] = []
    holding = False
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            (held if holding else during).append(rss_of(pid))
            await asyncio.sleep(SAMPLE_EVERY_S)

    all_in, go = asyncio.Event(), asyncio.Event()
    arrived = [0]

    def reached() -> None:
        arrived[0] += 1
        if arrived[0] == clients:
            all_in.set()

    sampler = asyncio.create_task(sample())
    began = time.monotonic()
    readers = [
        asyncio.create_task(slow_reader(port, path, FIRST_BYTES, reached, go))
        for _ in range(clients)
    ]
    try:
        try:
            await asyncio.wait_for(all_in.wait(), timeout=300)
        except TimeoutError:
            raise RuntimeError(
                f"{path}: {arrived[0]} of {clients} readers had their first bytes after 300 s"
            ) from None
        holding = True
        await asyncio.sleep(hold_s)
        holding = False
        go.set()
        got = await asyncio.wait_for(asyncio.gather(*readers), timeout=300)
    finally:
        go.set()
        for task in readers:
            task.cancel()
        done.set()
        await sampler
    seconds = time.monotonic() - began
    await asyncio.sleep(settle_s)
    after = rss_of(pid)
    whole = sum(1 for n in got if n == object_bytes)
    return memory_figures(before, held, during, after, object_bytes, clients, whole, seconds)


async def one_run_async(args: argparse.Namespace, tmp: Path, run: int) -> Run:
    out = Run()
    parts = set(args.parts.split(","))
    server = start_nats_server(tmp / f"nats-{run}")
    static_dir = tmp / f"static-{run}"
    static_dir.mkdir()
    # Every server at once (each takes a second to import its stack); each measured alone.
    servers = {
        "app": spawn_server("app", server.url),
        "static": spawn_server("static", str(static_dir)),
        "stream": spawn_server("app", server.url),
        "naive": spawn_server("app", server.url),
    }
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await provision_buckets(js, 1, {PRODUCT_PHOTOS.name: BUCKET_BYTES}, (PRODUCT_PHOTOS,))
        objects = Objects(js, PRODUCT_PHOTOS)
        for process, url in servers.values():
            wait_server(process, url)
        app, app_url = servers["app"]
        pictures = TINY_PICTURES if args.tiny else PICTURES
        if "uploads" in parts:
            say(f"run {run + 1}: uploads")
            out.uploads, card = await measure_uploads(objects, app_url, pictures, args.uploads)
        else:
            card = images.prepare(phone_jpeg(*pictures["12mp"]), MAX_UPLOAD).sizes["card"]

        if "serve" in parts:
            stored = await objects.put(card, images.EXTENSION, images.CONTENT_TYPE)
            (static_dir / stored.name).write_bytes(card)
            say(f"run {run + 1}: serving the card ({len(card):,} B)")
            out.served = await asyncio.to_thread(
                measure_serving, args, app_url, servers["static"][1], stored.name, card
            )
        stop(app)
        stop(servers["static"][0])

        large = os.urandom(args.large_mib * MIB) if "memory" in parts else b""
        big = await objects.put(large, "bin", "application/octet-stream") if large else None
        for mode, prefix in (("stream", "/photos/"), ("naive", "/naive/")):
            process, url = servers[mode]
            if big is not None:
                async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as http:
                    warm = await http.get(prefix + big.name)  # one whole answer first
                    if warm.status_code != 200 or len(warm.content) != len(large):
                        raise RuntimeError(f"{prefix}{big.name}: {warm.status_code}")
                say(f"run {run + 1}: memory, {mode}")
                port = int(url.rsplit(":", 1)[1])
                out.memory[mode] = await measure_memory(
                    process.pid,
                    port,
                    prefix + big.name,
                    len(large),
                    args.clients,
                    args.hold,
                    settle_s=0.2 if args.tiny else 1.0,
                )
            stop(process)
        return out
    finally:
        await nc.close()
        for process, _ in servers.values():
            stop(process, signal.SIGTERM, 10)
        server.stop()


# ---- output -------------------------------------------------------------------------------

UPLOADS = {
    "bare": ("Pillow alone: decode + 3 sizes encoded, no checks, no storage", "reference"),
    "prepare": ("shared.images.prepare alone: checks, EXIF, 3 sizes", "reference"),
    "stored": ("prepare + 3 Objects.put (stored sizes)", "measured"),
    "http": ("multipart POST: UploadFile, prepare in a thread, 3 puts", "measured"),
}
SERVED = {
    "serve": ("serve_object: streamed from JetStream (FastAPI route)", "measured"),
    "memory": ("same FastAPI route, same bytes and headers from memory (no NATS)", "reference"),
    "static": ("Starlette StaticFiles from disk, same stack (uvicorn, 1 process)", "reference"),
}
MEMORY = {
    "stream": ("RSS: serve_object (streamed a chunk at a time)", "measured"),
    "naive": ("RSS: naive route, Objects.read whole per request", "reference"),
}


def table(run: Run, title: str) -> None:
    print(f"\n{title}")
    print(f"  {'upload':66} {'MP':>5} {'per s':>7} {'ms':>8}")
    for key, fig in run.uploads.items():
        kind, _ = key.split("_", 1)
        label = UPLOADS[kind][0]
        print(f"  {label:66} {fig['megapixels']:>5} {fig['per_s']:>7.2f} {fig['ms']:>8.1f}")
    print(f"  {'serving a cached picture':66} {'':>5} {'req/s':>7} {'p99 ms':>8}")
    for key, fig in run.served.items():
        server, status = key.split("_", 1)
        label = f"{SERVED[server][0]} {status}"
        print(f"  {label:66} {'':>5} {fig['per_s']:>7,.0f} {fig['p99_ms']:>8.2f}")
    for mode, fig in run.memory.items():
        print(
            f"  {MEMORY[mode][0]}: {fig['clients']:.0f} clients x {fig['object_mib']:.0f} MiB: "
            f"{fig['rss_before_mib']:.0f} MiB before, {fig['rss_held_mib']:.0f} holding, peak "
            f"{fig['rss_peak_mib']:.0f} (+{fig['growth_mib']:.1f} MiB, "
            f"{fig['growth_per_client_kib']:,.0f} KiB a client), {fig['rss_after_mib']:.0f} "
            f"after; {fig['clients_whole']:.0f} got every byte in {fig['seconds']:.1f} s"
        )


def median_run(runs: list[Run]) -> Run:
    def med(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return results.median_figures(rows)

    return Run(
        uploads={k: med([r.uploads[k] for r in runs]) for k in runs[0].uploads},
        served={k: med([r.served[k] for r in runs]) for k in runs[0].served},
        memory={k: med([r.memory[k] for r in runs]) for k in runs[0].memory},
    )


def ratios_of(runs: list[Run]) -> list[dict[str, Any]]:
    def per_s(part: str, key: str) -> Callable[[Run], float]:
        return lambda run: float(getattr(run, part)[key]["per_s"])

    def each(a: Callable[[Run], float], b: Callable[[Run], float]) -> list[float]:
        return [a(run) / b(run) for run in runs]

    out: list[dict[str, Any]] = []
    for size in ("12mp", "2mp") if runs[0].uploads else ():
        stored, prepared = per_s("uploads", f"stored_{size}"), per_s("uploads", f"prepare_{size}")
        bare = per_s("uploads", f"bare_{size}")
        name = size.upper()
        out += [
            results.ratio(
                f"stored_vs_prepare_{size}",
                f"{name} uploads/s: prepare + 3 puts / prepare alone",
                each(stored, prepared),
            ),
            results.ratio(
                f"prepare_vs_bare_{size}",
                f"{name} uploads/s: prepare alone / bare Pillow",
                each(prepared, bare),
            ),
        ]
    for status in ("200", "304") if runs[0].served else ():
        out.append(
            results.ratio(
                f"serve_vs_static_{status}",
                f"{status}: serve_object req/s / StaticFiles req/s",
                each(per_s("served", f"serve_{status}"), per_s("served", f"static_{status}")),
            )
        )
    if runs[0].served:
        out.append(
            results.ratio(
                "serve_vs_memory_200",
                "200: serve_object req/s / the same route from memory",
                each(per_s("served", "serve_200"), per_s("served", "memory_200")),
            )
        )
    if runs[0].memory:
        growth = [
            run.memory["naive"]["growth_mib"] / max(run.memory["stream"]["growth_mib"], 1 / KIB)
            for run in runs
        ]
        out.append(results.ratio("naive_vs_stream_growth", "RSS growth: naive / streamed", growth))
    return out


def write_results(
    args: argparse.Namespace, runs: list[Run], quiet: list[float], failed: list[str]
) -> Path:
    scenarios = []
    for key in runs[0].uploads:
        kind, size = key.split("_", 1)
        label, role = UPLOADS[kind]
        scenarios.append(
            results.scenario(key, f"upload {size.upper()}: {label}", role,
                             [r.uploads[key] for r in runs])
        )  # fmt: skip
    for key in runs[0].served:
        server, status = key.split("_", 1)
        label, role = SERVED[server]
        scenarios.append(
            results.scenario(key, f"card JPEG {status}: {label}", role,
                             [r.served[key] for r in runs])
        )  # fmt: skip
    for mode in runs[0].memory:
        label, role = MEMORY[mode]
        scenarios.append(
            results.scenario(f"memory_{mode}", label, role, [r.memory[mode] for r in runs])
        )
    parameters = {k: v for k, v in vars(args).items() if k != "serve"}
    parameters["pictures"] = {
        k: f"{w}x{h}" for k, (w, h) in (TINY_PICTURES if args.tiny else PICTURES).items()
    }
    return results.write(
        "media",
        title="Pictures in the Object Store",
        parameters=parameters,
        load_generator={
            "name": "wrk + in-process timers + asyncio slow readers",
            "version": f"{results.wrk_version()}; Pillow {results.package_version('pillow')}",
            "how": f"uploads: sequential, timed in the benchmark process (prepare in a worker "
            f"thread, as the services); serving: wrk -t{args.threads} -c{args.connections} "
            f"-d{args.wrk_duration}s --latency; memory: {args.clients} raw-socket readers "
            f"({RECEIVE_BUFFER // KIB} KiB receive buffer) take {FIRST_BYTES // KIB} KiB, hold "
            f"{args.hold} s, then read the rest; VmRSS every {SAMPLE_EVERY_S * 1000:.0f} ms",
        },
        run_count=len(runs),
        scenarios=scenarios,
        ratios=ratios_of(runs),
        extra={
            "machine_busy_before_percent": [round(q, 1) for q in quiet],
            "failed_runs": failed,
            "http_upload_route": "a bare multipart route in the benchmark's app: orders' "
            "POST /products/{id}/photos was not on main when this was written",
            "command": "python -m bench.media " + " ".join(sys.argv[1:]),
        },
    )


def missing() -> str | None:
    if shutil.which("wrk") is None:
        return "wrk not found: apt-get install -y wrk"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=5, help="uploads per picture and way")
    parser.add_argument("--wrk-duration", type=int, default=5, help="seconds per wrk figure")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--large-mib", type=int, default=16, help="the large object's size")
    parser.add_argument("--clients", type=int, default=50, help="slow readers at once")
    parser.add_argument("--hold", type=float, default=2.0, help="s the slow readers stop")
    parser.add_argument("--wait-quiet", type=float, default=20, help="s to wait for a quiet CPU")
    parser.add_argument("--parts", default="uploads,serve,memory", help="which to measure")
    parser.add_argument("--tiny", action="store_true", help="small and short: the suite's run")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, port, arg = args.serve
        serve(kind, int(port), arg)
        return 0
    if args.tiny:
        args.runs, args.uploads, args.wrk_duration, args.connections = 1, 1, 1, 4
        args.large_mib, args.clients, args.hold, args.wait_quiet = 2, 5, 0.2, 0
    if reason := missing():
        print(reason, file=sys.stderr)
        return 2
    runs: list[Run] = []
    quiet: list[float] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        for run in range(args.runs):
            quiet.append(wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0)
            if quiet[-1] >= QUIET_PERCENT:
                print(f"  (the machine is busy: {quiet[-1]:.0f}% of a core before run {run + 1})")
            try:
                runs.append(asyncio.run(one_run_async(args, Path(tmp), run)))
            except Exception as exc:  # one run's failure is said, the others still count
                failed.append(f"run {run + 1}: {exc!r}")
                print(f"\nrun {run + 1}/{args.runs} failed: {exc!r}", file=sys.stderr)
                continue
            table(runs[-1], f"run {run + 1}/{args.runs}")
    if not runs:
        print("every run failed: no results written", file=sys.stderr)
        return 1
    table(median_run(runs), f"medians of {len(runs)} runs ({os.cpu_count()} CPUs shared by all)")
    path = write_results(args, runs, quiet, failed)
    print(f"\nwrote {path}; `python -m bench.report` puts it in docs/PERFORMANCE.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
