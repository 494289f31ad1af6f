from __future__ import annotations

from pydantic import Field

from shared.settings import DEV_SECRET_PREFIX, ServiceSettings


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
    # Video, embedded path (decision DRAFT-embedded-media): the media process, a child of the
    # launcher, runs one ffmpeg SRT listener per room with a live key and writes HLS here.
    # Empty: <data_dir>/media.
    media_dir: str = ""
    # Bearer credential of the media process (and MediaMTX) on live's /media/ routes.
    media_hook_secret: str = DEV_SECRET_PREFIX + "media-hook-secret"
    # UDP ports handed out to rooms, one each: "first-last".
    srt_ports: str = Field(default="9710-9799", pattern=r"^\d{1,5}-\d{1,5}$")
    # Where the SRT listeners bind: loopback by default, "0.0.0.0" for encoders on the LAN.
    srt_bind_host: str = "127.0.0.1"
    # SRT receive latency: how long the listener waits for retransmissions of lost packets.
    srt_latency_ms: int = Field(default=120, ge=20, le=8000)
    # Where the media process reaches live's internal /media/ routes (the launcher sets it).
    live_internal_url: str = "http://127.0.0.1:8002"
