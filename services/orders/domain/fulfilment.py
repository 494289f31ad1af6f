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


class UnknownPickupPoint(ValueError):
    """Not a point this order may be collected at: unknown, retired, not serving its room,
    or another seller's."""


class AlreadyFulfilled(ValueError):
    """The goods were handed over: how they reach the buyer can no longer change."""


ADMIN = "admin"


def serves(
    point_owner: str,
    point_rooms: list[str],
    retired: bool,
    room_id: str,
    seller: str,
) -> bool:
    """Whether a pickup point may be chosen for an order of `seller`'s offer in `room_id`:
    active, serving that room, and run by the seller (or by the platform's admin). A host
    cannot put their point in front of another host's buyers."""
    return not retired and room_id in point_rooms and point_owner in (seller, ADMIN)


def clean_text(value: str) -> str:
    """What a person typed, without the spaces around it (a line break inside an address stays)."""
    return value.strip()
