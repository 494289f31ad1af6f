"""A promoter's commission ledger: what each line earned, what was paid out on it, what is
owed, and what a payout pays. Framework-free: the service layer feeds it rows.

A line is one level of one order's commission (CommissionRow). It earns its amount while
accrued, nothing once reversed. A payout pays every line up to what it earns now; a refund
after a payout lowers what the line earns below what was paid on it, so the line owes back
(negative owed) and the next payout takes it off
(docs/decisions/0042-promoter-payouts.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class NothingOwed(Exception):
    """A payout asked for a promoter who is owed nothing (or who owes back)."""


@dataclass(frozen=True)
class Line:
    order_id: str
    level: int
    beneficiary: str
    amount_cents: int  # what the line comes to now (or, reversed, what it was reversed from)
    status: str  # accrued | reversed
    paid_cents: int = 0
    accrued_cents: int | None = None  # what it accrued at payment (None: rows from before)

    @property
    def earned_cents(self) -> int:
        """What the line earns now: its amount while accrued, nothing once reversed."""
        return self.amount_cents if self.status == "accrued" else 0

    @property
    def accrued(self) -> int:
        return self.amount_cents if self.accrued_cents is None else self.accrued_cents

    @property
    def reversed_cents(self) -> int:
        """What refunds took back from what it accrued."""
        return max(self.accrued - self.earned_cents, 0)

    @property
    def owed_cents(self) -> int:
        """Earned minus paid: negative when a refund came after its payout (owed back)."""
        return self.earned_cents - self.paid_cents


@dataclass(frozen=True)
class LevelTotals:
    level: int
    accrued_cents: int
    reversed_cents: int
    paid_out_cents: int

    @property
    def owed_cents(self) -> int:
        return self.accrued_cents - self.reversed_cents - self.paid_out_cents


def level_totals(lines: Iterable[Line]) -> list[LevelTotals]:
    """Accrued, reversed and paid out per level, levels in order (only those with lines)."""
    sums: dict[int, list[int]] = {}
    for line in lines:
        totals = sums.setdefault(line.level, [0, 0, 0])
        totals[0] += line.accrued
        totals[1] += line.reversed_cents
        totals[2] += line.paid_cents
    return [LevelTotals(level, *sums[level]) for level in sorted(sums)]


def owed(lines: Iterable[Line]) -> int:
    """What the promoter is owed over these lines (negative: they owe back)."""
    return sum(line.owed_cents for line in lines)


@dataclass(frozen=True)
class Settlement:
    """A line a payout settles: what was paid on it before, and what is after."""

    line: Line
    paid_after: int

    @property
    def paid_now(self) -> int:
        """What this payout pays on the line (negative: taken back from it)."""
        return self.paid_after - self.line.paid_cents


def payout(lines: Iterable[Line]) -> tuple[int, list[Settlement]]:
    """Pay everything owed: the amount (positive lines less what others owe back) and each
    unsettled line brought to paid == earned. Nothing owed, or less than what is owed back:
    NothingOwed (the lines stay as they are, the debt waits for more earnings)."""
    open_lines = [line for line in lines if line.owed_cents != 0]
    amount = sum(line.owed_cents for line in open_lines)
    if amount <= 0:
        owing = f": {-amount / 100:.2f} is owed back" if amount < 0 else ""
        raise NothingOwed(f"nothing is owed to this promoter{owing}")
    return amount, [Settlement(line, line.earned_cents) for line in open_lines]
