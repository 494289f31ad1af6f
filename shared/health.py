"""/healthz (the process is alive) and /readyz (it can do its job)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from pydantic import BaseModel

from shared.api import api_router

ReadinessCheck = Callable[[], Awaitable[str | None]]  # None = ok, else what is wrong


class Health(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    ready: bool
    service: str
    checks: dict[str, str]


def health_router(service: str, checks: dict[str, ReadinessCheck]) -> APIRouter:
    router = api_router(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """The process is up and serving HTTP."""
        return Health(status="ok", service=service)

    @router.get("/readyz", response_model=Readiness)
    async def readyz(response: Response) -> Readiness:
        """NATS connected, streams present, database migrated; 503 with the reason if not."""
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                problem = await asyncio.wait_for(check(), timeout=2.0)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            results[name] = problem or "ok"
        ready = all(v == "ok" for v in results.values())
        if not ready:
            response.status_code = 503
        return Readiness(ready=ready, service=service, checks=results)

    return router
