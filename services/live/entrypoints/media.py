"""The room's video over HTTP: the host's stream settings, the viewers' playback, the HLS
files, and the hooks the media side (embedded media process, MediaMTX) calls.

Decision: docs/decisions/0020-the-rooms-video.md.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Literal
from urllib.parse import parse_qs, quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from services.live.adapters.mediamtx import API_USER as MEDIAMTX_API_USER
from services.live.adapters.room_past import chapter_events
from services.live.adapters.tables import StreamRow
from services.live.domain import playlists
from services.live.domain import streams as rules
from services.live.domain.streams import BadSource, IncomingInfo, Source
from services.live.entrypoints.deps import HostDep, LiveDep, bearer
from services.live.service_layer.rooms import NotYourRoom, RoomNotFound
from services.live.service_layer.streams import NoPortLeft, StreamOver, StreamView
from shared.api import RoomIdPath, api_router
from shared.events import OfferOpened, OfferSoldOut, ProductPinned
from shared.problems import ApiError, answers, invalid_token, unauthenticated

host = api_router(prefix="/rooms/{room_id}/stream", tags=["stream (host)"])
viewers = api_router(prefix="/rooms/{room_id}", tags=["stream (viewers)"])
hooks = api_router(prefix="/media", tags=["media hooks"])

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
# Viewers read through nginx; RTMP/SRT reads would let anyone pull the raw stream.
VIEWER_PROTOCOLS = ("hls",)
HLS_FILE = re.compile(r"^(?:(live|replay)\.m3u8|[lr]\d{1,20}\.ts)$")
# A segment's name never names other bytes (numbered from epoch microseconds, per take).
SEGMENT_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "Access-Control-Allow-Origin": "*",
}
PLAYLIST_HEADERS = {"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"}


# ---- shapes -------------------------------------------------------------------------------


class StreamInfo(BaseModel):
    """The incoming stream as the media side sees it (all optional)."""

    video_codec: str | None = Field(default=None, max_length=40, examples=["h264"])
    audio_codec: str | None = Field(default=None, max_length=40, examples=["aac"])
    width: int | None = Field(default=None, ge=1, le=16384, strict=True)
    height: int | None = Field(default=None, ge=1, le=16384, strict=True)
    fps: float | None = Field(default=None, gt=0, le=1000, strict=True)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=1_000_000, strict=True)
    keyframe_interval_s: float | None = Field(default=None, gt=0, le=3600, strict=True)


class PublishAddress(BaseModel):
    """Where the host's encoder sends the show: the whole URL, or server and key apart."""

    protocol: Literal["srt", "rtmp"]
    url: str = Field(description="The whole publish URL, secret included.")
    server: str = Field(description="For apps that ask for the server and key apart.")
    stream_key: str
    note: str


class StreamSettings(BaseModel):
    state: Literal["offline", "live", "reconnecting", "ended"]
    source: Literal["encoder", "hls_url", "youtube"]
    publish: list[PublishAddress] = Field(description="Empty once the room ended (revoked).")
    key_version: int
    recommended: dict[str, object]
    incoming: StreamInfo | None
    incoming_at: datetime | None
    warnings: list[str]
    playback_url: str | None
    hosted_url: str | None
    youtube_video_id: str | None
    take: int


class SourceUpdate(BaseModel):
    source: Source
    url: str | None = Field(
        default=None,
        max_length=2000,
        description="hls_url: an https .m3u8 URL; youtube: a video link or id.",
        examples=["https://www.youtube.com/live/dQw4w9WgXcQ"],
    )


class Playback(BaseModel):
    state: Literal["offline", "live", "reconnecting", "ended"]
    source: Literal["encoder", "hls_url", "youtube"]
    url: str | None = Field(examples=["/rooms/r_8f3a2b1c9d0e/hls/live.m3u8"])
    youtube_video_id: str | None
    since: datetime | None
    replay_url: str | None


class Chapter(BaseModel):
    at_s: float = Field(description="Seconds from the start of the replay.")
    at: datetime
    kind: Literal["pinned", "opened", "sold_out"]
    offer_id: str
    title: str


class Replay(BaseModel):
    url: str
    ended: bool
    chapters: list[Chapter]


