"""The pickup desk's rules, without a database: codes, handover, the wrong-code limit, and
the desk token's place among the credentials."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.live.adapters.tokens import HostTokens, ViewerTokens
from services.live.domain.viewers import Viewer
from services.orders.domain.desk import (
    AlreadyHandedOver,
    AttemptLimit,
    NotPaid,
    check_handover,
    normalize_code,
    pick,
    unique_code,
)
from shared.auth import (
    DeskCredential,
    InvalidToken,
    NotAllowed,
    desk_of,
    host_of,
    issue_desk_token,
    read_desk_token,
    read_viewer_token,
)

NOW = datetime(2026, 12, 7, 18, 2, tzinfo=UTC)
SECRET = "test-secret-key-of-at-least-32-bytes!"


@dataclass
class Order:
    status: str
    fulfilled_at: datetime | None = None
    created_at: datetime = NOW


@pytest.mark.parametrize(
    ("typed", "code"),
    [("042917", "042917"), (" 042 917\n", "042917"), ("042-917", "042917"), ("42917", None)],
)
def test_codes_as_typed_or_scanned(typed: str, code: str | None) -> None:
    assert normalize_code(typed) == code
    for garbage in ("", "abcdef", "0429170", "https://x/042917", "٠٤٢٩١٧"):
        assert normalize_code(garbage) is None


def test_the_open_order_of_a_code_wins_else_the_newest() -> None:
    handed = Order("paid", NOW - timedelta(days=2), NOW - timedelta(days=3))
    refunded = Order("refunded", None, NOW - timedelta(days=1))
    waiting = Order("paid", None, NOW - timedelta(days=5))
    assert pick([handed, refunded, waiting]) is waiting
    assert pick([handed, refunded]) is refunded
    assert pick([]) is None


def test_only_a_paid_order_not_handed_over_may_be_handed_over() -> None:
    check_handover(Order("paid"))
    with pytest.raises(AlreadyHandedOver, match="18:02") as first:
        check_handover(Order("paid", NOW))
    assert first.value.fulfilled_at == NOW
    for status in ("refunded", "deposit_paid", "awaiting_payment", "expired"):
        with pytest.raises(NotPaid):
            check_handover(Order(status))


def test_five_wrong_codes_a_minute_then_wait_for_the_oldest_to_leave() -> None:
    limit = AttemptLimit(wrong=5, window_s=60)
    assert limit.retry_after([], NOW) is None
    four = [NOW - timedelta(seconds=s) for s in (50, 40, 30, 20)]
    assert limit.retry_after(four, NOW) is None
    five = [*four, NOW - timedelta(seconds=1)]
    assert limit.retry_after(five, NOW) == 10  # the one 50 s old leaves in 10 s
    old = [NOW - timedelta(seconds=61)] * 10
    assert limit.retry_after(old + four, NOW) is None  # outside the window: not counted
    assert limit.retry_after([NOW] * 5, NOW) == 60


def test_a_new_code_is_none_of_the_open_ones() -> None:
    draws = itertools.chain(["111111", "222222", "111111"], itertools.repeat("333333"))
    assert unique_code({"111111", "222222"}, lambda: next(draws)) == "333333"
    assert len(unique_code(set())) == 6


def test_a_desk_token_opens_the_desk_only() -> None:
    desk = issue_desk_token("pp_1", "host:ann", time.time() + 3600, SECRET)
    seen = read_desk_token(desk, SECRET)
    assert (seen.pickup_point, seen.owner) == ("pp_1", "host:ann") and seen.token_id
    assert desk_of(desk, "admin-token", SECRET) == seen
    # On a host API and where a viewer is read: a real caller without the right (403).
    with pytest.raises(NotAllowed):
        host_of(desk, "admin-token", SECRET)
    with pytest.raises(DeskCredential):
        read_viewer_token(desk, SECRET)
    # The others on the desk: the admin, a viewer, a host: 403; garbage, expired: 401.
    viewer, _ = ViewerTokens(SECRET, 60).issue(Viewer("r1", "web:lily", "Lily"))
    host = HostTokens(SECRET).issue("host:ann", "Ann")
    for other in ("admin-token", viewer, host):
        with pytest.raises(NotAllowed):
            desk_of(other, "admin-token", SECRET)
    expired = issue_desk_token("pp_1", "host:ann", time.time() - 10, SECRET)
    for bad in ("nonsense", expired, issue_desk_token("pp_1", "a", time.time() + 60, "x" * 40)):
        with pytest.raises(InvalidToken) as refused:
            desk_of(bad, "admin-token", SECRET)
        assert not isinstance(refused.value, NotAllowed)
    with pytest.raises(InvalidToken, match="expired"):
        read_desk_token(expired, SECRET)
