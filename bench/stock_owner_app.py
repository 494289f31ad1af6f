"""Prototype (decision 0051): one offer's stock decided in memory by its one owner.

Not the product: a measured answer to issue 19's question "does deciding in memory, with
every decision appended to JetStream before the buyer hears it, beat the row lock?". Run
by `python -m bench.orders_flash_sale --owner-prototype`; two processes:

- the owner (`uvicorn bench.stock_owner_app:app`): takes the offer's lease in a NATS KV
  bucket (create, then renew with the revision: compare-and-set), rebuilds the offer from
  its decisions in the OWNER_DECISIONS stream, then decides each checkout in memory (the
  stock, the per-buyer limit, the idempotency key's answer) and answers only once the
  decision is stored. Decisions waiting while an append is in flight go in the next one:
  one JetStream message per batch (group commit). Every append says which subject
  sequence it follows (`Nats-Expected-Last-Subject-Sequence`), so a second owner that
  appended in between makes it fail: the stream, not the lease, is the fence against
  selling twice. An append that fails stops the owner: nobody heard those decisions.
- the writer (`python -m bench.stock_owner_app writer`): a durable consumer that writes
  the rows behind (orders, waitlist), idempotently (ON CONFLICT DO NOTHING), and acks.

The checkout request is read by the real checkout's own `read_checkout` (the viewer token,
`IdempotencyKey`, `CheckoutIn`: services/orders/entrypoints/http.py) on the same
HTTP stack (uvicorn, FastAPI with the orders app's middleware and the checkout as a
`HandReadRoute`), so the comparison is the deciding, not the parsing. Environment:
NATS_URL, DATABASE_URL (PostgreSQL, writer), SECRET_KEY, OFFER_ID, STOCK, PER_BUYER_LIMIT.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import nats
from fastapi import FastAPI, Response
from fastapi.middleware import Middleware
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from starlette.types import Receive, Scope, Send

from services.orders.entrypoints.http import CheckoutIn, read_checkout
from services.orders.entrypoints.photos import UploadLimit
from shared.api import HandReadRoute, SecurityHeaders
from shared.cors import allow_pages
from shared.metrics import MetricsMiddleware
from shared.problems import answer_errors_as_problems

STREAM = "OWNER_DECISIONS"
LEASES = "OFFER_OWNERS"
LEASE_TTL_S = 10.0
MAX_BATCH = 2000  # decisions in one append: ~150 bytes each, far under NATS's 1 MB


def subject(offer_id: str) -> str:
    return f"owner.decisions.{offer_id}"


def asked_of(customer: str, body: CheckoutIn) -> str:
    """What a checkout asked for: a key used again must ask the same."""
    return f"{customer}|{body.quantity}|{body.variant or ''}"


@dataclass
class Offer:
    """What the owner decides from: rebuilt from the decisions, changed only by `decide`."""

    offer_id: str
    left: int
    per_buyer_limit: int
    bought: dict[str, int] = field(default_factory=dict)
    # idempotency key -> its decision: a retry gets the same answer
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sold: int = 0

    def decide(self, customer: str, key: str, body: CheckoutIn) -> tuple[dict[str, Any], bool]:
        """The decision for a checkout (a record to append) and whether it is new (else the
        key's first decision)."""
        seen = self.answers.get(key)
        if seen is not None:
            return seen, False
        record: dict[str, Any]
        if self.bought.get(customer, 0) + body.quantity > self.per_buyer_limit:
            record = {"outcome": "limit_reached"}
        elif self.left < body.quantity:
            record = {"outcome": "sold_out_waitlisted"}
        else:
            record = {"outcome": "placed", "order_id": f"ord_{uuid.uuid4().hex[:16]}"}
        asked = asked_of(customer, body)
        record |= {"key": key, "asked": asked, "customer": customer, "quantity": body.quantity}
        self.apply(record)
        return record, True

    def apply(self, record: dict[str, Any]) -> None:
        """A decision's effect (deciding, and rebuilding from the stream)."""
        if record["outcome"] == "placed":
            self.left -= record["quantity"]
            self.sold += record["quantity"]
            customer = record["customer"]
            self.bought[customer] = self.bought.get(customer, 0) + record["quantity"]
        self.answers[record["key"]] = record


def answer_of(record: dict[str, Any], replayed: bool = False) -> tuple[int, bytes]:
    if record["outcome"] == "placed":
        body = {"ok": True, "order_id": record["order_id"], "message": "yours: pay within 15 min"}
        return 201, json.dumps(body | {"replayed": replayed}).encode()
    return 409, json.dumps(
        {"status": 409, "code": record["outcome"], "replayed": replayed}
    ).encode()


STOPPED = 503, b'{"status":503,"code":"owner_stopped"}'


class Owner:
    """The offer's owner: the lease, the offer in memory, and the group-committed appends."""

    def __init__(self, js: JetStreamContext, offer: Offer) -> None:
        self.js = js
        self.offer = offer
        self.me = uuid.uuid4().hex
        self.pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self.storing: dict[str, asyncio.Future[None]] = {}  # idempotency key -> its append
        self.wake = asyncio.Event()
        self.last_seq = 0
        self.failed: BaseException | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.appends = 0

    async def start(self) -> None:
        kv = await self.js.create_key_value(bucket=LEASES, ttl=LEASE_TTL_S)
        # The lease: only one process creates the key; the holder renews it by revision.
        revision = await kv.create(self.offer.offer_id, self.me.encode())
        await self.rebuild()
        self.tasks = [
            asyncio.create_task(self.renew(kv, revision)),
            asyncio.create_task(self.append_forever()),
        ]

    async def rebuild(self) -> None:
        """The offer as its stored decisions left it."""
        name = subject(self.offer.offer_id)
        try:
            last_seq = (await self.js.get_last_msg(STREAM, name)).seq or 0
        except NotFoundError:
            return
        sub = await self.js.subscribe(name, ordered_consumer=True)
        try:
            while True:
                msg = await sub.next_msg(timeout=10)
                for line in msg.data.splitlines():
                    self.offer.apply(json.loads(line))
                if msg.metadata.sequence.stream >= last_seq:
                    break
        finally:
            await sub.unsubscribe()
        self.last_seq = last_seq

    async def renew(self, kv: Any, revision: int) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL_S / 3)
            try:
                revision = await kv.update(self.offer.offer_id, self.me.encode(), last=revision)
            except KeyWrongLastSequenceError as exc:  # another owner took it: stop deciding
                self.stop(exc)
                return

    async def decide(self, customer: str, key: str, body: CheckoutIn) -> tuple[int, bytes]:
        if self.failed is not None:
            return STOPPED
        record, new = self.offer.decide(customer, key, body)
        if not new:
            if record["asked"] != asked_of(customer, body):
                return 422, b'{"status":422,"code":"idempotency_key_reused"}'
            if key in self.storing:  # a retry while the first is stored: the same wait
                try:
                    await asyncio.shield(self.storing[key])
                except Exception:
                    return STOPPED
            return answer_of(record, replayed=True)
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((json.dumps(record, separators=(",", ":")).encode(), stored))
        self.storing[key] = stored
        self.wake.set()
        try:
            await stored  # "yours" only once the decision is in the stream
        except Exception:
            # Not stored, or not known to be: the buyer is not told. An append whose ack was
            # lost may still be in the stream; the next owner finds it, and a retry with the
            # key gets it (an unpaid hold expires like any other).
            return STOPPED
        finally:
            self.storing.pop(key, None)
        return answer_of(record)

    async def append_forever(self) -> None:
        while self.failed is None:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    ack = await self.js.publish(
                        subject(self.offer.offer_id),
                        b"\n".join(line for line, _ in batch),
                        stream=STREAM,
                        headers={"Nats-Expected-Last-Subject-Sequence": str(self.last_seq)},
                    )
                except Exception as exc:  # not stored: nobody may hear these decisions
                    self.stop(exc)
                    for _, stored in batch:
                        stored.set_exception(exc)
                    return
                self.last_seq = ack.seq
                self.appends += 1
                for _, stored in batch:
                    stored.set_result(None)

    def stop(self, why: BaseException) -> None:
        """Decisions in memory may be ahead of the stream: answer nothing more. A new owner
        rebuilds from what was stored."""
        self.failed = why
        for _, stored in self.pending:
            if not stored.done():
                stored.set_exception(why)
        self.pending = []


