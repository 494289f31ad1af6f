"""The promoter ledger's arithmetic: owed per line, levels, what a payout pays."""

from __future__ import annotations

import pytest

from services.orders.domain.promoters import Line, NothingOwed, level_totals, owed, payout


def line(order: str, level: int = 1, amount: int = 500, **kw: object) -> Line:
    return Line(order_id=order, level=level, beneficiary="web:aunt", amount_cents=amount, **kw)  # type: ignore[arg-type]


def test_a_refund_after_a_payout_is_owed_back_and_netted_by_the_next_payout() -> None:
    paid = line("o1", paid_cents=500, accrued_cents=500, status="reversed")  # refunded after
    lowered = line("o2", amount=300, paid_cents=500, accrued_cents=500, status="accrued")
    fresh = line("o3", level=2, amount=200, accrued_cents=200, status="accrued")
    assert (paid.owed_cents, lowered.owed_cents, fresh.owed_cents) == (-500, -200, 200)
    with pytest.raises(NothingOwed, match=r"5\.00 is owed back"):
        payout([paid, lowered, fresh])
    more = line("o4", amount=900, accrued_cents=900, status="accrued")
    amount, settled = payout([paid, lowered, fresh, more])
    assert amount == 400
    assert {(s.line.order_id, s.paid_after, s.paid_now) for s in settled} == {
        ("o1", 0, -500),
        ("o2", 300, -200),
        ("o3", 200, 200),
        ("o4", 900, 900),
    }
    assert [
        (t.level, t.accrued_cents, t.reversed_cents, t.paid_out_cents)
        for t in level_totals([paid, lowered, fresh, more])
    ] == [(1, 1900, 700, 1000), (2, 200, 0, 0)]
    assert owed([paid, lowered, fresh, more]) == 400


def test_nothing_owed_and_rows_from_before_accrued_was_kept() -> None:
    with pytest.raises(NothingOwed):
        payout([line("o1", paid_cents=500, status="accrued")])
    old = line("o2", amount=250, status="reversed")  # accrued_cents None: its amount
    assert (old.accrued, old.reversed_cents, old.owed_cents) == (250, 250, 0)
