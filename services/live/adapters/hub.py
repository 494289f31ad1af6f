"""Fan-out: NATS room subjects in, websocket frames out.

Every live instance holds a core NATS subscription (no queue group) on each
room it serves, so every instance sees every event of the room. Per room, one
tick loop turns what arrived into frames, encodes each frame once, and offers
it to every local connection. Each connection has a bounded queue; a slow
viewer loses its oldest frames (and is told, with a `gap` frame) instead of
slowing the room.

The hub also keeps the room's recent chat (`RecentChat`), from the events it fans out:
a joining viewer's history is read from memory, not from a JetStream consumer per join.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.live import protocol
from services.live.adapters.history import RecentChat
from services.live.adapters.room_feed import RoomFeed, RoomState
from services.live.domain.once import Once
from services.live.domain.viewers import Role, Viewer
from shared import metrics, subjects
from shared.events import (
    IntegrationEvent,
    ModerationApplied,
    RoomEnded,
    UnreadableEvent,
    ViewerJoined,
    ViewerLeft,
    parse_event,
)
from shared.streams import LIVE

log = logging.getLogger("qunlive.live.hub")

PRESENCE_EVERY_S = 1.0
CLOSE_REMOVED = 4403
CLOSE_ENDED = 4410  # the show ended: the page keeps what it shows and stops reconnecting
PRESENCE_STALE_S = 3.5
# Re-publishes of an event (retries, replicas, relays) are dropped within LIVE's window.
ONCE_LIMIT = 65_536
STAFF = frozenset({Role.HOST, Role.MODERATOR})  # they run the show: not viewers
# Events on the room's subjects that no frame, history or state uses: skipped before they
# are parsed. Each join and leave is one, seen by every instance: in a join storm, parsing
# them and remembering their ids cost every instance CPU and memory for every joiner.
NOT_SHOWN = tuple(f".{cls.model_fields['type'].default}" for cls in (ViewerJoined, ViewerLeft))

# What a room said before this instance served it, read from the durable streams.
PastEvents = Callable[[str], Awaitable[list[IntegrationEvent]]]


class Connection:
    """One websocket's outbound side: a bounded queue, written from the tick's own step.

    Thousands are held at once, so it is kept small (slots, a list, no task of its own):
    memory per viewer is one of live's goals. A frame offered to a connection that is
    sending nothing is written at once, in the caller's step: the write completes there
    unless the socket's buffer is full. Only then does the connection get a task, until its
    queue is drained (decision 0052: a task woken per viewer per tick was the send path's
    largest cost after the socket writes themselves)."""

    __slots__ = (
        "_close",
        "_gap",
        "_max_frames",
        "_queue",
        "_send",
        "_sending",
        "_started",
        "closing",
        "dropped",
        "failed",
        "joined_at",
        "viewer",
    )

    def __init__(
        self,
        viewer: Viewer,
        send: Callable[[str], Awaitable[None]],
        max_frames: int,
        close: Callable[[int, str], Awaitable[None]] | None = None,
    ):
        self.viewer = viewer
        self._send = send
        self._close = close
        self.closing: tuple[int, str] | None = None
        self._queue: list[str] = []  # at most max_frames: dropping the oldest is cheap
        self._max_frames = max_frames
        self._sending: asyncio.Task[None] | None = None  # only while a write waits
        self._started = False
        self.failed: BaseException | None = None
        self.dropped = 0
        self._gap = 0
        self.joined_at = time.monotonic()

    def offer(self, frame: str) -> None:
        if len(self._queue) >= self._max_frames:
            del self._queue[0]
            self.dropped += 1
            self._gap += 1
        self._queue.append(frame)
        self._drain_soon()

    def close(self, code: int, reason: str) -> None:
        """Close the socket after what is queued (kick, ban, end of show)."""
        self.closing = (code, reason)
        self._drain_soon()

    def start(self) -> None:
        """Begin writing: frames offered before (while the welcome was sent) follow it."""
        self._started = True
        self._drain_soon()

    def stop(self) -> None:
        """The socket is gone: nothing more is written (a write waiting is cancelled)."""
        self._started = False
        self._queue.clear()
        if self._sending is not None:
            self._sending.cancel()

    def _drain_soon(self) -> None:
        if self._started and self._sending is None and self.failed is None:
            self._sending = run_eagerly(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                if self._gap:  # frames were dropped while a write was stuck: say so first
                    gap, self._gap = self._gap, 0
                    await self._send(protocol.Gap(dropped=gap).model_dump_json())
                await self._send(self._queue.pop(0))
            if self.closing is not None:
                self._started = False  # nothing is written after the close
                if self._close is not None:
                    await self._close(*self.closing)
        except Exception as exc:  # the socket failed: its receiving side ends the session
            self.failed = exc
            self._queue.clear()
        finally:
            self._sending = None


def run_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` now, in the caller's step, and return None if it finished there; if it
    has to wait, the rest runs in a task (Python 3.12's eager tasks, by hand: live runs
    on 3.11)."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    task = asyncio.get_running_loop().create_task(_carry_on(coro, waiting))
    # A task cancelled before its first step never hands the cancel on: closing the
    # coroutine still runs its cleanup (a no-op once it has finished).
    task.add_done_callback(lambda _: coro.close())
    return task


@types.coroutine
def _carry_on(coro: Coroutine[Any, Any, None], waiting: Any) -> Generator[Any, Any, None]:
    """The rest of an eagerly started coroutine: what it waits on goes to the event loop,
    what the loop sends or throws goes back to it."""
    while True:
        try:
            sent = yield waiting
        except BaseException as exc:  # a cancel, or the awaited future's error
            try:
                waiting = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting = coro.send(sent)
            except StopIteration:
                return


class RoomHub:
    def __init__(self, room_id: str, instance_id: str, tick_s: float, state: RoomState) -> None:
        self.room_id = room_id
        # Kept current from the room's own events, so the hot path never asks the database.
        self.feed = RoomFeed(state)
        self.chat = RecentChat()
        self.once = Once(LIVE.duplicate_window_s, ONCE_LIMIT)
        self.instance_id = instance_id
        self.tick_s = tick_s
        self.connections: set[Connection] = set()
        # A customer's sockets (tabs): a list, as it is mostly one (a set per viewer costs
        # 216 bytes, memory per viewer is a goal).
        self._by_customer: dict[str, list[Connection]] = {}
        self._remote_counts: dict[str, tuple[int, float]] = {}
        self._last_presence = -1
        self._presence_checked = -PRESENCE_EVERY_S  # monotonic time of the last count
        self._subs: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        # While the past is read: events from the bus wait here, to be applied after it.
        self._arrived: list[IntegrationEvent] | None = None

    async def open(
        self,
        nc: NatsClient,
        past: PastEvents | None = None,
        chat_past: PastEvents | None = None,
    ) -> None:
        """Subscribe, then fold the room's past: its offers, packets and polls (`past`) into
        the feed, its recent chat (`chat_past`) into `chat`."""
        self._nc = nc
        self._arrived = []
        self._subs = [
            await nc.subscribe(subjects.room_events("live", self.room_id), cb=self._on_event),
            await nc.subscribe(subjects.room_events("orders", self.room_id), cb=self._on_event),
            await nc.subscribe(subjects.room_presence(self.room_id), cb=self._on_presence),
        ]
        # Subscribed first, then the past: nothing falls between the two, and what arrived
        # meanwhile is applied after the past, once (the past holds it too, by event id).
        earlier, chat = await asyncio.gather(
            self._read(past, "the room's past events"),
            self._read(chat_past, "the room's chat history"),
        )
        for event in earlier:
            self.once.first(event.id)  # a re-publish of it later is not shown either
            self.feed.apply(event)
        for event in chat:
            self.once.first(event.id)
            self.chat.apply(event)
        known = {event.id for event in earlier} | {event.id for event in chat}
        arrived, self._arrived = self._arrived, None
        for event in arrived:
            if event.id not in known:
                self._apply(event)
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name=f"tick-{self.room_id}"),
            asyncio.create_task(self._presence_loop(), name=f"presence-{self.room_id}"),
        ]

    async def _read(self, read: PastEvents | None, what: str) -> list[IntegrationEvent]:
        try:
            return await read(self.room_id) if read else []
        except Exception:
            log.warning(f"could not read {what}", extra={"room_id": self.room_id})
            return []

    def history(self, limit: int) -> list[protocol.ChatLine]:
        """A joining viewer's history: the recent chat without the lines still waiting for
        the next tick (the viewer is attached: those reach them in the next `chat` frame)."""
        return self.chat.recent(limit, self.feed.pending_chat_ids())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for sub in self._subs:
            await sub.unsubscribe()
        # Say we hold nobody any more, so other instances' counts drop at once.
        await self._nc.publish(subjects.presence_heartbeat(self.room_id, self.instance_id), b"0")

    @property
    def local_viewers(self) -> int:
        """Viewers on this instance: distinct customers with a viewer role (a second tab
        is the same person; the host's console and moderators run the show)."""
        role_of = self.feed.state.role_of
        return sum(1 for customer in self._by_customer if role_of(customer) not in STAFF)

    @property
    def viewer_count(self) -> int:
        """The room's viewers: this instance's and the others' (from their heartbeats)."""
        now = time.monotonic()
        remote = sum(n for n, seen in self._remote_counts.values() if now - seen < PRESENCE_STALE_S)
        return self.local_viewers + remote

    async def _on_event(self, msg: Msg) -> None:
        metrics.MESSAGES_CONSUMED.labels("room-fanout").inc()
        if msg.subject.endswith(NOT_SHOWN):
            return
        try:
            event = parse_event(msg.data)
        except UnreadableEvent as exc:
            log.warning("unreadable room event", extra={"subject": msg.subject, "reason": str(exc)})
            return
        if not self.once.first(event.id):
            return  # a re-publish: JetStream dropped it from the stream, viewers had it
        if self._arrived is not None:
            self._arrived.append(event)
            return
        self._apply(event)

    def apply_now(self, event: IntegrationEvent) -> None:
        """A decision this instance just made: in force here before its caller hears "done"
        (the room's frames follow when the event comes back from the bus)."""
        self.feed.state.apply(event)
        self.chat.apply(event)  # a line deleted here is out of the next joiner's history

    def _apply(self, event: IntegrationEvent) -> None:
        self.feed.apply(event)
        self.chat.apply(event)
        if isinstance(event, ModerationApplied) and event.action in ("kick", "ban"):
            removed = self._by_customer.get(event.customer_id or "", ())
            if removed:
                self.flush()  # the `moderation` frame (and what came before it) goes out first
            for conn in list(removed):
                conn.close(CLOSE_REMOVED, f"removed by a moderator: {event.reason}")
        elif isinstance(event, RoomEnded):
            # Everyone's watch time and likes end with the show (each connection's
            # teardown publishes them), not whenever a tab is closed later.
            self.flush()
            for conn in list(self.connections):
                conn.close(CLOSE_ENDED, "the show has ended")

    async def _on_presence(self, msg: Msg) -> None:
        instance = msg.subject.rsplit(".", 1)[-1]
        if instance != self.instance_id:
            self._remote_counts[instance] = (int(msg.data or b"0"), time.monotonic())

    @property
    def state(self) -> RoomState:
        return self.feed.state

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        metrics.WS_CONNECTIONS.labels(self.room_id).set(len(self.connections))
        self._by_customer.setdefault(conn.viewer.customer_id, []).append(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)
        metrics.WS_CONNECTIONS.labels(self.room_id).set(len(self.connections))
        mine = self._by_customer.get(conn.viewer.customer_id)
        if mine is not None and conn in mine:
            mine.remove(conn)
            if not mine:
                del self._by_customer[conn.viewer.customer_id]

    def broadcast(self, frame: str) -> None:
        metrics.WS_FRAMES_OUT.inc(len(self.connections))
        for conn in self.connections:
            conn.offer(frame)

    def send_to(self, customer_id: str, frame: str) -> None:
        for conn in self._by_customer.get(customer_id, ()):
            metrics.WS_FRAMES_OUT.inc()
            conn.offer(frame)

    def flush(self) -> None:
        """Turn what arrived since the last tick into frames, each encoded once."""
        for out in self.feed.drain():
            if out.to is None:
                self.broadcast(out.frame)
            else:
                self.send_to(out.to, out.frame)
        # The count at most once a second (the protocol's promise): in a join storm it
        # changes every tick, and a presence frame per tick doubled what every viewer was
        # sent (docs/decisions/0052-join-storm.md). A change shows within a second.
        now = time.monotonic()
        if now - self._presence_checked < PRESENCE_EVERY_S:
            return
        self._presence_checked = now
        count = self.viewer_count
        if count != self._last_presence:
            self._last_presence = count
            self.broadcast(protocol.Presence(viewers=count).model_dump_json())

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.flush()
            except Exception:
                log.exception("room tick failed", extra={"room_id": self.room_id})

    async def _presence_loop(self) -> None:
        subject = subjects.presence_heartbeat(self.room_id, self.instance_id)
        while True:
            try:
                await self._nc.publish(subject, str(self.local_viewers).encode())
            except Exception:
                log.warning("presence heartbeat failed", extra={"room_id": self.room_id})
            await asyncio.sleep(PRESENCE_EVERY_S)


class Hubs:
    """The rooms this instance serves: a hub exists while it has a local viewer."""

    def __init__(
        self,
        instance_id: str,
        tick_s: float,
        past: PastEvents | None = None,
        chat_past: PastEvents | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.tick_s = tick_s
        self._past = past
        self._chat_past = chat_past
        self._hubs: dict[str, RoomHub] = {}
        # One lock per room, alive while someone holds or waits for it: opening a room reads
        # its past from the streams, and joins to the instance's other rooms must not wait.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._nc: NatsClient | None = None

    def bind(self, nc: NatsClient) -> None:
        self._nc = nc

    def get(self, room_id: str) -> RoomHub | None:
        return self._hubs.get(room_id)

    def _lock(self, room_id: str) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()
        return lock

    async def attach(
        self, room_id: str, conn: Connection, load_state: Callable[[], Awaitable[RoomState]]
    ) -> RoomHub:
        async with self._lock(room_id):
            hub = self._hubs.get(room_id)
            if hub is None:
                if self._nc is None:
                    raise RuntimeError("hubs not bound to NATS")
                hub = RoomHub(room_id, self.instance_id, self.tick_s, await load_state())
                await hub.open(self._nc, self._past, self._chat_past)
                self._hubs[room_id] = hub
            hub.add(conn)
            return hub

    def apply_now(self, events: list[IntegrationEvent]) -> None:
        """Decisions this instance just committed, applied to the rooms it serves at once."""
        for event in events:
            hub = self._hubs.get(event.room_id)
            if hub is not None:
                hub.apply_now(event)

    async def detach(self, room_id: str, conn: Connection) -> None:
        async with self._lock(room_id):
            hub = self._hubs.get(room_id)
            if hub is None:
                return
            hub.remove(conn)
            if not hub.connections:
                del self._hubs[room_id]
                await hub.close()

    async def close_all(self) -> None:
        hubs, self._hubs = list(self._hubs.values()), {}
        for hub in hubs:
            await hub.close()
