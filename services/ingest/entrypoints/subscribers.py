"""Durable consumers of ingest: fetching the groups' pictures and voice notes; sending the
messages to the groups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.exceptions import NackMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.ingest.service_layer.media import MediaFetcher
from services.ingest.service_layer.sender import Sender
from shared import streams, subjects
from shared.events import IntegrationEvent, SendToGroup
from shared.events.ingest import MEDIA_TO_FETCH_TYPE, ExternalMessageReceived
from shared.messaging import dead_letter, decode_event

# Shared by every ingest replica: each line's media is fetched by one of them.
DURABLE_GROUP_MEDIA = "ingest-group-media"
# Downloads at a time per replica (a batch is handled concurrently, then the next fetched).
CONCURRENT_DOWNLOADS = 4
# Shared by every ingest replica: each message to a group is sent by one of them.
DURABLE_GROUP_SEND = "ingest-group-send"


def register(
    broker: NatsBroker,
    fetcher: MediaFetcher,
    js: Callable[[], JetStreamContext],
    service: str,
    ack_wait_s: float,
) -> None:
    @broker.subscriber(
        subjects.room_event("ingest", "*", MEDIA_TO_FETCH_TYPE),
        stream=JStream(streams.INGEST.name, declare=False),
        durable=DURABLE_GROUP_MEDIA,
        pull_sub=PullSub(batch_size=CONCURRENT_DOWNLOADS, timeout=1.0),
        # ALL: a line published before this consumer first existed is fetched too. The
        # retries are counted here (Retry -> NackMessage(delay)), so no max_deliver.
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait_s, max_deliver=-1
        ),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{DURABLE_GROUP_MEDIA}:Consume",
        description="Lines of bound groups with a picture or voice note: download it from "
        "the platform (Telegram getFile, WhatsApp media id), store it in ROOM_MEDIA, publish "
        "chat.media_fetched (attachment, or None with the reason). Transient failures retry "
        "on MEDIA_RETRY_DELAYS_S; what cannot be fetched goes to dead letters.",
    )
    async def on_media_line(event: IntegrationEvent, message: NatsMessage) -> None:
        if not isinstance(event, ExternalMessageReceived):
            return
        meta = message.raw_message.metadata
        give_up = _dead_letterer(js(), service, message, f"{service}:media:{event.id}")
        retry = await fetcher.handle(event, meta.num_delivered, meta.timestamp, give_up)
        if retry is not None:
            raise NackMessage(delay=retry.delay_s)


def register_sender(
    broker: NatsBroker,
    sender: Sender,
    js: Callable[[], JetStreamContext],
    service: str,
    ack_wait_s: float,
    concurrency: int,
) -> None:
    @broker.subscriber(
        subjects.room_event("cmd", "*", "ingest.send_to_group"),
        stream=JStream(streams.COMMANDS.name, declare=False),
        durable=DURABLE_GROUP_SEND,
        # Workers, not batches: a job waiting for its chat's slot must not hold up the
        # fetch of other chats' jobs (a batch is fetched again only when all of it is done).
        pull_sub=PullSub(batch_size=min(concurrency, 50), timeout=0.5),
        max_workers=concurrency,
        # ALL: a message queued before this consumer first existed is sent too. Tries are
        # counted in the ledger (NackMessage(delay)), so no max_deliver.
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait_s, max_deliver=-1
        ),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{DURABLE_GROUP_SEND}:Consume",
        description="Messages to bound groups (SendToGroup, one per key): sent once within "
        "the platform's limits, one chat at a time, many chats at once. Sent: "
        "group.message_sent; refused for good: group.delivery_failed, dead letters, and the "
        "binding paused when the group refuses the bot. Transient failures retry on "
        "OUTBOUND_RETRY_DELAYS_S.",
    )
    async def on_send(event: IntegrationEvent, message: NatsMessage) -> None:
        if not isinstance(event, SendToGroup):
            return
        meta = message.raw_message.metadata
        give_up = _dead_letterer(js(), service, message, f"{service}:send:{event.key}")
        retry = await sender.handle(event, meta.num_delivered, give_up, message.in_progress)
        if retry is not None:
            raise NackMessage(delay=retry.delay_s)


def _dead_letterer(
    js: JetStreamContext, service: str, message: NatsMessage, msg_id: str
) -> Callable[[str], Awaitable[None]]:
    """What a handler calls to give the message up: to dead letters, with the reason."""
    raw = message.raw_message

    async def give_up(reason: str) -> None:
        await dead_letter(
            js,
            service=service,
            original_subject=raw.subject,
            data=raw.data,
            reason=reason,
            msg_id=msg_id,
            deliveries=raw.metadata.num_delivered,
        )

    return give_up
