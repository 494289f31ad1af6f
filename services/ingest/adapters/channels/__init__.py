"""The group platforms' adapters behind services/ingest/domain/channels.Channel: Telegram,
WhatsApp, WeCom, each over its own httpx client (docs/ingest.md, "Channels")."""

from __future__ import annotations

import httpx

from services.ingest.adapters.channels.telegram import TelegramChannel
from services.ingest.adapters.channels.wecom import WeComChannel
from services.ingest.adapters.channels.whatsapp import WhatsAppChannel, WhatsAppTemplate
from services.ingest.domain.channels import Channel
from services.ingest.settings import IngestSettings

__all__ = [
    "TelegramChannel",
    "WeComChannel",
    "WhatsAppChannel",
    "WhatsAppTemplate",
    "build_channels",
]


def build_channels(
    settings: IngestSettings, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, Channel]:
    """One channel per platform, by its name (SendToGroup.platform)."""
    timeout = settings.channel_timeout_s
    template = (
        WhatsAppTemplate(settings.whatsapp_template_name, settings.whatsapp_template_language)
        if settings.whatsapp_template_name
        else None
    )
    channels: list[Channel] = [
        TelegramChannel(
            settings.telegram_api_base, settings.telegram_bot_token, timeout, transport
        ),
        WhatsAppChannel(
            settings.whatsapp_graph_base,
            settings.whatsapp_api_version,
            settings.whatsapp_phone_number_id,
            settings.whatsapp_access_token,
            timeout,
            messages_per_s=settings.whatsapp_messages_per_s,
            pair_per_minute=settings.whatsapp_pair_per_minute,
            template=template,
            transport=transport,
        ),
        WeComChannel(settings.wecom_api_base, timeout, transport),
    ]
    return {channel.platform: channel for channel in channels}
