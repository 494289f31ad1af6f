"""The planner's durable consumers: one per stream whose events make a message to the groups.

`ingest-outbound-<source>`, shared by every ingest replica (each event planned by one of
them), filtered to the event types the planner reads (service_layer/planner.py). NEW:
created once, then resumed where it was; history never posts to a group. An event the
planner does not use is acked and ignored; one that cannot be read goes to dead letters at
once, a failing one is retried and then dead-lettered (shared.messaging's policy).
"""

from __future__ import annotations

from typing import Any

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.ingest.service_layer.planner import (
    ANALYTICS_TYPES,
    INGEST_TYPES,
    LIVE_TYPES,
    ORDERS_TYPES,
    Planner,
)
from shared import streams, subjects
from shared.events import IntegrationEvent
from shared.messaging import decode_event

SOURCES: tuple[tuple[streams.StreamSpec, str, tuple[type[IntegrationEvent], ...], str], ...] = (
    (
        streams.LIVE,
        "live",
        LIVE_TYPES,
        "The room's title and end; the preview (pinned), we are live, the pinned offer, red "
        "packets and announcements, to every bound group that wants them.",
    ),
    (
        streams.ORDERS,
        "orders",
        ORDERS_TYPES,
        "Offer cards (opened, updated, stock); a claim made in a group answered there (held "
        "with pay by and a Pay link, or why not), its reminder, and the reply edited when "
        "the order is paid, expires, is cancelled or amended.",
    ),
    (
        streams.INGEST,
        "ingest",
        INGEST_TYPES,
        "A welcome @-mention for a member who joined a bound group that wants it.",
    ),
    (
        streams.ANALYTICS,
        "analytics",
        ANALYTICS_TYPES,
        "The thank-you with the report's highlights after the show.",
    ),
)


def durable_name(source: str) -> str:
    return f"ingest-outbound-{source}"


def filter_subjects(domain: str, types: tuple[type[IntegrationEvent], ...]) -> list[str]:
    return [subjects.room_event(domain, "*", cls.model_fields["type"].default) for cls in types]


def register(broker: NatsBroker, planner: Planner) -> None:
    for stream, domain, types, description in SOURCES:
        durable = durable_name(domain)
        broker.subscriber(
            "",  # the consumer's filter subjects say what it reads
            stream=JStream(stream.name, declare=False),
            durable=durable,
            pull_sub=PullSub(batch_size=50, timeout=0.5),
            config=ConsumerConfig(
                filter_subjects=filter_subjects(domain, types),
                deliver_policy=DeliverPolicy.NEW,
                ack_wait=30,
                max_deliver=-1,
            ),
            decoder=decode_event,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{durable}:Consume",
            description=description,
        )(_handler(planner, types))


def _handler(planner: Planner, wanted: tuple[type[IntegrationEvent], ...]) -> Any:
    async def on_event(event: IntegrationEvent) -> None:
        if isinstance(event, wanted):  # anything else: acked and ignored
            await planner.handle(event)

    return on_event
