"""Durable consumers of live: one per service, so several instances claim a line once."""

from __future__ import annotations

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.live.service_layer.chat_to_buy import ChatToBuy
from services.live.service_layer.room_media import RoomMedia
from shared import streams, subjects
from shared.events import (
    ChatMediaFetched,
    ChatMessageEdited,
    ChatMessagePosted,
    IntegrationEvent,
)
from shared.messaging import decode_event

# Shared by every live instance: each external chat line is looked at by one of them.
DURABLE_CHAT_TO_BUY = "live-chat-to-buy"
# Edits of group lines ("+1" -> "+2"): each amends its line's claim once.
DURABLE_CHAT_EDITS = "live-chat-edits"
# The same for the groups' media ingest fetched: counted in its room once.
DURABLE_ROOM_MEDIA = "live-room-media"


def register(broker: NatsBroker, chat_to_buy: ChatToBuy, room_media: RoomMedia) -> None:
    @broker.subscriber(
        subjects.room_event("live", "*", "chat.message_posted"),
        stream=JStream(streams.LIVE.name, declare=False),
        durable=DURABLE_CHAT_TO_BUY,
        pull_sub=PullSub(batch_size=50, timeout=0.5),
        # NEW: created once, then it resumes where it was; history never buys.
        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW, ack_wait=30, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="live-chat-to-buy:Consume",
        description="Chat lines from external group chats that read as a buy ('+1', 'buy 2') "
        "become PlaceClaim on the room's pinned offer.",
    )
    async def on_chat_line(event: IntegrationEvent) -> None:
        if isinstance(event, ChatMessagePosted):
            await chat_to_buy.handle(event)

    @broker.subscriber(
        subjects.room_event("live", "*", "chat.message_edited"),
        stream=JStream(streams.LIVE.name, declare=False),
        durable=DURABLE_CHAT_EDITS,
        pull_sub=PullSub(batch_size=50, timeout=0.5),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW, ack_wait=30, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="live-chat-edits:Consume",
        description="Edits of group lines: a buying line edited to another quantity becomes "
        "AmendClaim; a line that becomes a buy while fresh, PlaceClaim "
        "(docs/ingest.md, Edited messages).",
    )
    async def on_chat_edit(event: IntegrationEvent) -> None:
        if isinstance(event, ChatMessageEdited):
            await chat_to_buy.handle_edit(event)

    @broker.subscriber(
        subjects.room_event("live", "*", "chat.media_fetched"),
        stream=JStream(streams.LIVE.name, declare=False),
        durable=DURABLE_ROOM_MEDIA,
        pull_sub=PullSub(batch_size=50, timeout=0.5),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_wait=30, max_deliver=-1),
        decoder=decode_event,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="live-room-media:Consume",
        description="A group's picture or voice note ingest stored in ROOM_MEDIA counts in its "
        "room's media (the room's limit); fetched for a line deleted meanwhile, it is deleted.",
    )
    async def on_media_fetched(event: IntegrationEvent) -> None:
        if isinstance(event, ChatMediaFetched):
            await room_media.record_fetched(event)
