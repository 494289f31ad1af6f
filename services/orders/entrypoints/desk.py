"""HTTP: the pickup desk. A host issues a desk link for one of their pickup points; whoever
staffs the point opens it (live's /desk page) and looks orders up by their pickup code,
then hands the goods over (`order.fulfilled`).

A desk token opens these routes only; host and viewer credentials are refused here (403)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel, Field

from services.orders.adapters.tables import OrderRow
from services.orders.bootstrap import OrdersApp
from services.orders.domain.desk import (
    DESK_HOURS_DEFAULT,
    DESK_HOURS_MAX,
    AlreadyHandedOver,
    DeskRefusal,
    NotPaid,
    TooManyAttempts,
)
from services.orders.entrypoints.deps import DeskDep, HostDep, OrdersDep
from services.orders.entrypoints.pickup_points import PickupPointOut
from services.orders.service_layer.checkout import aware
from services.orders.service_layer.desk import Desk, DeskOrder
from shared.api import api_router
from shared.auth import issue_desk_token
from shared.events import utcnow
from shared.problems import ApiError

router = api_router(tags=["pickup desk"])

# A browser's Origin header: scheme, host (a name, an IPv4 or a bracketed IPv6), port.
ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


class DeskTokenIn(BaseModel):
    hours: int = Field(
        default=DESK_HOURS_DEFAULT,
        ge=1,
        le=DESK_HOURS_MAX,
        strict=True,
        description="How long the link works (it cannot be revoked earlier: keep it short).",
    )


class DeskTokenOut(BaseModel):
    token: str = Field(description="A pickup desk token: opens this point's desk routes only.")
    expires_at: datetime
    desk_url: str = Field(
        description="live's desk page with the token in its fragment (never sent to a server "
        "by the browser): `{live}/desk#token=...`. Give it to whoever staffs the point."
    )


class DeskOut(BaseModel):
    pickup_point: PickupPointOut


class DeskOrderOut(BaseModel):
    """An order as the desk sees it: what to hand over and to whom, nothing more (no
    address, no amounts, no referrers)."""

    order_id: str
    code: str = Field(description="The pickup code.", examples=["042917"])
    status: str = Field(description="`paid` is ready to hand over; anything else is not.")
    title: str
    variant: str | None
    quantity: int
    buyer_name: str
    paid_at: datetime | None
    fulfilled_at: datetime | None = Field(description="When it was handed over, if it was.")
    room_id: str

    @classmethod
    def of(cls, found: DeskOrder) -> DeskOrderOut:
        order: OrderRow = found.order
        return cls(
            order_id=order.id,
            code=order.pickup_code or "",
            status=order.status,
            title=found.title,
            variant=order.variant,
            quantity=order.quantity,
            buyer_name=order.buyer_name,
            paid_at=aware(order.paid_at) if order.paid_at else None,
            fulfilled_at=aware(order.fulfilled_at) if order.fulfilled_at else None,
            room_id=order.room_id,
        )


class DeskProblem(BaseModel):
    """A desk refusal: a Problem; `already_handed_over` adds when it was, `not_paid` the
    order's status, `too_many_attempts` how long to wait."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    fulfilled_at: datetime | None = Field(
        default=None, description="`already_handed_over`: when the goods were handed over."
    )
    order_status: str | None = Field(default=None, description="`not_paid`: the order's status.")
    retry_after_s: int | None = Field(
        default=None, description="`too_many_attempts`: seconds to wait (as `Retry-After`)."
    )


CODE_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No order at this pickup point has this code (`unknown_code`)."},
    429: {
        "model": DeskProblem,
        "description": "More than 5 wrong codes within a minute from this desk link "
        "(`too_many_attempts`): `Retry-After` says when to try again.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
    },
}


def desk_of(orders: OrdersApp) -> Desk:
    assert orders.desk is not None
    return orders.desk


def refused(error: DeskRefusal) -> ApiError:
    if isinstance(error, AlreadyHandedOver):
        at = aware(error.fulfilled_at)
        return ApiError(409, str(error), "already_handed_over", fulfilled_at=at.isoformat())
    if isinstance(error, NotPaid):
        return ApiError(409, str(error), "not_paid", order_status=error.status)
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after_s)}
        return ApiError(
            429, str(error), "too_many_attempts", headers, retry_after_s=error.retry_after_s
        )
    return ApiError(404, str(error), "unknown_code")


def live_url(orders: OrdersApp, request: Request) -> str:
    """Where live's pages are: LIVE_PUBLIC_URL; unset, the Origin of a browser's request
    (the host console that asks is live's page); else "" (the link stays a path)."""
    if orders.settings.live_public_url:
        return orders.settings.live_public_url.rstrip("/")
    origin = request.headers.get("origin", "")
    return origin if ORIGIN.match(origin) else ""


@router.post(
    "/pickup-points/{point_id}/desk-token",
    response_model=DeskTokenOut,
    status_code=201,
)
async def issue_desk_link(
    point_id: str,
    request: Request,
    orders: OrdersDep,
    host: HostDep,
    body: DeskTokenIn | None = None,
) -> DeskTokenOut:
    """A desk link for one of the host's pickup points (the admin: any point): whoever
    holds it may look up and hand over that point's orders, nothing else, until it expires.
    Another host's point is 403."""
    hours = (body or DeskTokenIn()).hours
    point = await desk_of(orders).point_of_host(point_id, host.id, host.is_admin)
    expires_at = utcnow().replace(microsecond=0) + timedelta(hours=hours)
    token = issue_desk_token(
        point.id, point.owner, expires_at.timestamp(), orders.settings.secret_key
    )
    url = f"{live_url(orders, request)}/desk#token={quote(token, safe='')}"
    return DeskTokenOut(token=token, expires_at=expires_at, desk_url=url)


@router.get("/desk", response_model=DeskOut)
async def desk_home(orders: OrdersDep, desk: DeskDep) -> DeskOut:
    """The pickup point this desk link is for."""
    return DeskOut(pickup_point=PickupPointOut.of(await desk_of(orders).point(desk.pickup_point)))


@router.get(
    "/desk/orders/{code}",
    response_model=DeskOrderOut,
    responses={**CODE_ANSWERS},
)
async def desk_order(code: str, orders: OrdersDep, desk: DeskDep) -> DeskOrderOut:
    """The order a pickup code names at this desk's point: what to hand over, to whom, and
    whether it may be (`status` paid, `fulfilled_at` empty). Wrong codes are counted."""
    try:
        return DeskOrderOut.of(await desk_of(orders).find(desk, code))
    except DeskRefusal as error:
        raise refused(error) from None


@router.post(
    "/desk/orders/{code}/handover",
    response_model=DeskOrderOut,
    responses={
        **CODE_ANSWERS,
        409: {
            "model": DeskProblem,
            "description": "Handed over before (`already_handed_over`, with `fulfilled_at`), "
            "or not paid in full / refunded (`not_paid`): hand nothing over.",
        },
    },
)
async def hand_over(code: str, orders: OrdersDep, desk: DeskDep) -> DeskOrderOut:
    """The goods were handed over: sets `fulfilled_at` and emits `order.fulfilled`, once.
    A second handover of the same code is refused and says when the first was."""
    try:
        return DeskOrderOut.of(await desk_of(orders).hand_over(desk, code))
    except DeskRefusal as error:
        raise refused(error) from None
