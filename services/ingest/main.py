"""Assembles the ingest HTTP app; `python -m services.ingest` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from services.ingest.bootstrap import PUBLISHES, IngestApp, build
from services.ingest.entrypoints import http, webhooks
from shared.cors import allow_pages
from shared.runtime import asyncapi_app, http_app


def create_app(ingest: IngestApp | None = None) -> FastAPI:
    ingest = ingest or build()
    app = http_app(
        ingest.infra,
        title="Qunlive ingest",
        description="Webhooks and chat-log imports from external group chats, as typed events.",
        routers=(webhooks.router, http.router),
        state=ingest,
    )
    # The host console (served by live) binds group chats to rooms from the browser, and
    # sets what goes out to them (PUT).
    allow_pages(app, ingest.settings.cors_origins, ("GET", "POST", "PUT", "DELETE"))
    return app


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.ingest.main:asyncapi`"""
    return asyncapi_app(
        build().infra.broker,
        "Qunlive ingest events",
        "Chat and member events normalised from external group chats.",
        publishes=PUBLISHES,
    )
