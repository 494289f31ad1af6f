"""How a paid order reaches the buyer: delivery to an address, or a community pickup point."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


class InvalidFulfilment(ValueError):
    pass


@dataclass(frozen=True)
class Fulfilment:
    method: str  # "delivery" | "pickup"
    address: str | None = None
    pickup_point: str | None = None

    def __post_init__(self) -> None:
        if self.method == "delivery" and not (self.address and self.address.strip()):
            raise InvalidFulfilment("delivery needs an address")
        if self.method == "pickup" and not (self.pickup_point and self.pickup_point.strip()):
            raise InvalidFulfilment("pickup needs a pickup point")
        if self.method not in ("delivery", "pickup"):
            raise InvalidFulfilment("fulfilment is delivery or pickup")


def pickup_code() -> str:
    """Six digits the buyer shows at the pickup point (unguessable, easy to read out)."""
    return f"{secrets.randbelow(1_000_000):06d}"
