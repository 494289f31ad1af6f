"""The room's video in the fold and the report, without a broker or a database: takes,
reconnects, the room's end, duplicates and order; viewers' time within the broadcast."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from services.analytics.domain import facts
from services.analytics.domain.broadcast import (
    TakeFacts,
    WatchSpan,
    on_air,
    overlap,
    union,
    watched_on_air,
)
from services.analytics.domain.fold import fold
from services.analytics.domain.report import RoomFacts, RoomReport, build_report, with_live_url
from shared.events import IntegrationEvent, RoomEnded, RoomStarted
from tests.analytics.video import ANN, ROOM, a_show, started, stopped, t, visit


def report_of(
    batches: Sequence[Sequence[IntegrationEvent]], staff: frozenset[str] = frozenset()
) -> RoomReport:
    """Fold batch by batch and merge the contributions as the store's upserts do (account
    ids stand for persons), then build the report from the rows."""
    merged = facts.Contributions()
    for batch in batches:
        for spec in facts.ALL_SPECS:
            for row in fold(batch).rows.of(spec):
                if spec.insert_only:
                    merged.insert(spec, spec.key_of(row), row)
                else:
                    merged.add(spec, **row)
    (room,) = merged.of(facts.ROOMS)
    return build_report(
        room=RoomFacts(
            ROOM, None, None, room["started_at"], room["ended_at"], room["last_event_at"]
        ),
        minutes=[],
        in_room={},
        offers=[],
        packets=[],
        polls=[],
        returning=set(),
        tiers_before={},
        tiers_after={},
        previous_room_id=None,
        staff=staff,
        takes=[
            TakeFacts(
                r["take"],
                r["source"],
                r["started_at"],
                r["stopped_at"],
                r["stop_reason"],
                r["on_air_ms"],
            )
            for r in merged.of(facts.TAKES)
        ],
        watch_spans=[
            WatchSpan(r["account_id"], r["from_at"], r["to_at"])
            for r in merged.of(facts.WATCH_SPANS)
        ],
    )


def figures(r: RoomReport) -> tuple[object, ...]:
    return (
        r.takes,
        r.reconnects,
        r.broadcast_minutes,
        r.broadcast_viewers,
        r.broadcast_watch_minutes,
        r.average_broadcast_watch_minutes,
        r.broadcast_share_watched,
    )


def test_takes_a_reconnect_and_a_take_closed_by_the_room_end() -> None:
    r = report_of([a_show()])
    # on air 290 s + 280 s (20:05:20 to the room's end) = 9.5 min
    assert [(x.take, x.started_at, x.stopped_at, x.stop_reason) for x in r.on_air] == [
        (1, t(0, 10), t(5), "encoder_gone"),
        (2, t(5, 20), t(10), None),
    ]
    # Ann 20:00:10-20:03 -> 170 s; Ben 20:02-20:05 + 20:05:20-20:10 -> 180 + 280 s
    # 630 s = 10.5 min over 2 viewers: 5.25 min each, 315 of 570 s
    assert figures(r) == (2, 1, 9.5, 2, 10.5, 5.25, round(315 / 570, 4))
    assert r.replay_url == f"/r/{ROOM}/replay"


@pytest.mark.parametrize("seed", range(6))
def test_any_order_any_batching_and_duplicates_give_the_same_figures(seed: int) -> None:
    rnd = random.Random(seed)
    events = a_show()
    shuffled = events + rnd.sample(events, 4)  # some twice (redelivered: the same ids)
    rnd.shuffle(shuffled)
    size = rnd.randint(1, 4)
    batches = [shuffled[i : i + size] for i in range(0, len(shuffled), size)]
    assert figures(report_of(batches)) == figures(report_of([events]))
    assert report_of(batches).on_air == report_of([events]).on_air


def test_a_stop_without_its_start_counts_its_time_back() -> None:
    r = report_of([[RoomStarted(room_id=ROOM, occurred_at=t(0)), stopped(3, t(30), 600)]])
    assert [(x.take, x.started_at, x.stopped_at) for x in r.on_air] == [(3, t(20), t(30))]
    assert (r.takes, r.reconnects, r.broadcast_minutes) == (1, 0, 10)


def test_a_take_whose_stop_was_lost_closes_when_the_next_one_starts() -> None:
    events = [RoomStarted(room_id=ROOM, occurred_at=t(0)), started(1, t(1)), started(2, t(4))]
    events += [stopped(2, t(6), 120, "room_ended"), RoomEnded(room_id=ROOM, occurred_at=t(6))]
    r = report_of([events])
    assert [(x.started_at, x.stopped_at) for x in r.on_air] == [(t(1), t(4)), (t(4), t(6))]
    assert r.broadcast_minutes == 5


def test_a_show_still_on_counts_up_to_its_last_event() -> None:
    events = [
        RoomStarted(room_id=ROOM, occurred_at=t(0)),
        started(1, t(1)),
        *visit(ANN, t(2), t(4)),
    ]
    r = report_of([events])
    assert (r.broadcast_minutes, r.broadcast_watch_minutes, r.broadcast_share_watched) == (
        3,
        2,
        round(2 / 3, 4),
    )


def test_overlapping_takes_and_tabs_count_once_and_staff_is_no_viewer() -> None:
    events = [
        started(1, t(0)),
        stopped(1, t(10), 600, "source_changed"),
        started(2, t(9, 30), source="hls_url"),  # the hosted stream began before the switch
        stopped(2, t(20), 630, "room_ended"),
        *visit(ANN, t(5), t(15)),
        *visit(ANN, t(8), t(12)),  # a second tab inside the first visit
        *visit("host:h1", t(0), t(20)),  # the host's console
    ]
    r = report_of([events], staff=frozenset({"host:h1"}))
    assert (r.takes, r.broadcast_minutes) == (2, 20)
    assert (r.broadcast_viewers, r.broadcast_watch_minutes, r.broadcast_share_watched) == (
        1,
        10,
        0.5,
    )


def test_a_stop_before_its_start_on_another_clock_leaves_the_take_empty() -> None:
    r = report_of([[started(1, t(1, 0)), stopped(1, t(0, 59), 0.5)]])
    assert (r.takes, r.broadcast_minutes, r.broadcast_share_watched) == (1, 0, None)


def test_no_video_no_figures_and_a_hosted_stream_has_no_replay() -> None:
    quiet = report_of([[RoomStarted(room_id=ROOM, occurred_at=t(0)), *visit(ANN, t(1), t(2))]])
    assert figures(quiet) == (0, 0, 0, 0, 0, 0, None)
    assert quiet.replay_url is None
    hosted = report_of(
        [[started(1, t(0), source="youtube"), RoomEnded(room_id=ROOM, occurred_at=t(5))]]
    )
    assert (hosted.broadcast_minutes, hosted.replay_url) == (5, None)


def test_the_replay_link_is_made_absolute_on_lives_public_url() -> None:
    r = report_of([a_show()])
    assert with_live_url(r, "").replay_url == f"/r/{ROOM}/replay"
    linked = with_live_url(r, "https://live.example.com/")
    assert linked.replay_url == f"https://live.example.com/r/{ROOM}/replay"
    assert r.replay_url == f"/r/{ROOM}/replay"  # a copy: the cached report keeps the path


def test_span_arithmetic() -> None:
    assert union([(t(5), t(8)), (t(0), t(2)), (t(1), t(3)), (t(3), t(4)), (t(9), t(9))]) == [
        (t(0), t(4)),
        (t(5), t(8)),
    ]
    assert overlap([(t(0), t(4)), (t(5), t(8))], [(t(3), t(6)), (t(7), t(20))]) == timedelta(
        minutes=3
    )
    spans = [WatchSpan("p", t(0), t(2)), WatchSpan("p", t(1), t(3)), WatchSpan("q", t(5), t(6))]
    assert watched_on_air(spans, [(t(1), t(4))], set()) == {"p": timedelta(minutes=2)}
    assert on_air([], None, None) == []
