"""One error model for every service: RFC 9457 problem details with a stable `code`.

Every answer of 400 or more, from any service and any cause (a refused business rule,
a bad body, a missing token, an unknown path, a crash), is `application/problem+json`:

    {"type": "about:blank", "title": "Conflict", "status": 409,
     "code": "conflict", "detail": "offer is scheduled, cannot become closed"}

`code` is what a client branches on; it never changes meaning. `detail` is for people.
A 422 for a request the schema refuses adds `errors`: where (`loc`) and what (`msg`,
`type`), never the input (it may be what could not be encoded in the first place).

`document_errors` then writes the same into each service's OpenAPI: every operation
lists each status it can answer (401/403 where a credential is read, 404 where the path
names something, 422 where anything is read), all with the one `Problem` schema.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("qunlive.http")

PROBLEM_JSON = "application/problem+json"

# The code a status answers with when the raiser names none. Stable: clients branch on it.
DEFAULT_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

# What each status means when an operation does not say more (the OpenAPI descriptions).
DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "The request could not be read.",
    401: "No credential, or one that is not valid (malformed, expired, wrongly signed): "
    "`code` is `unauthenticated` or `invalid_token`.",
    403: "A valid credential without the right to do this (`forbidden`).",
    404: "Nothing of that id (`not_found`).",
    409: "Not in this state (`conflict`).",
    410: "Gone (`gone`).",
    413: "Body too large (`too_large`).",
    422: "The request breaks the schema or a business rule (`invalid_request`, or a "
    "named code); for the schema, `errors` says where.",
    503: "A dependency (NATS, the database) did not answer: retry (`unavailable`).",
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query, path or header, then the field.")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. missing, string_too_long.")


class Problem(BaseModel):
    """An error answer (RFC 9457), the same for every status and every service."""

    type: str = Field(default="about:blank", description="Always about:blank: see `code`.")
    title: str = Field(description="The HTTP status phrase.", examples=["Conflict"])
    status: int = Field(examples=[409])
    code: str = Field(
        description="Stable and machine-readable: what went wrong.", examples=["conflict"]
    )
    detail: str = Field(description="For people: what went wrong, in words.")
    errors: list[FieldError] | None = Field(
        default=None, description="422 for a request the schema refuses: each field at fault."
    )


class ApiError(Exception):
    """Raise from a route or dependency: answered as a Problem with this status and code."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.headers = dict(headers or {})
        self.extra = extra


# ---- who may call: one rule for every service (RFC 6750 section 3.1) -------------------


def unauthenticated(what: str) -> ApiError:
    """No credential: 401, and the scheme to use."""
    return ApiError(401, f"{what} required", "unauthenticated", {"WWW-Authenticate": "Bearer"})


def invalid_token(detail: str) -> ApiError:
    """A credential that is not valid (malformed, expired, wrongly signed): 401."""
    header = 'Bearer error="invalid_token"'
    return ApiError(401, detail, "invalid_token", {"WWW-Authenticate": header})


def forbidden(detail: str) -> ApiError:
    """A valid credential without the right to this: 403."""
    return ApiError(403, detail, "forbidden")


def problem_body(status: int, code: str, detail: str, **extra: Any) -> bytes:
    """The JSON of a Problem. Plain UTF-8 when it can be; if any text cannot be encoded (a
    lone surrogate quoted by a message), as ASCII escapes: still JSON, never a 500."""
    document = {
        "type": "about:blank",
        "title": _phrase(status),
        "status": status,
        "code": code,
        "detail": detail,
        **{key: value for key, value in extra.items() if value is not None},
    }
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    except (UnicodeEncodeError, ValueError):
        return json.dumps(document, default=str, separators=(",", ":")).encode("ascii")