class MediaReady(BaseModel):
    room_id: str | None = Field(default=None, max_length=64)
    path: str | None = Field(default=None, max_length=200, description="MediaMTX: live/<room>")
    protocol: str | None = Field(default=None, max_length=20, examples=["srt"])
    info: StreamInfo | None = None


class MediaNotReady(BaseModel):
    room_id: str | None = Field(default=None, max_length=64)
    path: str | None = Field(default=None, max_length=200)
    reason: Literal["encoder_gone"] = "encoder_gone"


class MediaStats(BaseModel):
    room_id: str | None = Field(default=None, max_length=64)
    path: str | None = Field(default=None, max_length=200)
    info: StreamInfo


class PublisherEntry(BaseModel):
    room_id: str
    srt_port: int
    passphrase: str
    key_version: int
    on_air: bool = Field(description="live holds the room's encoder on air (a take is open).")


class Publishers(BaseModel):
    publishers: list[PublisherEntry]


class MediaAuthRequest(BaseModel):
    """MediaMTX's HTTP authentication request (authMethod: http)."""

    user: str = ""
    password: str = ""
    token: str = ""
    ip: str = ""
    action: str = Field(examples=["publish", "read", "playback", "api", "metrics", "pprof"])
    path: str = ""
    protocol: str = Field(default="", examples=["rtmp", "srt", "hls", "webrtc"])
    id: str | None = None
    query: str = ""


# ---- the host -----------------------------------------------------------------------------


@contextmanager
def _stream_errors(room_id: str) -> Iterator[None]:
    try:
        yield
    except RoomNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no room {room_id}") from None
    except NotYourRoom:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is not your room") from None
    except StreamOver:
        raise ApiError(409, "the show has ended: its stream is closed", "room_ended") from None
    except BadSource as exc:
        raise ApiError(422, str(exc), "bad_source") from None
    except NoPortLeft as exc:
        raise ApiError(503, str(exc), "no_media_port") from None


def _settings_of(request: Request, live: LiveDep, view: StreamView) -> StreamSettings:
    row = view.stream
    info = IncomingInfo(**row.incoming) if row.incoming else None
    return StreamSettings(
        state=row.state,
        source=row.source,
        publish=_addresses(request, live, row) if view.room.status != "ended" else [],
        key_version=row.key_version,
        recommended=rules.RECOMMENDED,
        incoming=StreamInfo(**asdict(info)) if info else None,
        incoming_at=row.incoming_at,
        warnings=rules.warnings(info) if row.state == "live" else [],
        playback_url=live.streams.playback_url(row),
        hosted_url=row.hosted_url,
        youtube_video_id=row.youtube_video_id,
        take=row.take,
    )


def _addresses(request: Request, live: LiveDep, row: StreamRow) -> list[PublishAddress]:
    key, config = row.stream_key, live.settings
    if key is None or row.source != Source.ENCODER:
        return []
    if config.media_mode == "embedded":
        if row.srt_port is None:
            return []
        host_name = config.publish_host or request.url.hostname or "127.0.0.1"
        server = f"srt://{host_name}:{row.srt_port}"
        return [
            PublishAddress(
                protocol="srt",
                url=f"{server}?passphrase={key}&pbkeylen=16",
                server=server,
                stream_key=key,
                note="OBS: Settings > Stream > Service 'Custom', Server = the whole URL, "
                "no key. Larix: a new SRT connection with this URL (or passphrase = the key).",
            )
        ]
    path = f"live/{row.room_id}"
    out = []
    if config.publish_rtmp_url:
        server = f"{config.publish_rtmp_url.rstrip('/')}/live"
        stream_key = f"{row.room_id}?user=host&pass={quote(key)}"
        out.append(
            PublishAddress(
                protocol="rtmp",
                url=f"{server}/{stream_key}",
                server=server,
                stream_key=stream_key,
                note="OBS: Service 'Custom', Server and Stream Key as shown.",
            )
        )
    if config.publish_srt_url:
        server = config.publish_srt_url.rstrip("/")
        streamid = f"publish:{path}:host:{key}"
        out.append(
            PublishAddress(
                protocol="srt",
                url=f"{server}?streamid={streamid}",
                server=server,
                stream_key=streamid,
                note="OBS: Server = the whole URL. Larix: SRT, stream id as shown.",
            )
        )
    return out


