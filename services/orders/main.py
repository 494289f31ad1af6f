"""Assembles the orders HTTP app; `python -m services.orders` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from services.orders.bootstrap import OrdersApp, build
from shared.runtime import asyncapi_app, http_app


def create_app(orders: OrdersApp | None = None) -> FastAPI:
    orders = orders or build()
    return http_app(
        orders.infra,
        title="Qunlive orders",
        description="Flash sales, group buys and pre-sales: stock, checkout, payments.",
        routers=(),
        state=orders,
    )


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.orders.main:asyncapi`"""
    return asyncapi_app(build().infra.broker, "Qunlive orders events", "Offers, stock and orders.")
