"""Host API and the viewer join endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from services.live.adapters.tables import RoomRow
from services.live.adapters.tokens import InvalidToken
from services.live.domain.rooms import RoomStatus, RoomTransitionError
from services.live.domain.viewers import Role, Viewer
from services.live.entrypoints.deps import AdminDep, HostDep, LiveDep, Principal, bearer
from services.live.service_layer.rooms import NotYourRoom, RoomNotFound
from shared.api import Instant, api_router
from shared.auth import ADMIN, NotAllowed, host_of
from shared.problems import ApiError, answers, forbidden, invalid_token

router = api_router(prefix="/rooms", tags=["rooms"])


class HostCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["Aunt Mei's fruit group 梅姨水果团"])


class HostCredentials(BaseModel):
    host_id: str
    token: str


class RoomCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200, examples=["Cherry night 樱桃专场"])
    scheduled_at: Instant | None = None
    lineup: list[str] = Field(
        default_factory=list, max_length=100, description="Offer ids in show order."
    )
    host_id: str | None = Field(default=None, description="Admin only: the room's host.")


class PreviewAnnounce(BaseModel):
    text: str = Field(
        min_length=1, max_length=1000, examples=["Tomorrow 20:00: cherries, 499 a box, 8,000 boxes"]
    )


class PinRequest(BaseModel):
    offer_id: str | None = Field(description="The offer to pin; null unpins.")


class RulesUpdate(BaseModel):
    blocked_words: list[str] = Field(default_factory=list, max_length=500)
    block_links: bool = Field(default=True, strict=True)
    block_ads: bool = Field(default=True, strict=True)
    max_length: int = Field(strict=True, default=300, ge=1, le=2000)
    slow_mode_s: float = Field(default=0, ge=0, le=3600, strict=True)
    members_post_media: bool = Field(
        default=False,
        strict=True,
        description="Members and the committee may post pictures, voice clips and product "
        "cards (the host and moderators always may).",
    )


class RoleUpdate(BaseModel):
    role: Role


class MemberPublic(BaseModel):
    customer_id: str
    display_name: str
    role: str
    muted_until: datetime | None
    banned: bool


class RoomPublic(BaseModel):
    id: str
    title: str
    status: str
    host_id: str
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    lineup: list[str]
    preview_text: str | None
    pinned_offer_id: str | None
    rules: dict[str, object]


class JoinRequest(BaseModel):
    display_name: str = Field(min_length=1, max_length=64, examples=["Lily 莉莉"])
    external_id: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^(telegram|whatsapp|phone|wechat|webhook):[^\s]{1,100}$",
        description="An account the viewer also uses (evidence for merging identities).",
        examples=["telegram:123456789", "phone:+8613800000000"],
    )
    referrer_id: str | None = Field(
        default=None, max_length=128, description="The customer whose invite link was used."
    )
    previous_token: str | None = Field(
        default=None, description="A token this viewer had before (even expired): keeps their id."
    )


class JoinGrant(BaseModel):
    token: str
    customer_id: str
    expires_at: int
    websocket_path: str


def _public(room: object) -> RoomPublic:
    return RoomPublic.model_validate(room, from_attributes=True)


async def _existing(live: LiveDep, room_id: str) -> RoomRow:
    try:
        return await live.rooms.get(room_id)
    except RoomNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no room {room_id}") from None


hosts = api_router(prefix="/hosts", tags=["hosts"])


@hosts.post("", response_model=HostCredentials, status_code=status.HTTP_201_CREATED)
async def create_host(body: HostCreate, live: LiveDep, admin: AdminDep) -> HostCredentials:
    """Admin: register a host and hand out their credentials."""
    host = await live.rooms.create_host(body.name)
    return HostCredentials(host_id=host.id, token=live.host_tokens.issue(host.id, host.name))


@router.post("", response_model=RoomPublic, status_code=status.HTTP_201_CREATED)
async def create_room(body: RoomCreate, live: LiveDep, host: HostDep) -> RoomPublic:
    """Schedule a new room (show) with its lineup of offers."""
    if body.host_id and not host.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin may name another host")
    host_id = body.host_id or host.id
    return _public(await live.rooms.create(body.title, host_id, body.scheduled_at, body.lineup))


@router.get("/{room_id}", response_model=RoomPublic)
async def get_room(room_id: str, live: LiveDep) -> RoomPublic:
    """A room's public state."""
    return _public(await _existing(live, room_id))


@contextmanager
def _host_errors(room_id: str) -> Iterator[None]:
    try:
        yield
    except RoomNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no room {room_id}") from None
    except NotYourRoom:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is not your room") from None
    except RoomTransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


async def _change(live: LiveDep, room_id: str, target: RoomStatus, host: Principal) -> RoomPublic:
    with _host_errors(room_id):
        return _public(await live.rooms.change_status(room_id, target, host.id, host.is_admin))


@router.post("/{room_id}/preview", response_model=RoomPublic, responses=answers(409))
async def announce_preview(
    room_id: str, body: PreviewAnnounce, live: LiveDep, host: HostDep
) -> RoomPublic:
    """Announce the show's preview (预告) to its audience."""
    with _host_errors(room_id):
        room = await live.rooms.announce_preview(room_id, body.text, host.id, host.is_admin)
    return _public(room)


@router.post("/{room_id}/start", response_model=RoomPublic, responses=answers(409))
async def start_room(room_id: str, live: LiveDep, host: HostDep) -> RoomPublic:
    """Go live."""
    return await _change(live, room_id, RoomStatus.LIVE, host)