@host.get("", response_model=StreamSettings)
async def stream_settings(
    room_id: RoomIdPath, request: Request, live: LiveDep, principal: HostDep
) -> StreamSettings:
    """Where the host's encoder publishes (secret key included), the recommended encoder
    settings, and what arrives: codec, resolution, fps, bitrate, keyframe interval."""
    with _stream_errors(room_id):
        view = await live.streams.view(room_id, principal.id, principal.is_admin)
    return _settings_of(request, live, view)


@host.post("/key", response_model=StreamSettings, responses=answers(409, 503))
async def rotate_key(
    room_id: RoomIdPath, request: Request, live: LiveDep, principal: HostDep
) -> StreamSettings:
    """A new stream key: the old one is refused from now on, its publisher cut."""
    with _stream_errors(room_id):
        view = await live.streams.rotate_key(room_id, principal.id, principal.is_admin)
    return _settings_of(request, live, view)


@host.put("/source", response_model=StreamSettings, responses=answers(409, 503))
async def set_source(
    room_id: RoomIdPath, body: SourceUpdate, request: Request, live: LiveDep, principal: HostDep
) -> StreamSettings:
    """The host's own encoder, a stream hosted elsewhere (https .m3u8), or a YouTube video."""
    with _stream_errors(room_id):
        view = await live.streams.set_source(
            room_id, body.source, body.url, principal.id, principal.is_admin
        )
    return _settings_of(request, live, view)


# ---- viewers ------------------------------------------------------------------------------


@viewers.get("/playback", response_model=Playback)
async def playback(room_id: RoomIdPath, live: LiveDep) -> Playback:
    """What the viewer page plays now (also pushed on the websocket as `stream` frames)."""
    with _stream_errors(room_id):
        view = await live.streams.get(room_id)
    row = view.stream
    return Playback(
        state=row.state,
        source=row.source,
        url=live.streams.playback_url(row),
        youtube_video_id=row.youtube_video_id,
        since=row.on_air_since,
        replay_url=live.streams.replay_url(row),
    )


@viewers.get("/replay", response_model=Replay)
async def replay(room_id: RoomIdPath, live: LiveDep) -> Replay:
    """The show's recording and its chapters: offers pinned, opened and sold out."""
    with _stream_errors(room_id):
        view = await live.streams.get(room_id)
    url = live.streams.replay_url(view.stream)
    if url is None:
        raise ApiError(404, "nothing of this show was recorded", "no_replay")
    recorded = _hls_dir(live, room_id) / "replay.m3u8"
    segments = playlists.timeline(recorded.read_text()) if recorded.is_file() else []
    events = await chapter_events(live.infra.js, room_id)
    titles = {e.offer_id: e.title for e in events if isinstance(e, OfferOpened)}
    chapters = []
    for event in events:
        match event:
            case ProductPinned(offer_id=str(offer_id)):
                kind, offer = "pinned", offer_id
            case OfferOpened() | OfferSoldOut():
                kind = "opened" if isinstance(event, OfferOpened) else "sold_out"
                offer = event.offer_id
            case _:
                continue
        at_s = playlists.offset_at(segments, event.occurred_at) if segments else None
        if at_s is None:
            continue  # before or after what was recorded
        chapters.append(
            Chapter(
                at_s=round(at_s, 2),
                at=event.occurred_at,
                kind=kind,
                offer_id=offer,
                title=titles.get(offer, offer),
            )
        )
    return Replay(url=url, ended=view.room.status == "ended", chapters=chapters)


def _hls_dir(live: LiveDep, room_id: str) -> FilePath:
    return live.settings.media_root / "hls" / room_id


@viewers.head("/hls/{name}", include_in_schema=False)
@viewers.get(
    "/hls/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "A playlist (never cached) or a segment (immutable).",
            "content": {PLAYLIST_TYPE: {}, "video/mp2t": {}},
        }
    },
)
async def hls_file(room_id: RoomIdPath, name: str, live: LiveDep) -> Response:
    """The room's HLS: live.m3u8 (the live window), replay.m3u8 (every take), segments."""
    if not HLS_FILE.match(name):
        raise ApiError(404, f"no such file {name}", "not_found")
    path = _hls_dir(live, room_id) / name
    if not path.is_file():
        raise ApiError(404, f"{name} is not there (yet)", "not_found")
    if name == "replay.m3u8":
        ended = (await live.streams.get(room_id)).room.status == "ended"
        text = playlists.replay_playlist(path.read_text(), ended)
        return Response(text, media_type=PLAYLIST_TYPE, headers=PLAYLIST_HEADERS)
    if name.endswith(".m3u8"):
        # Read once: ffmpeg replaces the playlist every segment, and a file response that
        # measured one version could send another (Content-Length mismatch, seen in bench).
        return Response(path.read_bytes(), media_type=PLAYLIST_TYPE, headers=PLAYLIST_HEADERS)
    return FileResponse(path, media_type="video/mp2t", headers=SEGMENT_HEADERS)


