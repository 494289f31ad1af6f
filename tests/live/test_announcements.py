from datetime import UTC, datetime, timedelta

from services.live.service_layer.announcements import due_slot

T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def test_once_is_due_from_its_time_for_a_minute_only() -> None:
    assert due_slot(T0, None, T0 - timedelta(seconds=1)) is None
    assert due_slot(T0, None, T0) == 0
    assert due_slot(T0, None, T0 + timedelta(seconds=59)) == 0
    assert due_slot(T0, None, T0 + timedelta(minutes=5)) is None  # too late: skipped


def test_hourly_is_due_at_each_hour() -> None:
    assert due_slot(T0, 3600, T0 + timedelta(hours=2, seconds=10)) == 2
    assert due_slot(T0, 3600, T0 + timedelta(hours=2, minutes=30)) is None
