"""The embedded media process: one ffmpeg SRT listener per room live lists, and the hooks
that tell live when a room's encoder is publishing.

Every `poll_s` it asks live for GET /media/publishers and keeps exactly one listener per
entry: a new passphrase, key version or port restarts the room's listener (which cuts the
publisher who used the old key); an entry gone stops it. A listener whose first live
segment appears has a publisher: POST /media/hooks/ready, then /stats every `stats_s`;
when its ffmpeg exits after that, /not-ready (encoder_gone) and a fresh listener waits
for the host to reconnect. A listener that exits without ever publishing is restarted
with backoff. Hooks live does not take (down, restarting) are retried in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg

from services.live.domain.streams import IncomingInfo
from services.live.media import ffmpeg
from services.live.settings import LiveSettings
from shared.events.envelope import SUBJECT_TOKEN_PATTERN

log = logging.getLogger("qunlive.live.media")

ROOM_ID = re.compile(SUBJECT_TOKEN_PATTERN)
STDERR_TAIL_LINES = 20
REFUSALS_LOG_S = 30.0
STABLE_AFTER_S = 60.0


@dataclass(frozen=True)
class Timing:
    poll_s: float = 1.0  # GET /media/publishers
    stats_s: float = 3.0  # POST /media/hooks/stats while publishing
    tick_s: float = 0.25  # a listener looks for its first segment this often
    read_timeout_s: float = ffmpeg.READ_TIMEOUT_S
    stop_timeout_s: float = 5.0  # SIGTERM, then SIGKILL
    backoff_min_s: float = 1.0
    backoff_max_s: float = 10.0
    hook_retry_s: float = 1.0
    hook_timeout_s: float = 5.0
    # live holds a take open that no listener here publishes (this process restarted after
    # a crash, so its not-ready was never sent): after this long without the encoder coming
    # back, live is told the encoder is gone.
    orphaned_take_s: float = 10.0


@dataclass(frozen=True)
class MediaConfig:
    media_dir: Path
    bind_host: str
    latency_ms: int
    live_url: str
    secret: str
    ffmpeg: str
    timing: Timing = field(default_factory=Timing)

    @classmethod
    def from_settings(cls, settings: LiveSettings, timing: Timing | None = None) -> MediaConfig:
        media_dir = settings.media_root.resolve()
        return cls(
            media_dir=media_dir,
            bind_host=settings.srt_bind_host,
            latency_ms=settings.srt_latency_ms,
            live_url=settings.live_internal_url.rstrip("/"),
            secret=settings.media_hook_secret,
            ffmpeg=imageio_ffmpeg.get_ffmpeg_exe(),
            timing=timing or Timing(),
        )


@dataclass(frozen=True)
class Publisher:
    """One entry of live's GET /media/publishers: a room whose encoder may publish."""

    room_id: str
    srt_port: int
    passphrase: str
    key_version: int
    # What live believes, not part of the listener's identity (a change restarts nothing).
    on_air: bool = field(default=False, compare=False)

    @classmethod
    def parse(cls, entry: Mapping[str, Any]) -> Publisher:
        publisher = cls(
            room_id=str(entry["room_id"]),
            srt_port=int(entry["srt_port"]),
            passphrase=str(entry["passphrase"]),
            key_version=int(entry["key_version"]),
            on_air=bool(entry.get("on_air", False)),
        )
        if not ROOM_ID.match(publisher.room_id):  # it names a folder
            raise ValueError("room_id is not a room id")
        if not 0 < publisher.srt_port < 65536:
            raise ValueError("srt_port out of range")
        if not 10 <= len(publisher.passphrase) <= 79:  # what SRT accepts
            raise ValueError("passphrase must have 10 to 79 characters")
        return publisher


@dataclass
class Hook:
    path: str
    body: dict[str, Any]
    retry: bool = True  # stats are not: the next ones replace them
    failures: int = 0


