"""The outbound limiter with a fake clock: Telegram's limits (30/s overall, 1/s and 20/min
per chat), pauses from a 429, bookings kept for a NAKed job."""

from __future__ import annotations

import random

import pytest

from services.ingest.domain.channels import ChannelLimits, Rate
from services.ingest.domain.limiter import Limiter

TELEGRAM = ChannelLimits(overall=(Rate(30, 1.0),), per_chat=(Rate(1, 1.0), Rate(20, 60.0)))


def limiter(hold_s: float = 1e9, margin_s: float = 0.0, pace: bool = False) -> Limiter:
    return Limiter({"telegram": TELEGRAM}, hold_s=hold_s, margin_s=margin_s, pace=pace)


def most_in_a_window(times: list[float], per_s: float) -> int:
    """The most sends in any half-open window [x, x + per_s) (brute force)."""
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered if start <= t < start + per_s) for start in ordered), default=0
    )


def test_thirty_a_second_overall_across_chats() -> None:
    limits = limiter()
    slots = [limits.reserve("telegram", f"chat-{n}", 0.0).at for n in range(100)]
    assert slots[:30] == [0.0] * 30
    assert slots[30:60] == [1.0] * 30
    assert slots[90:] == [3.0] * 10
    assert most_in_a_window(slots, 1.0) == 30


def test_paced_the_thirty_go_evenly_through_the_second() -> None:
    limits = limiter(pace=True)
    slots = [limits.reserve("telegram", f"chat-{n}", 0.0).at for n in range(61)]
    assert slots == pytest.approx([n / 30 for n in range(61)])
    assert most_in_a_window(slots, 1.0) == 30
    # A chat's own limit is not paced: one a second.
    assert limits.reserve("telegram", "chat-0", 2.5).at == pytest.approx(2.5)


def test_one_a_second_and_twenty_a_minute_per_chat() -> None:
    limits = limiter()
    slots = [limits.reserve("telegram", "chat", 0.0).at for _ in range(23)]
    assert slots[:20] == [float(n) for n in range(20)]  # one a second
    assert slots[20:] == [60.0, 61.0, 62.0]  # the 21st waits for the first to leave the minute
    assert most_in_a_window(slots, 60.0) == 20 and most_in_a_window(slots, 1.0) == 1


def test_a_chat_at_its_limit_does_not_hold_up_the_others() -> None:
    limits = limiter()
    for _ in range(5):
        limits.reserve("telegram", "busy", 0.0)
    assert limits.reserve("telegram", "quiet", 0.0).at == 0.0


def test_the_margin_widens_every_window() -> None:
    limits = limiter(margin_s=0.1)
    slots = [limits.reserve("telegram", "chat", 0.0).at for _ in range(3)]
    assert slots == pytest.approx([0.0, 1.1, 2.2])
    overall = [limits.reserve("telegram", f"c{n}", 10.0).at for n in range(31)]
    assert overall[-1] == pytest.approx(11.1)


def test_a_slot_beyond_the_hold_is_far() -> None:
    limits = limiter(hold_s=5.0)
    slots = [limits.reserve("telegram", "chat", 0.0) for _ in range(7)]
    assert [s.near for s in slots] == [True] * 6 + [False]  # 0..5 s near, 6 s far
    assert slots[6].wait_s(0.0) == 6.0 and slots[0].wait_s(3.0) == 0.0


def test_a_chat_pause_holds_that_chat_only() -> None:
    limits = limiter()
    limits.pause("telegram", "chat", 7.5)
    assert limits.reserve("telegram", "chat", 1.0).at == 7.5
    assert limits.reserve("telegram", "other", 1.0).at == 1.0
    assert limits.paused_until("telegram", "chat") == 7.5
    limits.pause("telegram", "chat", 3.0)  # a shorter pause does not shorten it
    assert limits.paused_until("telegram", "chat") == 7.5


