"""How every service reads requests at its HTTP edge: ids, times, JSON; and the headers
every answer carries.

A room id travels on as a NATS subject token, so a malformed one is refused here
(422) with the same rule the events use, never stored to break later work. Times
must carry their zone: use pydantic's `AwareDatetime` in request models, so a
naive time is a 422 that says so rather than a comparison error later.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BeforeValidator, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.events.envelope import SUBJECT_TOKEN_PATTERN

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _text_only(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("a time is ISO 8601 text with its zone, e.g. 2026-12-07T20:00:00+08:00")


# A request's time: ISO 8601 text with its zone, as the schema says (pydantic alone would
# also take a number as Unix seconds, which the schema does not say and no client means).
Instant = Annotated[AwareDatetime, BeforeValidator(_text_only)]

RoomIdPath = Annotated[
    str,
    Path(
        pattern=SUBJECT_TOKEN_PATTERN,
        description="The room's id: 1-64 letters, digits, '_' or '-'.",
        examples=["r_8f3a2b1c9d0e"],
    ),
]


# ---- JSON as RFC 8259 and I-JSON (RFC 7493) read it -------------------------------------

MAX_JSON_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1  # what every JSON client (JavaScript first) reads exactly
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_strict(data: bytes | str) -> Any:
    """JSON, refusing what Python's json accepts but a request must not carry: NaN and
    Infinity (not JSON), numbers past 2**53 or overflowing to infinity, lone UTF-16
    surrogates (not text: they cannot be stored or sent back), nesting deeper than
    MAX_JSON_DEPTH. Every refusal is a json.JSONDecodeError, which FastAPI answers 422."""
    try:
        text = data if isinstance(data, str) else data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise json.JSONDecodeError("not UTF-8", repr(data[:40]), 0) from None
    try:
        value = json.loads(
            text, parse_constant=_not_json, parse_int=_safe_int, parse_float=_finite_float
        )
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH}", text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # from the hooks below, or int() past its digit limit
        raise json.JSONDecodeError(str(exc), text, 0) from None
    _check(value, text, 0)
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _safe_int(digits: str) -> int:
    number = int(digits)
    if abs(number) > MAX_SAFE_INTEGER:
        raise ValueError("integer beyond 2**53: clients cannot read it exactly")
    return number


def _finite_float(digits: str) -> float:
    number = float(digits)
    if not math.isfinite(number):
        raise ValueError(f"{digits[:20]} is too large a number")
    return number


def _check(value: Any, text: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH}", text, 0)
    if isinstance(value, str):
        if not value.isascii() and _SURROGATE.search(value):
            raise json.JSONDecodeError("a lone UTF-16 surrogate is not text", text, 0)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, text, depth + 1)
            _check(item, text, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, text, depth + 1)


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by loads_strict (its refusals are 422s)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def api_router(**options: Any) -> APIRouter:
    """Every service's routers: FastAPI's, reading JSON bodies strictly."""
    return APIRouter(route_class=StrictJsonRoute, **options)


# ---- a route read by hand, for the few too hot for FastAPI's per-request work ---------


class HandReadRoute(StrictJsonRoute):
    """An API route that FastAPI documents from its endpoint's signature like any other
    (OpenAPI, the error answers of shared.problems), but that is served by `serve`, a plain
    ASGI callable reading the request itself: no dependency solving, no request wrappers.
    `serve` follows FastAPI's rules with the helpers below (`read_body`, `json_body`,
    `checked`) and raises what FastAPI would (ApiError, RequestValidationError), so every
    answer is worded by the app's handlers. Insert it first in `app.router.routes`: the
    top-level router tries it before walking the included routers."""

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, serve: ASGIApp, **options: Any
    ) -> None:
        super().__init__(path, endpoint, **options)
        self.serve = serve

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = Route.matches(self, scope)
        if match is not Match.NONE:
            child_scope["route"] = self  # metrics label by route template
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(self.methods))})
        await self.serve(scope, receive, send)


async def read_body(receive: Receive) -> bytes:
    """The request's body; ClientDisconnect when the client left before sending it all."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


MISSING: Any = object()  # no body at all: FastAPI's "Field required" at ("body",)


def json_body(body: bytes, content_type: bytes | None) -> Any:
    """What FastAPI validates a JSON body route's model against: nothing sent is MISSING;
    a JSON media type (`application/json`, `*/*+json`, with parameters) is parsed by
    loads_strict (422 `json_invalid` at ("body", position)); any other media type, or
    none, leaves the raw bytes, which the model then refuses."""
    if not body:
        return MISSING
    if content_type is None:
        return body
    if content_type != b"application/json":
        message = email.message.Message()
        message["content-type"] = content_type.decode("latin-1")
        subtype = message.get_content_subtype()
        if message.get_content_maintype() != "application" or not (
            subtype == "json" or subtype.endswith("+json")
        ):
            return body
    try:
        return loads_strict(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None


def checked(adapter: TypeAdapter[Any], value: Any, loc: tuple[str, ...], errors: list[Any]) -> Any:
    """`value` validated as FastAPI validates a parameter at `loc` (a header, the body):
    MISSING is "Field required"; a refusal adds pydantic's errors, located, to `errors`."""
    if value is MISSING:
        errors.append({"type": "missing", "loc": loc, "msg": "Field required"})
        return None
    try:
        return adapter.validate_python(value, from_attributes=True)
    except ValidationError as exc:
        errors.extend({**e, "loc": loc + tuple(e["loc"])} for e in exc.errors())
        return None


# ---- headers on every answer ------------------------------------------------------------

API_HEADERS = [(b"x-content-type-options", b"nosniff")]
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """nosniff on every answer; `Cache-Control: no-store` unless the route set its own
    (API answers are per caller and change: no cache or proxy may keep one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in API_HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
