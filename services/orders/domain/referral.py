"""Referral rebates: who brought the buyer, and what each level of the chain earns."""

from __future__ import annotations

from dataclasses import dataclass

MAX_LEVELS = 3


@dataclass(frozen=True)
class CommissionRule:
    """Basis points per level: (500, 200) pays 5% to the direct referrer, 2% to theirs."""

    basis_points: tuple[int, ...] = (500,)

    def __post_init__(self) -> None:
        if not 1 <= len(self.basis_points) <= MAX_LEVELS:
            raise ValueError(f"a commission rule has 1 to {MAX_LEVELS} levels")
        if any(not 0 <= bp <= 5000 for bp in self.basis_points):
            raise ValueError("a level's rate is between 0 and 50%")

    @classmethod
    def parse(cls, text: str) -> CommissionRule:
        """From settings: "5,2,1" (percent per level)."""
        return cls(tuple(round(float(p) * 100) for p in text.split(",") if p.strip()))


def referrer_chain(buyer: str, referrer_of: dict[str, str], levels: int) -> list[str]:
    """The buyer's referrer, theirs, ... up to `levels`; stops at loops and at the buyer."""
    chain: list[str] = []
    current = buyer
    while len(chain) < levels:
        parent = referrer_of.get(current)
        if parent is None or parent == buyer or parent in chain:
            break
        chain.append(parent)
        current = parent
    return chain


def commissions(
    amount_cents: int, chain: list[str], rule: CommissionRule
) -> list[tuple[str, int, int]]:
    """(beneficiary, level, cents) for each level of the chain, rounded down to the cent."""
    return [
        (who, level, amount_cents * bp // 10_000)
        for level, (who, bp) in enumerate(zip(chain, rule.basis_points, strict=False), start=1)
        if amount_cents * bp // 10_000 > 0
    ]


def commissions_after_refund(
    paid_cents: int, refunded_cents: int, chain: list[str], rule: CommissionRule
) -> dict[int, int]:
    """What each level's commission comes to once part of the order is refunded: the rule
    applied to what the buyer finally paid (a level missing here comes to 0)."""
    return {
        level: cents
        for _, level, cents in commissions(max(paid_cents - refunded_cents, 0), chain, rule)
    }
