"""Batch consumption of a JetStream stream with raw nats-py, under the platform's contract.

Why not a FastStream subscriber: measured on this box (bench/analytics_projection.py
prints the references), a FastStream handler per message does ~5k events/s with the
dead-letter middleware and nothing to do, while the projection must keep up with every
room (>= 10k/s); and the middleware works per message, not per batch. So the hot path
fetches a batch, applies it in one transaction and acks after commit, keeping the same
contract as shared.messaging.dead_letter_middleware (decision 0003):

- unreadable (bad JSON, unknown type, newer version, invalid): dead-lettered at once
  with the reason, acked; the rest of the batch goes on;
- a batch that fails is retried event by event, so one bad event cannot hold back
  the others; an event that fails on its own is NAKed with the same backoff
  (0.5, 2, 5, 15 s) and dead-lettered on its 5th delivery with the last error;
- nothing is acked before its transaction committed: a crash redelivers it, and the
  projection skips ids it has applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import DEFAULT_PREFIX as JS_API_PREFIX
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError, ServiceUnavailableError

from shared import metrics
from shared.events import IntegrationEvent, UnreadableEvent, parse_event
from shared.messaging import MAX_DELIVERIES, RETRY_BACKOFF_S, dead_letter
from shared.streams import StreamSpec

log = logging.getLogger("qunlive.analytics.consumer")
STATUS = "Status"  # the header of JetStream's status messages (404, 408, 409, 100)

Apply = Callable[[Sequence[IntegrationEvent]], Awaitable[Any]]


@dataclass(frozen=True)
class Feed:
    """One durable consumer: a stream, the subjects read from it, and why."""

    stream: StreamSpec
    durable: str
    subject: str
    description: str


Decoded = tuple[list[tuple[Msg, IntegrationEvent]], list[tuple[Msg, str]]]


def decode(msgs: Sequence[Msg]) -> Decoded:
    """(message, event) for those that read; (message, why not) for the others."""
    good: list[tuple[Msg, IntegrationEvent]] = []
    bad: list[tuple[Msg, str]] = []
    for msg in msgs:
        try:
            good.append((msg, parse_event(msg.data)))
        except UnreadableEvent as exc:
            bad.append((msg, f"unreadable: {exc}"))
    return good, bad


class Puller:
    """JetStream's pull API, used directly: one request for a batch, the messages
    collected by an inbox callback.

    nats-py's `fetch` waits for each message with its own task and timeout; measured
    here it tops out near 25k messages/s, a third of this (bench/analytics_projection.py
    prints both). Same protocol: a `no_wait` request first (what is there now, ended by
    a 404/408 status); when nothing was there, a request for one message that lingers
    up to `timeout`, then what came with it. (A lingering request for a whole batch
    would hold a lone event, a room's end, until it expires: the report would wait.)
    """

    def __init__(self, nc: NatsClient, stream: str, consumer: str) -> None:
        self._nc = nc
        self._api = f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._sub: Subscription | None = None
        self._inbox = ""
        self._got: list[Msg] = []
        self._want = 0
        self._done = asyncio.Event()
        self._collecting = False

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_message(self, msg: Msg) -> None:
        if not self._collecting:
            return  # a stray status of a request already given up; messages come again
        headers = msg.headers
        if headers and not msg.data and STATUS in headers:
            if headers[STATUS] != "100":  # 404 nothing there, 408 expired, 409 gone...
                self._done.set()
            return
        self._got.append(msg)
        if len(self._got) >= self._want:
            self._done.set()

    async def _pull(self, batch: int, expires_s: float | None) -> list[Msg]:
        self._got, self._want = [], batch
        self._done.clear()
        request: dict[str, Any] = {"batch": batch}
        if expires_s is None:
            request["no_wait"] = True
        else:
            request["expires"] = int(expires_s * 1e9)
        self._collecting = True
        try:
            await self._nc.publish(self._api, json.dumps(request).encode(), reply=self._inbox)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), (expires_s or 5.0) + 1.0)
        finally:
            self._collecting = False
        return self._got

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        got = await self._pull(batch, None)
        if got:
            return got
        first = await self._pull(1, timeout)
        if not first or batch == 1:
            return first
        return first + await self._pull(batch - 1, None)


class BatchConsumer:
    def __init__(
        self,
        nc: NatsClient,
        feed: Feed,
        apply: Apply,
        *,
        service: str = "analytics",
        turn: asyncio.Lock | None = None,
        batch: int = 1000,
        fetch_timeout_s: float = 1.0,
        ack_wait_s: float = 60.0,
    ) -> None:
        self.nc, self.js, self.feed, self.apply = nc, nc.jetstream(), feed, apply
        self.service, self.batch = service, batch
        self.fetch_timeout_s, self.ack_wait_s = fetch_timeout_s, ack_wait_s
        self.dead_lettered = 0
        # Consumers sharing a turn decode, fold and write one batch at a time (see _run).
        self.turn = turn or asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._waiting = False  # awaiting a fetch: nothing in hand
        self.pending = 0  # messages the stream still holds for this consumer (last fetch)

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.feed.durable,
            description=self.feed.description,
            filter_subject=self.feed.subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,  # our policy decides when to stop (dead letters), not the server
            max_ack_pending=max(10 * self.batch, 1000),
        )

    async def start(self) -> None:
        await self.js.add_consumer(self.feed.stream.name, self.config())
        puller = Puller(self.nc, self.feed.stream.name, self.feed.durable)
        await puller.start()
        self._running = True
        self._task = asyncio.create_task(self._run(puller), name=f"consume-{self.feed.durable}")

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Finish the batch in hand (it is acked after commit), then stop fetching."""
        self._running = False
        if self._task is None:
            return
        if self._waiting:
            self._task.cancel()  # nothing in hand; a batch being applied is waited for
        done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self, sub: Puller) -> None:
        """Fetch, apply, ack; one batch at a time, and one consumer's batch at a time.

        Measured: fetching and folding the next batch while one is written is slower,
        not faster (9.5k vs 11.7k events/s at 400,000 events). The database works in
        another thread but needs the GIL for every row it binds, and every statement's
        completion waits for the event loop; both wait on the CPU work meant to overlap.
        """
        try:
            while self._running:
                self._waiting = True
                try:
                    msgs = await self._fetch(sub)
                finally:
                    self._waiting = False
                if msgs:
                    self.pending = msgs[-1].metadata.num_pending
                    async with self.turn:
                        await self._finished(self.handle(msgs))
        finally:
            await sub.stop()

    async def _finished(self, batch: Awaitable[None]) -> None:
        """A batch's outcome; a failure outside the policy above (NATS gone while
        dead-lettering, say) leaves its messages unacked: JetStream redelivers them."""
        try:
            await batch
        except Exception:
            log.exception("batch not finished; it will be redelivered")

    async def _fetch(self, sub: Puller) -> list[Msg]:
        try:
            return await sub.fetch(self.batch, timeout=self.fetch_timeout_s)
        except (TimeoutError, NatsTimeout):
            return []
        except (ConnectionClosedError, ServiceUnavailableError, NotFoundError) as exc:
            log.warning("fetch failed, retrying", extra={"error": repr(exc)})
            await asyncio.sleep(1.0)
            return []

    async def handle(self, msgs: Sequence[Msg]) -> None:
        metrics.MESSAGES_CONSUMED.labels(self.feed.durable).inc(len(msgs))
        good, bad = decode(msgs)
        for msg, reason in bad:
            await self._dead_letter(msg, reason)
        try:
            await self.apply([event for _, event in good])
        except Exception as exc:
            log.warning(
                "batch failed, applying its events one by one",
                extra={"durable": self.feed.durable, "events": len(good), "error": repr(exc)},
            )
            await self._one_by_one(good)
            return
        for msg, _ in good:
            await msg.ack()

    async def _one_by_one(self, good: list[tuple[Msg, IntegrationEvent]]) -> None:
        for msg, event in good:
            try:
                await self.apply([event])
            except Exception as exc:
                deliveries = msg.metadata.num_delivered
                if deliveries < MAX_DELIVERIES:
                    delay = RETRY_BACKOFF_S[min(deliveries, len(RETRY_BACKOFF_S)) - 1]
                    log.warning(
                        "event failed, will retry",
                        extra={"event_id": event.id, "attempt": deliveries},
                        exc_info=exc,
                    )
                    await msg.nak(delay=delay)
                else:
                    await self._dead_letter(msg, f"failed after {deliveries} deliveries: {exc!r}")
            else:
                await msg.ack()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        meta = msg.metadata
        await dead_letter(
            self.js,
            service=self.service,
            original_subject=msg.subject,
            data=msg.data,
            reason=reason,
            msg_id=f"{self.service}:{meta.stream}:{meta.sequence.stream}",
            deliveries=meta.num_delivered,
        )
        self.dead_lettered += 1
        await msg.ack()


