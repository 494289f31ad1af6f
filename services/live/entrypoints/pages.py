"""The two pages people use: the viewer page and the host console (static, no build step).

The files live in services/live/web/ (HTML, CSS, JavaScript modules) and are served
as they are; /config.json tells them where orders, ingest and analytics answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from services.live.entrypoints.deps import LiveDep
from shared.api import api_router

WEB = Path(__file__).resolve().parents[1] / "web"
DEFAULT_PORTS = {"orders": 8003, "ingest": 8001, "analytics": 8004}
# The pages load nothing from elsewhere; they call the services' APIs (and websockets).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        # Inline styles: analytics' report (self-contained HTML) opens as a blob: document,
        # which inherits this policy. Scripts stay 'self' only.
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; "
        # hls.js plays through Media Source Extensions: the video's src is a blob: URL.
        "media-src 'self' blob:; "
        "connect-src 'self' http: https: ws: wss:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

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


def _page(name: str) -> FileResponse:
    return FileResponse(WEB / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.api_route("/r/{room_id}", methods=["GET", "HEAD"], include_in_schema=False)
async def viewer_page(room_id: str) -> FileResponse:
    """The viewer page of a room: the link a host shares (may carry ?ref=<customer id>)."""
    return _page("viewer.html")


@router.api_route("/console", methods=["GET", "HEAD"], include_in_schema=False)
async def host_console() -> FileResponse:
    return _page("console.html")


@router.get("/config.json", response_model=PageConfig)
async def page_config(request: Request, live: LiveDep) -> PageConfig:
    """Where the pages reach orders, ingest and analytics (their public URLs)."""
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
