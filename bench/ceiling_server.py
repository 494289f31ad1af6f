"""The ceiling of `bench.live_fanout`: a bare websockets server, one process, no bus.

    python -m bench.ceiling_server --port 8765 [--tick 0.05]

Speaks just enough of the live protocol for the same clients: a `welcome` frame on
connect, then each incoming `{"type": "chat", "text": ...}` becomes a chat line
shaped like live's (`{"type": "chat", "messages": [{id, customer_id, name, text,
source, at}]}`, so the same bytes per line) sent to every connection at once with
`websockets.broadcast`: at once, one frame per line (`--tick 0`, the default), or
batched like live, one frame per tick with the lines that arrived since the last.
No validation, moderation, NATS or per-connection queue: what is left is the cost
of writing the frames. Runs on uvloop when installed, as uvicorn runs live;
permessage-deflate is negotiated with the settings uvicorn also uses (window
12 bits, memLevel 5: websockets' defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.fanout_clients import die_with_parent, run_loop


async def main(port: int, tick_s: float) -> None:
    connections: set[ServerConnection] = set()
    pending: list[dict[str, Any]] = []
    numbers = itertools.count()

    def send(lines: list[dict[str, Any]]) -> None:
        broadcast(connections, json.dumps({"type": "chat", "messages": lines}, ensure_ascii=False))

    async def ticks() -> None:
        while True:
            await asyncio.sleep(tick_s)
            if pending:
                send(pending[:])
                pending.clear()

    async def viewer(ws: ServerConnection) -> None:
        n = next(numbers)
        customer_id, name = f"web:{n:016x}", f"viewer {n:04d}"
        welcome = {"type": "welcome", "you": customer_id, "viewers": len(connections) + 1}
        await ws.send(json.dumps(welcome))
        connections.add(ws)
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") != "chat":
                    continue
                line = {
                    "id": uuid.uuid4().hex,
                    "customer_id": customer_id,
                    "name": name,
                    "text": " ".join(str(frame["text"]).split()),
                    "source": "web",
                    "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                }
                if tick_s > 0:
                    pending.append(line)
                else:
                    send([line])
        except ConnectionClosed:
            pass
        finally:
            connections.discard(ws)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    ticker = asyncio.create_task(ticks()) if tick_s > 0 else None
    async with serve(viewer, "127.0.0.1", port):
        await stop.wait()
    if ticker:
        ticker.cancel()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tick", type=float, default=0.0, help="s per batch; 0: a frame per line")
    args = parser.parse_args()
    die_with_parent()
    run_loop(main(args.port, args.tick))


if __name__ == "__main__":
    cli()
