"""Replay archived webhook bodies through the current normalisers (after a fix).

    python -m services.ingest.replay --since 2h [--source telegram] [--limit 100000]

Reads the webhook bodies from `--since` ago (those the ingest events carry in INGEST, then
those INGEST_RAW kept apart, 7 days), normalises each
again and stores what comes out, exactly as the webhook would, except that
replayed lines are not shown in the live room (they are old). Every event keeps
its platform key as Nats-Msg-Id, so what was stored before is not stored twice.
Uses the same settings as the service (NATS_URL, DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta

from services.ingest.bootstrap import build
from services.ingest.service_layer.intake import NORMALISERS
from services.ingest.service_layer.replay import replay
from services.ingest.settings import IngestSettings

UNITS = {"m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError("a duration like 30m, 2h or 3d")
    return timedelta(seconds=float(match[1]) * UNITS[match[2]])


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingest.replay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--since", type=duration, default=timedelta(hours=1))
    parser.add_argument("--source", choices=sorted(NORMALISERS), default=None)
    parser.add_argument("--limit", type=int, default=100_000)
    args = parser.parse_args(argv)
    ingest = build(IngestSettings())
    await ingest.infra.start()
    try:
        since = datetime.now(UTC) - args.since
        report = await replay(ingest.bus, ingest.intake, since, args.source, args.limit)
    finally:
        await ingest.infra.stop()
    print(
        f"replayed {report.payloads} payloads: {report.published} new events, "
        f"{report.duplicates} already stored, {report.parked} parked, "
        f"{report.ignored} ignored, {report.failed} still failing"
    )
    for reason, count in report.failures.most_common(10):
        print(f"  {count} x {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
