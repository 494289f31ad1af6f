"""Durable consumers: every live event, parsed, handed to the projection."""

from __future__ import annotations

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.analytics.service_layer.projection import Projection
from shared import streams, subjects
from shared.events import IntegrationEvent
from shared.messaging import decode_event

DURABLE_LIVE = "analytics-live"


def register(broker: NatsBroker, projection: Projection) -> None:
    @broker.subscriber(
        subjects.domain_events("live"),
        stream=JStream(streams.LIVE.name, declare=False),
        durable=DURABLE_LIVE,
        pull_sub=PullSub(batch_size=100, timeout=1.0),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_wait=60, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="analytics-live:Consume",
        description="Every room, presence and chat event, into the customer database.",
    )
    async def on_live_event(event: IntegrationEvent) -> None:
        await projection.apply(event)
