"""What the checkout desk reads for a batch, under the offer's lock: one statement per
question for the whole batch (decision 0006).

On PostgreSQL the statements go straight to asyncpg, in the transaction the lock began,
with the batch as array parameters (`= ANY($1)`): one SQL text whatever the batch's size,
so asyncpg prepares each once per connection. Through SQLAlchemy every batch rendered an
`IN ($1, ..., $n)` list of its own length (compiled, and prepared by PostgreSQL, again
for each new length), then loaded the rows through the ORM and a greenlet hop per
statement: the desk's largest cost in the profile (docs/decisions/DRAFT-desk-reads.md).
Elsewhere (SQLite) the same questions are Core `IN` lists on the transaction's connection.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orders.adapters.tables import CheckoutRow, OrderRow, ReferralRow, WaitlistRow

ACTIVE = ("awaiting_payment", "paid", "deposit_paid")  # orders that count toward a limit


class DeskReads(Protocol):
    async def checkouts(self, keys: Collection[str]) -> dict[str, CheckoutRow]:
        """The idempotency records of these keys."""
        ...

    async def holdings(self, offer_id: str, customers: Collection[str]) -> dict[str, int]:
        """Units each customer holds on the offer (active orders)."""
        ...

    async def waiting(
        self, offer_id: str, customers: Collection[str]
    ) -> list[tuple[str, str | None]]:
        """(customer, variant) of each waiting place these customers have on the offer."""
        ...

    async def referrers(self, customers: Collection[str]) -> list[tuple[str, str]]:
        """(customer, referrer) of those customers someone brought."""
        ...


async def desk_reads(conn: AsyncConnection) -> DeskReads:
    """The reads for `conn`'s database, inside its transaction (begun by the lock)."""
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        return PostgresReads(raw.driver_connection)
    return CoreReads(conn)


CHECKOUTS = CheckoutRow.__table__
ORDERS = OrderRow.__table__
WAITLIST = WaitlistRow.__table__
REFERRALS = ReferralRow.__table__


class PostgresReads:
    def __init__(self, driver: Any) -> None:
        self._pg = driver  # asyncpg.Connection, in the transaction SQLAlchemy began

    async def checkouts(self, keys: Collection[str]) -> dict[str, CheckoutRow]:
        rows = await self._pg.fetch(
            "SELECT key, customer_id, offer_id, order_id, reason, message, fingerprint, "
            "created_at FROM orders_checkouts WHERE key = ANY($1::text[])",
            list(keys),
        )
        return {row["key"]: CheckoutRow(**dict(row)) for row in rows}

    async def holdings(self, offer_id: str, customers: Collection[str]) -> dict[str, int]:
        rows = await self._pg.fetch(
            "SELECT customer_id, sum(quantity) FROM orders_orders WHERE offer_id = $1 "
            "AND customer_id = ANY($2::text[]) AND status = ANY($3::text[]) "
            "GROUP BY customer_id",
            offer_id,
            list(customers),
            list(ACTIVE),
        )
        return {customer: int(quantity) for customer, quantity in rows}

    async def waiting(
        self, offer_id: str, customers: Collection[str]
    ) -> list[tuple[str, str | None]]:
        rows = await self._pg.fetch(
            "SELECT customer_id, variant FROM orders_waitlist WHERE offer_id = $1 "
            "AND status = 'waiting' AND customer_id = ANY($2::text[])",
            offer_id,
            list(customers),
        )
        return [(customer, variant) for customer, variant in rows]

    async def referrers(self, customers: Collection[str]) -> list[tuple[str, str]]:
        rows = await self._pg.fetch(
            "SELECT customer_id, referrer_id FROM orders_referrals "
            "WHERE customer_id = ANY($1::text[])",
            list(customers),
        )
        return [(customer, referrer) for customer, referrer in rows]


class CoreReads:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def checkouts(self, keys: Collection[str]) -> dict[str, CheckoutRow]:
        rows = await self._conn.execute(select(CHECKOUTS).where(CHECKOUTS.c.key.in_(keys)))
        return {row.key: CheckoutRow(**row._mapping) for row in rows}

    async def holdings(self, offer_id: str, customers: Collection[str]) -> dict[str, int]:
        rows = await self._conn.execute(
            select(ORDERS.c.customer_id, func.sum(ORDERS.c.quantity))
            .where(
                ORDERS.c.offer_id == offer_id,
                ORDERS.c.customer_id.in_(customers),
                ORDERS.c.status.in_(ACTIVE),
            )
            .group_by(ORDERS.c.customer_id)
        )
        return {customer: int(quantity) for customer, quantity in rows}

    async def waiting(
        self, offer_id: str, customers: Collection[str]
    ) -> list[tuple[str, str | None]]:
        rows = await self._conn.execute(
            select(WAITLIST.c.customer_id, WAITLIST.c.variant).where(
                WAITLIST.c.offer_id == offer_id,
                WAITLIST.c.status == "waiting",
                WAITLIST.c.customer_id.in_(customers),
            )
        )
        return [(customer, variant) for customer, variant in rows]

    async def referrers(self, customers: Collection[str]) -> list[tuple[str, str]]:
        rows = await self._conn.execute(
            select(REFERRALS.c.customer_id, REFERRALS.c.referrer_id).where(
                REFERRALS.c.customer_id.in_(customers)
            )
        )
        return [(customer, referrer) for customer, referrer in rows]