class LiveLink:
    """live's internal /media/ routes, over HTTP with the media hook secret."""

    def __init__(self, config: MediaConfig) -> None:
        self.timing = config.timing
        self.http = httpx.AsyncClient(
            base_url=config.live_url,
            headers={"Authorization": f"Bearer {config.secret}"},
            timeout=config.timing.hook_timeout_s,
            trust_env=False,  # live is local or on the private network, never via a proxy
        )
        self.queue: deque[Hook] = deque(maxlen=1000)
        self.queued = asyncio.Event()
        self.emptied = asyncio.Event()
        self.emptied.set()
        self.publishers_down: str | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def publishers(self) -> dict[str, Publisher] | None:
        """The rooms live wants listeners for; None when live does not answer."""
        try:
            response = await self.http.get("/media/publishers")
            response.raise_for_status()
            entries = response.json()["publishers"]
        except httpx.HTTPStatusError as exc:
            self._down(f"HTTP {exc.response.status_code}")
            return None
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._down(f"{type(exc).__name__}: {exc}")
            return None
        if self.publishers_down:
            log.info("live lists the publishers again")
            self.publishers_down = None
        wanted: dict[str, Publisher] = {}
        for entry in entries:
            try:
                publisher = Publisher.parse(entry)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("publisher entry skipped", extra={"error": str(exc)})
                continue
            wanted[publisher.room_id] = publisher
        return wanted

    def _down(self, problem: str) -> None:
        if problem != self.publishers_down:  # once, not every second
            log.warning("live does not list the publishers", extra={"error": problem})
        self.publishers_down = problem

    def send(self, path: str, body: dict[str, Any], retry: bool = True) -> None:
        """Queue a hook; `run` delivers the queue in order."""
        if len(self.queue) == self.queue.maxlen:
            log.warning("hook queue full: the oldest hook is dropped")
        self.queue.append(Hook(path, body, retry))
        self.emptied.clear()
        self.queued.set()

    async def run(self) -> None:
        """Deliver queued hooks in order; one live does not take now is retried later."""
        while True:
            await self.queued.wait()
            while self.queue:
                if not await self._deliver(self.queue[0]):
                    await asyncio.sleep(self.timing.hook_retry_s)
                    continue
                self.queue.popleft()
            if not self.queue:
                self.queued.clear()
                self.emptied.set()

    async def drain(self, timeout_s: float) -> None:
        """At shutdown, while `run` still runs: give the queue `timeout_s` to empty."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.emptied.wait(), timeout_s)
        if self.queue:
            log.warning("media hooks left undelivered", extra={"count": len(self.queue)})

    async def _deliver(self, hook: Hook) -> bool:
        """True when the hook is done with: taken, refused for good, or not worth a retry."""
        try:
            response = await self.http.post(hook.path, json=hook.body)
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                if hook.failures:
                    log.info(
                        "media hook delivered after failures",
                        extra={"path": hook.path, "failures": hook.failures, **_room(hook)},
                    )
                return True
            if response.status_code < 500:  # a retry would be refused the same way
                log.error(
                    "live refused a media hook",
                    extra={"path": hook.path, "status": response.status_code, **_room(hook)},
                )
                return True
            failure = f"HTTP {response.status_code}"
        hook.failures += 1
        if hook.retry and hook.failures == 1:  # once per hook, not every retry
            log.warning(
                "media hook failed; retrying",
                extra={"path": hook.path, "error": failure, **_room(hook)},
            )
        return not hook.retry


def _room(hook: Hook) -> dict[str, Any]:
    return {"room_id": hook.body.get("room_id")}


def _die_with_parent() -> None:
    """In ffmpeg, before exec: SIGTERM when this process dies, even by SIGKILL, so no
    orphaned listener keeps the room's port."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Listener:
    """One room's ffmpeg, restarted take after take until stopped."""

    def __init__(
        self,
        publisher: Publisher,
        config: MediaConfig,
        live: LiveLink,
        after: asyncio.Task[None] | None = None,
    ) -> None:
        self.publisher = publisher
        self.config = config
        self.timing = config.timing
        self.live = live
        self.dir = ffmpeg.room_dir(config.media_dir, publisher.room_id)
        self.stopped = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self.publishing = False
        self.idle_since = time.monotonic()  # without a publisher since
        self.told_gone = False
        self.takes = 0  # ffmpeg processes started, for logs and tests
        self._after = after  # the room's previous listener, still stopping
        self.task = asyncio.create_task(self._run(), name=f"listener {publisher.room_id}")

    @property
    def room_id(self) -> str:
        return self.publisher.room_id

    async def stop(self) -> None:
        """Terminate ffmpeg (it closes its playlists) and wait until it is gone."""
        self.stopped.set()
        await self.task

    async def _run(self) -> None:
        if self._after:
            with contextlib.suppress(Exception):
                await self._after
        backoff = 0.0
        while not self.stopped.is_set():
            began = time.monotonic()
            try:
                published = await self._take()
            except Exception:
                log.exception("listener failed", extra={"room_id": self.room_id})
                published = False
            if self.stopped.is_set():
                break
            if published:
                backoff = 0.0  # the host reconnects to a fresh listener at once
                continue
            if time.monotonic() - began > STABLE_AFTER_S:
                backoff = 0.0  # a failure after a long wait is a first failure
            backoff = min(max(backoff * 2, self.timing.backoff_min_s), self.timing.backoff_max_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopped.wait(), backoff)

    def _clean(self) -> None:
        """A fresh take: no live window of an earlier one, no half-written leftovers."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in [
            *self.dir.glob("l*.ts"),
            *self.dir.glob("*.tmp"),
            self.dir / ffmpeg.LIVE_PLAYLIST,
        ]:
            stale.unlink(missing_ok=True)

    async def _take(self) -> bool:
        """One ffmpeg from start to exit; True when a publisher got through."""
        self._clean()
        command = ffmpeg.listener_command(
            ffmpeg=self.config.ffmpeg,
            bind_host=self.config.bind_host,
            port=self.publisher.srt_port,
            passphrase=self.publisher.passphrase,
            latency_ms=self.config.latency_ms,
            out_dir=self.dir,
            read_timeout_s=self.timing.read_timeout_s,
        )
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        self.process, self.publishing = process, False
        self.takes += 1
        extra = {"room_id": self.room_id, "port": self.publisher.srt_port, "pid": process.pid}
        log.info("listening for the room's encoder", extra=extra)
        stderr = StderrLog(self.room_id)
        reader = asyncio.create_task(stderr.read(process))
        exited = asyncio.create_task(process.wait())
        stop = asyncio.create_task(self.stopped.wait())
        terminated_at: float | None = None
        next_stats = 0.0
        try:
            while not exited.done():
                waits = {exited} if stop.done() else {exited, stop}
                await asyncio.wait(waits, timeout=self.timing.tick_s)
                now = time.monotonic()
                if self.stopped.is_set() and process.returncode is None:
                    if terminated_at is None:
                        terminated_at = now
                        process.terminate()
                    elif now - terminated_at > self.timing.stop_timeout_s:
                        process.kill()
                    continue
                if not self.publishing and self._live_segments():
                    self.publishing, self.told_gone = True, False
                    next_stats = now + self.timing.stats_s
                    log.info("the encoder is publishing", extra=extra)
                    info = stderr.info().merged(self._segment_stats())
                    body: dict[str, Any] = {"room_id": self.room_id, "path": None}
                    body |= {"protocol": "srt", "info": info.as_json()}
                    self.live.send("/media/hooks/ready", body)
                elif self.publishing and now >= next_stats:
                    next_stats = now + self.timing.stats_s
                    info = stderr.info().merged(self._segment_stats())
                    body = {"room_id": self.room_id, "path": None, "info": info.as_json()}
                    self.live.send("/media/hooks/stats", body, retry=False)
        finally:
            stop.cancel()
            if process.returncode is None:  # cancelled: leave no ffmpeg behind
                process.kill()
            await exited
            await reader
        code = process.returncode
        if self.publishing:
            self.idle_since, self.told_gone = time.monotonic(), True
            log.info("the encoder is gone", extra=extra | {"code": code})
            body = {"room_id": self.room_id, "path": None, "reason": "encoder_gone"}
            self.live.send("/media/hooks/not-ready", body)
        elif not self.stopped.is_set():
            log.warning(
                "listener exited without a publisher",
                extra=extra | {"code": code, "stderr": "\n".join(stderr.tail)},
            )
        return self.publishing

    def orphaned_take(self, on_air: bool) -> bool:
        """live holds a take open that this listener has not published for a while (once)."""
        if not on_air or self.publishing or self.told_gone:
            return False
        if time.monotonic() - self.idle_since < self.timing.orphaned_take_s:
            return False
        self.told_gone = True
        return True

    def _live_segments(self) -> list[tuple[str, float]]:
        try:
            text = (self.dir / ffmpeg.LIVE_PLAYLIST).read_text()
        except OSError:
            return []
        return ffmpeg.playlist_segments(text)

    def _segment_stats(self) -> IncomingInfo:
        try:
            text = (self.dir / ffmpeg.LIVE_PLAYLIST).read_text()
        except OSError:
            return IncomingInfo()
        sizes: dict[str, int] = {}
        for name, _ in ffmpeg.playlist_segments(text):
            with contextlib.suppress(OSError):  # deleted meanwhile (it left the window)
                sizes[name] = (self.dir / name).stat().st_size
        return ffmpeg.segment_stats(text, sizes)


class StderrLog:
    """Reads ffmpeg's stderr to the end (a full pipe would stall it), keeping the input's
    header and the last lines, and logging the handshakes SRT refused (the first, then at
    most one line per REFUSALS_LOG_S with a count: a caller can retry in a tight loop)."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self.header: list[str] = []
        self.in_header = False
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.refusals = 0
        self.refusals_logged_at = -REFUSALS_LOG_S

    async def read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while True:
            try:
                raw = await process.stderr.readline()
            except ValueError:  # a line over the reader's limit: skipped
                continue
            if not raw:
                return
            self.feed(raw.decode(errors="replace").rstrip())

    def feed(self, line: str) -> None:
        self.tail.append(ffmpeg.redact(line))
        if "Input #0" in line:
            self.in_header = True
        elif "Output #" in line:
            self.in_header = False
        if self.in_header:
            self.header.append(line)
        if reason := ffmpeg.srt_rejection(line):
            self.refusals += 1
            now = time.monotonic()
            if now - self.refusals_logged_at >= REFUSALS_LOG_S:
                log.warning(
                    "publish refused at the SRT handshake",
                    extra={"room_id": self.room_id, "reason": reason, "count": self.refusals},
                )
                self.refusals, self.refusals_logged_at = 0, now

    def info(self) -> IncomingInfo:
        return ffmpeg.header_info(self.header)