def test_a_platform_pause_holds_every_chat() -> None:
    limits = limiter()
    limits.pause("telegram", None, 4.0)
    assert limits.reserve("telegram", "a", 1.0).at == 4.0
    assert limits.reserve("telegram", "b", 1.0).at == 4.0
    assert limits.reserve("telegram", "a", 9.0).at == 9.0  # over


def test_a_key_keeps_its_booking_for_the_redelivery() -> None:
    limits = limiter(hold_s=5.0)
    for _ in range(20):
        limits.reserve("telegram", "chat", 0.0)
    far = limits.reserve("telegram", "chat", 20.0, key="k21")
    assert (far.at, far.near) == (60.0, False)
    after = limits.reserve("telegram", "chat", 20.0, key="k22")
    assert after.at == 61.0  # the chat's next message comes after the one NAKed
    again = limits.reserve("telegram", "chat", 58.0, key="k21")  # back before its slot
    assert (again.at, again.near) == (60.0, True)
    assert limits.reserve("telegram", "chat", 60.0, key="k21").at == 60.0


def test_a_missed_booking_is_made_again() -> None:
    limits = limiter(margin_s=0.1)
    first = limits.reserve("telegram", "chat", 0.0, key="k")
    assert first.at == 0.0
    # Woke 0.05 s late: within the margin, the slot holds.
    assert limits.reserve("telegram", "chat", 0.05, key="k").at == 0.0
    # 0.5 s late: booked anew (now), not sent against a stale slot.
    assert limits.reserve("telegram", "chat", 0.5, key="k").at == 0.5


def test_a_pause_after_booking_moves_the_booking() -> None:
    limits = limiter()
    assert limits.reserve("telegram", "chat", 0.0, key="k").at == 0.0
    limits.pause("telegram", "chat", 30.0)
    assert limits.reserve("telegram", "chat", 0.0, key="k").at == 30.0


def test_released_and_sent_keys() -> None:
    limits = limiter()
    limits.reserve("telegram", "chat", 0.0, key="nothing-to-send")
    limits.release("telegram", "nothing-to-send")
    assert limits.reserve("telegram", "chat", 0.0, key="k").at == 0.0  # the slot came back
    limits.sent("telegram", "k")
    assert limits.reserve("telegram", "chat", 0.0).at == 1.0  # a sent slot counts


def test_a_platform_without_limits_is_never_held() -> None:
    limits = limiter()
    assert limits.reserve("wecom", "robot", 3.0).at == 3.0
    limits.pause("wecom", None, 10.0)  # nothing to hold: ignored


def test_old_bookings_are_forgotten() -> None:
    limits = limiter()
    for n in range(200):
        limits.reserve("telegram", f"c{n}", float(n))
    limits.reserve("telegram", "c0", 1000.0)
    state = limits._platforms["telegram"]
    assert len(state.overall) == 1 and list(state.chats) == ["c0"]


@pytest.mark.parametrize("seed", range(5))
def test_random_traffic_keeps_every_window(seed: int) -> None:
    """Reservations arriving over time for a few chats (some keyed, some released): the
    booked moments keep all three windows, and each chat's are in order."""
    rng = random.Random(seed)
    limits = limiter(hold_s=5.0, margin_s=0.05, pace=seed % 2 == 0)
    now, booked, by_chat = 0.0, [], {}  # type: ignore[var-annotated]
    keys: dict[str, tuple[str, float]] = {}
    for n in range(600):
        now += rng.expovariate(40.0)
        chat = f"c{rng.randrange(12)}"
        key = f"k{n}"
        slot = limits.reserve("telegram", chat, now, key=key)
        assert slot.at >= now
        if rng.random() < 0.05:
            limits.release("telegram", key)
            continue
        keys[key] = (chat, slot.at)
    for chat, at in keys.values():
        booked.append(at)
        by_chat.setdefault(chat, []).append(at)
    assert most_in_a_window(booked, 1.0) <= 30
    for times in by_chat.values():
        assert times == sorted(times)
        assert most_in_a_window(times, 1.0) <= 1 and most_in_a_window(times, 60.0) <= 20
