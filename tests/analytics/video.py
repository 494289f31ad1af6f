"""A show with video, every time fixed: takes, a reconnect, viewers before and during."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.events import (
    IntegrationEvent,
    RoomEnded,
    RoomStarted,
    StreamStarted,
    StreamStopped,
    ViewerJoined,
    ViewerLeft,
)

T = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
ROOM = "r_video"
ANN, BEN = "web:ann", "web:ben"


def t(minute: int, second: int = 0) -> datetime:
    return T + timedelta(minutes=minute, seconds=second)


def started(take: int, at: datetime, source: str = "encoder") -> StreamStarted:
    return StreamStarted(room_id=ROOM, source=source, take=take, protocol="srt", occurred_at=at)  # type: ignore[arg-type]


def stopped(
    take: int, at: datetime, on_air_s: float, reason: str = "encoder_gone"
) -> StreamStopped:
    return StreamStopped(
        room_id=ROOM,
        source="encoder",
        take=take,
        reason=reason,  # type: ignore[arg-type]
        on_air_seconds=on_air_s,
        occurred_at=at,
    )


def visit(
    who: str, joined: datetime, left: datetime, role: str | None = None
) -> list[IntegrationEvent]:
    """One page connection: joined, then left with the seconds live measured."""
    return [
        ViewerJoined(
            room_id=ROOM,
            customer_id=who,
            display_name=who,
            role=role,  # type: ignore[arg-type]
            occurred_at=joined,
        ),
        ViewerLeft(
            room_id=ROOM,
            customer_id=who,
            watch_seconds=(left - joined).total_seconds(),
            occurred_at=left,
        ),
    ]


def a_show() -> list[IntegrationEvent]:
    """Take 1 20:00:10-20:05 (the encoder drops), take 2 from 20:05:20, still on air when
    the room ends at 20:10 (its stop never came). Ann joined before the video and left in
    the middle of take 1; Ben came during take 1 and stayed past the end."""
    return [
        RoomStarted(room_id=ROOM, occurred_at=t(0)),
        *visit(ANN, t(-2), t(3)),
        started(1, t(0, 10)),
        *visit(BEN, t(2), t(12)),
        stopped(1, t(5), 290),
        started(2, t(5, 20)),
        RoomEnded(room_id=ROOM, occurred_at=t(10)),
    ]
