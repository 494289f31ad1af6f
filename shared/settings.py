"""One settings class per service, all sharing these fields.

Dev defaults let `make run` work with no setup; `ENV=production` refuses to
start while any secret still has its dev value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.money import CURRENCY_PATTERN, DEFAULT_CURRENCY

DEV_SECRET_PREFIX = "dev-insecure-"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "qunlive"
    env: Literal["dev", "test", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    # One URL, or the servers of one cluster separated by commas ("nats://a:4222,nats://b:4222"):
    # the client connects to any of them and fails over to the others.
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = ""
    data_dir: str = ".data"
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # The Object Store buckets' limits (shared/objects.py); every service provisions them.
    product_photos_bucket_bytes: int = Field(default=2 * 1024**3, ge=1024**2)
    room_media_bucket_bytes: int = Field(default=20 * 1024**3, ge=1024**2)
    log_level: str = "INFO"
    # Signs viewer and host tokens (HS256).
    secret_key: str = DEV_SECRET_PREFIX + "secret-key"
    # Bearer credential of the platform admin (creates hosts, runs any room).
    admin_token: str = DEV_SECRET_PREFIX + "admin-token"
    # The platform's one currency (ISO 4217): live's pages, ingest's messages to the groups,
    # analytics' reports and CSVs all write amounts in it (docs/decisions: one currency).
    currency: str = Field(
        default=DEFAULT_CURRENCY, pattern=CURRENCY_PATTERN, description="ISO 4217, e.g. CNY, USD"
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_code(cls, value: object) -> object:
        """A code in any case or with spaces ("usd ") is read as USD; then three letters."""
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> ServiceSettings:
        if self.env == "production":
            weak = [
                name
                for name, value in self.model_dump().items()
                if isinstance(value, str) and value.startswith(DEV_SECRET_PREFIX)
            ]
            if weak:
                raise ValueError(
                    f"ENV=production but these secrets still have dev values: {', '.join(weak)}"
                )
            if len(self.secret_key) < 32:
                raise ValueError("SECRET_KEY must be at least 32 characters in production")
            if self.effective_database_url.startswith("sqlite"):
                raise ValueError("ENV=production needs DATABASE_URL pointing at PostgreSQL")
        return self

    @property
    def nats_servers(self) -> list[str]:
        return split_servers(self.nats_url)

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL if set, else a SQLite file of this service under DATA_DIR."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir}/{self.service_name}.db"


def split_servers(nats_url: str) -> list[str]:
    """NATS_URL as the client's server list: "nats://a:4222, nats://b:4222" -> two URLs."""
    servers = [url.strip() for url in nats_url.split(",") if url.strip()]
    if not servers:
        raise ValueError("NATS_URL is empty")
    return servers
