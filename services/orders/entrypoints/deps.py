"""FastAPI dependencies: the composition root, the host, the buyer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.orders.bootstrap import OrdersApp
from shared.auth import ADMIN, InvalidToken, NotAllowed, TokenHolder, host_of, read_viewer_token
from shared.problems import forbidden, invalid_token, unauthenticated

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
        authorization = request.headers.get("Authorization")
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if not (scheme and token) or scheme.lower() != "bearer":
            raise unauthenticated("a viewer token (join the room first)")
        orders: OrdersApp = request.app.state.service
        try:
            return read_viewer_token(token, orders.settings.secret_key)
        except InvalidToken as exc:
            raise invalid_token(str(exc)) from None


require_buyer = ViewerBearer()


HostDep = Annotated[Host, Depends(require_host)]
BuyerDep = Annotated[TokenHolder, Depends(require_buyer)]