async def provision(js: JetStreamContext) -> None:
    config = StreamConfig(name=STREAM, subjects=["owner.decisions.>"], duplicate_window=120)
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(config)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    nc = await nats.connect(os.environ["NATS_URL"])
    js = nc.jetstream()
    await provision(js)
    offer = Offer(
        os.environ["OFFER_ID"], int(os.environ["STOCK"]), int(os.environ["PER_BUYER_LIMIT"])
    )
    app.state.owner = owner = Owner(js, offer)
    await owner.start()
    yield
    for task in owner.tasks:
        task.cancel()
    await nc.drain()


async def checkout(offer_id: str, body: CheckoutIn) -> Response:
    """Documented for the same stack; served by `serve_checkout`."""
    raise NotImplementedError


async def serve_checkout(scope: Scope, receive: Receive, send: Send) -> None:
    """Read by the real checkout's `read_checkout`; decided by the owner instead of under the
    offer's row lock."""
    owner: Owner = scope["app"].state.owner
    buyer, idempotency_key, checkout_in = await read_checkout(
        scope, receive, os.environ["SECRET_KEY"]
    )
    if scope["path_params"]["offer_id"] != owner.offer.offer_id:
        status, answer = 404, b'{"status":404,"code":"not_found"}'
    else:
        status, answer = await owner.decide(buyer.customer_id, idempotency_key, checkout_in)
    media = b"application/json" if status < 400 else b"application/problem+json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", media), (b"content-length", b"%d" % len(answer))],
        }
    )
    await send({"type": "http.response.body", "body": answer})


