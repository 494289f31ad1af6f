from __future__ import annotations

from pydantic import Field

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
    # Browser origins that may call this API (the live pages: viewer page, host console),
    # comma-separated. "*" is sound here: credentials are bearer headers, never cookies.
    cors_origins: str = "*"
