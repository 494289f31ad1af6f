"""Host console actions during the show: red packets, polls, moderation, announcements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import HTTPException, Query, status
from pydantic import BaseModel, Field

from services.live.adapters.moderation_log import recent_decisions
from services.live.adapters.tables import RoomRow
from services.live.entrypoints.deps import HostDep, LiveDep
from services.live.service_layer.rooms import RoomNotFound
from shared.api import Instant, api_router

router = api_router(prefix="/rooms/{room_id}", tags=["host actions"])


class RedPacketCreate(BaseModel):
    total_cents: int = Field(strict=True, gt=0, le=20_000_000, examples=[8888])
    shares: int = Field(strict=True, gt=0, le=1000, examples=[20])
    message: str = Field(default="", max_length=200, examples=["Cherries at 20:30! 樱桃8点半开抢"])


class RedPacketCreated(BaseModel):
    packet_id: str


class PollCreate(BaseModel):
    question: str = Field(min_length=1, max_length=300, examples=["Next design? 下一款选哪个?"])
    options: list[str] = Field(min_length=2, max_length=10)


class PollCreated(BaseModel):
    poll_id: str


class PollResult(BaseModel):
    poll_id: str
    counts: list[int]


class ModerationRequest(BaseModel):
    action: Literal["mute", "unmute", "kick", "ban", "unban", "delete"]
    customer_id: str | None = None
    message_id: str | None = None
    reason: str = Field(default="", max_length=300)
    minutes: int = Field(strict=True, default=10, ge=1, le=7 * 24 * 60)


class AnnouncementCreate(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    at: Instant | None = Field(default=None, description="When; now if absent.")
    every_s: int | None = Field(
        strict=True, default=None, ge=60, le=7 * 86400, description="Repeat every N seconds."
    )


class AnnouncementCreated(BaseModel):
    announcement_id: str


class LineupUpdate(BaseModel):
    lineup: list[str] = Field(max_length=100, description="Offer ids in show order.")


class LineupPublic(BaseModel):
    room_id: str
    lineup: list[str]


class ModerationDecision(BaseModel):
    """One decision: a moderator's (mute, ban, delete, ...) or the group rules' (block)."""

    id: str
    at: datetime
    action: str
    by: str = Field(description="Moderator's customer id, 'admin', or 'rules' (automatic).")
    customer_id: str | None
    reason: str
    until: datetime | None
    message_id: str | None


async def _my_room(live: LiveDep, room_id: str, host: HostDep) -> RoomRow:
    try:
        room = await live.rooms.get(room_id)
    except RoomNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no room {room_id}") from None
    if not host.may_run(room.host_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is not your room")
    return room


@router.post("/red-packets", response_model=RedPacketCreated, status_code=201)
async def send_red_packet(
    room_id: str, body: RedPacketCreate, live: LiveDep, host: HostDep
) -> RedPacketCreated:
    """Fund a red packet: the first `shares` grabbers get random shares of the total."""
    room = await _my_room(live, room_id, host)
    if body.total_cents < body.shares:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "each share needs at least one cent"
        )
    packet_id = await live.interactions.send_red_packet(
        room_id, room.host_id, body.total_cents, body.shares, body.message
    )
    return RedPacketCreated(packet_id=packet_id)


@router.post("/polls", response_model=PollCreated, status_code=201)
async def open_poll(room_id: str, body: PollCreate, live: LiveDep, host: HostDep) -> PollCreated:
    """Open a poll: one vote per member, results live."""
    await _my_room(live, room_id, host)
    try:
        poll_id = await live.interactions.open_poll(room_id, body.question, body.options)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return PollCreated(poll_id=poll_id)


@router.post("/polls/{poll_id}/close", response_model=PollResult)
async def close_poll(room_id: str, poll_id: str, live: LiveDep, host: HostDep) -> PollResult:
    """Close a poll and keep its result."""
    await _my_room(live, room_id, host)
    try:
        counts = await live.interactions.close_poll(room_id, poll_id)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no poll {poll_id}") from None
    return PollResult(poll_id=poll_id, counts=counts)


@router.post("/moderation", status_code=204)
async def moderate(room_id: str, body: ModerationRequest, live: LiveDep, host: HostDep) -> None:
    """Mute, kick, ban (and undo), or delete a message for everyone; recorded with why."""
    room = await _my_room(live, room_id, host)
    if body.action == "delete" and not body.message_id:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "delete needs message_id")
    if body.action != "delete" and not body.customer_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{body.action} needs customer_id"
        )
    if body.customer_id == room.host_id:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the host cannot be moderated")
    await live.interactions.moderate(
        room_id, host.id, body.action, body.customer_id, body.reason, body.minutes, body.message_id
    )


@router.post("/announcements", response_model=AnnouncementCreated, status_code=201)
async def schedule_announcement(
    room_id: str, body: AnnouncementCreate, live: LiveDep, host: HostDep
) -> AnnouncementCreated:
    """Post now, at a time (tomorrow's preview at 20:00), or every N seconds (the hot item)."""
    await _my_room(live, room_id, host)
    announcement_id = await live.announcements.schedule(room_id, body.text, body.at, body.every_s)
    return AnnouncementCreated(announcement_id=announcement_id)


@router.put("/lineup", response_model=LineupPublic)
async def set_lineup(
    room_id: str, body: LineupUpdate, live: LiveDep, host: HostDep
) -> LineupPublic:
    """The show's offers in order (built from the catalog; the preview announces them)."""
    await _my_room(live, room_id, host)
    room = await live.rooms.set_lineup(room_id, body.lineup, host.id, host.is_admin)
    return LineupPublic(room_id=room_id, lineup=room.lineup)


@router.get("/moderation", response_model=list[ModerationDecision])
async def moderation_decisions(
    room_id: str,
    live: LiveDep,
    host: HostDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ModerationDecision]:
    """Recent moderation decisions, newest first, including what the group rules blocked."""
    room = await _my_room(live, room_id, host)
    since = room.created_at - timedelta(minutes=1)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)  # SQLite drops the zone
    events = await recent_decisions(live.infra.js, room_id, since, limit)
    return [
        ModerationDecision(
            id=e.id,
            at=e.occurred_at,
            action=e.action,
            by=e.by,
            customer_id=e.customer_id,
            reason=e.reason,
            until=e.until,
            message_id=e.message_id,
        )
        for e in events
    ]
