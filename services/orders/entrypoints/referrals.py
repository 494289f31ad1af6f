"""Referrals at the door: a viewer who joins a room through someone's invite link is theirs
from that moment (first touch), whether or not they ever buy."""

from __future__ import annotations

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.orders.service_layer.promoters import Promoters
from shared import streams, subjects
from shared.events import IntegrationEvent, ViewerJoined
from shared.messaging import decode_event

# One durable shared by every orders replica: each join is recorded by one of them.
DURABLE_REFERRALS = "orders-referrals"


def register(broker: NatsBroker, promoters: Promoters) -> None:
    @broker.subscriber(
        subjects.room_event("live", "*", "viewer.joined"),
        stream=JStream(streams.LIVE.name, declare=False),
        durable=DURABLE_REFERRALS,
        pull_sub=PullSub(batch_size=100, timeout=0.5),
        # ALL: created once, it reads the joins kept so far, then resumes where it was;
        # recording is idempotent (first touch wins), so a redelivery changes nothing.
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_wait=30, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="orders-referrals:Consume",
        description="Viewers who joined a room through an invite link (`referrer_id`): the "
        "referral is recorded at the join (first touch), for the promoter's invitations.",
    )
    async def on_join(event: IntegrationEvent) -> None:
        if isinstance(event, ViewerJoined):
            await promoters.record_join(event)
