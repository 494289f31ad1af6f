"""Token buckets per key: a viewer may act in bursts, not flood."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`rate_per_s` sustained, `burst` at once. Times are monotonic seconds.

    Idle buckets are full buckets, so they are forgotten to keep memory bounded
    however many viewers pass through.
    """

    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 100_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.rate, self.burst, self.max_keys = rate_per_s, float(burst), max_keys
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_idle(self, now: float) -> None:
        refill_s = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < refill_s}


class LastPosts:
    """When each member last posted in a room (monotonic seconds), for slow mode: one clock
    per member, whatever they post (a chat line, a picture, a link) and from which tab.
    Bounded: past `max_keys` the oldest entries are forgotten (a slow-mode wait is seconds)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._at: dict[str, float] = {}

    def last(self, key: str) -> float | None:
        return self._at.get(key)

    def posted(self, key: str, now: float) -> None:
        self._at.pop(key, None)
        self._at[key] = now  # insertion order is age order
        if len(self._at) > self.max_keys:
            del self._at[next(iter(self._at))]
