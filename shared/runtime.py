"""What every service process does at start and stop, written once.

Start: migrate the database, connect to NATS, provision the streams, start
the FastStream subscribers. Stop: FastStream waits for in-flight handlers
(graceful_timeout) and drains; anything unfinished stays unacked and
JetStream redelivers it, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import ServiceUnavailableError
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import db, objects, streams, subjects
from shared.api import SecurityHeaders, StrictJsonRoute
from shared.events import IntegrationEvent
from shared.health import ReadinessCheck, health_router
from shared.messaging import EventPublisher, make_broker
from shared.metrics import MetricsMiddleware, metrics_router, observe_consumers
from shared.problems import Mapped, answer_errors_as_problems, document_errors
from shared.settings import ServiceSettings

log = logging.getLogger("qunlive.runtime")

Hook = Callable[[], Awaitable[None]]
JETSTREAM_WAIT_S = 30.0
JETSTREAM_RETRY_PAUSE_S = 0.5


async def _while_jetstream_settles(what: str, attempt: Hook) -> None:
    """Try `attempt` until JetStream answers it, for up to JETSTREAM_WAIT_S."""
    deadline = time.monotonic() + JETSTREAM_WAIT_S
    while True:
        try:
            await attempt()
            return
        except (ServiceUnavailableError, NoRespondersError, NatsTimeoutError) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning(
                "JetStream not ready yet, retrying", extra={"step": what, "error": repr(exc)}
            )
            await asyncio.sleep(JETSTREAM_RETRY_PAUSE_S)


@dataclass
class Infrastructure:
    """The adapters a service is composed from; built once in its bootstrap."""

    settings: ServiceSettings
    broker: NatsBroker
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    metadata: MetaData
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    _js: JetStreamContext | None = None

    @classmethod
    def build(cls, settings: ServiceSettings, metadata: MetaData) -> Infrastructure:
        engine = db.make_engine(settings.effective_database_url)
        return cls(
            settings=settings,
            broker=make_broker(settings.service_name, settings.nats_servers),
            engine=engine,
            sessions=db.make_sessionmaker(engine),
            metadata=metadata,
        )

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("not started: JetStream is available after start()")
        return self._js

    @property
    def publisher(self) -> EventPublisher:
        return EventPublisher(self.js)

    async def start(self) -> None:
        if self.settings.effective_database_url.startswith("sqlite"):
            os.makedirs(self.settings.data_dir, exist_ok=True)
        await db.migrate(self.engine, self.metadata)
        await self.broker.connect()
        self._js = self.broker.connection.jetstream()
        await self._provision_streams()
        # The subscribers' durable consumers have leaders of their own to elect: the same
        # wait. (A retry starts only what is not started: FastStream skips a subscription
        # it already holds.)
        await _while_jetstream_settles("subscribers", self.broker.start)
        for hook in self.on_start:
            await hook()
        log.info(
            "service started", extra={"nats": _without_credentials(self.settings.nats_servers)}
        )

    async def _provision_streams(self) -> None:
        """Provision the streams and wait until each answers (has a leader). A JetStream
        cluster still electing its leaders (all nodes just started, say) answers 503 or
        not at all for a few seconds; the subscribers' consumers need the stream leaders."""
        js = self.broker.connection.jetstream(timeout=2.0)  # a short wait per try

        async def provision() -> None:
            await streams.provision_streams(js, replicas=self.settings.stream_replicas)
            await objects.provision_buckets(js, self.settings.stream_replicas, self.bucket_limits())
            for spec in streams.ALL_STREAMS:
                await js.stream_info(spec.name)

        await _while_jetstream_settles("streams", provision)

    def bucket_limits(self) -> dict[str, int]:
        return {
            objects.PRODUCT_PHOTOS.name: self.settings.product_photos_bucket_bytes,
            objects.ROOM_MEDIA.name: self.settings.room_media_bucket_bytes,
        }

    def bucket(self, spec: objects.BucketSpec) -> objects.Objects:
        """One bucket of the Object Store (after start())."""
        return objects.Objects(self.js, spec)

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed")
        try:
            await self.broker.stop()
        except Exception:  # NATS already gone (stopped first): nothing left to drain
            log.warning("broker did not stop cleanly", exc_info=True)
        finally:
            await self.engine.dispose()
        log.info("service stopped")

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        async def nats() -> str | None:
            if self._js is None:
                return "not started"
            return None if self.broker.connection.is_connected else "NATS disconnected"

        async def jetstream() -> str | None:
            missing = await streams.missing_streams(self.js)
            return f"missing streams: {', '.join(missing)}" if missing else None

        async def database() -> str | None:
            ok = await db.is_migrated(self.engine, self.metadata)
            return None if ok else "tables missing"

        return {"nats": nats, "streams": jetstream, "database": database}

    def durable_consumers(self) -> list[tuple[str, str]]:
        """(stream, durable name) of every durable consumer this service's subscribers use."""
        found = []
        for sub in self.broker.subscribers:
            stream = getattr(getattr(sub, "stream", None), "name", None)
            durable = getattr(getattr(sub, "config", None), "durable_name", None)
            if stream and durable:
                found.append((stream, durable))
        return found

    async def observe_consumers(self) -> None:
        """Consumer lag for /metrics, read from JetStream at scrape time."""
        if self._js is not None:
            await observe_consumers(
                self._js,
                self.settings.service_name,
                [spec.name for spec in streams.ALL_STREAMS],
                self.durable_consumers(),
            )

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