class Supervisor:
    def __init__(self, config: MediaConfig) -> None:
        self.config = config
        self.live = LiveLink(config)
        self.listeners: dict[str, Listener] = {}
        self.stopping: dict[str, asyncio.Task[None]] = {}  # listeners on their way out
        self.stop_requested = asyncio.Event()

    async def run(self) -> None:
        """Until stop(): poll live, reconcile the listeners; then stop every ffmpeg."""
        log.info(
            "media process started",
            extra={"media_dir": str(self.config.media_dir), "live": self.config.live_url},
        )
        sender = asyncio.create_task(self.live.run())
        try:
            while not self.stop_requested.is_set():
                try:
                    wanted = await self.live.publishers()
                    if wanted is not None:
                        self.reconcile(wanted)
                except Exception:  # the loop outlives anything one round does
                    log.exception("media loop round failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_requested.wait(), self.config.timing.poll_s)
        finally:
            await self._shutdown(sender)

    def stop(self) -> None:
        self.stop_requested.set()

    def reconcile(self, wanted: Mapping[str, Publisher]) -> None:
        """Exactly one listener per wanted room, each with the room's current key."""
        for room_id, listener in list(self.listeners.items()):
            publisher = wanted.get(room_id)
            if publisher == listener.publisher:
                continue
            why = "key changed" if publisher else "no longer listed (revoked or ended)"
            log.info("stopping the room's listener", extra={"room_id": room_id, "why": why})
            del self.listeners[room_id]
            stopping = asyncio.create_task(listener.stop())
            self.stopping[room_id] = stopping
            stopping.add_done_callback(functools.partial(self._stopped, room_id))
        for room_id, publisher in wanted.items():
            if room_id not in self.listeners:
                # The new listener binds the port once the old one has let it go.
                after = self.stopping.get(room_id)
                self.listeners[room_id] = Listener(publisher, self.config, self.live, after)
            elif self.listeners[room_id].orphaned_take(publisher.on_air):
                log.info("live holds a take nobody publishes", extra={"room_id": room_id})
                body = {"room_id": room_id, "path": None, "reason": "encoder_gone"}
                self.live.send("/media/hooks/not-ready", body)

    def _stopped(self, room_id: str, task: asyncio.Task[None]) -> None:
        if self.stopping.get(room_id) is task:
            del self.stopping[room_id]

    async def _shutdown(self, sender: asyncio.Task[None]) -> None:
        stops = [listener.stop() for listener in self.listeners.values()]
        await asyncio.gather(*stops, *self.stopping.values(), return_exceptions=True)
        self.listeners.clear()
        await self.live.drain(timeout_s=2.0)  # not-ready hooks, if live is still there
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await self.live.close()
        log.info("media process stopped")


async def serve(config: MediaConfig) -> None:
    """Run the supervisor until SIGTERM or SIGINT."""
    supervisor = Supervisor(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, supervisor.stop)
    await supervisor.run()
