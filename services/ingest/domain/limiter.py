"""When the next message to a group may go, within the platform's published limits.

Pure: no clock, no asyncio; times are seconds on one monotonic clock, passed in. The
sender asks `reserve(platform, chat, now, key)` just before it would send: the answer is
the earliest moment that keeps every sliding window of the channel (`ChannelLimits.overall`
over all its chats, `.per_chat` for this chat) and every pause (a 429's retry_after), and
that moment is booked. A moment within `hold_s` is waited for in the process; a later one
is kept for the key, and the sender NAKs the job to come back then (holding a message for
a minute would hold a worker and the JetStream ack timer for nothing).

Windows: at most `count` sends in any half-open interval of `per_s + margin_s` seconds. The
margin covers the gap between the booked moment and the platform's clock reading the
request (a late wake-up of the event loop, the request's way): a send that leaves more
than `margin_s` after its slot is booked again instead of risking a 429.

Overall rates are also paced: a channel's 30 a second go one every 1/30 s rather than 30
at once and then none, so that the sends of one moment do not bunch up on the way (30
requests made at once reach the platform over tens of milliseconds, and the last of one
second's batch would share a window with the first of the next).

Within a chat, slots are first come, first served: a new booking is never before the
chat's last one, so one chat's messages go in the order they were reserved.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.ingest.domain.channels import ChannelLimits, Rate


@dataclass(frozen=True)
class Slot:
    """When the message may go; `near`: within the hold, wait for it (else NAK until then)."""

    at: float
    near: bool

    def wait_s(self, now: float) -> float:
        return max(0.0, self.at - now)


@dataclass
class _Booking:
    chat: str
    at: float


@dataclass
class _Platform:
    limits: ChannelLimits
    overall: list[float] = field(default_factory=list)  # booked moments, sorted
    chats: dict[str, list[float]] = field(default_factory=dict)  # sorted, per chat
    paused_until: float = 0.0  # every chat (a platform-wide 429)
    chat_paused_until: dict[str, float] = field(default_factory=dict)
    keys: dict[str, _Booking] = field(default_factory=dict)


class Limiter:
    def __init__(
        self,
        limits: Mapping[str, ChannelLimits],
        hold_s: float = 5.0,
        margin_s: float = 0.1,
        pace: bool = True,
    ) -> None:
        self.hold_s = hold_s
        self.margin_s = margin_s
        self.pace = pace
        self._platforms = {name: _Platform(limit) for name, limit in limits.items()}
        # How long a booking matters: the longest window; older ones are forgotten.
        self._memory_s = {
            name: max((r.per_s for r in (*lim.overall, *lim.per_chat)), default=0.0) + margin_s
            for name, lim in limits.items()
        }
        self._swept_at: dict[str, float] = {}

    def reserve(self, platform: str, chat: str, now: float, key: str | None = None) -> Slot:
        """Book the earliest moment this message may go (see the module's docstring).

        With a `key`, a booking made earlier for it (a job NAKed to come back at its slot)
        is the answer while it is still good: not missed by more than the margin, not
        inside a pause since. Otherwise it is given up and the key booked anew, keeping
        its place among the chat's messages as far as the windows allow."""
        state = self._platforms.get(platform)
        if state is None:  # a platform without published limits: nothing to keep
            return Slot(now, True)
        self._forget_old(platform, state, now)
        paused = max(state.paused_until, state.chat_paused_until.get(chat, 0.0))
        start = max(now, paused)
        booked = state.keys.get(key) if key is not None else None
        if booked is not None:
            if booked.at >= paused and booked.at >= now - self.margin_s:
                return Slot(booked.at, booked.at - now <= self.hold_s)
            self._unbook(state, booked)
            del state.keys[key]  # type: ignore[arg-type]
        else:
            chat_times = state.chats.get(chat)
            if chat_times:  # first come, first served within the chat
                start = max(start, chat_times[-1])
        at = self._earliest(state, chat, start)
        self._book(state, chat, at)
        if key is not None:
            state.keys[key] = _Booking(chat, at)
        return Slot(at, at - now <= self.hold_s)

    def release(self, platform: str, key: str) -> None:
        """Give back a key's booking (the job turned out to send nothing)."""
        state = self._platforms.get(platform)
        booked = state.keys.pop(key, None) if state else None
        if state is not None and booked is not None:
            self._unbook(state, booked)

    def sent(self, platform: str, key: str) -> None:
        """The key's message went at its slot: the slot stays counted, the key is done."""
        state = self._platforms.get(platform)
        if state is not None:
            state.keys.pop(key, None)

    def pause(self, platform: str, chat: str | None, until: float) -> None:
        """Nothing to `chat` (None: to any chat of the platform) before `until`."""
        state = self._platforms.get(platform)
        if state is None:
            return
        if chat is None:
            state.paused_until = max(state.paused_until, until)
        else:
            state.chat_paused_until[chat] = max(state.chat_paused_until.get(chat, 0.0), until)

    def paused_until(self, platform: str, chat: str) -> float:
        state = self._platforms.get(platform)
        if state is None:
            return 0.0
        return max(state.paused_until, state.chat_paused_until.get(chat, 0.0))

    # ---- the windows ---------------------------------------------------------------

    def _earliest(self, state: _Platform, chat: str, start: float) -> float:
        margin = self.margin_s
        chat_times = state.chats.get(chat, [])
        # (the booked moments, at most this many, in any window of this many seconds)
        constraints = [(state.overall, r.count, r.per_s + margin) for r in state.limits.overall]
        if self.pace:
            constraints += [
                (state.overall, 1, (r.per_s + margin) / r.count)
                for r in state.limits.overall
                if r.count > 1
            ]
        constraints += [(chat_times, r.count, r.per_s + margin) for r in state.limits.per_chat]
        at = start
        while True:
            later = at
            for times, count, window in constraints:
                blocked_until = _blocked_until(times, count, window, at)
                if blocked_until is not None:
                    later = max(later, blocked_until)
            if later == at:
                return at
            at = later

    # ---- bookkeeping ---------------------------------------------------------------

    @staticmethod
    def _book(state: _Platform, chat: str, at: float) -> None:
        insort(state.overall, at)
        insort(state.chats.setdefault(chat, []), at)

    @staticmethod
    def _unbook(state: _Platform, booked: _Booking) -> None:
        _remove(state.overall, booked.at)
        times = state.chats.get(booked.chat)
        if times is not None:
            _remove(times, booked.at)

    def _forget_old(self, platform: str, state: _Platform, now: float) -> None:
        """Bookings older than the longest window no longer count: drop them (all chats
        are swept at most once per window, so a call costs little)."""
        horizon = now - self._memory_s[platform]
        del state.overall[: bisect_left(state.overall, horizon)]
        if now - self._swept_at.get(platform, -1e18) < self._memory_s[platform]:
            return
        self._swept_at[platform] = now
        for chat in list(state.chats):
            times = state.chats[chat]
            del times[: bisect_left(times, horizon)]
            if not times:
                del state.chats[chat]
        for chat, until in list(state.chat_paused_until.items()):
            if until < now:
                del state.chat_paused_until[chat]
        for key, booked in list(state.keys.items()):
            if booked.at < horizon:
                del state.keys[key]


def _blocked_until(times: list[float], count: int, window: float, at: float) -> float | None:
    """None if one more send at `at` keeps at most `count` in any `window` over `times`;
    else the next moment worth trying: when the earliest send in the window around `at`
    leaves it. (Whether a send fits changes for the better only when a booked send leaves
    the window.)"""
    # The sends within a window of `at` either way: b + window > at and b < at + window
    # (always in this form: with floats, `at - b < window` may disagree).
    first = bisect_right(times, at, key=lambda b: b + window)
    near = times[first : bisect_left(times, at + window)]
    if len(near) < count:
        return None
    # Sorted with `at` in: any `count + 1` consecutive sends must span a whole window.
    i = bisect_right(near, at)
    merged = [*near[:i], at, *near[i:]]
    for j in range(max(0, i - count), min(i, len(merged) - 1 - count) + 1):
        if merged[j] + window > merged[j + count]:
            return near[0] + window  # > at, by the choice of `first`
    return None


def scaled(limits: ChannelLimits, factor: float) -> ChannelLimits:
    """The same windows with `factor` times the messages (at least one each)."""
    if factor == 1:
        return limits

    def each(rates: tuple[Rate, ...]) -> tuple[Rate, ...]:
        return tuple(Rate(max(1, round(r.count * factor)), r.per_s) for r in rates)

    return ChannelLimits(overall=each(limits.overall), per_chat=each(limits.per_chat))


def _remove(times: list[float], at: float) -> None:
    i = bisect_left(times, at)
    if i < len(times) and times[i] == at:
        del times[i]
