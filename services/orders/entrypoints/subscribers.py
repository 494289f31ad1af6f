"""Claims from the rooms (chat-to-buy, buy buttons): the same checkout as HTTP."""

from __future__ import annotations

from faststream.exceptions import NackMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.orders.service_layer.amendments import Amendments, ClaimUndecided
from services.orders.service_layer.checkout import Checkout, CheckoutRequest
from shared import metrics, streams, subjects
from shared.events import AmendClaim, IntegrationEvent, PlaceClaim
from shared.messaging import decode_event

# One durable shared by every orders replica: each claim is handled by one of them.
DURABLE_CLAIMS = "orders-claims"
# The same for amendments (a buyer edited their buying line in a group).
DURABLE_AMENDMENTS = "orders-amendments"
# An amendment that overtook its claim is tried again this much later.
CLAIM_WAIT_RETRY_S = 1.0


def register(broker: NatsBroker, checkout: Checkout, amendments: Amendments) -> None:
    @broker.subscriber(
        subjects.room_event("cmd", "*", "orders.place_claim"),
        stream=JStream(streams.COMMANDS.name, declare=False),
        durable=DURABLE_CLAIMS,
        pull_sub=PullSub(batch_size=50, timeout=0.5),
        # Short: a claim stuck on a replica that lost its NATS node is redelivered soon, and
        # the claim id makes the redelivery the same order.
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_wait=10, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="orders-claims:Consume",
        description="PlaceClaim commands from rooms; the outcome goes back as OrderPlaced "
        "or ClaimRejected (private to the buyer).",
    )
    async def on_claim(event: IntegrationEvent) -> None:
        if not isinstance(event, PlaceClaim) or not event.customer_id:
            raise ValueError(f"not a claim with a buyer: {event.type}")
        # The claim id is the idempotency key: a redelivered claim is the same order.
        result = await checkout.place(claim_request(event))
        metrics.CHECKOUTS.labels("claim", result.reason or "ok").inc()

    @broker.subscriber(
        subjects.room_event("cmd", "*", "orders.amend_claim"),
        stream=JStream(streams.COMMANDS.name, declare=False),
        durable=DURABLE_AMENDMENTS,
        pull_sub=PullSub(batch_size=50, timeout=0.5),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_wait=10, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="orders-amendments:Consume",
        description="AmendClaim commands (a buyer edited the group line that placed their "
        "order): OrderAmended, or ClaimRejected with reason not_amended.",
    )
    async def on_amend(event: IntegrationEvent) -> None:
        if not isinstance(event, AmendClaim) or not event.customer_id:
            raise ValueError(f"not an amendment with a buyer: {event.type}")
        try:
            # The command's id is the idempotency key: a redelivery changes nothing.
            result = await amendments.amend(event)
        except ClaimUndecided:
            raise NackMessage(delay=CLAIM_WAIT_RETRY_S) from None
        metrics.CHECKOUTS.labels("amend", "ok" if result.ok else "not_amended").inc()


def claim_request(claim: PlaceClaim) -> CheckoutRequest:
    return CheckoutRequest(
        offer_id=claim.offer_id,
        customer_id=str(claim.customer_id),
        quantity=claim.quantity,
        key=f"claim:{claim.customer_id}:{claim.claim_id}",
        claim_id=claim.claim_id,
        variant=claim.variant,
        source=claim.source,
        referrer_id=claim.referrer_id,
        buyer_name=claim.buyer_name,
    )
