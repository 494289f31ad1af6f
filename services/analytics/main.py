"""Assembles the analytics HTTP app; `python -m services.analytics` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream
from nats.errors import Error as NatsError

from services.analytics.bootstrap import AnalyticsApp, build
from services.analytics.domain.identity import InvalidLink
from services.analytics.entrypoints import consumers, http, reports
from services.analytics.service_layer.customers import CustomerNotFound
from services.analytics.service_layer.reports import RoomNotFound
from shared.cors import allow_pages
from shared.events import ANALYTICS_EVENTS
from shared.problems import Mapped
from shared.runtime import asyncapi_app, http_app

ERRORS: Mapped = {
    CustomerNotFound: (404, "not_found"),
    RoomNotFound: (404, "not_found"),
    InvalidLink: (422, "invalid_link"),
    # A link decision is stored on the bus first: try again (the NATS error is logged).
    NatsError: (503, "unavailable", "NATS did not confirm the decision: try again"),
}


def create_app(analytics: AnalyticsApp | None = None) -> FastAPI:
    analytics = analytics or build()
    app = http_app(
        analytics.infra,
        title="Qunlive analytics",
        description="The post-stream customer database: profiles, segments, reports.",
        routers=(http.router, reports.router),
        state=analytics,
        errors=ERRORS,
    )
    # The host console (served by live) opens reports and exports audiences from the browser.
    allow_pages(app, analytics.settings.cors_origins, ("GET",))
    return app


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.analytics.main:asyncapi`"""
    broker = build().infra.broker
    consumers.document(broker)
    return asyncapi_app(
        broker,
        "Qunlive analytics events",
        "Analytics consumes every event durably (LIVE, ORDERS, INGEST) and publishes the "
        "hosts' decisions about customers (ANALYTICS), which it consumes too.",
        ANALYTICS_EVENTS,
    )
