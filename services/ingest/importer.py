"""Import a chat log's history as the room's ingest events.

    python -m services.ingest.importer result.json --room r_8f3a2b1c9d0e
    python -m services.ingest.importer chat.csv --room r_8f3a2b1c9d0e --platform whatsapp

Formats: a Telegram Desktop single-chat export (`result.json`, platform telegram)
or the documented CSV (see services/ingest/domain/exports.py and the README).
Resumable: where it got to is kept in `<file>.checkpoint.json` after every batch
that JetStream confirmed; run it again after an interruption and it goes on from
there. Idempotent: a finished import run again publishes nothing, and every event
carries the message's platform key as Nats-Msg-Id, so an import overlapping the
webhook (or a run without its checkpoint) adds nothing the INGEST stream already
has within its 24 h duplicate window. History goes to ingest events only: it is
not shown in the live room and never places a claim.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path
from typing import TextIO

import nats

from services.ingest.adapters.checkpoint import Checkpoint, CheckpointFile
from services.ingest.service_layer.importing import ImportRefused, open_source, run_import
from services.ingest.settings import IngestSettings
from shared.events.ingest import PLATFORM_PATTERN
from shared.messaging import EventPublisher
from shared.settings import split_servers
from shared.streams import INGEST, provision_streams

EXIT_REFUSED = 2
EXIT_UNAVAILABLE = 3
ROOM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Progress:
    """A progress bar on a terminal; on a pipe, a line every few seconds and the last one."""

    def __init__(self, out: TextIO, enabled: bool = True) -> None:
        self.out = out
        self.enabled = enabled
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, checkpoint: Checkpoint, total: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < (0.1 if self.tty else 2.0)):
            return
        self.last = now
        done = min(checkpoint.position, total)
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        rate = done / max(now - self.started, 1e-6)
        line = (
            f"[{bar:<30}] {done}/{total} {share:4.0%}  {checkpoint.published} new, "
            f"{checkpoint.duplicates} already there, {checkpoint.skipped} skipped  {rate:,.0f}/s"
        )
        self.out.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and final:
            self.out.write("\n")
        self.out.flush()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingest.importer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("file", type=Path, help="result.json (Telegram Desktop) or a .csv")
    parser.add_argument("--room", required=True, help="the room the history belongs to")
    parser.add_argument(
        "--platform", default=None, help="CSV: whose messages (whatsapp, line...); JSON: telegram"
    )
    parser.add_argument("--format", choices=("auto", "telegram-json", "csv"), default="auto")
    parser.add_argument("--chat", default=None, help="override the chat id (to match a binding)")
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="default <file>.checkpoint.json"
    )
    parser.add_argument("--restart", action="store_true", help="ignore the checkpoint")
    parser.add_argument("--nats", default=None, help="NATS URL (default: NATS_URL)")
    parser.add_argument("--batch", type=int, default=500, help="events per confirmed batch")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fmt = args.format
    if fmt == "auto":
        fmt = "csv" if args.file.suffix.lower() == ".csv" else "telegram-json"
    platform = "telegram" if fmt == "telegram-json" else (args.platform or "webhook")
    if fmt == "telegram-json" and args.platform not in (None, "telegram"):
        return _refuse("a Telegram export is platform telegram")
    if not re.match(PLATFORM_PATTERN, platform):
        return _refuse(f"--platform must match {PLATFORM_PATTERN}")
    if not ROOM.match(args.room):
        return _refuse("--room must be 1-64 letters, digits, '_' or '-'")
    if not args.file.is_file():
        return _refuse(f"{args.file}: no such file")
    checkpoints = CheckpointFile(
        args.checkpoint or args.file.with_name(args.file.name + ".checkpoint.json")
    )
    try:
        source = open_source(args.file, fmt, platform, args.chat)
        earlier = None if args.restart else checkpoints.load()
    except (ImportRefused, ValueError) as exc:
        return _refuse(str(exc))
    if earlier is not None and earlier.done and earlier.room_id == args.room:
        print(
            f"{args.file.name} was already imported into {args.room} ({earlier.published} "
            f"events, see {checkpoints.path}): nothing to publish; --restart imports it again"
        )
        return 0

    settings = IngestSettings()
    url = args.nats or settings.nats_url
    try:
        nc = await nats.connect(split_servers(url), connect_timeout=5, max_reconnect_attempts=2)
    except Exception as exc:
        print(f"cannot reach NATS at {url}: {exc!r}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    progress = Progress(sys.stderr, enabled=not args.no_progress)
    try:
        js = nc.jetstream(timeout=10)
        await provision_streams(js, replicas=settings.stream_replicas, specs=(INGEST,))
        result = await run_import(
            args.file,
            source,
            args.room,
            EventPublisher(js).publish,
            checkpoints,
            restart=args.restart,
            batch_size=max(args.batch, 1),
            on_progress=progress,
            on_bad=lambda n, why: print(f"record {n} skipped: {why}", file=sys.stderr),
        )
    except ImportRefused as exc:
        return _refuse(str(exc))
    except Exception as exc:  # NATS went away mid-import: the checkpoint has what is stored
        print(f"\nstopped: {exc!r}; run again to resume from the checkpoint", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        await nc.close()
    progress(result, source.total, final=True)
    print(
        f"imported {args.file.name} into {args.room}: {result.published} new events, "
        f"{result.duplicates} already stored, {result.skipped} records skipped"
    )
    return 0


def _refuse(reason: str) -> int:
    print(f"refused: {reason}", file=sys.stderr)
    return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
