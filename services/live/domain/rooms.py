"""The room's life: scheduled -> live -> ended."""

from __future__ import annotations

from enum import StrEnum


class RoomStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class RoomTransitionError(Exception):
    pass


_ALLOWED = {
    (RoomStatus.SCHEDULED, RoomStatus.LIVE),
    (RoomStatus.LIVE, RoomStatus.ENDED),
    (RoomStatus.SCHEDULED, RoomStatus.ENDED),  # a cancelled show
}


def transition(current: RoomStatus, target: RoomStatus) -> RoomStatus:
    if (current, target) not in _ALLOWED:
        raise RoomTransitionError(f"a {current} room cannot become {target}")
    return target
