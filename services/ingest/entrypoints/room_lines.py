"""The `ingest-room-lines` durable consumer of INGEST: raw nats-py batches, not a FastStream
subscriber, since it follows every webhook (ARCHITECTURE rule 6)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from services.ingest.service_layer.room_lines import RoomLines, Stored
from shared import streams, subjects
from shared.events.ingest import MEDIA_TO_FETCH_TYPE, ExternalMessageReceived
from shared.messaging import dead_letter

log = logging.getLogger("qunlive.ingest.room_lines")

# Shared by every ingest replica: each stored line is turned into its room line by one.
DURABLE_ROOM_LINES = "ingest-room-lines"
CHAT_TYPES = (ExternalMessageReceived.model_fields["type"].default, MEDIA_TO_FETCH_TYPE)
BATCH = 256
# A batch NATS did not confirm is tried again after this (the lines' window bounds it).
RETRY_DELAY_S = 1.0
# Only events marked for the room are decoded (pydantic writes `"in_room":true`).
_IN_ROOM = b'"in_room":true'


def consumer_config(start: datetime) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=DURABLE_ROOM_LINES,
        filter_subjects=[subjects.room_event("ingest", "*", t) for t in CHAT_TYPES],
        # Created from a moment ago, not from the stream's start: older lines would not
        # go to the room anyway (their window is over).
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30.0,
        max_deliver=-1,
        max_ack_pending=4 * BATCH,
    )


class RoomLinesConsumer:
    def __init__(self, lines: RoomLines, service: str) -> None:
        self.lines = lines
        self.service = service
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._stopping = False

    async def start(self, nc: NatsClient) -> None:
        """Create the durable consumer (before the webhooks answer), then read it."""
        js = nc.jetstream()
        await self._ensure(js)
        sub = await js.pull_subscribe_bind(durable=DURABLE_ROOM_LINES, stream=streams.INGEST.name)
        self._stopping = False
        self._sub = sub
        self._task = asyncio.create_task(self._run(js, sub), name=DURABLE_ROOM_LINES)

    async def stop(self) -> None:
        task, self._task = self._task, None
        sub, self._sub = self._sub, None
        self._stopping = True
        if task is not None:
            task.cancel()  # a fetch or a publish in flight: unacked, it comes again
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sub is not None:
            # Now, not in the connection's drain: that would wait for messages a lingering
            # fetch left in the subscription's queue, which nobody takes any more.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _ensure(self, js: JetStreamContext) -> None:
        try:
            await js.consumer_info(streams.INGEST.name, DURABLE_ROOM_LINES)
        except NotFoundError:
            start = datetime.now(UTC) - timedelta(seconds=streams.LIVE.duplicate_window_s)
            with contextlib.suppress(Exception):  # another replica created it first
                await js.add_consumer(streams.INGEST.name, consumer_config(start))
            await js.consumer_info(streams.INGEST.name, DURABLE_ROOM_LINES)

    async def _run(self, js: JetStreamContext, sub: JetStreamContext.PullSubscription) -> None:
        while not self._stopping:
            try:
                msgs = await sub.fetch(BATCH, timeout=1.0)
            except TimeoutError:
                continue
            except Exception as exc:  # NATS away: try again shortly
                log.warning("room lines fetch failed", extra={"error": repr(exc)})
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            # Tried again in place, not nak'd: the room keeps its lines in order, and
            # once a line's window is over it is skipped, so this ends.
            while True:
                try:
                    await self.handle(js, msgs)
                    break
                except Exception as exc:
                    log.warning("room lines not published, will retry", extra={"error": repr(exc)})
                    await asyncio.sleep(RETRY_DELAY_S)

    async def handle(self, js: JetStreamContext, msgs: list[Msg]) -> None:
        batch: list[Stored] = []
        for msg in msgs:
            if _IN_ROOM not in msg.data:
                continue
            try:
                event = ExternalMessageReceived.model_validate_json(msg.data)
            except ValidationError as exc:  # not ingest's own contract: kept, never retried
                await dead_letter(
                    js,
                    service=self.service,
                    original_subject=msg.subject,
                    data=msg.data,
                    reason=f"not an ExternalMessageReceived: {str(exc)[:300]}",
                )
                continue
            batch.append(Stored(event, msg.metadata.timestamp))
        if batch:
            await self.lines.handle(batch)
        for msg in msgs:
            await msg.ack()
