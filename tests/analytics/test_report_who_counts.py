"""Who the post-stream report counts: shows that took place, and viewers as persons.

- a show is a room that started: a room scheduled for next week, or one cancelled
  before it started, is nobody's previous show and no one's attended show;
- viewers are distinct customers with a viewer role: a live instance that restarts
  makes its viewers join again without having left, and the host's console joins too;
  neither may count anyone twice (peak <= unique, the curve per person).
"""

from __future__ import annotations

from datetime import timedelta

from services.analytics.domain.report import RoomReport
from shared.events import IntegrationEvent, RoomEnded, RoomOpened, ViewerJoined, ViewerLeft
from tests.analytics import show
from tests.analytics.conftest import Analytics
from tests.analytics.show import CAT, DAN, HOST, LILY, ROOM, T0, WEI, m
from tests.support import eventually


async def _report(analytics: Analytics, events: list[IntegrationEvent]) -> RoomReport:
    await analytics.publish(events)
    await analytics.settled(len(events))

    async def built() -> bool:
        return await analytics.app.reports.is_ready(ROOM)

    await eventually(built)
    return RoomReport.model_validate(await analytics.get(f"/rooms/{ROOM}/report"))


def _scheduled_and_cancelled() -> list[IntegrationEvent]:
    """Next week's show, scheduled half an hour before tonight's (Wei and Cat open its
    waiting page), and a show of the same host cancelled before it started."""
    return [
        RoomOpened(
            room_id="r_next",
            title="Next week",
            host_id=HOST,
            scheduled_at=T0 + timedelta(days=7),
            occurred_at=m(-50),
        ),
        ViewerJoined(room_id="r_next", customer_id=WEI, display_name="Wei", occurred_at=m(-40)),
        ViewerLeft(room_id="r_next", customer_id=WEI, watch_seconds=5, occurred_at=m(-40, 5)),
        ViewerJoined(room_id="r_next", customer_id=CAT, display_name="Cat", occurred_at=m(-40)),
        RoomOpened(room_id="r_gone", title="Cancelled", host_id=HOST, occurred_at=m(-45)),
        ViewerJoined(room_id="r_gone", customer_id=WEI, display_name="Wei", occurred_at=m(-44)),
        RoomEnded(room_id="r_gone", occurred_at=m(-43)),
    ]


async def test_the_previous_show_is_one_that_took_place(analytics: Analytics) -> None:
    events = show.previous_show() + _scheduled_and_cancelled() + show.the_show()
    r = await _report(analytics, events)

    assert r.previous_room_id == "r_prev"
    # Wei and Cat only opened pages of shows that never took place: tonight is their first.
    assert (r.new_vs_returning.new, r.new_vs_returning.returning) == (4, 2)
    assert [(x.from_tier, x.to_tier, x.persons) for x in r.segment_movement] == [
        ("new", "ordinary", 4),
        ("ordinary", "active", 2),
    ]
    wei = await analytics.get(f"/customers/{WEI}")
    assert wei["rooms_attended"] == 1


def _restart_and_console() -> list[IntegrationEvent]:
    """The host's console is open all show; at 12:04:30 the live instance restarts: its
    viewers' sockets die without viewer.left and they join again (Lily twice, two tabs)."""
    return [
        ViewerJoined(room_id=ROOM, customer_id=HOST, display_name="host", occurred_at=m(0, 5)),
        *(
            ViewerJoined(room_id=ROOM, customer_id=who, display_name=who, occurred_at=m(4, 40))
            for who in (LILY, LILY, WEI, CAT, DAN)
        ),
        ViewerJoined(room_id=ROOM, customer_id=HOST, display_name="host", occurred_at=m(4, 45)),
    ]


async def test_viewers_are_persons_with_a_viewer_role(analytics: Analytics) -> None:
    events = show.previous_show() + show.the_show() + _restart_and_console()
    r = await _report(analytics, events)

    # The same figures as without the restart and the console (test_report.py).
    assert r.unique_viewers == 5
    assert [p.viewers for p in r.minutes] == [1, 3, 5, 5, 4, 4, 4, 4, 4, 4, 0]
    assert r.peak_viewers == 5
    assert r.peak_viewers <= r.unique_viewers
    # The host is not an attendee of their own show.
    assert r.attendees == 6
    assert r.funnel.joined == 6
    assert HOST not in {e.person_id for e in r.top_engagers}
