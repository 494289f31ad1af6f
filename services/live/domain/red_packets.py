"""Red packets: a sum split into N random shares, and the luckiest grabber.

The split is decided when the packet is sent (so it can be stored and grabbed
from any instance): each share is drawn uniformly between 1 cent and twice the
mean of what is left, the way group chats' lucky red packets behave, which
keeps every share positive and the total exact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

MAX_SHARES = 1000


def split_red_packet(total_cents: int, shares: int, rng: random.Random) -> list[int]:
    if not 1 <= shares <= MAX_SHARES:
        raise ValueError(f"a red packet has 1 to {MAX_SHARES} shares")
    if total_cents < shares:
        raise ValueError("every share needs at least 1 cent")
    amounts: list[int] = []
    left_cents, left_shares = total_cents, shares
    while left_shares > 1:
        ceiling = 2 * left_cents // left_shares  # twice the mean
        # keep at least 1 cent for each share still to draw
        amount = rng.randint(1, max(1, min(ceiling, left_cents - (left_shares - 1))))
        amounts.append(amount)
        left_cents -= amount
        left_shares -= 1
    amounts.append(left_cents)
    rng.shuffle(amounts)
    return amounts


def luckiest(grabs: Sequence[tuple[str, int]]) -> str:
    """The grabber with the biggest share; on a tie, whoever grabbed first."""
    if not grabs:
        raise ValueError("nobody grabbed")
    best = max(amount for _, amount in grabs)
    return next(customer for customer, amount in grabs if amount == best)
