"""Test helpers: poll with a deadline, run an ASGI app on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI, Request, Response

from shared.object_http import OBJECT_RESPONSES, serve_object
from shared.objects import Objects
from shared.problems import answer_errors_as_problems

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]


async def eventually(
    probe: Callable[[], Awaitable[T]], timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it returns a truthy value; fail with its last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await probe()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last answer: {last!r}")
        await asyncio.sleep(interval)


class PromptServer(uvicorn.Server):
    """uvicorn for tests: the same start-up, requests and lifespan, without its 0.1 s
    polling ticks (the main loop's, and the fixed pause and polls of its shutdown) that
    cost the suite a quarter of a second per served app, ~700 times a run."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_requested = asyncio.Event()
        self.up = asyncio.Event()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers (date, server)
        self.up.set()
        await self.exit_requested.wait()

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)  # Ctrl-C during a test: stop as uvicorn would
        self.exit_requested.set()

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive closes now, a busy one after its response
        deadline = time.monotonic() + 10
        state = self.server_state
        # uvicorn signals neither by an event: poll, but finer than its 0.1 s.
        while (state.connections or state.tasks) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for task in self.server_state.tasks:
            task.cancel()
        await self.lifespan.shutdown()


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app (with its lifespan) on a free loopback port; yield its base URL."""
    # The socket is bound here, to a port the kernel picks, and handed to uvicorn: a port
    # picked free and bound later can be taken meanwhile by another worker's server, and
    # uvicorn answers a failed bind with SystemExit, which takes the test worker down.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Keep-alive as the services serve it (shared.runtime: 30 s). uvicorn's default of 5 s
    # equals httpx's own idle expiry, so a client could reuse a connection the server was
    # closing that instant: a ReadError on a test's request after a wait of ~5 s.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",
        ws="websockets-sansio",
        timeout_keep_alive=30,
    )
    server = PromptServer(config)

    async def serve() -> None:
        # uvicorn says "could not start" with SystemExit; raised out of a task it would stop
        # the test worker's event loop itself.
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:
            raise RuntimeError(f"the server exited ({exc.code})") from None

    task = asyncio.create_task(serve())
    try:
        up = asyncio.create_task(server.up.wait())
        await asyncio.wait({up, task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        up.cancel()
        if not server.up.is_set():
            if task.done():
                task.result()  # start-up raised: its error
            raise RuntimeError("the server did not start within 20 s (or exited during start-up)")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.exit_requested.set()
        try:
            await asyncio.wait_for(task, timeout=20)
        except RuntimeError:
            if server.up.is_set():  # it had started: it died during the test
                raise
            # else its start-up failure was raised above
        finally:
            sock.close()


async def next_frame(
    ws: Any, want: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict:
    """Read websocket frames until one satisfies `want`; fail after `timeout`."""
    import json

    async def read() -> dict:
        while True:
            frame = json.loads(await ws.recv())
            if want(frame):
                return frame  # type: ignore[no-any-return]

    return await asyncio.wait_for(read(), timeout)


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("type") == kind


@contextlib.contextmanager
def launcher(
    data_dir: Path, output: Path, admin_token: str, secret_key: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`make run`'s launcher on free ports (its own NATS, SQLite under `data_dir`), its
    output in `output`; stopped (SIGTERM, then SIGKILL after 20 s) if still up at the end."""
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env |= {"ADMIN_TOKEN": admin_token, "SECRET_KEY": secret_key}
    with output.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.launcher",
                "--free-ports",
                "--data-dir",
                str(data_dir),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def object_app(objects: Objects) -> FastAPI:
    """A FastAPI app serving one bucket's objects at /photos/{name} as the services register
    them: GET documented, HEAD outside the schema, errors as Problems."""
    app = FastAPI()
    answer_errors_as_problems(app, {})

    @app.get("/photos/{name:path}", responses=OBJECT_RESPONSES)
    async def photo(name: str, request: Request) -> Response:
        return await serve_object(objects, name, request)

    @app.head("/photos/{name:path}", include_in_schema=False)
    async def photo_head(name: str, request: Request) -> Response:
        return await serve_object(objects, name, request)

    return app