app = FastAPI(lifespan=lifespan)
answer_errors_as_problems(app, {})
# The orders app's middleware, in its order (shared.runtime.http_app, services/orders/main.py):
# the real checkout passes through all of it, so the prototype's does too.
app.add_middleware(MetricsMiddleware)
app.add_middleware(SecurityHeaders)
allow_pages(
    app,
    "*",  # as orders' default (CORS_ORIGINS)
    ("GET", "POST", "PATCH", "PUT", "DELETE"),
    ("Authorization", "Content-Type", "Idempotency-Key"),
)
app.user_middleware.append(Middleware(UploadLimit, limit=10 * 1024 * 1024))
app.router.routes.insert(
    0,
    HandReadRoute(
        "/offers/{offer_id}/checkout",
        checkout,
        serve=serve_checkout,
        methods=["POST"],
        status_code=201,
    ),
)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/offers/{offer_id}")
async def counters(offer_id: str) -> dict[str, Any]:
    owner: Owner = app.state.owner
    return {
        "left": owner.offer.left,
        "sold": owner.offer.sold,
        "decisions": len(owner.offer.answers),
        "appends": owner.appends,
        "last_seq": owner.last_seq,
    }


# ---- the writer: rows behind the decisions ---------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS owner_orders (
    id TEXT PRIMARY KEY, offer_id TEXT NOT NULL, customer_id TEXT NOT NULL,
    quantity INT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS owner_waitlist (
    offer_id TEXT NOT NULL, customer_id TEXT NOT NULL, idempotency_key TEXT PRIMARY KEY);
"""


async def write_behind() -> None:
    import asyncpg

    db = await asyncpg.connect(os.environ["DATABASE_URL"])
    await db.execute(SCHEMA)
    nc = await nats.connect(os.environ["NATS_URL"])
    js = nc.jetstream()
    await provision(js)
    sub = await js.pull_subscribe(
        "owner.decisions.>", durable="owner-rows", stream=STREAM, config=ConsumerConfig()
    )
    print("writer ready", flush=True)
    while True:
        try:
            msgs = await sub.fetch(64, timeout=1)
        except TimeoutError:
            continue
        placed, waiting = [], []
        for msg in msgs:
            offer_id = msg.subject.rsplit(".", 1)[1]
            for line in msg.data.splitlines():
                record = json.loads(line)
                if record["outcome"] == "placed":
                    placed.append(
                        (
                            record["order_id"],
                            offer_id,
                            record["customer"],
                            record["quantity"],
                            record["key"],
                        )
                    )
                elif record["outcome"] == "sold_out_waitlisted":
                    waiting.append((offer_id, record["customer"], record["key"]))
        async with db.transaction():
            await db.executemany(
                "INSERT INTO owner_orders VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                placed,
            )
            await db.executemany(
                "INSERT INTO owner_waitlist VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", waiting
            )
        for msg in msgs:  # acked once the rows are committed: a crash re-delivers them
            await msg.ack()


if __name__ == "__main__" and sys.argv[1:] == ["writer"]:
    asyncio.run(write_behind())
