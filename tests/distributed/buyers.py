"""Buyers as their apps behave: a checkout that hits a dead replica or a network error is
retried with the same Idempotency-Key on the other replica (what the proxy does for them)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.live.adapters.tokens import ViewerTokens
from services.live.domain.viewers import Viewer
from tests.distributed.topology import ADMIN, SECRET_KEY

RETRYABLE_STATUS = {502, 503, 504}
_tokens = ViewerTokens(SECRET_KEY, 3600)


def bearer(room_id: str, customer_id: str) -> dict[str, str]:
    token, _ = _tokens.issue(Viewer(room_id=room_id, customer_id=customer_id, display_name="b"))
    return {"Authorization": f"Bearer {token}"}


async def flash_sale(
    http: httpx.AsyncClient, orders_url: str, room_id: str, stock: int, limit: int = 1
) -> str:
    product = await http.post(f"{orders_url}/products", json={"title": "Cherries"}, headers=ADMIN)
    product.raise_for_status()
    offer = await http.post(
        f"{orders_url}/rooms/{room_id}/offers",
        headers=ADMIN,
        json={
            "product_id": product.json()["id"],
            "price_cents": 49900,
            "stock": stock,
            "per_buyer_limit": limit,
        },
    )
    offer.raise_for_status()
    offer_id = str(offer.json()["id"])
    (await http.post(f"{orders_url}/offers/{offer_id}/open", headers=ADMIN)).raise_for_status()
    return offer_id


@dataclass
class Tally:
    """What the buyers were told."""

    told_yours: dict[str, str] = field(default_factory=dict)  # idempotency key -> order id
    refused: Counter[str] = field(default_factory=Counter)  # reason -> count
    retries: int = 0  # transport errors / 5xx retried with the same key
    answered_after: list[float] = field(default_factory=list)  # when each 201 came, monotonic
    served: Counter[str] = field(default_factory=Counter)  # replica URL -> answers it gave
    answers: list[float] = field(default_factory=list)  # when each final answer came

    def longest_pause_after(self, t: float) -> float:
        """The longest time without any answer after t (a stall shows here)."""
        times = sorted([t, *(a for a in self.answers if a > t)])
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def summary(self) -> str:
        return (
            f"201 yours={len(self.told_yours)} 409 refused={dict(self.refused)} "
            f"retried with the same key={self.retries}"
        )


async def checkout(
    http: httpx.AsyncClient,
    urls: list[str],
    offer_id: str,
    room_id: str,
    customer: str,
    key: str,
    tally: Tally,
    first: int = 0,
    give_up_after_s: float = 30.0,
) -> httpx.Response:
    """POST checkout; on a transport error or 5xx retry with the same key on the next URL."""
    headers = bearer(room_id, customer) | {"Idempotency-Key": key}
    deadline = time.monotonic() + give_up_after_s
    for attempt in itertools.count():
        url = urls[(first + attempt) % len(urls)]
        try:
            response = await http.post(
                f"{url}/offers/{offer_id}/checkout", json={"quantity": 1}, headers=headers
            )
            if response.status_code not in RETRYABLE_STATUS:
                record(tally, key, response)
                tally.served[url] += 1
                tally.answers.append(time.monotonic())
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"checkout {key} got no answer in {give_up_after_s}s")
        tally.retries += 1
        await asyncio.sleep(min(0.1 * (attempt + 1), 1.0))
    raise AssertionError("unreachable")


def record(tally: Tally, key: str, response: httpx.Response) -> None:
    assert response.status_code in (201, 409), response.text
    body: dict[str, Any] = response.json()
    if response.status_code == 201:
        previous = tally.told_yours.setdefault(key, body["order_id"])
        assert previous == body["order_id"], f"key {key}: order changed"
        tally.answered_after.append(time.monotonic())
    else:
        tally.refused[body["code"]] += 1
