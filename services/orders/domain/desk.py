"""The pickup desk's rules: which order a code names, whether it may be handed over, how
many wrong codes a desk may try, and codes no two open orders of a point share.

Framework-free: the service layer reads the rows and applies these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from services.orders.domain import fulfilment

CODE = re.compile(r"[0-9]{6}")
DESK_HOURS_DEFAULT = 12
DESK_HOURS_MAX = 168  # a week: a link that leaks stops working by itself


class DeskRefusal(Exception):
    """The desk may not do this with this code."""


class UnknownCode(DeskRefusal):
    """No order of this point has this code (counted against the desk's wrong codes)."""


class AlreadyHandedOver(DeskRefusal):
    def __init__(self, fulfilled_at: datetime) -> None:
        super().__init__(f"already handed over at {fulfilled_at:%Y-%m-%d %H:%M} UTC")
        self.fulfilled_at = fulfilled_at


class NotPaid(DeskRefusal):
    """Not paid in full (awaiting payment, a deposit only), or refunded: nothing to hand."""

    def __init__(self, status: str) -> None:
        words = {
            "refunded": "refunded: do not hand it over",
            "deposit_paid": "only the deposit is paid: the balance is due first",
            "awaiting_payment": "not paid yet",
        }
        super().__init__(f"order is {words.get(status, status)}")
        self.status = status


class TooManyAttempts(DeskRefusal):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many wrong codes: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Collectable(Protocol):
    """What the desk reads of an order."""

    @property
    def status(self) -> str: ...
    @property
    def fulfilled_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


OrderT = TypeVar("OrderT", bound=Collectable)


def normalize_code(text: str) -> str | None:
    """A typed or scanned code as stored (six digits; spaces and dashes a person or a
    scanner adds are dropped), or None when it cannot be one."""
    code = re.sub(r"[\s-]", "", text)
    return code if CODE.fullmatch(code) else None


def is_open(order: Collectable) -> bool:
    """Paid and not handed over yet: its code must be unique at its point."""
    return order.status == "paid" and order.fulfilled_at is None


def pick(candidates: Sequence[OrderT]) -> OrderT | None:
    """The order a code names at a point: the open one, else the newest of the others (a
    code comes back into use once its order is handed over, refunded, ...; the newest is
    the one a buyer would still show)."""
    open_ones = [o for o in candidates if is_open(o)]
    if open_ones:
        return max(open_ones, key=lambda o: o.created_at)
    return max(candidates, key=lambda o: o.created_at, default=None)


def check_handover(order: Collectable) -> None:
    """Raise why this order may not be handed over, if it may not."""
    if order.fulfilled_at is not None:
        raise AlreadyHandedOver(order.fulfilled_at)
    if order.status != "paid":
        raise NotPaid(order.status)


@dataclass(frozen=True)
class AttemptLimit:
    """At most `wrong` wrong codes per desk token within `window_s` seconds; past that,
    every lookup waits until the oldest of them leaves the window (a right code too: else
    the lockout would still tell a guess that hits)."""

    wrong: int = 5
    window_s: int = 60

    def since(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.window_s)

    def retry_after(self, recent: Collection[datetime], now: datetime) -> int | None:
        """Seconds to wait, or None when the desk may try: `recent` are its wrong codes'
        times (those older than the window do not count)."""
        inside = sorted(at for at in recent if at > self.since(now))
        if len(inside) < self.wrong:
            return None
        frees_at = inside[-self.wrong] + timedelta(seconds=self.window_s)
        return max(1, math.ceil((frees_at - now).total_seconds()))


def unique_code(taken: Collection[str], draw: Callable[[], str] | None = None) -> str:
    """A pickup code none of `taken` (the point's open orders' codes) is."""
    draw = draw or fulfilment.pickup_code
    if len(taken) >= 500_000:  # half the space: drawing would get slow, never at a real point
        raise RuntimeError("this pickup point has too many open orders for six-digit codes")
    while (code := draw()) in taken:
        pass
    return code