def problem(
    status: int,
    detail: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status, code or DEFAULT_CODES.get(status, "error"), detail, **extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _where(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc or ()]


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """pydantic's errors without `input` and `ctx` (either may hold what cannot be encoded)."""
    found = []
    for error in errors:
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error")
            message = f"invalid JSON: {reason}" if reason else "invalid JSON"
        found.append({"loc": _where(error.get("loc")), "msg": message, "type": error.get("type")})
    return found


def _summary(errors: list[dict[str, Any]], shown: int = 3) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in errors[:shown]]
    more = len(errors) - shown
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


async def _on_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    return problem(422, _summary(errors), "invalid_request", errors=errors)


async def _on_http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    headers = getattr(exc, "headers", None)
    if exc.status_code < 400 or exc.status_code in (204, 304):  # not an error: no body
        return Response(status_code=exc.status_code, headers=headers)
    return problem(exc.status_code, detail, headers=headers)


async def _on_api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.detail, exc.code, exc.headers, **exc.extra)


async def _on_crash(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware calls this, then re-raises for the server's log.
    return problem(500, "internal error: the service logged it", "internal_error")


Mapped = Mapping[type[Exception], tuple[int, str] | tuple[int, str, str]]


def answer_errors_as_problems(app: FastAPI, mapped: Mapped) -> None:
    """Every error `app` answers becomes a Problem. `mapped`: a domain exception's status,
    code and, optionally, fixed words (else its message is the detail)."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(Exception, _on_crash)
    for error, answer in mapped.items():
        app.add_exception_handler(error, _mapped(*answer))


def _mapped(status: int, code: str, words: str = "") -> Callable[[Request, Exception], Any]:
    async def handler(_: Request, exc: Exception) -> Response:
        if status >= 500:
            log.warning("answered %s", status, extra={"code": code, "error": repr(exc)})
        return problem(status, words or str(exc) or type(exc).__name__, code)

    return handler


# ---- the OpenAPI side ---------------------------------------------------------------------


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the error statuses a route adds to those implied (see
    document_errors): each a Problem, described by DEFAULT_DESCRIPTIONS."""
    return {status: {"description": DEFAULT_DESCRIPTIONS[status]} for status in statuses}


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def document_errors(app: FastAPI) -> None:
    """Complete `app`'s OpenAPI with the error answers each operation can give, all Problems.

    Derived from the operation itself, so a new route is documented without a word:
    a credential it reads (`security`) answers 401 and 403, an id in its path 404, any
    parameter or body 422. Codes only a route knows (409, 410, ...) it declares in its
    `responses`; their schema becomes Problem here unless it names a Problem of its own.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    _complete(operation)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, FieldError):
            components[model.__name__] = _component(model)
        text = json.dumps(schema)
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"#/components/schemas/{unused}" not in text:
                components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    parameters = operation.get("parameters", [])
    if operation.get("security"):  # `openapi_extra` appends to FastAPI's list: once each
        unique = {json.dumps(s, sort_keys=True): s for s in operation["security"]}
        operation["security"] = list(unique.values())
    implied = []
    if operation.get("security"):
        implied += [401, 403]
    if any(p.get("in") == "path" for p in parameters):
        implied.append(404)
    if parameters or operation.get("requestBody"):
        implied.append(422)
    for code in implied:
        responses.setdefault(str(code), {})
    for key, response in responses.items():
        if not key.isdigit() or int(key) < 400:
            continue
        if not response.get("description") or response["description"] in (
            "Validation Error",
            "Additional Response",
        ):
            response["description"] = DEFAULT_DESCRIPTIONS.get(int(key), _phrase(int(key)))
        declared = [
            media.get("schema")
            for media in response.get("content", {}).values()
            if media.get("schema") and media["schema"].get("$ref") != _FASTAPI_VALIDATION
        ]
        response["content"] = {PROBLEM_JSON: {"schema": declared[0] if declared else _PROBLEM_REF}}
    # One order for reading: by status.
    operation["responses"] = dict(sorted(responses.items()))


def _component(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema
