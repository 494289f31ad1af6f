"""The checkout's plain case, answered before FastAPI's routing and dependency solving.

A flash sale is thousands of `POST /offers/{id}/checkout` a second, and the checkout
profile showed FastAPI's per-request machinery (four routers matched in turn, the
request/response wrappers, dependency solving, parameter validation) costing more than
the checkout itself. This ASGI layer sits inside the metrics and CORS middlewares and
answers a checkout only when everything about it is plain: one Bearer viewer token that
`read_viewer_token` accepts, one `Idempotency-Key` of 8 to 100 characters, a JSON body
that `CheckoutIn` accepts. It answers with the route's own function
(`http.place_checkout`): the same status and JSON. Anything else, and every refusal,
goes on to the FastAPI route with the body as received: FastAPI decides and words it
(401, 422, ...), as before. The route stays the documented one (OpenAPI), and the one
tests exercise for the unusual cases.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.orders.bootstrap import OrdersApp
from services.orders.entrypoints import http
from shared.api import loads_strict
from shared.auth import InvalidToken, read_viewer_token

# The route's path, `{offer_id}` matching as Starlette's default convertor does ([^/]+).
_PATH = re.compile(r"/offers/([^/]+)/checkout")


def _checkout_route() -> Any:
    for route in http.router.routes:
        if getattr(route, "endpoint", None) is http.checkout:
            return route
    raise LookupError("the checkout route is gone from services.orders.entrypoints.http")


class CheckoutFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = _checkout_route()  # for the metrics' route label, as when routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("root_path")
            or (path := _PATH.fullmatch(scope["path"])) is None
        ):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: FastAPI's to handle
                await self.app(scope, _replay(body, message, receive), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        plain = self._plain(scope, body)
        if plain is None:
            await self.app(scope, _replay(body, None, receive), send)
            return
        token, key, checkout = plain
        orders: OrdersApp = scope["app"].state.service
        try:
            buyer = read_viewer_token(token, orders.settings.secret_key)
        except InvalidToken:  # FastAPI words the 401
            await self.app(scope, _replay(body, None, receive), send)
            return
        scope["route"] = self.route
        status, answer, media_type = await http.place_checkout(
            orders, path.group(1), buyer, key, checkout
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", media_type.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    @staticmethod
    def _plain(scope: Scope, body: bytes) -> tuple[str, str, http.CheckoutIn] | None:
        """(token, idempotency key, body) of a plain checkout, else None."""
        authorization = key = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is not None:
                    return None
                authorization = value
            elif name == b"idempotency-key":
                if key is not None:
                    return None
                key = value
            elif name == b"content-type":
                if content_type is not None:
                    return None
                content_type = value
        if authorization is None or key is None or content_type != b"application/json":
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        idempotency_key = key.decode("latin-1")
        if scheme.lower() != "bearer" or not token or not 8 <= len(idempotency_key) <= 100:
            return None
        try:
            data = loads_strict(body)
            checkout = http.CheckoutIn.model_validate(data) if isinstance(data, dict) else None
        except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError too
            return None
        if checkout is None:
            return None
        return token, idempotency_key, checkout


def _replay(body: bytes, then: Message | None, receive: Receive) -> Receive:
    """The request's messages again for the next layer: the body read so far, then the
    message that stopped the read (a disconnect), then the connection's own."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": then is not None}]
    if then is not None:
        pending.append(then)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