@dataclass
class ReadProgress:
    stream: str
    done: int
    total: int
    unreadable: int


async def read_stream(
    nc: NatsClient,
    stream: StreamSpec,
    apply: Apply,
    *,
    batch: int = 1000,
    on_progress: Callable[[ReadProgress], None] | None = None,
) -> ReadProgress:
    """Every message the stream holds now, from the first, applied in batches (rebuild).

    An ephemeral consumer without acks; messages stored after the start are left to
    the durable consumers. Unreadable ones are counted and skipped: they were
    dead-lettered when the service first met them.
    """
    js = nc.jetstream()
    info = await js.stream_info(stream.name)
    last, total = info.state.last_seq, info.state.messages
    progress = ReadProgress(stream.name, 0, total, 0)
    if total == 0:
        return progress
    consumer = await js.add_consumer(
        stream.name,
        ConsumerConfig(
            filter_subject=stream.subjects[0],
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            mem_storage=True,
        ),
    )
    puller = Puller(nc, stream.name, consumer.name)
    await puller.start()
    try:
        while progress.done < total:
            msgs = await puller.fetch(batch, timeout=5.0)
            if not msgs:
                break  # the rest was removed by retention while we read
            msgs = [m for m in msgs if m.metadata.sequence.stream <= last]
            good, bad = decode(msgs)
            await apply([event for _, event in good])
            progress.done += len(msgs)
            progress.unreadable += len(bad)
            if on_progress:
                on_progress(progress)
            if not msgs or msgs[-1].metadata.sequence.stream >= last:
                break
    finally:
        await puller.stop()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream.name, consumer.name)
    return progress
