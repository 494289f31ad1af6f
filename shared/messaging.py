"""Publishing events and the dead-letter policy every durable consumer shares.

Retry policy (ARCHITECTURE rule 3), chosen on purpose:
- a message that cannot be read (bad JSON, unknown type, newer version,
  failed validation) is never retried: it goes to dead letters at once;
- any other failure is retried with backoff (NACK with delay); on delivery
  MAX_DELIVERIES it goes to dead letters with the last error as the reason;
- a message is acked only after its handler finished or it was dead-lettered,
  so a crash leaves it unacked and JetStream redelivers it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.exceptions import NackMessage
from faststream.middlewares import BaseMiddleware
from faststream.nats import NatsBroker
from faststream.nats.message import NatsMessage
from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import ServerError, ServiceUnavailableError
from pydantic import ValidationError

from shared import metrics, subjects
from shared.events import IntegrationEvent, UnreadableEvent, parse_event

log = logging.getLogger("qunlive.messaging")

MAX_DELIVERIES = 5
RETRY_BACKOFF_S = (0.5, 2.0, 5.0, 15.0)

H_MSG_ID = "Nats-Msg-Id"
H_REASON = "Qunlive-Reason"
H_SERVICE = "Qunlive-Service"
H_ORIGINAL_SUBJECT = "Qunlive-Original-Subject"
H_DELIVERIES = "Qunlive-Deliveries"


class EventPublisher:
    """Publishes events to JetStream with the event id as Nats-Msg-Id (dedupe).

    Raw nats-py on purpose: this is every service's hot path (ARCHITECTURE rule 6).
    Returns once JetStream has stored the event.
    """

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, event: IntegrationEvent) -> PubAck:
        return await self.publish_raw(
            subjects.event_subject(event), event.model_dump_json().encode(), event.id
        )

    async def publish_raw(self, subject: str, payload: bytes, msg_id: str) -> PubAck:
        ack = await self._js.publish(subject, payload, headers={H_MSG_ID: msg_id})
        metrics.MESSAGES_PUBLISHED.labels(subject.split(".", 1)[0]).inc()
        return ack

    async def dead_letter(self, **kwargs: Any) -> None:
        """`dead_letter` on this publisher's JetStream."""
        await dead_letter(self._js, **kwargs)

    async def dead_letter_item(self, **kwargs: Any) -> None:
        """`dead_letter_item` on this publisher's JetStream."""
        await dead_letter_item(self._js, **kwargs)


async def dead_letter(
    js: JetStreamContext,
    *,
    service: str,
    original_subject: str,
    data: bytes,
    reason: str,
    msg_id: str | None = None,
    deliveries: int | None = None,
) -> None:
    """Keep a rejected message, untouched, with why it was rejected."""
    headers = {
        H_REASON: _header_safe(reason),
        H_SERVICE: service,
        H_ORIGINAL_SUBJECT: _header_safe(original_subject),
    }
    if msg_id:
        headers[H_MSG_ID] = msg_id
    if deliveries is not None:
        headers[H_DELIVERIES] = str(deliveries)
    await js.publish(subjects.dead_letters(service), data, headers=headers)
    metrics.DEAD_LETTERS.labels(service).inc()
    log.warning(
        "dead-lettered message",
        extra={"subject": original_subject, "reason": reason, "service": service},
    )


