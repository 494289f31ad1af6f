"""ingest's side of NATS: events (with the webhook bodies they came in), the archive of
the other bodies, dead letters.

Every call fails fast with `NatsUnavailable` when the client is not connected
(nats-py would otherwise buffer the publish and wait for a reply that cannot
come), so the webhook answers 503 at once and the platform retries later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck
from nats.js.errors import NotFoundError

from shared import streams, subjects
from shared.events import ChatMessagePosted, IntegrationEvent
from shared.events.ingest import RawPayload
from shared.messaging import H_MSG_ID, EventPublisher, dead_letter

H_RECEIVED_AT = "Qunlive-Received-At"
CHAT_LINE_TYPE = ChatMessagePosted.model_fields["type"].default
# An ingest event that carries its webhook body (pydantic writes `"raw":null` otherwise).
_RAW_CARRIED = b'"raw":{'
_ALL = 1 << 62
# The most room lines one edit's lookup reads (headers only) to find its original.
ROOM_LINE_SCAN_MAX = 20_000


class NatsUnavailable(Exception):
    """JetStream did not confirm a store: nothing may be acknowledged."""


@dataclass(frozen=True)
class Archived:
    source: str
    raw: bytes
    received_at: datetime
    seq: int


class Bus:
    def __init__(self, service: str, publish_timeout_s: float) -> None:
        self._service = service
        self._timeout = publish_timeout_s
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._events: EventPublisher | None = None

    def bind(self, nc: NatsClient) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=self._timeout)
        self._events = EventPublisher(self._js)

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def _ready(self) -> tuple[JetStreamContext, EventPublisher]:
        if not self.connected or self._js is None or self._events is None:
            raise NatsUnavailable("not connected to NATS")
        return self._js, self._events

    async def publish(self, event: IntegrationEvent) -> PubAck:
        _, events = self._ready()
        try:
            return await events.publish(event)
        except Exception as exc:  # timeout, disconnect, stream error: not stored
            raise NatsUnavailable(f"publish failed: {exc!r}") from exc

    async def stored_at(self, ack: PubAck) -> datetime | None:
        """When the stream stored the message an ack names (a duplicate's ack names the
        first copy), by the server's clock; None when it is no longer there."""
        js, _ = self._ready()
        if not ack.seq:
            return None
        try:
            stored = await js.get_msg(ack.stream, ack.seq)
        except NotFoundError:
            return None
        except Exception as exc:
            raise NatsUnavailable(f"stored message lookup failed: {exc!r}") from exc
        return stored.time

    async def room_has_line(self, room_id: str, event_id: str, since: datetime) -> bool:
        """Whether LIVE holds the room line published with this id (Nats-Msg-Id) since
        `since`: a scan of the room's lines from then, headers only, up to
        `ROOM_LINE_SCAN_MAX` of them (an edit is rare; a line so far back is not looked for)."""
        js, _ = self._ready()
        subject = subjects.room_event("live", room_id, CHAT_LINE_TYPE)
        try:
            sub = await js.pull_subscribe(
                subject,
                stream=streams.LIVE.name,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_TIME,
                    opt_start_time=since,
                    ack_policy=AckPolicy.NONE,
                    headers_only=True,
                    inactive_threshold=10.0,
                    mem_storage=True,
                ),
            )
        except NotFoundError:
            return False
        except Exception as exc:
            raise NatsUnavailable(f"room line lookup failed: {exc!r}") from exc
        try:
            if (await sub.consumer_info()).num_pending == 0:
                return False
            seen = 0
            while seen < ROOM_LINE_SCAN_MAX:
                try:
                    batch = await sub.fetch(256, timeout=1.0)
                except TimeoutError:
                    return False
                seen += len(batch)
                if any((msg.headers or {}).get(H_MSG_ID) == event_id for msg in batch):
                    return True
                if not batch or batch[-1].metadata.num_pending == 0:
                    return False
            return False
        except NatsUnavailable:
            raise
        except Exception as exc:
            raise NatsUnavailable(f"room line lookup failed: {exc!r}") from exc
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def archive(self, source: str, raw: bytes) -> PubAck:
        """Keep the raw body as received (INGEST_RAW, a week) for a replay after a fix."""
        js, _ = self._ready()
        digest = hashlib.sha256(raw).hexdigest()
        headers = {
            "Nats-Msg-Id": f"raw:{source}:{digest}",
            H_RECEIVED_AT: datetime.now(UTC).isoformat(),
        }
        try:
            return await js.publish(subjects.raw_payload(source), raw, headers=headers)
        except Exception as exc:
            raise NatsUnavailable(f"archive failed: {exc!r}") from exc

    async def dead_letter(self, source: str, raw: bytes, reason: str) -> None:
        js, _ = self._ready()
        try:
            await dead_letter(
                js,
                service=self._service,
                original_subject=f"http:/webhooks/{source}",
                data=raw,
                reason=reason,
            )
        except Exception as exc:
            raise NatsUnavailable(f"dead letter failed: {exc!r}") from exc

    async def archived(
        self, since: datetime, source: str | None = None, limit: int = 100_000
    ) -> AsyncIterator[Archived]:
        """Bodies kept from `since`, oldest first, up to what was there when asked: those
        the ingest events carry (INGEST), then those kept apart (INGEST_RAW: bodies that
        gave no event, or too large to ride on one). At most `limit` bodies."""
        found = 0
        events = subjects.domain_events("ingest")
        async for msg in self._read(streams.INGEST, events, since, _ALL):
            # Most events carry no body: look before decoding (`"raw":null` otherwise).
            if _RAW_CARRIED not in msg.data:
                continue
            raw = RawPayload.model_validate(json.loads(msg.data)["raw"])
            if source is None or raw.source == source:
                meta = msg.metadata
                yield Archived(raw.source, raw.body, meta.timestamp, meta.sequence.stream)
                found += 1
                if found >= limit:
                    return
        subject = subjects.raw_payload(source) if source else subjects.all_raw_payloads()
        async for msg in self._read(streams.INGEST_RAW, subject, since, limit - found):
            meta = msg.metadata
            yield Archived(
                source=msg.subject.split(".", 1)[1],
                raw=msg.data,
                received_at=meta.timestamp,
                seq=meta.sequence.stream,
            )

    async def _read(
        self, stream: streams.StreamSpec, subject: str, since: datetime, limit: int
    ) -> AsyncIterator[Msg]:
        """A stream's messages on `subject` from `since`, oldest first, up to the last one
        there when asked and at most `limit`."""
        js, _ = self._ready()
        if limit <= 0:
            return
        try:
            info = await js.stream_info(stream.name, subjects_filter=subject)
        except NotFoundError:
            return
        last = info.state.last_seq
        if info.state.messages == 0:
            return
        sub = await js.pull_subscribe(
            subject,
            stream=stream.name,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=since,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30.0,
                mem_storage=True,
            ),
        )
        seen = 0
        try:
            while seen < limit:
                try:
                    batch = await sub.fetch(min(256, limit - seen), timeout=1.0)
                except TimeoutError:
                    return
                for msg in batch:
                    meta = msg.metadata
                    if meta.sequence.stream > last:
                        return
                    seen += 1
                    yield msg
                    if meta.sequence.stream == last or seen >= limit:
                        return
                if batch and batch[-1].metadata.num_pending == 0:
                    return
        finally:
            await sub.unsubscribe()
