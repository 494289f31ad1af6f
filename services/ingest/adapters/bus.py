"""ingest's side of NATS: events, the raw-payload archive, dead letters.

Every call fails fast with `NatsUnavailable` when the client is not connected
(nats-py would otherwise buffer the publish and wait for a reply that cannot
come), so the webhook answers 503 at once and the platform retries later.

`store` is the webhook's hot path, on raw nats-py like shared.messaging.EventPublisher
but cheaper: it hands all of a request's messages to the connection at once, each
with a reply subject under one inbox this Bus listens on, then awaits their
JetStream acks as plain futures. One round trip for the lot, no task per message
(asyncio.gather), no per-message timer or random token (nats-py's request()).
Profiled, the gather/request machinery was most of a webhook's CPU.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError
from prometheus_client import Counter

from shared import metrics, streams, subjects
from shared.events import IntegrationEvent
from shared.messaging import H_MSG_ID, dead_letter

H_RECEIVED_AT = "Qunlive-Received-At"


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
        self._inbox = ""  # "<inbox>." ; a store's reply subject is this plus a token
        self._tokens = itertools.count()
        self._waiting: dict[str, asyncio.Future[PubAck]] = {}
        self._published: dict[str, Counter] = {}  # metrics child per subject domain

    async def bind(self, nc: NatsClient) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=self._timeout)
        inbox = nc.new_inbox() + "."
        await nc.subscribe(inbox + "*", cb=self._on_ack)  # nats-py renews it on reconnect
        self._inbox = inbox

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def _ready(self) -> tuple[NatsClient, JetStreamContext]:
        if not self.connected or self._nc is None or self._js is None or not self._inbox:
            raise NatsUnavailable("not connected to NATS")
        return self._nc, self._js

    async def store(
        self, events: Iterable[IntegrationEvent], raw: tuple[str, bytes] | None = None
    ) -> list[PubAck]:
        """Publish the events (and `raw`, (source, body), to the archive) and return once
        JetStream stored every one: their acks, in order, the archive's last.

        Each event's id is its Nats-Msg-Id (dedupe); NatsUnavailable if any store was
        not confirmed within publish_timeout_s.
        """
        nc, _ = self._ready()
        sent: list[tuple[str, asyncio.Future[PubAck]]] = []
        stored = False
        try:
            for event in events:
                subject = subjects.event_subject(event)
                payload = event.model_dump_json().encode()
                sent.append(await self._send(nc, subject, payload, {H_MSG_ID: event.id}))
                self._count(subject)
            if raw is not None:
                sent.append(await self._send(nc, *_archive_message(*raw)))
            async with asyncio.timeout(self._timeout):
                acks = [await ack for _, ack in sent]
            stored = True
            return acks
        except Exception as exc:  # timeout, disconnect, stream error: not stored
            raise NatsUnavailable(f"store failed: {exc!r}") from exc
        finally:
            if not stored:  # (acked ones are gone already)
                self._forget(sent)

    async def archive(self, source: str, raw: bytes) -> PubAck:
        """Keep the raw body as received (INGEST_RAW, a week) for a replay after a fix."""
        return (await self.store((), (source, raw)))[0]

    async def _send(
        self, nc: NatsClient, subject: str, payload: bytes, headers: dict[str, str]
    ) -> tuple[str, asyncio.Future[PubAck]]:
        token = str(next(self._tokens))
        ack: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        self._waiting[token] = ack
        try:
            await nc.publish(subject, payload, reply=self._inbox + token, headers=headers)
        except BaseException:
            del self._waiting[token]
            raise
        return token, ack

    def _forget(self, sent: list[tuple[str, asyncio.Future[PubAck]]]) -> None:
        """After a failed store: no ack is awaited any more, and the failure is reported
        once (as NatsUnavailable), not again as a never-retrieved future exception."""
        for token, ack in sent:
            self._waiting.pop(token, None)
            if ack.done() and not ack.cancelled():
                ack.exception()
            else:
                ack.cancel()

    async def _on_ack(self, msg: Msg) -> None:
        """JetStream's answer to one store: its ack, an API error, or no stream (no data)."""
        ack = self._waiting.pop(msg.subject[len(self._inbox) :], None)
        if ack is None or ack.done():  # timed out meanwhile
            return
        if not msg.data:  # a 503 status: no stream takes this subject
            ack.set_exception(NoStreamResponseError())
            return
        try:
            reply = json.loads(msg.data)
            if "error" in reply:
                ack.set_exception(APIError.from_error(reply["error"]))
            else:
                ack.set_result(PubAck.from_response(reply))
        except Exception as exc:
            ack.set_exception(exc)

    def _count(self, subject: str) -> None:
        domain = subject.split(".", 1)[0]
        counter = self._published.get(domain)
        if counter is None:
            counter = self._published[domain] = metrics.MESSAGES_PUBLISHED.labels(domain)
        counter.inc()

    async def dead_letter(self, source: str, raw: bytes, reason: str) -> None:
        _, js = self._ready()
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
        """Archived bodies from `since`, oldest first, up to what was there when asked."""
        _, js = self._ready()
        subject = subjects.raw_payload(source) if source else subjects.all_raw_payloads()
        try:
            info = await js.stream_info(streams.INGEST_RAW.name, subjects_filter=subject)
        except NotFoundError:
            return
        last = info.state.last_seq
        if info.state.messages == 0:
            return
        sub = await js.pull_subscribe(
            subject,
            stream=streams.INGEST_RAW.name,
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
                    yield Archived(
                        source=msg.subject.split(".", 1)[1],
                        raw=msg.data,
                        received_at=meta.timestamp,
                        seq=meta.sequence.stream,
                    )
                    if meta.sequence.stream == last or seen >= limit:
                        return
                if batch and batch[-1].metadata.num_pending == 0:
                    return
        finally:
            await sub.unsubscribe()


def _archive_message(source: str, raw: bytes) -> tuple[str, bytes, dict[str, str]]:
    """The archive's copy of a body: deduped by its digest, stamped with when it arrived."""
    headers = {
        H_MSG_ID: f"raw:{source}:{hashlib.sha256(raw).hexdigest()}",
        H_RECEIVED_AT: datetime.now(UTC).isoformat(),
    }
    return subjects.raw_payload(source), raw, headers
