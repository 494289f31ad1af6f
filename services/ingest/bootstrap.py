"""Composition root of ingest."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.ingest.adapters.bus import Bus
from services.ingest.adapters.channels import build_channels
from services.ingest.adapters.media_ledger import MediaLedger
from services.ingest.adapters.outbound_store import OutboundStore
from services.ingest.adapters.planner_store import PlannerStore
from services.ingest.adapters.platform_media import HttpPlatformMedia, PlatformAccess
from services.ingest.adapters.store import BindingStore, ParkedStore
from services.ingest.adapters.tables import metadata
from services.ingest.domain.channels import Channel
from services.ingest.domain.limiter import Limiter, scaled
from services.ingest.domain.planner import Config as PlannerConfig
from services.ingest.entrypoints import outbound_consumers, subscribers
from services.ingest.entrypoints.room_lines import RoomLinesConsumer
from services.ingest.service_layer.bindings import Bindings
from services.ingest.service_layer.intake import Intake
from services.ingest.service_layer.media import MediaFetcher, MediaLimits
from services.ingest.service_layer.planner import Planner
from services.ingest.service_layer.room_lines import RoomLines
from services.ingest.service_layer.sender import Sender, SenderPolicy
from services.ingest.settings import IngestSettings
from shared import objects
from shared.background import Periodic
from shared.events import ChatMediaFetched, ChatMessagePosted, IntegrationEvent
from shared.events.commands import SendToGroup
from shared.events.ingest import INGEST_EVENTS
from shared.runtime import Infrastructure
from shared.streams import LIVE

log = logging.getLogger("qunlive.ingest")

# Ingest events, the live room's chat line for bound chats (from INGEST: room_lines) and
# its fetched media, and the planner's messages to the groups (commands to ingest's own sender).
PUBLISHES: tuple[type[IntegrationEvent], ...] = (
    *INGEST_EVENTS,
    ChatMessagePosted,
    ChatMediaFetched,
    SendToGroup,
)
PRUNE_EVERY_S = 3600.0
# A media job's handler is bounded by the download's timeout, plus the checks (ffmpeg's
# decode: 20 s at most) and the stores: JetStream waits this much longer for its ack.
MEDIA_ACK_MARGIN_S = 120.0
# A send job tells JetStream it is in progress when its chat's turn comes; from then it
# takes its slot (OUTBOUND_HOLD_S at most), the request and the ledger: well within this.
SEND_ACK_WAIT_S = 120.0


@dataclass
class IngestApp:
    settings: IngestSettings
    infra: Infrastructure
    bus: Bus
    parked: ParkedStore
    intake: Intake
    bindings: Bindings
    media: MediaFetcher
    platform_media: HttpPlatformMedia
    planner: Planner
    outbound: OutboundStore
    sender: Sender
    room_lines: RoomLinesConsumer
    pruner: Periodic = field(init=False)

    def __post_init__(self) -> None:
        self.pruner = Periodic("ingest-prune-parked", self.prune_parked, PRUNE_EVERY_S)

    async def _started(self) -> None:
        self.bus.bind(self.infra.broker.connection)
        await self.room_lines.start(self.infra.broker.connection)
        self.pruner.start()

    async def _stopping(self) -> None:
        await self.room_lines.stop()
        await self.pruner.stop()
        await self.platform_media.aclose()
        await self.sender.aclose()

    async def prune_parked(self) -> None:
        """Parked messages of chats nobody binds are kept PARKED_RETENTION_DAYS, then dropped."""
        keep = timedelta(days=self.settings.parked_retention_days)
        pruned = await self.parked.prune(datetime.now(UTC) - keep)
        if pruned:
            log.info("pruned parked messages", extra={"count": pruned})


def build(
    settings: IngestSettings | None = None, channels: Mapping[str, Channel] | None = None
) -> IngestApp:
    """The service; `channels` by platform (default: the adapters to the platforms' APIs)."""
    settings = settings or IngestSettings()
    if channels is None:
        channels = build_channels(settings)
    infra = Infrastructure.build(settings, metadata)
    bus = Bus(settings.service_name, settings.publish_timeout_s)
    store = BindingStore(infra.sessions, settings.binding_cache_s)
    parked = ParkedStore(infra.sessions, infra.engine.dialect.name)
    intake = Intake(bus, store, parked, timedelta(seconds=settings.live_max_age_s))
    platform_media = HttpPlatformMedia(
        PlatformAccess(
            telegram_api_base=settings.telegram_api_base,
            telegram_bot_token=settings.telegram_bot_token,
            whatsapp_graph_base=settings.whatsapp_graph_base,
            whatsapp_api_version=settings.whatsapp_api_version,
            whatsapp_access_token=settings.whatsapp_access_token,
            timeout_s=settings.media_download_timeout_s,
        )
    )
    media = MediaFetcher(
        platform_media,
        objects=lambda: infra.bucket(objects.ROOM_MEDIA),
        ledger=MediaLedger(infra.sessions, infra.engine.dialect.name),
        # The JetStream context exists from connect on, before the subscribers start.
        publish=lambda event: infra.publisher.publish(event),
        limits=MediaLimits(
            max_bytes=settings.group_media_max_bytes,
            voice_max_s=settings.group_voice_max_s,
            room_bytes=settings.group_media_room_bytes,
            retry_delays_s=settings.media_retry_delays_s,
        ),
        live_dedupe_window=timedelta(seconds=LIVE.duplicate_window_s),
    )
    subscribers.register(
        infra.broker,
        media,
        js=lambda: infra.js,
        service=settings.service_name,
        ack_wait_s=settings.media_download_timeout_s + MEDIA_ACK_MARGIN_S,
    )
    planner = Planner(
        store,
        PlannerStore(infra.sessions),
        publish=lambda command: infra.publisher.publish(command),
        config=planner_config(settings),
    )
    outbound_consumers.register(infra.broker, planner)
    outbound = OutboundStore(infra.sessions, infra.engine.dialect.name)
    sender = Sender(
        channels,
        outbound,
        Limiter(
            {name: scaled(c.limits, settings.outbound_limit_scale) for name, c in channels.items()},
            hold_s=settings.outbound_hold_s,
            margin_s=settings.outbound_limit_margin_s,
        ),
        publish=lambda event: infra.publisher.publish(event),
        policy=SenderPolicy(retry_delays_s=settings.outbound_retry_delays_s),
    )
    subscribers.register_sender(
        infra.broker,
        sender,
        js=lambda: infra.js,
        service=settings.service_name,
        ack_wait_s=SEND_ACK_WAIT_S,
        concurrency=settings.outbound_concurrency,
    )
    app = IngestApp(
        settings=settings,
        infra=infra,
        bus=bus,
        parked=parked,
        intake=intake,
        bindings=Bindings(store, parked, intake),
        media=media,
        platform_media=platform_media,
        planner=planner,
        outbound=outbound,
        sender=sender,
        room_lines=RoomLinesConsumer(
            RoomLines(
                publish=bus.publish,
                has_line=bus.room_has_line,
                live_dedupe_window=timedelta(seconds=LIVE.duplicate_window_s),
            ),
            service=settings.service_name,
        ),
    )
    infra.on_start.append(app._started)
    infra.on_stop.append(app._stopping)
    return app


def planner_config(settings: IngestSettings) -> PlannerConfig:
    return PlannerConfig(
        live_public_url=settings.live_public_url,
        orders_public_url=settings.orders_public_url,
        secret_key=settings.secret_key,
        zone=ZoneInfo(settings.outbound_timezone),
        reminder_lead=timedelta(seconds=settings.outbound_reminder_lead_s),
        currency=settings.currency,  # the platform's CURRENCY
        offer_repeat=timedelta(seconds=settings.outbound_offer_repeat_s),
        welcome_max_age=timedelta(seconds=settings.live_max_age_s),
    )
