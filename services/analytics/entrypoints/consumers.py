"""Every subscription of analytics, listed in one place: one durable consumer per stream.

They run on raw nats-py batches (adapters/consumer.py, why: decision 0008); the same
table documents them in the AsyncAPI document as FastStream subscribers.
"""

from __future__ import annotations

from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.analytics.adapters.consumer import Feed
from shared import streams, subjects
from shared.events import IntegrationEvent

FEEDS: tuple[Feed, ...] = (
    Feed(
        streams.LIVE,
        "analytics-live",
        subjects.domain_events("live"),
        "Every room, viewer, chat and interaction event, into the customer database.",
    ),
    Feed(
        streams.ORDERS,
        "analytics-orders",
        subjects.domain_events("orders"),
        "Offers, orders, payments, refunds, group buys and commissions.",
    ),
    Feed(
        streams.INGEST,
        "analytics-ingest",
        subjects.domain_events("ingest"),
        "External group chats: lines, members, reactions (accounts such as telegram:123).",
    ),
    Feed(
        streams.ANALYTICS,
        "analytics-decisions",
        subjects.domain_events("analytics"),
        "Hosts' link and unlink decisions (published by this service, applied like facts).",
    ),
)


def document(broker: NatsBroker) -> None:
    """Declare the feeds as subscribers for the AsyncAPI document only (never started)."""
    for feed in FEEDS:

        async def handler(event: IntegrationEvent) -> None:  # pragma: no cover - docs only
            del event

        broker.subscriber(
            feed.subject,
            stream=JStream(feed.stream.name, declare=False),
            durable=feed.durable,
            pull_sub=PullSub(batch_size=1000),
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_deliver=-1),
            title=f"{feed.durable}:Consume",
            description=feed.description,
        )(handler)
