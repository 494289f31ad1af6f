"""Streams are declared in code and provisioned idempotently on a real server."""

from __future__ import annotations

import nats

from shared.embedded_nats import NatsServer
from shared.streams import ALL_STREAMS, missing_streams, provision_streams


async def test_provisioning_twice_changes_nothing_and_keeps_messages(
    nats_server: NatsServer,
) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    assert await missing_streams(js) == [spec.name for spec in ALL_STREAMS]
    await provision_streams(js)
    await js.publish("live.r1.room.started", b"{}")
    await provision_streams(js)
    assert await missing_streams(js) == []
    assert (await js.stream_info("LIVE")).state.messages == 1
    await nc.close()


async def test_chat_history_keeps_room_chat_only(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await provision_streams(js)
    await js.publish("live.r1.chat.message_posted", b"{}")
    await js.publish("live.r1.room.started", b"{}")

    async def copied() -> int:
        return (await js.stream_info("CHAT_HISTORY")).state.messages

    from tests.support import eventually

    assert await eventually(copied) == 1
    await nc.close()
