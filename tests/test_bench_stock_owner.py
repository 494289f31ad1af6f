"""Decision 0051's prototype (bench/stock_owner_app.py) against a real nats-server: what the
decision's figures rest on. Deciding in memory never sells past the stock or the limit, a
retry gets its first answer, a restarted owner rebuilds the same offer from the stream, a
second owner cannot take a held lease, and an owner that lost the race cannot append."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import KeyWrongLastSequenceError

from bench.stock_owner_app import Offer, Owner, provision
from services.orders.entrypoints.http import CheckoutIn

ONE = CheckoutIn(quantity=1)


def test_the_offer_never_sells_past_its_stock_or_the_buyers_limit() -> None:
    offer = Offer("off_1", left=2, per_buyer_limit=1)
    outcomes = [offer.decide(f"web:b{i}", f"key-{i}", ONE)[0]["outcome"] for i in range(4)]
    assert outcomes == ["placed", "placed", "sold_out_waitlisted", "sold_out_waitlisted"]
    assert (offer.left, offer.sold) == (0, 2)
    again = Offer("off_2", left=5, per_buyer_limit=1)
    again.decide("web:b0", "key-a", ONE)
    assert again.decide("web:b0", "key-b", ONE)[0]["outcome"] == "limit_reached"
    # The same key again: the first decision, not a new one.
    first, new = again.decide("web:b0", "key-a", ONE)
    assert not new and first["outcome"] == "placed" and again.sold == 1


async def test_decisions_are_stored_before_the_answer_and_a_new_owner_rebuilds_them(
    nc: NatsClient,
) -> None:
    js = nc.jetstream()
    await provision(js)
    owner = Owner(js, Offer("off_a", left=50, per_buyer_limit=1))
    await owner.start()
    try:
        answers = await asyncio.gather(
            *(owner.decide(f"web:b{i}", f"key-{i}", ONE) for i in range(80))
        )
        assert sorted(status for status, _ in answers) == [201] * 50 + [409] * 30
        # Concurrent checkouts went out in fewer appends than decisions (group commit).
        assert 1 <= owner.appends < 80
        status, body = await owner.decide("web:b3", "key-3", ONE)
        assert b'"replayed": true' in body and status == answers[3][0]
        assert (await owner.decide("web:b3", "key-3", CheckoutIn(quantity=2)))[0] == 422
    finally:
        for task in owner.tasks:
            task.cancel()
    # Another owner (the first one's lease released): the same offer from the stream.
    kv = await js.key_value("OFFER_OWNERS")
    await kv.purge("off_a")
    successor = Owner(js, Offer("off_a", left=50, per_buyer_limit=1))
    await successor.start()
    try:
        assert (successor.offer.left, successor.offer.sold) == (0, 50)
        assert successor.offer.answers == owner.offer.answers
        assert successor.last_seq == owner.last_seq
        status, _ = await successor.decide("web:new", "key-new", ONE)
        assert status == 409
    finally:
        for task in successor.tasks:
            task.cancel()


async def test_a_held_lease_is_refused_and_a_stale_owner_cannot_append(nc: NatsClient) -> None:
    js = nc.jetstream()
    await provision(js)
    first = Owner(js, Offer("off_b", left=10, per_buyer_limit=5))
    await first.start()
    with pytest.raises(KeyWrongLastSequenceError):
        await Owner(js, Offer("off_b", left=10, per_buyer_limit=5)).start()
    # Say the lease expired while `first` was paused, and a successor took over and sold.
    kv = await js.key_value("OFFER_OWNERS")
    await kv.purge("off_b")
    second = Owner(js, Offer("off_b", left=10, per_buyer_limit=5))
    await second.start()
    assert (await second.decide("web:x", "key-x", CheckoutIn(quantity=3)))[0] == 201
    # `first` wakes up and decides from its old memory: the stream refuses the append, and
    # the buyer is not told "yours".
    assert (await first.decide("web:y", "key-y", CheckoutIn(quantity=9)))[0] == 503
    assert "wrong last sequence" in str(first.failed)
    assert (await first.decide("web:z", "key-z", ONE))[0] == 503
    assert (second.offer.left, second.offer.sold) == (7, 3)
    for task in first.tasks + second.tasks:
        task.cancel()