def _without_credentials(servers: list[str]) -> str:
    """For logs: nats://user:password@host:4222 -> nats://host:4222."""
    shown = []
    for url in servers:
        scheme, _, rest = url.rpartition("://")
        shown.append(f"{scheme or 'nats'}://{rest.rpartition('@')[2]}")
    return ",".join(shown)


def asyncapi_app(
    broker: NatsBroker,
    title: str,
    description: str,
    publishes: tuple[type[IntegrationEvent], ...] = (),
) -> FastStream:
    """The object `faststream docs gen` reads to write the service's AsyncAPI document.

    Subscribers document themselves; the events a service publishes (through the
    raw publisher, for speed) are declared here from the same event classes and
    subject builder that the code uses.
    """
    for event_cls in publishes:
        broker.publisher(
            subjects.event_subject_pattern(event_cls),
            schema=event_cls,
            title=f"{event_cls.__name__}:Publish",
            description=(event_cls.__doc__ or "").strip(),
        )
        for other in event_cls.other_subject_types:
            broker.publisher(
                subjects.event_subject_pattern(event_cls, other),
                schema=event_cls,
                title=f"{event_cls.__name__}:{other}:Publish",
                description=f"{(event_cls.__doc__ or '').strip()} (on `{other}`: see "
                "`subject_type`)",
            )
    return FastStream(
        broker,
        specification=AsyncAPI(title=title, version="0.1.0", description=description),
    )


def serve(app: object, settings: ServiceSettings, *, ws_compression: bool = True) -> None:
    """Run the HTTP/WebSocket app; SIGINT/SIGTERM shut down gracefully (lifespan stop)."""
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_config=None,
        ws="websockets-sansio",
        ws_per_message_deflate=ws_compression,
        timeout_graceful_shutdown=10,
        # Longer than clients' idle pools (and load balancers' 60 s would need more):
        # a reused connection the server just closed is a failed request.
        timeout_keep_alive=30,
        backlog=4096,
        lifespan="on",
    )


def http_app(
    infra: Infrastructure,
    *,
    title: str,
    description: str,
    routers: tuple[APIRouter, ...],
    state: object,
    errors: Mapped | None = None,
) -> FastAPI:
    """A service's FastAPI app: its lifespan, health and metrics routes, its own routers;
    errors answered and documented as Problems (shared.problems), strict JSON bodies and
    security headers (shared.api). Under ENV=production no /docs or /redoc (Swagger UI
    and ReDoc load from a CDN); /openapi.json stays, for generated clients."""
    production = infra.settings.env == "production"
    app = FastAPI(
        title=title,
        version="0.1.0",
        description=description + ERRORS_DOC,
        lifespan=infra.lifespan,
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
    )
    app.state.service = state
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(SecurityHeaders)
    app.include_router(health_router(infra.settings.service_name, infra.readiness_checks()))
    app.include_router(metrics_router(infra.observe_consumers))
    for router in routers:
        app.include_router(router)
    _require_strict_json(app.routes)
    answer_errors_as_problems(app, errors or {})
    document_errors(app)
    return app


ERRORS_DOC = (
    "\n\nEvery error is `application/problem+json` (RFC 9457): `status`, a stable `code` to "
    "branch on, a `detail` for people, and for a refused request body or parameter `errors` "
    "(`loc`, `msg`, `type`). No credential, or one that is not valid, is 401 "
    "(`unauthenticated`, `invalid_token`); a valid credential without the right is 403 "
    "(`forbidden`). Bodies are JSON as RFC 8259 and I-JSON read it: NaN, Infinity, "
    "integers past 2**53, lone UTF-16 surrogates and nesting deeper than 32 are 422."
)


def _require_strict_json(routes: list[Any]) -> None:
    """Every API route reads JSON strictly: one made with a plain APIRouter fails here,
    at start, not under a hostile client."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI includes routers lazily
        if inner is not None:
            _require_strict_json(inner.routes)
        elif isinstance(route, APIRoute) and not isinstance(route, StrictJsonRoute):
            raise TypeError(f"{route.path}: make its router with shared.api.api_router()")