@router.post("/{room_id}/end", response_model=RoomPublic, responses=answers(409))
async def end_room(room_id: str, live: LiveDep, host: HostDep) -> RoomPublic:
    """End the show; analytics builds the post-stream report."""
    return await _change(live, room_id, RoomStatus.ENDED, host)


@router.post("/{room_id}/pin", response_model=RoomPublic, responses=answers(409))
async def pin_product(room_id: str, body: PinRequest, live: LiveDep, host: HostDep) -> RoomPublic:
    """Pin an offer: chat claims ("+1") buy the pinned offer."""
    with _host_errors(room_id):
        return _public(await live.rooms.pin(room_id, body.offer_id, host.id, host.is_admin))


@router.put("/{room_id}/rules", response_model=RoomPublic, responses=answers(409))
async def set_rules(room_id: str, body: RulesUpdate, live: LiveDep, host: HostDep) -> RoomPublic:
    """Set the room's group rules."""
    with _host_errors(room_id):
        room = await live.rooms.set_rules(room_id, body.model_dump(), host.id, host.is_admin)
    return _public(room)


@router.put(
    "/{room_id}/members/{customer_id}/role", response_model=MemberPublic, responses=answers(409)
)
async def set_role(
    room_id: str, customer_id: str, body: RoleUpdate, live: LiveDep, host: HostDep
) -> MemberPublic:
    """Make a member a moderator, a committee member, or a plain member again."""
    if body.role is Role.HOST:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a room has one host")
    with _host_errors(room_id):
        member = await live.rooms.set_role(room_id, customer_id, body.role, host.id, host.is_admin)
    return MemberPublic.model_validate(member, from_attributes=True)


@router.get("/{room_id}/members", response_model=list[MemberPublic])
async def list_members(room_id: str, live: LiveDep, host: HostDep) -> list[MemberPublic]:
    """Everyone who joined the room, with role and sanctions."""
    room = await _existing(live, room_id)
    if not host.may_run(room.host_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is not your room")
    return [
        MemberPublic.model_validate(m, from_attributes=True)
        for m in await live.rooms.members(room_id)
    ]


@router.post(
    "/{room_id}/join",
    response_model=JoinGrant,
    # Public: anyone may join. A bearer credential is optional (the host, or the admin
    # as the host console does, joins as the room's host).
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
    responses={
        401: {"description": "A bearer credential or `previous_token` that is not valid."},
        403: {"description": "Banned from this room (`banned`), or a viewer token as bearer."},
        410: {"description": "The show has ended (`room_ended`): nothing left to join."},
    },
)
async def join_room(
    room_id: str,
    body: JoinRequest,
    live: LiveDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> JoinGrant:
    """Get a signed viewer token for the room's websocket (hosts join as the host; the
    admin token joins as the room's host, as the host console does)."""
    room = await _existing(live, room_id)
    if room.status == RoomStatus.ENDED:
        raise ApiError(410, "this show has ended", "room_ended")
    customer_id = _returning_identity(live, body.previous_token)
    if credentials is not None:
        customer_id = _host_identity(live, credentials.credentials, room)
    customer_id = customer_id or f"web:{uuid.uuid4().hex[:16]}"
    member, _ = await live.rooms.record_join(room_id, customer_id, body.display_name.strip())
    if member.banned:
        raise ApiError(403, "you are banned from this room", "banned")
    viewer = Viewer(
        room_id=room_id,
        customer_id=customer_id,
        display_name=body.display_name.strip(),
        role=Role(member.role),
        referrer_id=body.referrer_id if body.referrer_id != customer_id else None,
        external_id=body.external_id,
    )
    token, expires = live.tokens.issue(viewer)
    return JoinGrant(
        token=token,
        customer_id=customer_id,
        expires_at=expires,
        websocket_path=f"/rooms/{room_id}/ws?token={token}",
    )


def _host_identity(live: LiveDep, credential: str, room: RoomRow) -> str:
    settings = live.settings
    try:
        caller = host_of(credential, settings.admin_token, settings.secret_key)
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None
    except NotAllowed:
        raise forbidden("a viewer token: join without it, or with previous_token") from None
    return room.host_id if caller == ADMIN else caller


def _returning_identity(live: LiveDep, previous_token: str | None) -> str | None:
    if not previous_token:
        return None
    try:
        return live.tokens.identity(previous_token)
    except InvalidToken:
        raise invalid_token("previous_token is not ours") from None


me = api_router(prefix="/me", tags=["me"])


class MeTokenRequest(BaseModel):
    previous_token: str = Field(
        min_length=1,
        max_length=4096,
        description="A viewer token of ours this person had (any room's, even expired).",
    )


class MeToken(BaseModel):
    token: str = Field(description="A viewer token of no room: for the buyer's own APIs.")
    customer_id: str
    expires_at: int


@me.post(
    "/token",
    response_model=MeToken,
    responses={401: {"description": "`previous_token` is not one of ours (`invalid_token`)."}},
)
async def my_token(body: MeTokenRequest, live: LiveDep) -> MeToken:
    """A fresh viewer token (room "") for the person a previous token names, even one that
    expired: the "My orders" page (`/me`) reads and pays the buyer's orders in every room with
    it. It opens no room's websocket."""
    try:
        customer_id, name = live.tokens.returning(body.previous_token)
    except InvalidToken:
        raise invalid_token("previous_token is not ours") from None
    token, expires = live.tokens.issue(
        Viewer(room_id="", customer_id=customer_id, display_name=name or customer_id)
    )
    return MeToken(token=token, customer_id=customer_id, expires_at=expires)
