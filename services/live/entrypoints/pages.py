"""The pages people use: the viewer page, the host console, the replay and the pickup desk
(static, no build step).

The files live in services/live/web/ (HTML, CSS, JavaScript modules) and are served
as they are; /config.json tells them where orders, ingest and analytics answer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from services.live.bootstrap import LiveApp
from services.live.domain.streams import Source, origin
from services.live.entrypoints.deps import LiveDep
from services.live.service_layer.rooms import RoomNotFound
from shared.api import api_router

WEB = Path(__file__).resolve().parents[1] / "web"
DEFAULT_PORTS = {"orders": 8003, "ingest": 8001, "analytics": 8004}
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

YOUTUBE_EMBED = "https://www.youtube-nocookie.com"

router = api_router(tags=["pages"])


class PageAssets(StaticFiles):
    """/static serves the pages' stylesheets and scripts only: a page itself is served by
    its route, with its CSP (a copy at /static/console.html would have none, and could be
    framed)."""

    SERVED = (".css", ".js", ".mjs")  # .mjs: the vendored hls.js (an ES module)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if not path.endswith(self.SERVED):
            return "", None
        return super().lookup_path(path)

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"  # kept, revalidated by its ETag
        return response


static = PageAssets(directory=WEB)


class PageConfig(BaseModel):
    """What the pages need to know to reach the other services."""

    orders_url: str = Field(examples=["http://127.0.0.1:8003"])
    ingest_url: str = Field(examples=["http://127.0.0.1:8001"])
    analytics_url: str = Field(examples=["http://127.0.0.1:8004"])
    currency: str = Field(examples=["CNY"])


def content_policy(
    services: list[str], media: tuple[str, ...] = (), frames: tuple[str, ...] = ()
) -> str:
    """The pages load nothing from elsewhere: they call the services' APIs (and websockets),
    show the services' pictures (product photos are on orders) and play the room's video;
    a room whose stream is hosted elsewhere adds exactly that origin (an HLS CDN to media
    and connect, YouTube's embed to frames)."""
    connect = " ".join(["'self'", *services, *media])
    images = " ".join(
        ["'self'", "data:", "blob:", *(s for s in services if s.startswith(("http:", "https:")))]
    )
    media_from = " ".join(["'self'", "blob:", *media])
    frames_from = " ".join(frames) or "'none'"
    return (
        # Inline styles: analytics' report (self-contained HTML) opens as a blob: document,
        # which inherits this policy. Scripts stay 'self' only.
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; "
        f"media-src {media_from}; "
        f"connect-src {connect}; "
        f"frame-src {frames_from}; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _service_origins(request: Request, live: LiveApp) -> list[str]:
    """The other services the pages call, and live's own websocket origin."""
    config = page_config_of(request, live)
    origins = [origin(url) for url in (config.orders_url, config.ingest_url, config.analytics_url)]
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return [*dict.fromkeys(origins), f"{scheme}://{request.url.netloc}"]


def _page(name: str, policy: str) -> FileResponse:
    headers = {**PAGE_HEADERS, "Content-Security-Policy": policy}
    return FileResponse(WEB / name, media_type="text/html; charset=utf-8", headers=headers)


async def _room_page(name: str, room_id: str, request: Request, live: LiveApp) -> FileResponse:
    media: tuple[str, ...] = ()
    frames: tuple[str, ...] = ()
    with contextlib.suppress(RoomNotFound):  # the page itself says the room is not there
        stream = (await live.streams.get(room_id)).stream
        if stream.source == Source.HLS_URL and stream.hosted_url:
            media = (origin(stream.hosted_url),)
        elif stream.source == Source.YOUTUBE:
            frames = (YOUTUBE_EMBED,)
    return _page(name, content_policy(_service_origins(request, live), media, frames))


@router.api_route("/r/{room_id}", methods=["GET", "HEAD"], include_in_schema=False)
async def viewer_page(room_id: str, request: Request, live: LiveDep) -> FileResponse:
    """The viewer page of a room: the link a host shares (may carry ?ref=<customer id>)."""
    return await _room_page("viewer.html", room_id, request, live)


@router.api_route("/r/{room_id}/replay", methods=["GET", "HEAD"], include_in_schema=False)
async def replay_page(room_id: str, request: Request, live: LiveDep) -> FileResponse:
    """The show's recording, with chapters where offers were pinned, opened, sold out."""
    return await _room_page("replay.html", room_id, request, live)


@router.api_route("/me", methods=["GET", "HEAD"], include_in_schema=False)
async def my_page(request: Request, live: LiveDep) -> FileResponse:
    """A buyer's own page: my orders in every room (pay, cancel, the pickup code and its QR
    code), my waitlist places, my invitations. It plays nothing and frames nothing."""
    return _page("me.html", content_policy(_service_origins(request, live)))


@router.api_route("/console", methods=["GET", "HEAD"], include_in_schema=False)
async def host_console(request: Request, live: LiveDep) -> FileResponse:
    # The console previews any hosted stream or YouTube video its host names.
    policy = content_policy(_service_origins(request, live), ("https:",), (YOUTUBE_EMBED,))
    return _page("console.html", policy)


@router.api_route("/desk", methods=["GET", "HEAD"], include_in_schema=False)
async def pickup_desk(request: Request, live: LiveDep) -> FileResponse:
    """The pickup desk: the host's desk link (`/desk#token=...`) opens it for whoever staffs
    a pickup point: look an order up by its pickup code (typed, a USB scanner, the camera)
    and hand it over. It calls orders only; the camera's QR codes are decoded in the page."""
    return _page("desk.html", content_policy(_service_origins(request, live)))


@router.get("/config.json", response_model=PageConfig)
async def page_config(request: Request, live: LiveDep) -> PageConfig:
    """Where the pages reach orders, ingest and analytics (their public URLs)."""
    return page_config_of(request, live)


def page_config_of(request: Request, live: LiveApp) -> PageConfig:
    settings = live.settings

    def public(url: str, service: str) -> str:
        host = request.url.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host  # an IPv6 address
        return (url or f"{request.url.scheme}://{host}:{DEFAULT_PORTS[service]}").rstrip("/")

    return PageConfig(
        orders_url=public(settings.orders_public_url, "orders"),
        ingest_url=public(settings.ingest_public_url, "ingest"),
        analytics_url=public(settings.analytics_public_url, "analytics"),
        currency=settings.currency,
    )
