"""The sender: SendToGroup jobs on a real nats-server (COMMANDS, consumer ingest-group-send)
through ingest's composition root, with an in-memory channel that records what it was
asked (test_group_delivery.py runs the same against the platforms' documented APIs)."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.ingest.adapters.tables import GroupOrderRow
from services.ingest.domain.channels import ChannelLimits, Delivered, DeliveryError, Rate
from services.ingest.entrypoints.subscribers import DURABLE_GROUP_SEND
from shared.embedded_nats import NatsServer
from shared.events import IntegrationEvent, parse_event
from shared.events.commands import LinkButton, SendToGroup
from shared.events.ingest import GroupDeliveryFailed, GroupMessageSent
from shared.messaging import H_MSG_ID, H_REASON, EventPublisher
from tests.ingest.conftest import Ingest, start_ingest, stream_messages
from tests.support import eventually

ROOM = "r_groups"
TELEGRAM = ChannelLimits(overall=(Rate(30, 1.0),), per_chat=(Rate(1, 1.0), Rate(20, 60.0)))
QUICK_RETRIES = (0.2, 0.2, 0.2)  # 4 tries, quickly


@dataclass
class Request:
    method: str  # send | edit
    chat_id: str
    message: SendToGroup
    at: float
    target: str | None = None
    answer: str = "ok"


@dataclass
class FakeChannel:
    """A Channel that keeps what it was asked, and fails as told."""

    platform: str = "telegram"
    limits: ChannelLimits = TELEGRAM
    can_edit: bool = True
    requests: list[Request] = field(default_factory=list)
    failures: dict[str, list[DeliveryError]] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(100))

    def fail_next(self, chat_id: str, *errors: DeliveryError) -> None:
        self.failures.setdefault(chat_id, []).extend(errors)

    async def send(self, message: SendToGroup) -> Delivered:
        return self._answer(Request("send", message.chat_id, message, time.monotonic()))

    async def edit(self, message: SendToGroup, platform_message_id: str) -> Delivered:
        request = Request("edit", message.chat_id, message, time.monotonic(), platform_message_id)
        return self._answer(request)

    def _answer(self, request: Request) -> Delivered:
        self.requests.append(request)
        pending = self.failures.get(request.chat_id)
        if pending:
            error = pending.pop(0)
            request.answer = error.code
            raise error
        return Delivered(platform_message_id=str(request.target or next(self.ids)))

    async def aclose(self) -> None:
        pass

    def delivered(self, chat_id: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.answer == "ok" and (chat_id is None or r.chat_id == chat_id)
        ]


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
async def ingest(
    nats_server: NatsServer, database_url: str, channel: FakeChannel
) -> AsyncIterator[Ingest]:
    async with start_ingest(
        nats_server.url,
        database_url,
        channels={"telegram": channel},
        outbound_retry_delays_s=QUICK_RETRIES,
        outbound_hold_s=3.0,
    ) as running:
        yield running


def command(key: str, **fields: Any) -> SendToGroup:
    """The job of `key` (`<event>:telegram:<chat>[:suffix]`) for that chat."""
    chat_id = key.split(":")[2]
    return SendToGroup(
        **{
            "id": key,
            "room_id": ROOM,
            "key": key,
            "platform": "telegram",
            "chat_id": chat_id,
            "kind": "announcement",
            "source_event_id": key.split(":", 1)[0],
            "text": f"message {key}",
            **fields,
        }
    )


async def queue(nc: NatsClient, *commands: SendToGroup) -> None:
    publisher = EventPublisher(nc.jetstream())
    for one in commands:
        await publisher.publish(one)


async def ingest_events(nc: NatsClient) -> list[IntegrationEvent]:
    return [parse_event(m.data) for m in await stream_messages(nc, "INGEST", f"ingest.{ROOM}.>")]


async def sender_idle(nc: NatsClient) -> bool:
    info = await nc.jetstream().consumer_info("COMMANDS", DURABLE_GROUP_SEND)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def outcome(ingest: Ingest, key: str) -> Any:
    async def probe() -> Any:
        entry = await ingest.app.outbound.entry(key)
        return entry if entry is not None and entry.state != "sending" else None

    return await eventually(probe, timeout=20)


async def test_a_message_goes_once_and_says_so(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    button = LinkButton(text="Buy on the page", url="https://example.com/r/x")
    await queue(nc, command("e1:telegram:-100", buttons=[button]))

    entry = await outcome(ingest, "e1:telegram:-100")
    assert (entry.state, entry.attempts, entry.platform_message_id) == ("sent", 1, "100")
    [request] = channel.requests
    assert request.method == "send" and request.message.buttons == [button]
    [sent] = await eventually(lambda: ingest_events(nc))
    assert isinstance(sent, GroupMessageSent)
    assert (sent.id, sent.key, sent.platform_message_id) == (
        "sent:e1:telegram:-100",
        "e1:telegram:-100",
        "100",
    )
    assert sent.source_event_id == "e1" and not sent.edited and sent.room_id == ROOM


async def test_a_republished_job_posts_nothing_new(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    first = command("e2:telegram:-100")
    await queue(nc, first)
    await outcome(ingest, first.key)
    # The same job again past JetStream's duplicate window (another Nats-Msg-Id).
    await nc.jetstream().publish(
        f"cmd.{ROOM}.ingest.send_to_group",
        first.model_dump_json().encode(),
        headers={H_MSG_ID: "republished"},
    )
    await eventually(lambda: sender_idle(nc))
    assert len(channel.requests) == 1
    events = await ingest_events(nc)  # said again with the same id: stored once
    assert [e.id for e in events] == ["sent:e2:telegram:-100"]


async def test_a_job_redelivered_after_its_send_posts_nothing_new(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent and written in the ledger, then NATS failed the event's publish: the job comes
    back, finds `sent`, publishes the event and posts nothing."""
    await ingest.bind("telegram", "-100", ROOM)
    sender = ingest.app.sender
    publish, lost = sender.publish, []

    async def lose_first(event: IntegrationEvent) -> Any:
        if not lost:
            lost.append(event)
            raise TimeoutError("nats timeout")
        return await publish(event)

    monkeypatch.setattr(sender, "publish", lose_first)
    await queue(nc, command("e3:telegram:-100"))
    [sent] = await eventually(lambda: ingest_events(nc), timeout=20)
    assert isinstance(sent, GroupMessageSent) and sent.platform_message_id == "100"
    await eventually(lambda: sender_idle(nc))
    assert len(lost) == 1 and len(channel.requests) == 1


