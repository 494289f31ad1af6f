"""The room's video on air, and the viewers' time watching it: plain rules.

- a take is one `stream.started` .. `stream.stopped` of the room (live numbers them 1, 2,
  ... per room): on air from its start to its stop. A take still open when the next take
  started, or when the room ended, closes there (whichever comes first); one still open
  in a room that has neither, at the room's last event (the report of a show still on).
  A stop whose start never reached analytics counts its `on_air_seconds` back from the
  stop. A stop before its start (two clocks) leaves the take empty.
- broadcast time: the union of the takes (a take overlapping another counts once);
  takes: how many went on air; reconnects: takes after the first.
- a viewer is on the page during each of their connections, known from `viewer.left`:
  from its time minus its `watch_seconds` (live measures the connection from the socket's
  opening) to its time. A connection that never said it left (a live instance crashed)
  counts nothing here, as in `watch_seconds`.
- watch time within broadcast: per person (linked accounts and tabs count once), the union
  of their connections intersected with the broadcast; its viewers: the persons with any.
  Staff (host, moderators) run the show: never viewers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

Span = tuple[datetime, datetime]
ZERO = timedelta(0)


class TakeFacts(NamedTuple):
    """One take as the projection keeps it (analytics_stream_takes)."""

    take: int
    source: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None
    on_air_ms: int | None


class WatchSpan(NamedTuple):
    """One page connection of a person: [from_at, to_at]."""

    person_id: str
    from_at: datetime
    to_at: datetime


@dataclass(frozen=True)
class OnAir:
    take: int
    source: str | None
    start: datetime
    end: datetime
    stop_reason: str | None  # None: closed by the next take, the room's end, or still on

    @property
    def span(self) -> Span:
        return (self.start, self.end)


def on_air(
    takes: Iterable[TakeFacts], ended_at: datetime | None, last_event_at: datetime | None
) -> list[OnAir]:
    """Each take's time on air, in time order (rules in the module's docstring)."""
    known = list(takes)
    starts = sorted(t.started_at for t in known if t.started_at is not None)
    found = []
    for t in known:
        if t.started_at is not None and t.stopped_at is not None:
            start, end = t.started_at, max(t.started_at, t.stopped_at)
        elif t.stopped_at is not None:
            start, end = t.stopped_at - timedelta(milliseconds=t.on_air_ms or 0), t.stopped_at
        elif t.started_at is not None:
            start = t.started_at
            limits = [at for at in (ended_at, _next(starts, start)) if at is not None]
            end = min(limits) if limits else (last_event_at or start)
            end = max(start, end)
        else:
            continue
        found.append(OnAir(t.take, t.source, start, end, t.stop_reason))
    found.sort(key=lambda a: (a.start, a.take))
    return found


def _next(starts: Sequence[datetime], after: datetime) -> datetime | None:
    return next((at for at in starts if at > after), None)


def union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint spans covering the same time (empty spans dropped)."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def length(spans: Iterable[Span]) -> timedelta:
    return sum((end - start for start, end in spans), ZERO)


def overlap(a: Sequence[Span], b: Sequence[Span]) -> timedelta:
    """Time in both, for two sorted disjoint lists (as `union` gives)."""
    total, i, j = ZERO, 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            total += end - start
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return total


def watched_on_air(
    spans: Iterable[WatchSpan], broadcast: Sequence[Span], staff: frozenset[str] | set[str]
) -> dict[str, timedelta]:
    """Per person (staff left out), their time on the page while the video was on air;
    only persons with some."""
    if not broadcast:
        return {}
    first, last = broadcast[0][0], broadcast[-1][1]
    per_person: dict[str, list[Span]] = {}
    for person, start, end in spans:
        if person in staff or end <= first or start >= last:
            continue  # nothing on air to share (most of a long room's early visits)
        per_person.setdefault(person, []).append((start, end))
    found = {}
    for person, own in per_person.items():
        watched = overlap(union(own), broadcast)
        if watched > ZERO:
            found[person] = watched
    return found
