"""Daily check-in: one a day per member of a host's community, streaks earn more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

BASE_POINTS = 1
STREAK_BONUS_CAP = 6  # day 7 and beyond earn 1 + 6


@dataclass(frozen=True)
class CheckinState:
    last_day: date
    streak: int
    points: int


@dataclass(frozen=True)
class CheckinResult:
    accepted: bool
    message: str
    state: CheckinState
    points_earned: int = 0


def check_in(state: CheckinState | None, day: date) -> CheckinResult:
    """Check in on `day` (the community's local calendar day)."""
    if state is not None and state.last_day >= day:
        return CheckinResult(False, "You already checked in today — see you tomorrow!", state)
    kept = state is not None and state.last_day == day - timedelta(days=1)
    streak = state.streak + 1 if kept and state is not None else 1
    earned = BASE_POINTS + min(streak - 1, STREAK_BONUS_CAP)
    points = (state.points if state else 0) + earned
    message = (
        f"Checked in: day {streak} in a row, +{earned} points."
        if streak > 1
        else f"Checked in: +{earned} point. Come back tomorrow to start a streak!"
    )
    return CheckinResult(True, message, CheckinState(day, streak, points), earned)
