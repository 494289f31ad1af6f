"""Plain rules of analytics, without a broker or a database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.domain import facts
from services.analytics.domain.identity import InvalidLink, LinkState, groups, pair
from services.analytics.domain.report import PresenceMark, curve, presence
from services.analytics.domain.segments import (
    PersonStats,
    is_dormant,
    is_seed,
    rfm,
    tier,
    value_class,
)
from services.analytics.domain.words import interests, title_tags

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_merge_rules_give_one_row_whatever_the_order() -> None:
    contributions = [
        {
            "account_id": "a",
            "room_id": "r",
            "messages": 2,
            "first_seen": T,
            "last_seen": T,
            "checkin_day": "2026-03-01",
            "checkin_streak": 3,
            "best_streak": 3,
        },
        {
            "account_id": "a",
            "room_id": "r",
            "messages": 1,
            "first_seen": T - timedelta(1),
            "last_seen": T - timedelta(1),
            "checkin_day": "2026-03-02",
            "checkin_streak": 4,
            "best_streak": 4,
        },
        {"account_id": "a", "room_id": "r", "likes": 5, "last_engaged_at": T},
        {"account_id": "a", "room_id": "r", "checkin_day": "2026-03-02", "checkin_streak": 1},
    ]
    rows = [
        facts.fold_rows(facts.ACTIVITY, order)[("a", "r")]
        for order in itertools.permutations(contributions)
    ]
    assert all(row == rows[0] for row in rows)
    row = rows[0]
    assert (row["messages"], row["likes"]) == (3, 5)
    assert (row["first_seen"], row["last_seen"]) == (T - timedelta(1), T)
    # LATEST: the greatest (day, streak) wins, ties broken by the streak
    assert (row["checkin_day"], row["checkin_streak"], row["best_streak"]) == ("2026-03-02", 4, 4)


def test_a_display_name_is_the_one_used_last() -> None:
    names = [
        {"account_id": "a", "display_name": "Lily", "name_at": T, "name_key": "e2"},
        {
            "account_id": "a",
            "display_name": "Lily 莉莉",
            "name_at": T + timedelta(1),
            "name_key": "e1",
        },
        {"account_id": "a", "display_name": None, "name_at": None, "name_key": None},
    ]
    for order in itertools.permutations(names):
        assert facts.fold_rows(facts.ACCOUNTS, order)["a"]["display_name"] == "Lily 莉莉"


def stats(**values: object) -> PersonStats:
    return PersonStats(person_id="p", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "orders", "yuan", "code"),
    [
        (7, 1, 50, "511"),
        (8, 2, 100, "422"),
        (30, 3, 499.99, "432"),
        (31, 5, 500, "343"),
        (90, 9, 1999, "343"),
        (91, 10, 2000, "254"),
        (181, 12, 5000, "155"),
    ],
)
def test_rfm_cut_offs(days: int, orders: int, yuan: float, code: str) -> None:
    s = stats(
        orders=orders, spend_cents=round(yuan * 100), last_purchase_at=T - timedelta(days=days)
    )
    assert rfm(s, T).code == code


def test_never_bought_has_no_rfm_and_is_a_prospect() -> None:
    assert rfm(stats(), T).code == "000"
    assert value_class(stats()) == "prospect"
    assert value_class(stats(orders=1, spend_cents=50_000, buyers_brought=1)) == "key"
    assert value_class(stats(orders=1, spend_cents=50_000)) == "spender"
    assert value_class(stats(orders=1, spend_cents=100, buyers_brought=2)) == "promoter"
    assert value_class(stats(orders=1, spend_cents=100)) == "potential"


def test_fan_tiers() -> None:
    core = stats(rooms=3, rooms_bought=2, orders=2, messages=10)
    assert tier(core) == "core"
    assert tier(stats(rooms=3, rooms_bought=2, orders=2, buyers_brought=1)) == "core"
    assert tier(stats(rooms=3, rooms_bought=2, orders=2, messages=9)) == "active"
    assert tier(stats(orders=1, engaged_rooms=2)) == "active"
    assert tier(stats(orders=1, engaged_rooms=1)) == "ordinary"
    assert tier(stats(rooms=9, messages=500)) == "ordinary"


def test_seed_and_dormant() -> None:
    assert is_seed(stats(new_buyers_brought=1))
    assert not is_seed(stats(buyers_brought=3))
    old = T - timedelta(days=40)
    assert is_dormant(stats(rooms=1, first_seen=old), T)
    assert is_dormant(stats(rooms=1, first_seen=old, last_engaged_at=old), T)
    assert not is_dormant(stats(rooms=1, first_seen=old, last_engaged_at=T - timedelta(2)), T)
    assert not is_dormant(stats(rooms=1, first_seen=T - timedelta(days=5)), T)
    assert not is_dormant(stats(rooms=1, first_seen=old, orders=1), T)
    assert is_dormant(stats(rooms=1, first_seen=T - timedelta(days=8)), T, days=7)


def test_tags_from_titles_bought_and_words_said() -> None:
    assert title_tags("Cherries 樱桃 5kg, the BEST box") == ["cherries", "best", "樱桃"]
    vocabulary = title_tags("Cherries 樱桃") + title_tags("Lychee 荔枝")
    top = interests(["Cherries 樱桃"], ["我要樱桃", "LYCHEE?", "hello"], vocabulary)
    assert top == [("樱桃", 4), ("cherries", 3), ("lychee", 1)]


def test_persons_are_groups_of_linked_accounts_named_the_same_way_always() -> None:
    edges = [("web:b", "phone:1"), ("phone:1", "web:a"), ("telegram:9", "web:z")]
    for order in itertools.permutations(edges):
        assert groups(["web:q"], order) == {
            "web:a": "web:a",
            "web:b": "web:a",
            "phone:1": "web:a",
            "telegram:9": "telegram:9",
            "web:z": "telegram:9",
            "web:q": "web:q",
        }
    assert pair("web:b", "web:a") == ("web:a", "web:b")
    with pytest.raises(InvalidLink):
        pair("web:a", "web:a")


def test_a_hosts_unlink_beats_automatic_evidence_until_the_host_links_again() -> None:
    assert LinkState(auto_evidence=1, host_links=0, decision=None).active
    assert not LinkState(auto_evidence=5, host_links=0, decision="unlink").active
    assert LinkState(auto_evidence=5, host_links=1, decision="link").active
    assert LinkState(auto_evidence=0, host_links=1, decision="link").active
    assert not LinkState(auto_evidence=0, host_links=0, decision=None).active


def _mark(who: str, minute: int, second: int, joined: bool) -> PresenceMark:
    """A mark; the lists below give them in the time order (`second`) of their events."""
    return PresenceMark(who, T + timedelta(minutes=minute), int(joined), joined)


def test_viewers_per_minute_count_anyone_present_during_the_minute() -> None:
    marks = [
        _mark("a", -5, 0, True),
        _mark("b", 0, 0, True),
        _mark("c", 0, 0, True),
        _mark("b", 1, 10, False),
        _mark("c", 1, 20, False),
        _mark("a", 3, 0, False),
    ]
    points = curve([], presence(marks, set()), T, T + timedelta(minutes=4))
    # one joined before the start; two join at 0; two leave during 1; the last during 3
    assert [p.viewers for p in points] == [3, 3, 1, 1, 0]
    assert [p.joins for p in points] == [2, 0, 0, 0, 0]


def test_joining_again_while_present_counts_a_person_once() -> None:
    """A restarted live instance drops sockets without viewer.left: the viewers join
    again; two tabs join twice; a person's two accounts are one viewer; staff are none."""
    marks = [
        _mark("a", 0, 0, True),
        _mark("b", 0, 5, True),
        _mark("host", 0, 1, True),
        _mark("a", 2, 0, True),  # after the restart
        _mark("b", 2, 0, True),
        _mark("b", 2, 1, True),  # a second tab
        _mark("a", 2, 30, True),  # a's other account
        _mark("b", 3, 0, False),  # b leaves: gone, whatever the joins before
        _mark("a", 3, 10, False),
        _mark("a", 3, 50, True),  # ... and comes back in the same minute
    ]
    present = presence(marks, {"host"})
    points = curve([], present, T, T + timedelta(minutes=5))
    assert [p.viewers for p in points] == [2, 2, 2, 2, 1, 1]
    assert max(p.viewers for p in points) <= len(present.viewers) == 2
