"""Delivery you can trust, end to end: SendToGroup jobs on a real nats-server, ingest's
sender with the real channel adapters, and a local server speaking Telegram's documented
API that enforces its limits itself (tests/ingest/group_apis.py)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from shared.embedded_nats import NatsServer
from shared.events.ingest import GroupDeliveryFailed, GroupMessageSent
from shared.messaging import H_MSG_ID, H_REASON
from tests.ingest.conftest import Ingest, start_ingest
from tests.ingest.group_apis import TELEGRAM_TOKEN, GroupApis
from tests.ingest.test_sender import (
    ROOM,
    command,
    ingest_events,
    outcome,
    queue,
    sender_idle,
)
from tests.support import eventually, serving

QUICK_RETRIES = (0.2, 0.2, 0.2)


@pytest.fixture
async def apis() -> AsyncIterator[GroupApis]:
    fake = GroupApis()
    async with serving(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
async def ingest(
    nats_server: NatsServer, database_url: str, apis: GroupApis
) -> AsyncIterator[Ingest]:
    async with start_ingest(
        nats_server.url,
        database_url,
        telegram_api_base=apis.base_url,
        telegram_bot_token=TELEGRAM_TOKEN,
        outbound_retry_delays_s=QUICK_RETRIES,
        # Jobs in flight: the whole burst's next slots, so the limiter, not the workers,
        # sets the pace.
        outbound_concurrency=200,
        # The server here shares two loaded cores with the suite: a request may reach it
        # ~0.2 s after its slot, then the next ones on time, so the windows keep a wider
        # margin than the 0.1 s default for a real network.
        outbound_limit_margin_s=0.3,
    ) as running:
        yield running


def most_in_a_window(times: list[float], per_s: float) -> int:
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered[i:] if t < start + per_s) for i, start in enumerate(ordered)),
        default=0,
    )


@pytest.mark.timeout(180)
async def test_a_burst_to_a_hundred_groups_keeps_every_limit(
    ingest: Ingest, apis: GroupApis, nc: NatsClient
) -> None:
    """500 messages at once, 5 for each of 100 groups (as the planner queues them: each
    event to every group): every one posted once, and the server, which answers 429 to
    anything over Telegram's limits, never had to."""
    groups = [f"-100{n:04d}" for n in range(100)]
    for chat in groups:
        await ingest.bind("telegram", chat, ROOM)
    jobs = [command(f"ev{e}:telegram:{chat}") for e in range(5) for chat in groups]
    await queue(nc, *jobs)

    async def all_sent() -> bool:
        return len(apis.sent_times()) >= len(jobs)

    await eventually(all_sent, timeout=120, interval=0.5)
    await eventually(lambda: sender_idle(nc), timeout=20)
    assert apis.violations == []
    assert len(apis.calls) == len(jobs)  # no 429, no retry: each one request
    times = apis.sent_times()
    # Measured where the requests arrive, with the fake platform's allowance for the network
    # (`tolerance_s`): a request the limiter let go at 0.99 s may land after one sent at 1.0 s.
    assert most_in_a_window(times, 1.0 - apis.tolerance_s) <= 30
    for chat in groups:
        mine = apis.sent_times(chat)
        posted = [m.plain for m in apis.messages(chat)]
        assert sorted(posted) == [f"message ev{e}:telegram:{chat}" for e in range(5)]  # once
        assert all(b - a >= 1.0 - apis.tolerance_s for a, b in itertools.pairwise(mine)), mine
    # The pace it keeps (about 30 a second) is measured by bench/outbound.py, not here.


async def test_a_republished_job_posts_nothing_new(
    ingest: Ingest, apis: GroupApis, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-1001", ROOM)
    job = command("e1:telegram:-1001")
    await queue(nc, job)
    assert (await outcome(ingest, job.key)).state == "sent"
    await nc.jetstream().publish(
        f"cmd.{ROOM}.ingest.send_to_group",
        job.model_dump_json().encode(),
        headers={H_MSG_ID: "after-the-duplicate-window"},
    )
    await eventually(lambda: sender_idle(nc))
    assert len(apis.messages("-1001")) == 1 and len(apis.calls) == 1


async def test_a_429_retry_after_is_honoured(
    ingest: Ingest, apis: GroupApis, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-1001", ROOM)
    apis.fail_next("-1001", 429, retry_after=2)
    job = command("e2:telegram:-1001")
    await queue(nc, job)

    entry = await outcome(ingest, job.key)
    assert (entry.state, entry.attempts) == ("sent", 2)
    refused, went = apis.calls_to("-1001")
    assert refused.status == 429 and went.error is None
    assert went.at - refused.at >= 2.0
    assert len(apis.messages("-1001")) == 1


async def test_server_errors_are_retried_then_delivered(
    ingest: Ingest, apis: GroupApis, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-1001", ROOM)
    apis.fail_next("-1001", 502, n=2)
    job = command("e3:telegram:-1001")
    await queue(nc, job)

    entry = await outcome(ingest, job.key)
    assert (entry.state, entry.attempts) == ("sent", 3)
    assert [c.status for c in apis.calls_to("-1001")] == [502, 502, 200]
    [message] = apis.messages("-1001")
    assert entry.platform_message_id == message.message_id


async def test_a_kicked_bot_pauses_the_binding_says_why_and_dead_letters(
    ingest: Ingest, apis: GroupApis, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-1001", ROOM)
    apis.kick("-1001")
    job = command("e4:telegram:-1001")
    await queue(nc, job)

    entry = await outcome(ingest, job.key)
    assert entry.state == "failed" and entry.reason.startswith("bot_removed: ")
    binding = await ingest.app.outbound.binding("telegram", "-1001")
    assert binding is not None and binding.paused_code == "bot_removed"
    assert "kicked" in (binding.paused_reason or "")
    [failed] = await eventually(lambda: ingest_events(nc))
    assert isinstance(failed, GroupDeliveryFailed)
    assert failed.binding_paused and failed.code == "bot_removed" and "kicked" in failed.detail
    dead = await eventually(lambda: _dead_letters(nc))
    assert dead[0].headers[H_REASON] == entry.reason
    assert apis.messages("-1001") == []


async def test_a_claim_outcome_is_a_reply_then_edited_when_paid(
    ingest: Ingest, apis: GroupApis, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-1001", ROOM)
    apis.member_says("-1001", 42, "+1")
    held = command(
        "placed1:telegram:-1001", kind="claim_outcome", reply_to="42", text="Held for you"
    )
    paid = command(
        "paid1:telegram:-1001:edit", kind="claim_outcome", edit_of=held.key, text="Paid, thanks"
    )
    await queue(nc, held, paid)

    assert (await outcome(ingest, paid.key)).state == "sent"
    [message] = apis.messages("-1001")
    assert (message.plain, message.reply_to, message.edits) == ("Paid, thanks", "42", 1)
    events = await eventually(lambda: _at_least(nc, 2))
    assert [(e.key, e.edited) for e in events] == [(held.key, False), (paid.key, True)]
    assert all(e.platform_message_id == message.message_id for e in events)


async def _at_least(nc: NatsClient, n: int) -> list[GroupMessageSent] | None:
    events = await ingest_events(nc)
    return events if len(events) >= n else None  # type: ignore[return-value]


async def _dead_letters(nc: NatsClient) -> list[Any]:
    from tests.ingest.conftest import stream_messages

    return await stream_messages(nc, "DEADLETTER", "deadletter.ingest")
