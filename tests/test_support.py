"""The suite's own server helper: a failed start never takes the test worker down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from tests.support import serving


def answering() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_a_failed_start_is_an_error_of_the_test_not_an_exit_of_the_worker() -> None:
    @asynccontextmanager
    async def failing(app: FastAPI) -> AsyncIterator[None]:
        raise ValueError("the database is away")
        yield

    # uvicorn says "could not start" with SystemExit(3); out of a task it would stop the
    # worker's event loop, and every later test of the worker with it (seen in CI).
    with pytest.raises(RuntimeError, match="exited"):
        async with serving(FastAPI(lifespan=failing)):
            pass

    async with serving(answering()) as url, httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{url}/ping")).json() == {"ok": True}


async def test_servers_started_together_each_get_their_own_port() -> None:
    """The socket is bound before uvicorn starts: no port picked free and taken meanwhile."""
    async with contextlib.AsyncExitStack() as stack:
        urls = await asyncio.gather(
            *(stack.enter_async_context(serving(answering())) for _ in range(20))
        )
        assert len(set(urls)) == 20  # all up at once, each on its own port
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(*(http.get(f"{url}/ping") for url in urls))
        assert [a.status_code for a in answers] == [200] * 20
