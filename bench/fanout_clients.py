"""The load generator of `bench.live_fanout`: websocket viewers, in one worker process.

A worker holds a share of the room's viewers; the first few of them also post chat
on a schedule shared by all workers (message `seq` is due at `t0 + seq / rate` and is
posted by worker `seq % workers`). Every chat text carries its sequence number and
its send time (`time.time_ns()`, the same machine clock the receivers read), written
in letters: the room's ad filter refuses runs of 10+ digits.

Every viewer, senders included, records `receive time - send time` for each line.
The parent drives a worker over a multiprocessing pipe: it sends `(command, arg)`,
the worker answers `(reply, data)`.

A join storm (`storm`): the worker also opens a second list of viewers, one at a time on
a schedule spread over the storm, while chat runs; each records its join latency (the
connect started -> its `welcome` frame) and the history it got. Their chat lines are not
counted: they did not see the whole window.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import random
import signal
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
# Words the room's moderation lets through (no links, no "add me", no digit runs).
FILLER_WORDS = (
    "cherry", "box", "fresh", "sweet", "today", "price", "great", "want", "two", "more",
    "nice", "love", "mango", "ship", "soon", "樱桃", "好吃", "新鲜", "还有吗", "要两箱",
)  # fmt: skip
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to this process when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_loop(main: Any) -> Any:
    """Run a coroutine on uvloop when installed (as uvicorn does in live), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def encode(n: int) -> str:
    """A non-negative int in base 26, letters only."""
    out = []
    while True:
        n, digit = divmod(n, 26)
        out.append(ALPHABET[digit])
        if n == 0:
            return "".join(reversed(out))


def decode(text: str) -> int:
    n = 0
    for char in text:
        n = n * 26 + ord(char) - 97
    return n


