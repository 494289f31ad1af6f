"""The simplest correct stock decrement, on the same HTTP stack: the reference point.

One table, one row, `UPDATE ... SET left = left - 1 WHERE left > 0`: no order row,
no idempotency, no outbox, no events. Run by bench/orders_flash_sale.py.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Response
from sqlalchemy import text

from shared.db import make_engine

engine = make_engine(os.environ["DATABASE_URL"])
app = FastAPI()


@app.on_event("startup")
async def _create() -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_stock"))
        await conn.execute(text("CREATE TABLE bench_stock (id INT PRIMARY KEY, left_units INT)"))
        await conn.execute(text(f"INSERT INTO bench_stock VALUES (1, {int(os.environ['STOCK'])})"))


@app.post("/buy")
async def buy(response: Response) -> dict[str, int | None]:
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "UPDATE bench_stock SET left_units = left_units - 1 "
                    "WHERE id = 1 AND left_units > 0 RETURNING left_units"
                )
            )
        ).first()
    response.status_code = 201 if row else 409
    return {"left": row[0] if row else None}


@app.get("/left")
async def left() -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            "left": (await conn.execute(text("SELECT left_units FROM bench_stock"))).scalar_one()
        }
