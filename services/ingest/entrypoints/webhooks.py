"""Webhooks: check who sent it, hand the raw body to the intake, say what happened.

401: not signed by the platform (nothing published). 400: not JSON. 422: not this
platform's shape (both kept in dead letters). 413: body too large. 503: NATS or the
database did not confirm the store; the platform retries. 200 only once stored.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from services.ingest.adapters.bus import NatsUnavailable
from services.ingest.domain import signatures
from services.ingest.domain.generic import generic_event
from services.ingest.domain.model import UnknownShape
from services.ingest.entrypoints.deps import IngestDep, get_ingest, read_body
from services.ingest.service_layer.intake import Malformed
from shared.api import api_router
from shared.problems import Problem

router = api_router(prefix="/webhooks", tags=["webhooks"])


class Receipt(BaseModel):
    accepted: int = Field(description="New events stored for bound chats.")
    duplicates: int = Field(description="Events JetStream already had (a re-delivery).")
    parked: int = Field(description="Items from chats bound to no room, kept (GET /unbound).")
    ignored: list[str] = Field(description="Parts deliberately not ingested, and why.")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Not JSON; the body is kept in dead letters."},
    401: {"model": Problem, "description": "Missing or wrong signature; nothing is kept."},
    413: {"model": Problem, "description": "Body larger than MAX_BODY_BYTES."},
    422: {"model": Problem, "description": "Not this platform's shape; kept in dead letters."},
    503: {"model": Problem, "description": "Not stored (NATS or database away): retry."},
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its $defs inlined, to sit inside the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            # A discriminator's mapping points into $defs; the inlined variants need none.
            return {
                key: {"propertyName": value["propertyName"]}
                if key == "discriminator"
                else resolve(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _body(schema: dict[str, Any], *headers: dict[str, Any]) -> dict[str, Any]:
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    return {"requestBody": body, "parameters": list(headers)}


# The POST webhooks read their headers from `request.headers`, not as Header()
# parameters: FastAPI's per-request parameter resolution was ~20% of a webhook's CPU
# (profiled). They are documented here exactly as Header(alias=...) would document them.
def _header(name: str, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}], "title": name}
    parameter: dict[str, Any] = {"name": name, "in": "header", "required": False}
    if description:
        schema["description"] = parameter["description"] = description
    return {**parameter, "schema": schema}


async def _take(ingest: IngestDep, source: str, raw: bytes) -> Receipt:
    try:
        receipt = await ingest.intake.take(source, raw)
    except Malformed as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except UnknownShape as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except (NatsUnavailable, SQLAlchemyError) as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"not stored, retry later: {type(exc).__name__}",
            headers={"Retry-After": "5"},
        ) from None
    return Receipt(**receipt.__dict__)


def _unauthorized(exc: signatures.Unauthenticated) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc))


@router.post(
    "/telegram",
    response_model=Receipt,
    responses=ERRORS,
    openapi_extra=_body(
        {"type": "object", "description": "A Telegram Bot API Update."},
        _header("X-Telegram-Bot-Api-Secret-Token"),
    ),
)
async def telegram_update(request: Request) -> Receipt:
    """Telegram Bot API webhook (setWebhook with secret_token = TELEGRAM_SECRET_TOKEN)."""
    ingest = await get_ingest(request)
    raw = await read_body(request, ingest.settings.max_body_bytes)
    try:
        signatures.check_telegram(
            request.headers.get("x-telegram-bot-api-secret-token"),
            ingest.settings.telegram_secret_token,
        )
    except signatures.Unauthenticated as exc:
        raise _unauthorized(exc) from None
    return await _take(ingest, "telegram", raw)


@router.get("/whatsapp", response_class=PlainTextResponse, responses={403: {"model": Problem}})
async def whatsapp_verify(
    ingest: IngestDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=256)] = None,
) -> str:
    """WhatsApp's verification handshake: echo hub.challenge when the verify token matches."""
    expected = ingest.settings.whatsapp_verify_token
    if mode != "subscribe" or not challenge or token is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not a subscription request")
    if not signatures.same_secret(token, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong hub.verify_token")
    return challenge


@router.post(
    "/whatsapp",
    response_model=Receipt,
    responses=ERRORS,
    openapi_extra=_body(
        {"type": "object", "description": "A WhatsApp Business Cloud API webhook body."},
        _header("X-Hub-Signature-256"),
    ),
)
async def whatsapp_webhook(request: Request) -> Receipt:
    """WhatsApp Business Cloud API webhook, signed with the app secret (WHATSAPP_APP_SECRET)."""
    ingest = await get_ingest(request)
    raw = await read_body(request, ingest.settings.max_body_bytes)
    try:
        signatures.check_meta(
            raw, request.headers.get("x-hub-signature-256"), ingest.settings.whatsapp_app_secret
        )
    except signatures.Unauthenticated as exc:
        raise _unauthorized(exc) from None
    return await _take(ingest, "whatsapp", raw)


@router.post(
    "/generic",
    response_model=Receipt,
    responses=ERRORS,
    openapi_extra=_body(
        _inline(generic_event.json_schema()),
        _header("X-Qunlive-Timestamp", "Unix seconds."),
        _header(
            "X-Qunlive-Signature",
            "sha256=hex(HMAC-SHA256(WEBHOOK_SECRET, '<timestamp>.<raw body>')).",
        ),
    ),
)
async def generic_webhook(request: Request) -> Receipt:
    """Any other platform or bot: one signed JSON event (message, member_joined, member_left)."""
    ingest = await get_ingest(request)
    raw = await read_body(request, ingest.settings.max_body_bytes)
    try:
        signatures.check_generic(
            raw,
            request.headers.get("x-qunlive-timestamp"),
            request.headers.get("x-qunlive-signature"),
            ingest.settings.webhook_secret,
            now=time.time(),
            tolerance_s=ingest.settings.webhook_tolerance_s,
        )
    except signatures.Unauthenticated as exc:
        raise _unauthorized(exc) from None
    return await _take(ingest, "webhook", raw)