def chat_text(tag: str, seq: int, sent_ns: int, chars: int, rng: random.Random) -> str:
    """`<tag> <seq> <sent_ns> <filler words>`, about `chars` characters long."""
    head = f"{tag} {encode(seq)} {encode(sent_ns)}"
    words = [head]
    length = len(head)
    while length < chars:
        word = rng.choice(FILLER_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def parse_text(tag: str, text: str) -> tuple[int, int] | None:
    """(seq, sent_ns) of a benchmark line; None for any other chat line."""
    if not text.startswith(tag):
        return None
    parts = text.split(" ", 3)
    if len(parts) < 3 or parts[0] != tag:
        return None
    return decode(parts[1]), decode(parts[2])


@dataclass(frozen=True)
class WorkerSpec:
    index: int
    workers: int
    urls: list[str]  # this worker's viewers; the first `senders` of them also post
    senders: int
    text_chars: int
    connect_concurrency: int
    compression: bool = True


@dataclass
class Stats:
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    seqs: array[int] = field(default_factory=lambda: array("q"))  # the line of each latency
    per_seq: dict[int, int] = field(default_factory=dict)  # seq -> viewers that got it
    first_ns: dict[int, int] = field(default_factory=dict)  # seq -> its lowest latency here
    last_ns: dict[int, int] = field(default_factory=dict)  # seq -> its highest latency here
    sent_at_ns: dict[int, int] = field(default_factory=dict)  # seq -> send time (its sender)
    per_viewer: list[int] = field(default_factory=list)  # lines each viewer got
    chat_frames: int = 0  # chat frames that carried at least one benchmark line
    frames: int = 0  # every frame received during the run
    gaps: int = 0  # frames the server dropped for a slow viewer, as its `gap` frames say
    errors: dict[str, int] = field(default_factory=dict)  # error frames by code
    sent: int = 0
    send_failures: int = 0
    closed_early: int = 0
    # The join storm's viewers: connect -> welcome, history lines in it, failures.
    join_ns: array[int] = field(default_factory=lambda: array("q"))
    join_history: array[int] = field(default_factory=lambda: array("q"))
    join_failures: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, spec: WorkerSpec, pipe: Connection) -> None:
        self.spec = spec
        self.pipe = pipe
        self.sockets: list[ClientConnection | None] = [None] * len(spec.urls)
        self.failures: list[str] = []
        self.stats = Stats(per_viewer=[0] * len(spec.urls))
        self.counting = False
        self.frames_seen = 0  # every frame, counted or not: tells when traffic has stopped
        self.tag = "-"  # the current window's; lines of an earlier window do not count
        self.closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self.joiners: list[ClientConnection] = []

    async def main(self) -> None:
        started = time.monotonic()
        semaphore = asyncio.Semaphore(self.spec.connect_concurrency)
        await asyncio.gather(
            *(self._open(i, url, semaphore) for i, url in enumerate(self.spec.urls))
        )
        connected = sum(ws is not None for ws in self.sockets)
        report = {
            "connected": connected,
            "failed": len(self.failures),
            "failures": self.failures[:5],
            "seconds": time.monotonic() - started,
        }
        self.pipe.send(("connected", report))
        while True:
            command, arg = await asyncio.to_thread(self.pipe.recv)
            if command == "go":
                self.stats = Stats(per_viewer=[0] * len(self.spec.urls))
                self.tag = str(arg["tag"])
                self._go(float(arg["t0"]), float(arg["rate"]), float(arg["seconds"]))
            elif command == "storm":
                self._storm(float(arg["t0"]), float(arg["seconds"]), list(arg["urls"]))
            elif command == "status":
                status = {
                    "sent": self.stats.sent,
                    "received": len(self.stats.latencies_ns),
                    "frames": self.frames_seen,
                }
                self.pipe.send(("status", status))
            elif command == "collect":
                self.pipe.send(("results", self._results()))
            elif command == "close":
                await self._close()
                self.pipe.send(("closed", None))
                return

    async def _connect(self, url: str) -> tuple[ClientConnection, dict[str, Any]]:
        """A viewer's socket and the first frame the room sent on it."""
        ws = await connect(
            url, open_timeout=60, compression="deflate" if self.spec.compression else None
        )
        return ws, json.loads(await asyncio.wait_for(ws.recv(), 60))

    async def _open(self, i: int, url: str, semaphore: asyncio.Semaphore) -> None:
        error: BaseException | None = None
        async with semaphore:
            for _attempt in range(3):
                try:
                    ws, first = await self._connect(url)
                    if first.get("type") != "welcome":
                        raise RuntimeError(f"expected a welcome frame, got {str(first)[:200]}")
                except Exception as exc:
                    error = exc
                    await asyncio.sleep(0.5)
                    continue
                self.sockets[i] = ws
                self._tasks.append(asyncio.create_task(self._read(i, ws)))
                return
        self.failures.append(f"{url.split('?')[0]}: {error!r}")

    async def _read(self, i: int, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.frames_seen += 1
                if not self.counting:
                    continue
                now = time.time_ns()
                # Looked up per frame: each window starts new stats and a new tag.
                stats, tag = self.stats, self.tag
                latencies, per_seq = stats.latencies_ns, stats.per_seq
                first, last = stats.first_ns, stats.last_ns
                stats.frames += 1
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "chat":
                    got = 0
                    for line in frame["messages"]:
                        parsed = parse_text(tag, line["text"])
                        if parsed is None:
                            continue
                        seq, sent_ns = parsed
                        latency = now - sent_ns
                        latencies.append(latency)
                        stats.seqs.append(seq)
                        if seq in per_seq:
                            per_seq[seq] += 1
                            first[seq] = min(first[seq], latency)
                            last[seq] = max(last[seq], latency)
                        else:
                            per_seq[seq] = 1
                            first[seq] = last[seq] = latency
                        got += 1
                    if got:
                        stats.chat_frames += 1
                        stats.per_viewer[i] += got
                elif kind == "gap":
                    stats.gaps += int(frame.get("dropped", 0))
                elif kind == "error":
                    code = str(frame.get("code"))
                    stats.errors[code] = stats.errors.get(code, 0) + 1
        except ConnectionClosed:
            pass
        if not self.closing:
            self.stats.closed_early += 1

    def _storm(self, t0_wall: float, seconds: float, urls: list[str]) -> None:
        """Open `urls` one after the other, evenly over `seconds` from wall-clock t0."""
        loop = asyncio.get_running_loop()
        t0_loop = loop.time() + (t0_wall - time.time())
        step = seconds / max(len(urls), 1)
        for k, url in enumerate(urls):
            self._tasks.append(asyncio.create_task(self._join(url, t0_loop + k * step)))

    async def _join(self, url: str, at: float) -> None:
        stats = self.stats
        await asyncio.sleep(max(0.0, at - asyncio.get_running_loop().time()))
        started = time.perf_counter_ns()
        try:
            ws, first = await self._connect(url)
        except Exception as exc:
            stats.join_failures.append(f"{url.split('?')[0]}: {exc!r}")
            return
        stats.join_ns.append(time.perf_counter_ns() - started)
        if first.get("type") != "welcome":
            stats.join_failures.append(f"expected a welcome frame, got {str(first)[:200]}")
        stats.join_history.append(len(first.get("history") or ()))
        self.joiners.append(ws)
        try:
            async for _raw in ws:
                self.frames_seen += 1
        except ConnectionClosed:
            pass

    def _go(self, t0_wall: float, rate: float, seconds: float) -> None:
        """Start the senders: wall-clock t0 is shared by every worker."""
        self.counting = True
        spec = self.spec
        senders = [ws for ws in self.sockets[: spec.senders] if ws is not None]
        if not senders:
            return
        total = round(rate * seconds)
        mine = [seq for seq in range(total) if seq % spec.workers == spec.index]
        loop = asyncio.get_running_loop()
        t0_loop = loop.time() + (t0_wall - time.time())
        for k, ws in enumerate(senders):
            seqs = mine[k :: len(senders)]
            rng = random.Random(spec.index * 1000 + k)
            self._tasks.append(asyncio.create_task(self._send(ws, seqs, t0_loop, rate, rng)))

    async def _send(
        self,
        ws: ClientConnection,
        seqs: list[int],
        t0_loop: float,
        rate: float,
        rng: random.Random,
    ) -> None:
        loop = asyncio.get_running_loop()
        for seq in seqs:
            delay = t0_loop + seq / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_ns = time.time_ns()
            text = chat_text(self.tag, seq, sent_ns, self.spec.text_chars, rng)
            try:
                await ws.send(json.dumps({"type": "chat", "text": text, "ref": encode(seq)}))
            except ConnectionClosed:
                self.stats.send_failures += 1
                continue
            self.stats.sent += 1
            self.stats.sent_at_ns[seq] = sent_ns

    def _results(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "latencies_ns": stats.latencies_ns,
            "seqs": stats.seqs,
            "join_ns": stats.join_ns,
            "join_history": stats.join_history,
            "join_failures": stats.join_failures,
            "per_seq": stats.per_seq,
            "first_ns": stats.first_ns,
            "last_ns": stats.last_ns,
            "sent_at_ns": stats.sent_at_ns,
            "per_viewer": stats.per_viewer,
            "viewers": sum(ws is not None for ws in self.sockets),
            "chat_frames": stats.chat_frames,
            "frames": stats.frames,
            "gaps": stats.gaps,
            "errors": stats.errors,
            "sent": stats.sent,
            "send_failures": stats.send_failures,
            "closed_early": stats.closed_early,
        }

    async def _close(self) -> None:
        self.closing = True
        open_sockets = [ws for ws in self.sockets if ws is not None] + self.joiners
        for start in range(0, len(open_sockets), 100):
            await asyncio.gather(
                *(ws.close() for ws in open_sockets[start : start + 100]), return_exceptions=True
            )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def worker_entry(pipe: Connection, spec: WorkerSpec) -> None:
    """multiprocessing target. Ctrl-C is the parent's to handle: it stops workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    with contextlib.suppress(EOFError, BrokenPipeError):  # the parent went away
        run_loop(Worker(spec, pipe).main())
