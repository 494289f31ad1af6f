import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest

from services.live.adapters.tables import AnnouncementRow
from services.live.bootstrap import build
from services.live.main import create_app
from services.live.service_layer.announcements import due_slot
from shared import background, subjects
from shared.embedded_nats import NatsServer
from shared.events import AnnouncementPosted, parse_event, utcnow
from shared.messaging import H_REASON
from tests.live.conftest import ADMIN, live_settings, open_room
from tests.support import serving

T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def test_once_is_due_from_its_time_for_a_minute_only() -> None:
    assert due_slot(T0, None, T0 - timedelta(seconds=1)) is None
    assert due_slot(T0, None, T0) == 0
    assert due_slot(T0, None, T0 + timedelta(seconds=59)) == 0
    assert due_slot(T0, None, T0 + timedelta(minutes=5)) is None  # too late: skipped


def test_hourly_is_due_at_each_hour() -> None:
    assert due_slot(T0, 3600, T0 + timedelta(hours=2, seconds=10)) == 2
    assert due_slot(T0, 3600, T0 + timedelta(hours=2, minutes=30)) is None


async def test_an_announcement_that_cannot_be_posted_fails_alone(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row no event can carry (room id "r_x ", stored before ids were checked) is
    dead-lettered; the other rooms' announcements still go out (decision 0015)."""
    monkeypatch.setattr(background, "ITEM_BACKOFF_S", (0.05,) * 4)
    live = build(live_settings(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db"))
    nc = await nats.connect(nats_server.url)
    posted = await nc.subscribe(subjects.domain_events("live"))
    dead = await nc.subscribe(subjects.dead_letters("live"))
    async with serving(create_app(live)) as url:
        async with live.infra.sessions() as session:
            session.add(
                AnnouncementRow(id="a_poison", room_id="r_x ", text="old", at=utcnow(), every_s=60)
            )
            await session.commit()
        room = await open_room(url)
        async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=30) as http:
            answer = await http.post(
                f"/rooms/{room}/announcements", json={"text": "Cherries at 8 樱桃", "every_s": 60}
            )
            assert answer.status_code == 201, answer.text

        event = parse_event((await posted.next_msg(timeout=10)).data)
        while not isinstance(event, AnnouncementPosted):
            event = parse_event((await posted.next_msg(timeout=10)).data)
        assert event.room_id == room
        letter = await dead.next_msg(timeout=10)
        assert json.loads(letter.data)["item"] == "a_poison"
        assert letter.headers and "room_id" in letter.headers[H_REASON]
    await nc.close()  # not drain(): its next_msg subscriptions may hold unread messages
