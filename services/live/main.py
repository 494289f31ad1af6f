"""Assembles the live HTTP/WebSocket app; `python -m services.live` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from services.live.bootstrap import PUBLISHES, LiveApp, build
from services.live.entrypoints import host_actions, http, media, pages, posts, ws
from shared.runtime import asyncapi_app, http_app


def create_app(live: LiveApp | None = None) -> FastAPI:
    live = live or build()
    app = http_app(
        live.infra,
        title="Qunlive live",
        description="Rooms, viewers and the websocket where a live group sale happens.",
        routers=(
            http.hosts,
            http.router,
            http.me,
            host_actions.router,
            media.host,
            media.viewers,
            media.hooks,
            posts.uploads,
            posts.media,
            pages.router,
        ),
        state=live,
    )
    app.add_middleware(ws.SocketsFirst)  # the viewer socket, past every HTTP layer
    app.mount("/static", pages.static, name="static")  # the pages' CSS and JavaScript
    return app


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.live.main:asyncapi`"""
    return asyncapi_app(
        build().infra.broker,
        "Qunlive live events",
        "Room lifecycle, presence and chat, one subject family per room.",
        publishes=PUBLISHES,
    )