async def dead_letter_item(
    js: JetStreamContext,
    *,
    service: str,
    job: str,
    item: str,
    reason: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Keep a periodic job's item that was given up (a row, not a message): JSON with the
    job, the item and what the caller adds; the dedupe id is the item's, so a second give-up
    within the stream's duplicate window (a replica, a restart) adds nothing."""
    data = json.dumps({"job": job, "item": item, **(detail or {})}, default=str).encode()
    await dead_letter(
        js,
        service=service,
        original_subject=subjects.periodic_job(service, job),
        data=data,
        reason=reason,
        msg_id=f"{service}:{job}:{item}",
    )


def item_dead_letter(
    publisher: Callable[[], EventPublisher | None],
    *,
    service: str,
    job: str,
    item: str,
    **detail: Any,
) -> Callable[[str], Awaitable[None]]:
    """The dead-letter hook a periodic job hands `ItemFailures` for one item; without a
    publisher (not connected yet) the give-up is only logged, as ItemFailures does."""

    async def keep(reason: str) -> None:
        bus = publisher()
        if bus is not None:
            await bus.dead_letter_item(
                service=service, job=job, item=item, reason=reason, detail=detail
            )

    return keep


# Failures that are NATS's (away, reconnecting, electing a leader, slow), not the message's.
_TRANSIENT_NATS = (
    TimeoutError,  # nats.errors.TimeoutError and asyncio's
    OSError,
    nats_errors.NoRespondersError,
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.ConnectionDrainingError,
    nats_errors.OutboundBufferLimitError,
    nats_errors.StaleConnectionError,
    nats_errors.FlushTimeoutError,
    nats_errors.NoServersError,
    nats_errors.UnexpectedEOF,
    ServiceUnavailableError,
    ServerError,
)


def is_transient_nats_error(exc: BaseException) -> bool:
    """True when publishing may work later as it is; False when the message itself is
    refused (bad subject, over max payload, rejected by the stream)."""
    return isinstance(exc, _TRANSIENT_NATS)


def _header_safe(text: str) -> str:
    return " ".join(text.split())[:1000]


def _js_identity(raw: Msg) -> tuple[str | None, int]:
    """(dedupe id for the dead letter, deliveries so far); core messages have neither."""
    try:
        meta = raw.metadata
    except NatsError:
        return None, 1
    return f"{meta.stream}:{meta.sequence.stream}", meta.num_delivered


def dead_letter_middleware(service: str, js: JetStreamContext | None = None) -> Any:
    """A FastStream broker middleware applying the retry/dead-letter policy above."""

    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            metrics.MESSAGES_CONSUMED.labels(_consumer_name(msg.raw_message)).inc()
            try:
                return await call_next(msg)
            except (UnreadableEvent, ValidationError) as exc:
                await self._reject(msg, f"unreadable: {exc}")
            except NackMessage:
                raise
            except Exception as exc:
                _, deliveries = _js_identity(msg.raw_message)
                if deliveries < MAX_DELIVERIES and _is_jetstream(msg):
                    delay = RETRY_BACKOFF_S[min(deliveries, len(RETRY_BACKOFF_S)) - 1]
                    log.warning(
                        "handler failed, will retry",
                        extra={"subject": msg.raw_message.subject, "attempt": deliveries},
                        exc_info=exc,
                    )
                    raise NackMessage(delay=delay) from exc
                await self._reject(msg, f"failed after {deliveries} deliveries: {exc!r}")
            return None

        async def _reject(self, msg: NatsMessage, reason: str) -> None:
            raw: Msg = msg.raw_message
            stream_ctx = js or self.context.get("broker").connection.jetstream()
            msg_id, deliveries = _js_identity(raw)
            await dead_letter(
                stream_ctx,
                service=service,
                original_subject=raw.subject,
                data=raw.data,
                reason=reason,
                msg_id=f"{service}:{msg_id}" if msg_id else None,
                deliveries=deliveries,
            )
            await msg.ack()

    return DeadLetterMiddleware


def _consumer_name(raw: Msg) -> str:
    try:
        return str(raw.metadata.consumer)
    except NatsError:
        return "core"


def _is_jetstream(msg: NatsMessage) -> bool:
    return _js_identity(msg.raw_message)[0] is not None


async def decode_event(msg: NatsMessage) -> IntegrationEvent:
    """FastStream decoder: bus bytes -> a typed event, or UnreadableEvent (dead letters)."""
    return parse_event(msg.body)


def make_broker(service: str, servers: str | list[str]) -> NatsBroker:
    """FastStream's broker for a service; `servers`: one URL or a cluster's list."""
    return NatsBroker(
        servers,
        name=f"qunlive-{service}",
        middlewares=[dead_letter_middleware(service)],
        graceful_timeout=15.0,
        # Per-message "Received/Processed" lines only at DEBUG: they cost time on hot paths.
        log_level=logging.DEBUG,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
    )
