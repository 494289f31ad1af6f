"""Assembles the orders HTTP app; `python -m services.orders` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware import Middleware
from faststream import FastStream

from services.orders.bootstrap import OrdersApp, build
from services.orders.domain.fulfilment import (
    AlreadyFulfilled,
    InvalidFulfilment,
    UnknownPickupPoint,
)
from services.orders.domain.offers import InvalidOffer
from services.orders.entrypoints import (
    desk,
    host_orders,
    host_views,
    http,
    me,
    photos,
    pickup_points,
    promoters,
)
from services.orders.entrypoints.deps import PAY_TOKEN_HEADER
from services.orders.service_layer.catalog import Conflict, Forbidden, NotFound
from services.orders.service_layer.photos import PhotoOrderMismatch, PhotosFull
from shared.cors import allow_pages
from shared.events import ORDERS_EVENTS
from shared.problems import Mapped
from shared.runtime import asyncapi_app, http_app

ERRORS: Mapped = {
    NotFound: (404, "not_found"),
    Forbidden: (403, "forbidden"),
    Conflict: (409, "conflict"),
    PhotosFull: (409, "too_many_photos"),
    PhotoOrderMismatch: (409, "photo_order_mismatch"),
    InvalidOffer: (422, "invalid_offer"),
    InvalidFulfilment: (422, "invalid_fulfilment"),
    UnknownPickupPoint: (422, "unknown_pickup_point"),
    AlreadyFulfilled: (409, "already_fulfilled"),
}


def create_app(orders: OrdersApp | None = None) -> FastAPI:
    orders = orders or build()
    app = http_app(
        orders.infra,
        title="Qunlive orders",
        description="Flash sales, group buys and pre-sales: stock, checkout, payments.",
        routers=(
            http.router,
            host_views.router,
            host_orders.router,
            photos.router,
            pickup_points.router,
            promoters.router,
            desk.router,
            me.router,
        ),
        state=orders,
        errors=ERRORS,
    )
    # The viewer page (served by live) checks out, pays and reads orders from the browser,
    # its own or the one a group's pay link opens.
    allow_pages(
        app,
        orders.settings.cors_origins,
        ("GET", "POST", "PATCH", "PUT", "DELETE"),
        ("Authorization", "Content-Type", "Idempotency-Key", PAY_TOKEN_HEADER),
    )
    # The flash sale's hottest request, first in the routing table: matched before the
    # included routers are walked, served without dependency solving (http.serve_checkout).
    app.router.routes.insert(0, http.checkout_route)
    # A photo upload over the limit is refused before its body is read (inside CORS: the
    # console reads the 413).
    limit = orders.settings.photo_max_bytes + photos.MULTIPART_SLACK
    app.user_middleware.append(Middleware(photos.UploadLimit, limit=limit))
    return app


def asyncapi() -> FastStream:
    """`faststream docs gen --factory services.orders.main:asyncapi`"""
    return asyncapi_app(
        build().infra.broker, "Qunlive orders events", "Offers, stock and orders.", ORDERS_EVENTS
    )
