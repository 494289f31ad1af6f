import random
from datetime import date

import pytest

from services.live.domain.checkin import CheckinState, check_in
from services.live.domain.moderation import Allowed, Blocked, RoomRules, check_message
from services.live.domain.polls import Poll
from services.live.domain.ratelimit import RateLimiter
from services.live.domain.red_packets import luckiest, split_red_packet
from services.live.domain.viewers import Role

RULES = RoomRules(blocked_words=("scam",), slow_mode_s=5, max_length=50)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("this is a SCAM", "blocked_word"),
        ("see https://cheap.example", "link"),
        ("go to shop.xyz now", "link"),
        ("add my wechat for cheaper", "ad"),
        ("call +44 7700 900123", "ad"),
        ("x" * 51, "too_long"),
    ],
)
def test_members_are_held_to_the_rules(text: str, rule: str) -> None:
    verdict = check_message(RULES, Role.MEMBER, text, now=100, last_post_at=None)
    assert isinstance(verdict, Blocked) and verdict.rule == rule and verdict.message


def test_host_and_moderators_may_post_links_but_not_walls_of_text() -> None:
    for role in (Role.HOST, Role.MODERATOR):
        assert check_message(RULES, role, "https://shop.example/cherries", 0, None) == Allowed()
        assert isinstance(check_message(RULES, role, "x" * 51, 0, None), Blocked)
    assert isinstance(check_message(RULES, Role.COMMITTEE, "https://a.example", 0, None), Blocked)


def test_slow_mode_counts_from_the_last_post() -> None:
    assert isinstance(check_message(RULES, Role.MEMBER, "hi", 103, 100), Blocked)
    assert check_message(RULES, Role.MEMBER, "hi", 105.5, 100) == Allowed()
    assert check_message(RoomRules(), Role.MEMBER, "hi", 100.1, 100) == Allowed()


def test_rules_from_stored_json_default_what_is_missing() -> None:
    rules = RoomRules.from_dict({"blocked_words": ["a", "b"], "max_length": 80, "junk": 1})
    assert rules == RoomRules(blocked_words=("a", "b"), max_length=80)
    assert RoomRules.from_dict(None) == RoomRules()


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=2, burst=3)
    assert [limiter.allow("v", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("v", 0.5) and not limiter.allow("v", 0.5)
    assert limiter.allow("other", 0.5)


def test_rate_limiter_forgets_idle_keys() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_keys=10)
    for i in range(10):
        limiter.allow(str(i), 0.0)
    limiter.allow("late", 100.0)
    assert len(limiter._buckets) == 1


def test_check_in_once_a_day_and_streaks_grow() -> None:
    first = check_in(None, date(2026, 11, 1))
    assert first.accepted and first.state == CheckinState(date(2026, 11, 1), 1, 1)
    again = check_in(first.state, date(2026, 11, 1))
    assert not again.accepted and again.state == first.state
    second = check_in(first.state, date(2026, 11, 2))
    assert second.state.streak == 2 and second.points_earned == 2 and second.state.points == 3
    broken = check_in(second.state, date(2026, 11, 5))
    assert broken.state.streak == 1 and broken.state.points == 4


def test_streak_bonus_is_capped() -> None:
    state = CheckinState(date(2026, 11, 29), 30, 100)
    assert check_in(state, date(2026, 11, 30)).points_earned == 7


@pytest.mark.parametrize("seed", range(200))
def test_red_packet_split_is_exact_and_every_share_positive(seed: int) -> None:
    rng = random.Random(seed)
    total, shares = rng.randint(10, 100_000), rng.randint(1, 10)
    amounts = split_red_packet(total, shares, rng)
    assert sum(amounts) == total and len(amounts) == shares and min(amounts) >= 1


def test_red_packet_edge_cases() -> None:
    assert split_red_packet(5, 5, random.Random(1)) == [1, 1, 1, 1, 1]
    with pytest.raises(ValueError):
        split_red_packet(4, 5, random.Random(1))
    with pytest.raises(ValueError):
        split_red_packet(100, 0, random.Random(1))


def test_luckiest_is_the_biggest_share_first_grabbed_on_ties() -> None:
    assert luckiest([("a", 5), ("b", 9), ("c", 9)]) == "b"


@pytest.mark.parametrize(
    "options", [("only",), ("a", "A"), ("a", " "), tuple(str(i) for i in range(11))]
)
def test_bad_polls_are_refused(options: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        Poll("Which colour next?", options)


def test_poll_tally() -> None:
    assert Poll.tally(3, [0, 2, 2]) == [1, 0, 2]
