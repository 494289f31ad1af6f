from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from shared.settings import DEV_SECRET_PREFIX, ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    port: int = 8001
    # Webhook secrets; ENV=production refuses to start while any keeps its dev value.
    # Telegram allows only A-Z, a-z, 0-9, _ and - in a secret_token.
    telegram_secret_token: str = DEV_SECRET_PREFIX + "telegram-secret-token"
    whatsapp_app_secret: str = DEV_SECRET_PREFIX + "whatsapp-app-secret"
    whatsapp_verify_token: str = DEV_SECRET_PREFIX + "whatsapp-verify-token"
    webhook_secret: str = DEV_SECRET_PREFIX + "webhook-secret"
    # Generic webhook: how far X-Qunlive-Timestamp may be from now.
    webhook_tolerance_s: float = Field(default=300, gt=0, le=3600)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # A JetStream publish that takes longer fails the request (503): the platform retries.
    publish_timeout_s: float = Field(default=2.0, gt=0)
    # Lines older than this are stored but not shown in the live room (nor claimed).
    live_max_age_s: float = Field(default=600, gt=0)
    # Bindings are cached this long; another replica sees a change within it.
    binding_cache_s: float = Field(default=2.0, ge=0)
    # Messages of unbound chats are kept this long, then pruned.
    parked_retention_days: float = Field(default=30, gt=0)
    # Pictures and voice notes from the groups (docs/ingest.md, "Media from the groups"):
    # the platforms' APIs, settings so that tests run against a local server.
    telegram_api_base: str = "https://api.telegram.org"
    telegram_bot_token: str = DEV_SECRET_PREFIX + "telegram-bot-token"
    whatsapp_graph_base: str = "https://graph.facebook.com"
    whatsapp_api_version: str = Field(default="v21.0", pattern=r"^v\d{1,3}\.\d{1,2}$")
    whatsapp_access_token: str = DEV_SECRET_PREFIX + "whatsapp-access-token"
    # Largest file fetched (Telegram serves a bot up to 20 MB); a larger one stays text.
    group_media_max_bytes: int = Field(default=20 * 1024**2, ge=64 * 1024, le=100 * 1024**2)
    # Longest voice note or audio file taken from a group (the room's player shows it).
    group_voice_max_s: float = Field(default=300, gt=0, le=600)
    # What one room may hold of the groups' media in ROOM_MEDIA (every size of a picture
    # counted); past it, a picture or voice note stays text with a reason.
    group_media_room_bytes: int = Field(default=1024**3, ge=1024**2)
    # One download (both requests) may take this long before it counts as failed.
    media_download_timeout_s: float = Field(default=60, gt=0, le=600)
    # Delays between the tries of a download that failed for a reason that may pass (network,
    # 5xx, 429, NATS away): one try, then one more after each delay. The default spans about
    # an hour: a platform's outage lasts minutes to an hour, longer than the 5 tries in ~20 s
    # of every other consumer, and a room's line waits meanwhile with its text shown.
    media_retry_delays_s: tuple[Annotated[float, Field(gt=0, le=3600)], ...] = Field(
        default=(2, 10, 30, 60, 120, 300, 600, 900, 1800), min_length=1, max_length=30
    )
    # Messages to the groups (docs/ingest.md, "The groups hear back"). The platforms' public
    # endpoints are the defaults; tests point these at a local server.
    # WhatsApp Cloud API: the business number that posts (POST /{id}/messages).
    whatsapp_phone_number_id: str = ""
    # WeCom (企业微信) group robots: POST {base}/cgi-bin/webhook/send?key=<the binding's key>.
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    # One call to a group platform (send, edit, pin) may take this long; then it counts as a
    # network failure and is retried from the queue.
    channel_timeout_s: float = Field(default=15, gt=0, le=120)
    # WhatsApp's limits for the business number: its throughput tier (80 a second until Meta
    # raises it) and, per group, a pair rate limit kept conservative (Meta: about one message
    # every 6 s to one recipient).
    whatsapp_messages_per_s: int = Field(default=80, ge=1, le=1000)
    whatsapp_pair_per_minute: int = Field(default=10, ge=1, le=60)
    # An approved WhatsApp template with one body parameter {{1}}: what goes instead when a
    # group's 24-hour window is closed (error 131047). Empty: such a message fails.
    whatsapp_template_name: str = Field(default="", pattern=r"^[a-z0-9_]{0,512}$")
    whatsapp_template_language: str = Field(default="en", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    # Where Telegram delivers updates (`python -m services.ingest.telegram setup`): the public
    # https URL of POST /webhooks/telegram. Empty: the command must be given --url.
    telegram_webhook_url: str = ""
    # Public URLs of the pages the messages link to (the room, its buy links, product photos).
    live_public_url: str = "http://127.0.0.1:8002"
    orders_public_url: str = "http://127.0.0.1:8003"
    # The planner: what goes out to the groups (docs/ingest.md, "The groups hear back").
    # Times in the messages are written in this zone (an IANA name): the community's own.
    outbound_timezone: str = "Asia/Shanghai"
    # The pay-by reminder is posted this long before an unpaid order expires; a hold shorter
    # than twice this gets none (the reply's own "pay by" is then reminder enough).
    outbound_reminder_lead_s: float = Field(default=300, ge=30, le=24 * 3600)
    # An offer's card goes to the groups at most once in this long (opened then pinned: one).
    outbound_offer_repeat_s: float = Field(default=600, ge=0, le=24 * 3600)
    # The sender (docs/ingest.md, "Delivery you can trust"). Delays between the tries of a
    # message the platform did not take for a reason that may pass (5xx, network, 429): one
    # try, then one more after each delay; a 429's retry_after is honoured. ~35 minutes.
    outbound_retry_delays_s: tuple[Annotated[float, Field(gt=0, le=3600)], ...] = Field(
        default=(2, 5, 15, 30, 60, 120, 300, 600, 900), min_length=1, max_length=30
    )
    # A message whose slot (the platform's rate limits) is this near waits for it in the
    # process; a later one goes back to the queue until then.
    outbound_hold_s: float = Field(default=5.0, ge=0.5, le=60)
    # Every limit's window is this much longer than the platform's: a request reaches it a
    # little after its slot (the event loop, the network), and a 429 costs far more.
    outbound_limit_margin_s: float = Field(default=0.1, ge=0, le=2)
    # The platforms' published limits times this (1: as published). Above 1 only where
    # the platform granted more (Telegram's paid broadcasts) or against a local server.
    outbound_limit_scale: float = Field(default=1.0, gt=0, le=1000)
    # Messages being sent (or waiting for their slot) at once per replica, all chats.
    outbound_concurrency: int = Field(default=64, ge=1, le=1024)
    # Browser origins that may call this API (the live pages: viewer page, host console),
    # comma-separated. "*" is sound here: credentials are bearer headers, never cookies.
    cors_origins: str = "*"

    @field_validator("outbound_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone this system knows: {value!r}") from None
        return value

    @field_validator(
        "telegram_api_base",
        "whatsapp_graph_base",
        "wecom_api_base",
        "live_public_url",
        "orders_public_url",
    )
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL")
        return value.rstrip("/")
