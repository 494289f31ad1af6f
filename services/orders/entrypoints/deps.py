"""FastAPI dependencies: the composition root, the host, the buyer, a pay link's holder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services.orders.bootstrap import OrdersApp
from shared.auth import (
    ADMIN,
    DeskPass,
    ExpiredPayLink,
    InvalidToken,
    NotAllowed,
    PayLink,
    TokenHolder,
    desk_of,
    host_of,
    read_pay_token,
    read_viewer_token,
)
from shared.problems import ApiError, forbidden, invalid_token, unauthenticated

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its
# thread pool, a thread hand-off per request that the checkout profile showed.


async def get_orders(request: Request) -> OrdersApp:
    orders: OrdersApp = request.app.state.service
    return orders


OrdersDep = Annotated[OrdersApp, Depends(get_orders)]


@dataclass(frozen=True)
class Host:
    id: str  # "admin" or "host:<id>"

    @property
    def is_admin(self) -> bool:
        return self.id == ADMIN


async def require_host(orders: OrdersDep, credentials: Credentials) -> Host:
    """Admin token or a host credential: none, or one not valid, is 401; a viewer token 403."""
    if credentials is None:
        raise unauthenticated("host credentials")
    settings = orders.settings
    try:
        return Host(host_of(credentials.credentials, settings.admin_token, settings.secret_key))
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None
    except NotAllowed as exc:
        raise forbidden(str(exc)) from None


class ViewerBearer(HTTPBearer):
    """The viewer token live issued on join: who is buying.

    One dependency, not three (bearer, composition root, token): FastAPI re-inspects every
    dependency callable on every request, a quarter of the checkout's framework time in the
    profile. Documented as before: the `HTTPBearer` scheme. A missing or non-Bearer
    Authorization header is 401, as with `HTTPBearer(auto_error=False)` and a None check.
    """

    def __init__(self) -> None:
        super().__init__(scheme_name="HTTPBearer", auto_error=False)

    async def __call__(self, request: Request) -> TokenHolder:  # type: ignore[override]
        orders: OrdersApp = request.app.state.service
        return buyer_of(request.headers.get("Authorization"), orders.settings.secret_key)


def buyer_of(authorization: str | None, secret: str) -> TokenHolder:
    """The buyer an Authorization header names (a viewer token), else the ApiError to
    answer: none, or not Bearer, 401 `unauthenticated`; not valid 401 `invalid_token`; a
    pickup desk's token 403."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if not (scheme and token) or scheme.lower() != "bearer":
        raise unauthenticated("a viewer token (join the room first)")
    try:
        return read_viewer_token(token, secret)
    except NotAllowed as exc:
        raise forbidden(str(exc)) from None
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None


require_buyer = ViewerBearer()


HostDep = Annotated[Host, Depends(require_host)]
BuyerDep = Annotated[TokenHolder, Depends(require_buyer)]


PAY_TOKEN_HEADER = "X-Pay-Token"
pay_link_key = APIKeyHeader(
    name=PAY_TOKEN_HEADER,
    scheme_name="PayLink",
    auto_error=False,
    description='The `pay` of a group reply\'s "Pay" link (`/r/{room_id}?pay=<token>`): '
    "lets whoever holds it read and pay that one order, nothing else.",
)
PayToken = Annotated[str | None, Security(pay_link_key)]
_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class OrderAccess:
    """Who reads or pays an order: its buyer (a viewer token), whoever holds the order's
    pay link (then `pay_link` says which order and buyer it was issued for), or a host
    (the admin, or a host credential: the order must be of an offer they own)."""

    customer_id: str
    pay_link: PayLink | None = None
    host: Host | None = None  # the admin token or a host credential: reads, never pays


async def order_access(
    order_id: str, orders: OrdersDep, credentials: Credentials, pay_token: PayToken
) -> OrderAccess:
    """The viewer token, or the order's pay link (X-Pay-Token, read when sent).

    A group member who wrote "+1" has no viewer token of that account: the link in the
    group's reply is all they hold. Anyone in the group sees it, so it opens one order:
    a link of another order is 403 here; past its deadline it is 401 `pay_link_expired`."""
    secret = orders.settings.secret_key
    if pay_token is not None:
        try:
            link = read_pay_token(pay_token, secret)
        except ExpiredPayLink as exc:
            raise ApiError(401, str(exc), "pay_link_expired", _CHALLENGE) from None
        except InvalidToken as exc:
            raise invalid_token(str(exc)) from None
        if link.order_id != order_id:
            raise forbidden("this pay link is for another order")
        return OrderAccess(link.customer_id, link)
    if credentials is None:
        raise unauthenticated("a viewer token (join the room first), or the order's pay link")
    try:
        buyer = read_viewer_token(credentials.credentials, secret)
    except NotAllowed as exc:  # a pickup desk's token: 403
        raise forbidden(str(exc)) from None
    except InvalidToken as exc:
        viewer_refusal = str(exc)
    else:
        return OrderAccess(buyer.customer_id)
    # Not a viewer token: the admin token or a host credential (the host's order list).
    try:
        host = host_of(credentials.credentials, orders.settings.admin_token, secret)
    except NotAllowed as exc:
        raise forbidden(str(exc)) from None
    except InvalidToken:
        raise invalid_token(viewer_refusal) from None
    return OrderAccess("", host=Host(host))


OrderAccessDep = Annotated[OrderAccess, Depends(order_access)]


async def require_desk(orders: OrdersDep, credentials: Credentials) -> DeskPass:
    """A pickup desk token (the host's desk link): none, or one not valid, is 401; the
    admin token, a host or a viewer token 403 (the desk's routes are the desk's only)."""
    if credentials is None:
        raise unauthenticated("a pickup desk token (open the host's desk link)")
    settings = orders.settings
    try:
        return desk_of(credentials.credentials, settings.admin_token, settings.secret_key)
    except NotAllowed as exc:
        raise forbidden(str(exc)) from None
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None


DeskDep = Annotated[DeskPass, Depends(require_desk)]
