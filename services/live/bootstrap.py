"""Composition root of live: builds the service from its adapters, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from services.live import protocol
from services.live.adapters.history import ChatHistory
from services.live.adapters.hub import Hubs
from services.live.adapters.mediamtx import MediaMtxApi
from services.live.adapters.room_feed import RoomState
from services.live.adapters.room_past import room_past
from services.live.adapters.tables import LiveOutbox, metadata
from services.live.adapters.tokens import HostTokens, ViewerTokens
from services.live.domain.chat_to_buy import LineVersions
from services.live.domain.moderation import RoomRules
from services.live.domain.ratelimit import LastPosts, RateLimiter
from services.live.domain.viewers import Role
from services.live.entrypoints import subscribers
from services.live.service_layer.announcements import Announcements
from services.live.service_layer.chat_to_buy import ChatToBuy
from services.live.service_layer.interactions import Interactions
from services.live.service_layer.posts import Limits, Posts
from services.live.service_layer.room_media import LinesMedia, RoomMedia
from services.live.service_layer.rooms import RoomService
from services.live.service_layer.streams import StreamService
from services.live.service_layer.welcomes import Welcomes
from services.live.settings import LiveSettings
from shared.events import (
    ChatMessageEdited,
    ChatMessagePosted,
    IntegrationEvent,
    RoomEnded,
    RoomOpened,
    RoomStarted,
    StreamStarted,
    StreamStopped,
    ViewerJoined,
    ViewerLeft,
)
from shared.messaging import EventPublisher
from shared.objects import ROOM_MEDIA, Objects
from shared.outbox import Outbox
from shared.runtime import Infrastructure

PUBLISHES: tuple[type[IntegrationEvent], ...] = (
    RoomOpened,
    RoomStarted,
    RoomEnded,
    ViewerJoined,
    ViewerLeft,
    ChatMessagePosted,
    StreamStarted,
    StreamStopped,
)


@dataclass
class LiveApp:
    settings: LiveSettings
    infra: Infrastructure
    tokens: ViewerTokens
    host_tokens: HostTokens
    rooms: RoomService
    streams: StreamService
    interactions: Interactions
    announcements: Announcements
    rate_limiter: RateLimiter
    outbox: Outbox
    hubs: Hubs
    posts: Posts
    room_media: RoomMedia
    last_posts: LastPosts
    welcomes: Welcomes
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _history: ChatHistory | None = None
    _media: Objects | None = None

    @property
    def publisher(self) -> EventPublisher:
        return self.infra.publisher

    @property
    def history(self) -> ChatHistory:
        assert self._history is not None, "live not started"
        return self._history

    @property
    def media(self) -> Objects:
        """ROOM_MEDIA: the pictures and voice clips of the rooms (once NATS is connected:
        the subscribers may need it before the start hooks run)."""
        if self._media is None:
            self._media = self.infra.bucket(ROOM_MEDIA)
        return self._media

    async def room_state(self, room_id: str) -> RoomState:
        """A room as the database has it, when an instance starts serving it."""
        room = await self.rooms.get(room_id)
        members = await self.rooms.members(room_id)
        stream = (await self.streams.get(room_id)).stream
        return RoomState(
            status=room.status,
            title=room.title,
            rules=RoomRules.from_dict(room.rules),
            pinned_offer_id=room.pinned_offer_id,
            roles={m.customer_id: Role(m.role) for m in members if m.role != Role.MEMBER},
            muted_until={m.customer_id: _utc(m.muted_until) for m in members if m.muted_until},
            banned={m.customer_id for m in members if m.banned},
            stream=protocol.StreamFrame(
                state=stream.state,
                source=stream.source,
                url=self.streams.playback_url(stream),
                youtube_video_id=stream.youtube_video_id,
                since=_utc(stream.on_air_since) if stream.on_air_since else None,
            ),
        )

    def today(self) -> date:
        return datetime.now(UTC).date()

    async def _started(self) -> None:
        self.hubs.bind(self.infra.broker.connection)
        self._history = ChatHistory(self.infra.js)
        await self.outbox.start(self.publisher)
        self.announcements.start()

    async def _stopping(self) -> None:
        await self.announcements.stop()
        await self.welcomes.stop()
        await self.hubs.close_all()
        await self.outbox.stop()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def build(settings: LiveSettings | None = None) -> LiveApp:
    settings = settings or LiveSettings()
    infra = Infrastructure.build(settings, metadata)
    outbox = Outbox(LiveOutbox, infra.sessions)
    instance_id = uuid.uuid4().hex[:8]
    # A hub that starts serving a room first reads its offers, red packets and polls.
    # ... and its recent chat, kept in memory from then on: joining viewers' history.
    hubs = Hubs(
        instance_id,
        settings.tick_s,
        past=lambda room: room_past(infra.js, room),
        chat_past=lambda room: app.history.events(room),
    )

    async def lines_by(room_id: str, customer_id: str) -> list[str]:
        return await app.history.lines_by(room_id, customer_id)

    async def lines_media(room_id: str) -> LinesMedia:
        return await app.history.media(room_id)

    mediamtx = (
        MediaMtxApi(settings.media_api_url, settings.media_hook_secret)
        if settings.media_mode == "mediamtx" and settings.media_api_url
        else None
    )
    streams = StreamService(
        infra.sessions,
        outbox,
        settings,
        applied=hubs.apply_now,
        cut_publisher=mediamtx.cut_publisher if mediamtx else None,
    )

    def room_decided(events: list[IntegrationEvent]) -> None:
        hubs.apply_now(events)
        streams.follow(events)

    rooms = RoomService(
        infra.sessions,
        outbox,
        applied=room_decided,
        status_followers=(streams.room_status_changed,),
    )
    room_media = RoomMedia(
        infra.sessions, lambda: app.media, settings.room_media_max_bytes, history=lines_media
    )
    last_posts = LastPosts()
    interactions = Interactions(
        infra.sessions,
        outbox,
        applied=hubs.apply_now,
        lines_by=lines_by,
        deleted=room_media.release,
    )
    app = LiveApp(
        settings=settings,
        infra=infra,
        tokens=ViewerTokens(settings.secret_key, settings.viewer_token_ttl_s),
        host_tokens=HostTokens(settings.secret_key),
        rooms=rooms,
        streams=streams,
        interactions=interactions,
        announcements=Announcements(infra.sessions, lambda: infra.publisher),
        rate_limiter=RateLimiter(settings.actions_per_s, settings.actions_burst),
        outbox=outbox,
        hubs=hubs,
        posts=Posts(
            rooms,
            room_media,
            lambda: app.media,
            lambda: infra.publisher,
            Limits(
                image_bytes=settings.post_image_max_bytes,
                voice_bytes=settings.post_voice_max_bytes,
                voice_seconds=settings.post_voice_max_s,
            ),
            last_posts,
        ),
        room_media=room_media,
        last_posts=last_posts,
        welcomes=Welcomes(interactions.welcome_new, lambda line: infra.publisher.publish(line)),
        instance_id=instance_id,
    )

    async def versions(room_id: str, edit: ChatMessageEdited) -> LineVersions | None:
        return await app.history.versions(room_id, edit)

    chat_to_buy = ChatToBuy(
        app.rooms,
        lambda: infra.publisher,
        versions,
        edit_fresh_for=timedelta(seconds=settings.edit_claim_max_age_s),
    )
    subscribers.register(infra.broker, chat_to_buy, app.room_media)
    infra.on_start.append(app._started)
    infra.on_stop.append(app._stopping)
    return app
