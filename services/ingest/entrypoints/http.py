"""Admin API: bindings (external chat -> room), unbound chats, replay of the archive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from services.ingest.adapters.bus import NatsUnavailable
from services.ingest.entrypoints.deps import AdminDep, IngestDep
from services.ingest.service_layer.intake import NORMALISERS
from services.ingest.service_layer.replay import replay
from shared.api import api_router
from shared.events import SubjectToken
from shared.events.ingest import PLATFORM_PATTERN
from shared.problems import answers

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


@router.get("/bindings", response_model=list[BindingPublic])
async def list_bindings(
    ingest: IngestDep,
    _admin: AdminDep,
    room_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[BindingPublic]:
    """Every binding, or a room's."""
    return [_public(row) for row in await ingest.bindings.store.list(room_id)]


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
