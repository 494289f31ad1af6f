"""analytics on the command line: rebuild the customer database, print a report.

    python -m services.analytics.cli rebuild [--force] [--batch N]
    python -m services.analytics.cli report ROOM [--format json|csv|html] [--out FILE]

Both read the service's settings (DATABASE_URL, NATS_URL, DATA_DIR...) unless
--database-url / --nats say otherwise. `rebuild` reads every event the streams hold,
from the first, into an empty database (stop the service first, or rebuild into a new
database and point the service at it); `--force` empties analytics' tables first. The
durable consumers keep their place: events the rebuild already applied are skipped
by id when the service meets them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import nats

from services.analytics.adapters.consumer import ReadProgress, read_stream
from services.analytics.adapters.render import report_csv, report_html
from services.analytics.adapters.store import Store
from services.analytics.adapters.tables import metadata
from services.analytics.domain.report import with_live_url, with_orders_url
from services.analytics.entrypoints.consumers import FEEDS
from services.analytics.service_layer.projection import Projection
from services.analytics.service_layer.reports import Reports, RoomNotFound
from services.analytics.settings import AnalyticsSettings
from shared import db


class NotEmpty(RuntimeError):
    pass


@dataclass
class Rebuilt:
    events: int
    duplicates: int
    unreadable: int
    seconds: float


class ProgressBar:
    """One line per stream on stderr, redrawn in place: done/total, percent, rate."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.out, self.width = out, width
        self._started: dict[str, float] = {}
        self._last_draw = 0.0

    def __call__(self, p: ReadProgress) -> None:
        now = time.monotonic()
        started = self._started.setdefault(p.stream, now)
        final = p.done >= p.total
        if not final and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        share = p.done / p.total if p.total else 1.0
        filled = int(self.width * share)
        rate = p.done / (now - started) if now > started else 0.0
        self.out.write(
            f"\r{p.stream:<10} [{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} "
            f"{p.done:,}/{p.total:,} {rate:,.0f} events/s"
        )
        if final:
            self.out.write("\n")
        self.out.flush()


def _servers(url: str) -> list[str]:
    return [u.strip() for u in url.split(",") if u.strip()]


async def rebuild(
    settings: AnalyticsSettings,
    *,
    force: bool = False,
    batch: int | None = None,
    progress: ProgressBar | None = None,
) -> Rebuilt:
    """Replay every stream into the (empty) database."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        os.makedirs(settings.data_dir, exist_ok=True)
    engine = db.make_engine(url)
    try:
        store = Store(engine)
        await db.migrate(engine, metadata)
        if not await store.is_empty():
            if not force:
                raise NotEmpty(f"{url} already holds a projection: pass --force to empty it")
            async with engine.begin() as conn:
                await conn.run_sync(metadata.drop_all)
            await db.migrate(engine, metadata)
        projection = Projection(store)
        nc = await nats.connect(servers=_servers(settings.nats_url))
        started = time.perf_counter()
        unreadable = 0
        try:
            for feed in FEEDS:
                done = await read_stream(
                    nc,
                    feed.stream,
                    projection.apply,
                    batch=batch or settings.batch_size,
                    on_progress=progress,
                )
                unreadable += done.unreadable
        finally:
            await nc.close()
        return Rebuilt(
            projection.applied, projection.duplicates, unreadable, time.perf_counter() - started
        )
    finally:
        await engine.dispose()


async def report(settings: AnalyticsSettings, room_id: str, fmt: str) -> str:
    engine = db.make_engine(settings.effective_database_url)
    try:
        store = Store(engine)
        built = with_orders_url(
            with_live_url(
                await Reports(store, asyncio.Lock(), currency=settings.currency).get(room_id),
                settings.live_public_url,
            ),
            settings.orders_public_url,
        ).model_copy(update={"currency": settings.currency})
    finally:
        await engine.dispose()
    if fmt == "csv":
        return report_csv(built)
    if fmt == "html":
        return report_html(built)
    return built.model_dump_json(indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.analytics.cli", description=__doc__)
    parser.add_argument("--database-url", help="default: DATABASE_URL, else .data/analytics.db")
    parser.add_argument("--nats", help="default: NATS_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser("rebuild", help="rebuild the projection from the streams")
    again.add_argument("--force", action="store_true", help="empty analytics' tables first")
    again.add_argument("--batch", type=int, help="events per transaction (default: BATCH_SIZE)")
    show = commands.add_parser("report", help="print or export a room's post-stream report")
    show.add_argument("room")
    show.add_argument("--format", choices=("json", "csv", "html"), default="json")
    show.add_argument("--out", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)

    overrides = {}
    if args.database_url:
        overrides["database_url"] = args.database_url
    if args.nats:
        overrides["nats_url"] = args.nats
    settings = AnalyticsSettings(**overrides)

    if args.command == "rebuild":
        try:
            done = asyncio.run(
                rebuild(settings, force=args.force, batch=args.batch, progress=ProgressBar())
            )
        except NotEmpty as exc:
            print(f"rebuild: {exc}", file=sys.stderr)
            return 2
        rate = done.events / done.seconds if done.seconds else 0.0
        print(
            f"rebuilt: {done.events:,} events applied, {done.duplicates:,} duplicates skipped, "
            f"{done.unreadable:,} unreadable skipped, in {done.seconds:.1f} s ({rate:,.0f}/s)"
        )
        return 0
    try:
        text = asyncio.run(report(settings, args.room, args.format))
    except RoomNotFound:
        print(f"report: no room {args.room} in the customer database", file=sys.stderr)
        return 1
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
