from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    # A group line edited into a buy ("ok" -> "+1") claims only while it is this fresh (sent
    # this long before the edit at most): as ingest's LIVE_MAX_AGE_S for new lines.
    edit_claim_max_age_s: float = Field(default=600, gt=0)
    # Where the viewer page and the host console reach the other services (served to them
    # as /config.json). Empty: the page's own host name with the service's default port.
    orders_public_url: str = ""
    ingest_public_url: str = ""
    analytics_public_url: str = ""

    # ---- media posts: images and voice clips in the room (docs/websocket-protocol.md) ----
    # An upload's file, as sent (the proxy in deploy/ lets 12 MiB through).
    post_image_max_bytes: int = Field(default=10 * 1024**2, ge=1024)
    post_voice_max_bytes: int = Field(default=8 * 1024**2, ge=1024)
    post_voice_max_s: float = Field(default=60.0, gt=0, le=600)
    # Everything a room stores in ROOM_MEDIA (each image's sizes, voice clips; the groups'
    # media too), each object once: past it, posts are refused (`room_media_full`).
    room_media_max_bytes: int = Field(default=512 * 1024**2, ge=1024)

    # ---- the room's video (docs/decisions/0020-the-rooms-video.md) ----
    # embedded: the media process (python -m services.live.media, started by the launcher)
    # turns each room's SRT publish into HLS under media_dir. mediamtx: MediaMTX does it,
    # authorised by live's /media/auth hook (deploy/).
    media_mode: Literal["embedded", "mediamtx"] = "embedded"
    media_dir: str = Field(default="", description="HLS files; empty: <data_dir>/media")
    # The media process and MediaMTX's hooks authenticate with it (Bearer).
    media_hook_secret: str = DEV_SECRET_PREFIX + "media-hook-secret"
    # Embedded: each room with a live stream key listens for SRT on its own UDP port.
    srt_ports: str = Field(default="9710-9799", pattern=r"^\d{1,5}-\d{1,5}$")
    srt_bind_host: str = Field(default="127.0.0.1", description="0.0.0.0 for encoders on the LAN")
    srt_latency_ms: int = Field(default=120, ge=20, le=8000)
    # The host name encoders publish to (shown in the console); empty: the console's host.
    publish_host: str = ""
    # Where the media process reaches live (the launcher passes the real one).
    live_internal_url: str = "http://127.0.0.1:8002"
    # mediamtx: the publish addresses and the viewers' playlist; {room_id} is replaced.
    media_api_url: str = Field(
        default="", examples=["http://mediamtx:9997"], description="MediaMTX's control API"
    )
    publish_rtmp_url: str = Field(default="", examples=["rtmp://media.example.com:1935"])
    publish_srt_url: str = Field(default="", examples=["srt://media.example.com:8890"])
    playback_url_template: str = Field(
        default="/rooms/{room_id}/hls/live.m3u8", examples=["/hls/live/{room_id}/index.m3u8"]
    )
    replay_url_template: str = Field(
        default="/rooms/{room_id}/hls/replay.m3u8",
        description="Where the recording plays; empty: no replay (MediaMTX without playback)",
    )

    @property
    def media_root(self) -> Path:
        return Path(self.media_dir or Path(self.data_dir) / "media")

    @property
    def srt_port_range(self) -> range:
        low, high = (int(p) for p in self.srt_ports.split("-"))
        return range(low, high + 1)
