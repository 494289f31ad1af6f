"""Prometheus metrics: the catalogue of names, an ASGI middleware, the /metrics route.

Each service process serves its own registry (prometheus-client's default) at
/metrics; Prometheus adds `job` and `instance`. Labels stay bounded: routes are
templates (`/offers/{offer_id}/checkout`), outcomes are reason codes, consumers
are durable names. Names are declared here once, like subjects, so dashboards
and alerts have one place to look.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, Response
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from shared.api import api_router

log = logging.getLogger("qunlive.metrics")

HTTP_REQUESTS = Counter(
    "qunlive_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "qunlive_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WS_CONNECTIONS = Gauge(
    "qunlive_ws_connections", "Open viewer websockets on this live instance, per room.", ["room"]
)
WS_FRAMES_OUT = Counter(
    "qunlive_ws_frames_out_total", "Frames offered to viewer websockets (one per connection)."
)
MESSAGES_CONSUMED = Counter(
    "qunlive_messages_consumed_total",
    "NATS messages handed to this process's handlers, by consumer (the durable name; "
    "'room-fanout' for live's core room subscriptions).",
    ["consumer"],
)
MESSAGES_PUBLISHED = Counter(
    "qunlive_messages_published_total",
    "Messages this process stored in JetStream, by subject domain (live, orders, cmd, ...).",
    ["domain"],
)
CHECKOUTS = Counter(
    "qunlive_checkouts_total",
    "Checkouts decided, by source (http, claim) and outcome (ok, or the refusal reason).",
    ["source", "outcome"],
)
CONSUMER_PENDING = Gauge(
    "qunlive_consumer_pending",
    "Messages not yet delivered to a durable consumer (JetStream num_pending): its lag. "
    "Refreshed on every scrape.",
    ["stream", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "qunlive_consumer_ack_pending",
    "Messages delivered to a durable consumer and not yet acknowledged (in flight or retrying).",
    ["stream", "consumer"],
)
DEAD_LETTERS = Counter(
    "qunlive_dead_letters_total",
    "Messages sent to the DEADLETTER stream, by the service that rejected them.",
    ["service"],
)

UNMATCHED_ROUTE = "unmatched"  # 404s: never the raw path (unbounded label values)


class MetricsMiddleware:
    """Pure ASGI: count and time every HTTP request by its route template."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers otherwise

        async def send_and_see(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope["method"]
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()


async def observe_consumers(
    js: JetStreamContext, service: str, streams: Iterable[str], known: Iterable[tuple[str, str]]
) -> None:
    """Set the lag gauges of this service's durable consumers, read from JetStream.

    Its consumers are those its FastStream subscribers declare (`known`) and any durable
    named `<service>-...` on these streams (raw nats-py consumers follow that convention).
    """
    mine = set(known)
    for stream in streams:
        try:
            infos = await js.consumers_info(stream)
        except Exception as exc:  # stream missing or NATS away: keep the last values
            log.debug("consumer list failed", extra={"stream": stream, "error": repr(exc)})
            continue
        for info in infos:
            durable = info.config.durable_name or info.name
            if durable and ((stream, durable) in mine or durable.startswith(f"{service}-")):
                CONSUMER_PENDING.labels(stream, durable).set(info.num_pending or 0)
                CONSUMER_ACK_PENDING.labels(stream, durable).set(info.num_ack_pending or 0)


def metrics_router(refresh: Callable[[], Awaitable[None]] | None = None) -> APIRouter:
    router = api_router(tags=["health"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text format; consumer lag is read from JetStream first."""
        if refresh is not None:
            try:
                await asyncio.wait_for(refresh(), timeout=2.0)
            except Exception:
                log.warning("refreshing consumer lag failed", exc_info=True)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