async def test_one_chats_messages_go_one_at_a_time_a_second_apart(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    """One at a time, in the order they reach the process: JetStream's workers may hand two
    jobs queued together over in either order (decision 0032)."""
    await ingest.bind("telegram", "-100", ROOM)
    await ingest.bind("telegram", "-200", ROOM)
    keys = [f"o{n}:telegram:-100" for n in range(4)]
    await queue(nc, *(command(k) for k in keys), command("o9:telegram:-200"))

    await eventually(lambda: _count(channel, 5), timeout=20)
    mine = channel.delivered("-100")
    assert sorted(r.message.key for r in mine) == keys  # each once
    gaps = [b.at - a.at for a, b in itertools.pairwise(mine)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    other = channel.delivered("-200")[0]
    assert other.at < mine[1].at  # another chat does not wait for this one's slots


async def _count(channel: FakeChannel, n: int) -> bool:
    return len(channel.delivered()) >= n


async def test_a_429_is_honoured_and_the_message_goes_after_it(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    channel.fail_next(
        "-100", DeliveryError("rate_limited", "Too Many Requests: retry after 1", retry_after_s=1)
    )
    await queue(nc, command("e4:telegram:-100"))

    entry = await outcome(ingest, "e4:telegram:-100")
    assert (entry.state, entry.attempts) == ("sent", 2)
    refused, went = channel.requests
    assert refused.answer == "rate_limited" and went.answer == "ok"
    assert went.at - refused.at >= 1.0


async def test_a_server_error_is_retried_then_delivered(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    channel.fail_next("-100", DeliveryError("server_error", "502"), DeliveryError("network", "x"))
    await queue(nc, command("e5:telegram:-100"))

    entry = await outcome(ingest, "e5:telegram:-100")
    assert (entry.state, entry.attempts) == ("sent", 3)
    assert [r.answer for r in channel.requests] == ["server_error", "network", "ok"]
    assert await _dead_letters(nc) == []


async def test_a_platform_in_trouble_for_too_long_is_given_up(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    channel.fail_next("-100", *[DeliveryError("server_error", "502 Bad Gateway")] * 4)
    await queue(nc, command("e6:telegram:-100"))

    entry = await outcome(ingest, "e6:telegram:-100")
    assert entry.state == "failed" and entry.attempts == 4
    assert entry.reason == "server_error: gave up after 4 tries: 502 Bad Gateway"
    [failed] = await eventually(lambda: ingest_events(nc))
    assert isinstance(failed, GroupDeliveryFailed) and not failed.binding_paused
    binding = await ingest.app.outbound.binding("telegram", "-100")
    assert binding is not None and binding.paused_code is None
    [dead] = await eventually(lambda: _dead_letters(nc))
    assert "gave up after 4 tries" in dead.headers[H_REASON]


async def test_a_kicked_bot_pauses_the_binding_and_says_why(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    channel.fail_next(
        "-100",
        DeliveryError(
            "bot_removed", "Forbidden: bot was kicked from the group chat", pauses_binding=True
        ),
    )
    await queue(nc, command("e7:telegram:-100"))

    entry = await outcome(ingest, "e7:telegram:-100")
    assert entry.state == "failed" and entry.attempts == 1
    binding = await ingest.app.outbound.binding("telegram", "-100")
    assert binding is not None and binding.paused_code == "bot_removed"
    assert binding.paused_reason == "Forbidden: bot was kicked from the group chat"
    [failed] = await eventually(lambda: ingest_events(nc))
    assert isinstance(failed, GroupDeliveryFailed)
    assert (failed.code, failed.binding_paused, failed.key) == ("bot_removed", True, entry.key)
    assert failed.detail == "Forbidden: bot was kicked from the group chat"
    [dead] = await eventually(lambda: _dead_letters(nc))
    assert dead.headers[H_REASON] == "bot_removed: Forbidden: bot was kicked from the group chat"
    assert SendToGroup.model_validate_json(dead.data).key == entry.key

    # Nothing more goes to that group until the host resumes the binding.
    await queue(nc, command("e8:telegram:-100"))
    later = await outcome(ingest, "e8:telegram:-100")
    assert later.state == "skipped" and "paused: bot_removed" in later.reason
    assert len(channel.requests) == 1
    await ingest.app.bindings.store.resume("telegram", "-100")
    await queue(nc, command("e9:telegram:-100"))
    assert (await outcome(ingest, "e9:telegram:-100")).state == "sent"
    counts = await ingest.app.outbound.counts([("telegram", "-100"), ("telegram", "-1")])
    assert counts[("telegram", "-100")].sent == 1 and counts[("telegram", "-100")].failed == 1
    assert counts[("telegram", "-1")].sent == 0


async def test_not_before_holds_the_message_until_then(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    queued_at = time.monotonic()
    when = datetime.now(UTC) + timedelta(seconds=1.5)
    await queue(nc, command("e10:telegram:-100", not_before=when))

    assert (await outcome(ingest, "e10:telegram:-100")).state == "sent"
    [request] = channel.requests
    assert request.at - queued_at >= 1.4
    assert datetime.now(UTC) >= when


async def test_a_reminder_goes_only_while_the_order_is_held(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    pay_by = datetime.now(UTC) + timedelta(minutes=10)
    async with ingest.app.infra.sessions() as session:
        for order_id, state in (("o-held", "held"), ("o-paid", "paid")):
            session.add(
                GroupOrderRow(
                    order_id=order_id,
                    claim_id=f"telegram:-100:{order_id}",
                    room_id=ROOM,
                    platform="telegram",
                    chat_id="-100",
                    message_id="7",
                    state=state,
                    pay_by=pay_by,
                )
            )
        await session.commit()
    paid = command("p1:telegram:-100:reminder", kind="reminder", order_id="o-paid")
    held = command("p2:telegram:-100:reminder", kind="reminder", order_id="o-held")
    await queue(nc, paid, held)

    skipped = await outcome(ingest, paid.key)
    assert (skipped.state, skipped.reason, skipped.attempts) == (
        "skipped",
        "the order is paid",
        0,
    )
    assert (await outcome(ingest, held.key)).state == "sent"
    assert [r.message.key for r in channel.requests] == [held.key]


async def test_an_unbound_or_moved_group_gets_nothing(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-300", "r_other")
    await queue(nc, command("u1:telegram:-100"), command("u2:telegram:-300"))
    assert (await outcome(ingest, "u1:telegram:-100")).reason == "the group is no longer bound"
    moved = await outcome(ingest, "u2:telegram:-300")
    assert moved.state == "skipped" and "another room (r_other)" in moved.reason
    assert channel.requests == []


async def test_an_outcome_is_edited_in_place(
    ingest: Ingest, channel: FakeChannel, nc: NatsClient
) -> None:
    await ingest.bind("telegram", "-100", ROOM)
    original = command("placed:telegram:-100", kind="claim_outcome", reply_to="7", order_id="o1")
    edit = command(
        "paid:telegram:-100:edit", kind="claim_outcome", edit_of=original.key, order_id="o1"
    )
    await queue(nc, original, edit)

    assert (await outcome(ingest, edit.key)).platform_message_id == "100"
    first, second = channel.requests
    assert (first.method, first.message.reply_to) == ("send", "7")
    assert (second.method, second.target) == ("edit", "100")
    events = await eventually(lambda: _at_least(ingest_events(nc), 2))
    assert [(e.key, e.edited) for e in events] == [(original.key, False), (edit.key, True)]  # type: ignore[attr-defined]


async def test_a_platform_that_cannot_edit_gets_a_reply(
    nats_server: NatsServer, database_url: str, nc: NatsClient
) -> None:
    channel = FakeChannel(can_edit=False)
    async with start_ingest(
        nats_server.url, database_url, channels={"telegram": channel}
    ) as ingest:
        await ingest.bind("telegram", "-100", ROOM)
        original = command("placed:telegram:-100", kind="claim_outcome")
        edit = command("paid:telegram:-100:edit", kind="claim_outcome", edit_of=original.key)
        await queue(nc, original, edit)
        assert (await outcome(ingest, edit.key)).state == "sent"
    _, reply = channel.requests
    assert reply.method == "send" and reply.message.reply_to == "100"


async def _at_least(found: Any, n: int) -> Any:
    items = await found
    return items if len(items) >= n else None


async def _dead_letters(nc: NatsClient) -> list[Any]:
    return await stream_messages(nc, "DEADLETTER", "deadletter.ingest")
