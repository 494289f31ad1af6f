"""Admin API: bindings (external chat -> room) and what the show says in each group,
unbound chats, replay of the archive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from services.ingest.adapters.bus import NatsUnavailable
from services.ingest.adapters.outbound_store import Counts
from services.ingest.adapters.tables import BindingRow
from services.ingest.bootstrap import IngestApp
from services.ingest.domain import templates
from services.ingest.domain.outbound import OutboundSettings
from services.ingest.entrypoints.deps import AdminDep, IngestDep
from services.ingest.service_layer.intake import NORMALISERS
from services.ingest.service_layer.replay import replay
from shared.api import api_router
from shared.events import SubjectToken
from shared.events.ingest import PLATFORM_PATTERN
from shared.problems import ApiError, answers

router = api_router(tags=["bindings"])

ChatId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s:]+$")]


class BindingCreate(BaseModel):
    platform: str = Field(pattern=PLATFORM_PATTERN, examples=["telegram"])
    chat_id: ChatId = Field(
        description="Telegram chat.id (-100... for supergroups), WhatsApp group_id or "
        "phone_number_id, or a signed webhook's chat_id.",
        examples=["-1001234567890"],
    )
    room_id: SubjectToken = Field(examples=["r_8f3a2b1c9d0e"])


class BindingPublic(BaseModel):
    platform: str
    chat_id: str
    room_id: str
    created_at: datetime


class Paused(BaseModel):
    code: str = Field(examples=["bot_removed"], description="The sender's error code.")
    reason: str = Field(description="The platform's own words.")
    at: datetime | None


class BindingOutbound(BindingPublic):
    """A binding with what the show says in its group, and how that went."""

    outbound: OutboundSettings
    paused: Paused | None = Field(
        description="Set when the platform refused the bot for good (removed, chat gone): "
        "nothing is sent until the host resumes the binding."
    )
    sent: int = Field(description="Messages that reached the group (edits included).")
    failed: int = Field(description="Messages given up for good.")


class OutboundMessage(BaseModel):
    key: str = Field(description="`<event id>:<platform>:<chat>`, `:edit` or `:reminder` after.")
    kind: str
    state: str = Field(description="sending, sent, failed or skipped.")
    reason: str = Field(description="Why it failed or was skipped.")
    platform_message_id: str | None
    created_at: datetime
    sent_at: datetime | None


class TemplateDefaults(BaseModel):
    kind: str = Field(examples=["offer"])
    placeholders: list[str] = Field(examples=[["title", "room_link", "price", "left"]])
    en: str
    zh: str


class BindingCreated(BindingPublic):
    adopted: int = Field(description="Messages parked while the chat was unbound, now the room's.")


class ParkedMessage(BaseModel):
    kind: str
    user_id: str
    user_name: str
    text: str | None
    occurred_at: datetime


class UnboundChatPublic(BaseModel):
    platform: str
    chat_id: str
    chat_title: str | None
    parked: int
    first_at: datetime
    last_at: datetime
    recent: list[ParkedMessage]


class ReplayRequest(BaseModel):
    since_minutes: float = Field(strict=True, default=60, gt=0, le=7 * 24 * 60)
    source: str | None = Field(
        default=None, description="telegram, whatsapp or webhook; all if null."
    )
    limit: int = Field(strict=True, default=10_000, ge=1, le=100_000)


class ReplayResult(BaseModel):
    payloads: int
    published: int
    duplicates: int
    parked: int
    ignored: int
    failed: int
    failures: dict[str, int]


def _public(row: object) -> BindingPublic:
    return BindingPublic.model_validate(row, from_attributes=True)


def _with_outbound(row: BindingRow, delivered: Counts | None) -> BindingOutbound:
    try:
        outbound = OutboundSettings.of(row.outbound)
    except ValueError:  # stored by an older version: shown as what is used, the defaults
        outbound = OutboundSettings()
    paused = (
        Paused(code=row.paused_code, reason=row.paused_reason or "", at=row.paused_at)
        if row.paused_code
        else None
    )
    delivered = delivered or Counts()
    return BindingOutbound(
        **_public(row).model_dump(),
        outbound=outbound,
        paused=paused,
        sent=delivered.sent,
        failed=delivered.failed,
    )


async def _binding_view(ingest: IngestApp, row: BindingRow) -> BindingOutbound:
    ref = (row.platform, row.chat_id)
    return _with_outbound(row, (await ingest.outbound.counts([ref])).get(ref))


NO_BINDING = "no such binding"


@router.post(
    "/bindings",
    response_model=BindingCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": BindingCreated,
            "description": "The chat was bound already: now to this room (moved, or the same).",
        },
        201: {"description": "The chat is bound for the first time."},
    },
)
async def bind_chat(
    body: BindingCreate, ingest: IngestDep, _admin: AdminDep, response: Response
) -> BindingCreated:
    """Attach an external chat to a room (or move it); its parked messages join the room."""
    bound = await ingest.bindings.bind(body.platform, body.chat_id, body.room_id)
    if not bound.created:
        response.status_code = status.HTTP_200_OK
    return BindingCreated(**_public(bound.binding).model_dump(), adopted=bound.adopted)


@router.get("/bindings", response_model=list[BindingOutbound])
async def list_bindings(
    ingest: IngestDep,
    _admin: AdminDep,
    room_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[BindingOutbound]:
    """Every binding, or a room's: what goes out to its group, whether it is paused (and
    why), messages sent and failed."""
    rows = await ingest.bindings.store.list(room_id)
    counts = await ingest.outbound.counts((row.platform, row.chat_id) for row in rows)
    return [_with_outbound(row, counts.get((row.platform, row.chat_id))) for row in rows]


@router.put(
    "/bindings/{platform}/{chat_id}/outbound",
    response_model=BindingOutbound,
    responses={
        422: {
            "description": "A template with an unknown `{placeholder}` (named in `detail`), "
            "one written other than `{name}`, or over 3500 characters (`invalid_template`); "
            "or a body the schema refuses (`invalid_request`)."
        }
    },
)
async def set_outbound(
    platform: str, chat_id: str, body: OutboundSettings, ingest: IngestDep, _admin: AdminDep
) -> BindingOutbound:
    """What the show says in this group: the kinds switched on or off, the language, the
    host's own texts (GET /outbound/templates), the partner whose ?ref= its links carry."""
    try:
        templates.validate_settings(body)
    except templates.TemplateError as exc:
        raise ApiError(422, str(exc), "invalid_template") from None
    stored = body.model_dump(mode="json", exclude_unset=True)  # left out: the defaults
    row = await ingest.bindings.store.set_outbound(platform, chat_id, stored)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_BINDING)
    return await _binding_view(ingest, row)


