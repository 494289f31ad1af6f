from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class LiveSettings(ServiceSettings):
    service_name: str = "live"
    port: int = 8002
    viewer_token_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Frames of room updates go out at most this often; chat is batched into them.
    tick_s: float = Field(default=0.05, gt=0)
    # Per-connection outbound queue; when full the oldest frame is dropped.
    send_queue_frames: int = Field(default=64, ge=4)
    max_frame_bytes: int = Field(default=8192, ge=512)
    # permessage-deflate keeps a zlib context per socket (~45 KiB each) and compresses
    # every tick's frame once per viewer; chat frames are small (decision 0011).
    ws_compression: bool = False
    history_size: int = Field(default=50, ge=0, le=200)
    # Per viewer: chat lines, claims, grabs, votes (likes are coalesced, not limited).
    actions_per_s: float = Field(default=2.0, gt=0)
    actions_burst: int = Field(default=6, ge=1)
    # Where the viewer page and the host console reach the other services (served to them
    # as /config.json). Empty: the page's own host name with the service's default port.
    orders_public_url: str = ""
    ingest_public_url: str = ""
    analytics_public_url: str = ""
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217, for prices")
