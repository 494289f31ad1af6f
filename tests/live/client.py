"""A websocket viewer for tests: collects every frame in the background."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import websockets

Frame = dict[str, Any]


class TestViewer:
    __test__ = False  # not a test class

    def __init__(self, ws: Any, grant: dict[str, str]) -> None:
        self.ws = ws
        self.grant = grant
        self.customer_id = grant["customer_id"]
        self.frames: list[Frame] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, grant: dict[str, str]) -> TestViewer:
        ws = await websockets.connect(
            url.replace("http://", "ws://") + grant["websocket_path"], max_queue=None
        )
        viewer = cls(ws, grant)
        await viewer.wait_for(lambda f: f["type"] == "welcome")
        return viewer

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self._new.set()
        self._new.set()

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def wait_for(self, want: Callable[[Frame], bool], timeout: float = 10.0) -> Frame:
        async def scan() -> Frame:
            seen = 0
            while True:
                for frame in self.frames[seen:]:
                    if want(frame):
                        return frame
                seen = len(self.frames)
                if self._reader.done():
                    raise AssertionError(f"connection closed; frames: {self.frames[-5:]}")
                self._new.clear()
                await self._new.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"no such frame in {timeout}s; last: {self.frames[-5:]}") from None

    def chat_texts(self) -> list[str]:
        return [m["text"] for f in self.frames if f["type"] == "chat" for m in f["messages"]]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def kind(name: str, **match: Any) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == name and all(f.get(k) == v for k, v in match.items())
