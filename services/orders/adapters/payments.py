"""Payment providers behind one interface, and the built-in simulated gateway.

The simulated gateway behaves like a real one so the rest of orders is written
for real providers: a charge is accepted as *pending*, the outcome arrives later
as a signed HTTP callback, some cards are declined, and a callback may arrive
twice or after the order expired. Its name says what it is: nothing is charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import httpx

from shared.events import new_id

log = logging.getLogger("qunlive.orders.payments")

SIGNATURE_HEADER = "X-Sim-Signature"
# Test cards, as payment providers document them.
DECLINED_CARDS = frozenset({"4000000000000002", "4000000000009995"})
MAX_CALLBACK_AGE_S = 300
MAX_REMEMBERED_CHARGES = 100_000


@dataclass(frozen=True)
class Charge:
    payment_id: str
    status: str  # pending: the outcome comes by callback


@dataclass(frozen=True)
class CallbackEvent:
    event_id: str
    payment_id: str
    outcome: str  # succeeded | declined | refunded
    amount_cents: int


class PaymentProvider(Protocol):
    name: str

    async def charge(
        self, order_id: str, amount_cents: int, card: str, idempotency_key: str
    ) -> Charge:
        """Start a charge. The same `idempotency_key` again answers the charge it started
        (as providers do: Stripe's Idempotency-Key header): a double tap on Pay, or two
        replicas handling one retry, charges once."""
        ...

    async def refund(self, payment_id: str, amount_cents: int) -> None: ...

    def read_callback(self, body: bytes, signature: str | None) -> CallbackEvent:
        """Verify and parse a callback; ValueError if it is not the provider's."""
        ...


class SimulatedGateway:
    """A stand-in provider: asynchronous signed callbacks, declines, duplicates, delays."""

    name = "simulated"

    def __init__(
        self,
        secret: str,
        callback_url: str,
        delay_s: float = 0.2,
        duplicate_rate: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self._secret = secret.encode()
        self.callback_url = callback_url
        self.delay_s = delay_s
        self.duplicate_rate = duplicate_rate
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(timeout=10)
        # Charges by idempotency key, the oldest forgotten first (providers keep keys ~24 h).
        self._charges: OrderedDict[str, Charge] = OrderedDict()

    async def charge(
        self, order_id: str, amount_cents: int, card: str, idempotency_key: str
    ) -> Charge:
        if (started := self._charges.get(idempotency_key)) is not None:
            return started
        charge = Charge(f"simpay_{new_id()[:16]}", "pending")
        self._charges[idempotency_key] = charge
        if len(self._charges) > MAX_REMEMBERED_CHARGES:
            self._charges.popitem(last=False)
        outcome = "declined" if card.replace(" ", "") in DECLINED_CARDS else "succeeded"
        self._later(charge.payment_id, outcome, amount_cents)
        return charge

    async def refund(self, payment_id: str, amount_cents: int) -> None:
        log.info("simulated refund", extra={"payment_id": payment_id, "amount": amount_cents})

    def sign(self, body: bytes) -> str:
        stamp = str(int(time.time()))
        digest = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    def read_callback(self, body: bytes, signature: str | None) -> CallbackEvent:
        if not signature:
            raise ValueError("missing signature")
        try:
            parts = dict(p.split("=", 1) for p in signature.split(","))
            stamp, given = parts["t"], parts["v1"]
        except (ValueError, KeyError):
            raise ValueError("malformed signature") from None
        expected = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise ValueError("bad signature")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_CALLBACK_AGE_S:
            raise ValueError("stale callback")
        data = json.loads(body)
        return CallbackEvent(
            event_id=str(data["event_id"]),
            payment_id=str(data["payment_id"]),
            outcome=str(data["outcome"]),
            amount_cents=int(data["amount_cents"]),
        )

    def callback_body(self, payment_id: str, outcome: str, amount_cents: int) -> bytes:
        event = {
            "event_id": f"simevt_{new_id()[:16]}",
            "payment_id": payment_id,
            "outcome": outcome,
            "amount_cents": amount_cents,
        }
        return json.dumps(event).encode()

    def _later(self, payment_id: str, outcome: str, amount_cents: int) -> None:
        task = asyncio.create_task(self._deliver(payment_id, outcome, amount_cents))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, payment_id: str, outcome: str, amount_cents: int) -> None:
        await asyncio.sleep(self.delay_s)
        body = self.callback_body(payment_id, outcome, amount_cents)
        copies = 2 if self._rng.random() < self.duplicate_rate else 1
        for _ in range(copies):
            # Like a real provider: retry with backoff until the merchant answers 2xx, a
            # 404 included: the callback can come before the merchant has recorded the
            # payment it just started (seen under load: the test's 50 ms delay was shorter
            # than the commit, and one 404 used to lose the payment).
            for attempt in range(6):
                try:
                    response = await self._http.post(
                        self.callback_url,
                        content=body,
                        headers={
                            SIGNATURE_HEADER: self.sign(body),
                            "content-type": "application/json",
                        },
                    )
                    if response.is_success:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5 * 2**attempt)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()