# ---- the media side -----------------------------------------------------------------------


def require_media(
    live: LiveDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """The media process and MediaMTX's hooks present MEDIA_HOOK_SECRET."""
    if credentials is None:
        raise unauthenticated("the media hook secret")
    expected = live.settings.media_hook_secret.encode()
    if not secrets.compare_digest(credentials.credentials.encode(), expected):
        raise invalid_token("not the media hook secret")


MediaDep = Annotated[None, Depends(require_media)]


def _room_of(body: MediaReady | MediaNotReady | MediaStats) -> str:
    room_id = body.room_id or (rules.room_of_path(body.path) if body.path else None)
    if not room_id:
        raise ApiError(422, "say which room: room_id, or path live/<room_id>", "no_room")
    return room_id


def _info(info: StreamInfo | None) -> IncomingInfo | None:
    return IncomingInfo(**info.model_dump()) if info else None


@hooks.get("/publishers", response_model=Publishers)
async def publishers(live: LiveDep, _: MediaDep) -> Publishers:
    """Embedded media process: the rooms to listen for, each with its port and passphrase."""
    return Publishers(
        publishers=[PublisherEntry(**asdict(p)) for p in await live.streams.publishers()]
    )


@hooks.post("/hooks/ready", status_code=204, response_class=Response)
async def media_ready(body: MediaReady, live: LiveDep, _: MediaDep) -> Response:
    """The encoder publishes: a take starts (stream.started), once however often said."""
    room_id = _room_of(body)
    with _stream_errors(room_id):
        await live.streams.on_air(room_id, body.protocol, _info(body.info))
    return Response(status_code=204)


@hooks.post("/hooks/not-ready", status_code=204, response_class=Response)
async def media_not_ready(body: MediaNotReady, live: LiveDep, _: MediaDep) -> Response:
    """The encoder stopped or dropped: the take ends (stream.stopped)."""
    room_id = _room_of(body)
    with _stream_errors(room_id):
        await live.streams.off_air(room_id, body.reason)
    return Response(status_code=204)


@hooks.post("/hooks/stats", status_code=204, response_class=Response)
async def media_stats(body: MediaStats, live: LiveDep, _: MediaDep) -> Response:
    """What arrives (codec, resolution, fps, bitrate, keyframe interval), for the console."""
    room_id = _room_of(body)
    with _stream_errors(room_id):
        await live.streams.stats(room_id, IncomingInfo(**body.info.model_dump()))
    return Response(status_code=204)


@hooks.post(
    "/auth",
    status_code=204,
    response_class=Response,
    openapi_extra={"security": [{}]},
    responses={401: {"description": "Not allowed: a wrong key, an ended room, another action."}},
)
async def media_auth(body: MediaAuthRequest, live: LiveDep) -> Response:
    """MediaMTX's authentication hook: publish with the room's current key, read any room
    over HLS (viewers), the control API with the media secret (live itself)."""
    room_id = rules.room_of_path(body.path)
    allowed = False
    if room_id is not None and body.action == "publish":
        given = body.password or _query_value(body.query, "pass") or body.token
        allowed = bool(given) and await live.streams.may_publish(room_id, given)
    elif room_id is not None and body.action == "read" and body.protocol in VIEWER_PROTOCOLS:
        allowed = await live.streams.room_exists(room_id)
    elif body.action == "api" and body.user == MEDIAMTX_API_USER:
        # live itself, cutting a publisher (adapters/mediamtx.py)
        expected = live.settings.media_hook_secret.encode()
        allowed = secrets.compare_digest(body.password.encode(), expected)
    if not allowed:
        raise ApiError(401, f"{body.action} of {body.path or 'nothing'} is not allowed", "denied")
    return Response(status_code=204)


def _query_value(query: str, name: str) -> str:
    return parse_qs(query).get(name, [""])[0]
