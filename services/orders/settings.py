from __future__ import annotations

from pydantic import Field

from shared.settings import DEV_SECRET_PREFIX, ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    port: int = 8003
    # Where the payment provider sends its callbacks (this service's public URL).
    public_url: str = ""
    payment_secret: str = DEV_SECRET_PREFIX + "payment-secret"
    payment_provider: str = Field(default="simulated", description="only 'simulated' built in")
    sim_callback_delay_s: float = Field(default=0.2, ge=0)
    sim_duplicate_rate: float = Field(default=0.1, ge=0, le=1)
    # live's public URL, for the pickup desk's link (`{LIVE_PUBLIC_URL}/desk#token=...`).
    # Empty: the Origin of the host's request (the console is live's page), else a path.
    live_public_url: str = ""
    # Referral rebates in percent per level, 1 to 3 levels: "5,2,1".
    commission_percent: str = "5,2"
    sweep_every_s: float = Field(default=1.0, gt=0)
    # Browser origins that may call this API (the live pages: viewer page, host console),
    # comma-separated. "*" is sound here: credentials are bearer headers, never cookies.
    cors_origins: str = "*"
    # Product photos: the largest upload taken (its sizes are made from it once), and how
    # many are decoded at a time (a 40-megapixel picture takes a core and some 300 MB).
    photo_max_bytes: int = Field(default=10 * 1024**2, ge=1024, le=100 * 1024**2)
    photo_workers: int = Field(default=2, ge=1, le=32)

    @property
    def callback_url(self) -> str:
        base = self.public_url or f"http://{self.host}:{self.port}"
        return base.rstrip("/") + "/payments/callback"
