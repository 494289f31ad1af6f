"""Assembles the analytics HTTP app; `python -m services.analytics` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from services.analytics.bootstrap import AnalyticsApp, build
from services.analytics.entrypoints import http
from shared.runtime import asyncapi_app, http_app


def create_app(analytics: AnalyticsApp | None = None) -> FastAPI:
    analytics = analytics or build()
    return http_app(
        analytics.infra,
        title="Qunlive analytics",
        description="The post-stream customer database: profiles, segments, reports.",
        routers=(http.router,),
        state=analytics,
    )


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.analytics.main:asyncapi`"""
    return asyncapi_app(
        build().infra.broker,
        "Qunlive analytics events",
        "Analytics consumes every event durably; it publishes none yet.",
    )