@router.post("/bindings/{platform}/{chat_id}/resume", response_model=BindingOutbound)
async def resume_binding(
    platform: str, chat_id: str, ingest: IngestDep, _admin: AdminDep
) -> BindingOutbound:
    """Send to this group again after the platform refused the bot (re-added, chat fixed)."""
    row = await ingest.bindings.store.resume(platform, chat_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_BINDING)
    return await _binding_view(ingest, row)


@router.get("/bindings/{platform}/{chat_id}/messages", response_model=list[OutboundMessage])
async def binding_messages(
    platform: str,
    chat_id: str,
    ingest: IngestDep,
    _admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[OutboundMessage]:
    """The latest messages to this group, newest first: sent, failed (why), skipped (why)."""
    if await ingest.bindings.store.get(platform, chat_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_BINDING)
    rows = await ingest.outbound.recent(platform, chat_id, limit)
    return [OutboundMessage.model_validate(row, from_attributes=True) for row in rows]


@router.get("/outbound/templates", response_model=list[TemplateDefaults])
async def outbound_templates(_admin: AdminDep) -> list[TemplateDefaults]:
    """Each kind of message: its placeholders and default texts in English and Chinese."""
    return [TemplateDefaults.model_validate(row) for row in templates.defaults_listing()]


@router.delete("/bindings/{platform}/{chat_id:path}", status_code=status.HTTP_204_NO_CONTENT)
async def unbind_chat(platform: str, chat_id: str, ingest: IngestDep, _admin: AdminDep) -> None:
    """Detach a chat: its messages are parked again from now on."""
    if not await ingest.bindings.unbind(platform, chat_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such binding")


@router.get("/unbound", response_model=list[UnboundChatPublic])
async def unbound_chats(
    ingest: IngestDep,
    _admin: AdminDep,
    recent: Annotated[int, Query(ge=0, le=50)] = 5,
) -> list[UnboundChatPublic]:
    """Chats that wrote while bound to no room: accepted, kept, waiting for a binding."""
    chats = []
    for chat in await ingest.parked.unbound_chats():
        rows = await ingest.parked.recent(chat.platform, chat.chat_id, recent) if recent else []
        chats.append(
            UnboundChatPublic(
                **chat.__dict__,
                recent=[ParkedMessage.model_validate(r, from_attributes=True) for r in rows],
            )
        )
    return chats


@router.post("/replay", response_model=ReplayResult, responses=answers(503))
async def replay_archive(body: ReplayRequest, ingest: IngestDep, _admin: AdminDep) -> ReplayResult:
    """Read archived raw payloads again with the current code (after a fix); never doubles."""
    if body.source is not None and body.source not in NORMALISERS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown source {body.source!r}"
        )
    since = datetime.now(UTC) - timedelta(minutes=body.since_minutes)
    try:
        report = await replay(ingest.bus, ingest.intake, since, body.source, body.limit)
    except NatsUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "NATS did not answer: retry"
        ) from None
    return ReplayResult(**{**report.__dict__, "failures": dict(report.failures)})
