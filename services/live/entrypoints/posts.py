"""Pictures and voice clips in the room over HTTP: posting one (the viewer's token, as on
the websocket), and serving what the room stores (public, immutable, by name).

Links and product cards are websocket frames (`link`, `product`): they carry no file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.security import HTTPAuthorizationCredentials
from starlette.types import Message

from services.live import protocol
from services.live.adapters.history import chat_line
from services.live.adapters.tokens import InvalidToken
from services.live.domain.posts import is_media_name
from services.live.domain.viewers import Viewer
from services.live.entrypoints.deps import LiveDep, bearer
from services.live.service_layer.posts import PostRefused
from shared.api import RoomIdPath, StrictJsonRoute, api_router
from shared.object_http import OBJECT_RESPONSES, not_found, serve_object
from shared.problems import ApiError, invalid_token, unauthenticated

log = logging.getLogger("qunlive.live.posts")

# Room for the form around the file (boundaries, part headers, caption, alt text).
FORM_OVERHEAD = 64 * 1024


class UploadRoute(StrictJsonRoute):
    """A route that reads no more than the largest file it takes: a longer body (declared,
    or streamed without a length) is refused with 413 as it arrives, never spooled whole."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            settings = request.app.state.service.settings
            limit = max(settings.post_image_max_bytes, settings.post_voice_max_bytes)
            limit += FORM_OVERHEAD
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            receive, seen = request.receive, 0

            async def counted() -> Message:
                nonlocal seen
                message = await receive()
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
                return message

            return await handler(Request(request.scope, counted))

        return capped


def _too_large(limit: int) -> HTTPException:
    # An HTTPException: FastAPI lets it through its body parsing (answered `too_large`).
    return HTTPException(413, f"the upload is over {limit} bytes")


uploads = APIRouter(prefix="/rooms/{room_id}", tags=["posts"], route_class=UploadRoute)
media = api_router(prefix="/rooms/{room_id}", tags=["posts"])


async def require_viewer(
    room_id: RoomIdPath,
    live: LiveDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Viewer:
    """The viewer token of this room (POST /rooms/{room_id}/join), as the websocket takes it;
    the host's console posts with the token its own join gave it."""
    if credentials is None:
        raise unauthenticated("a viewer token of this room (POST /rooms/{room_id}/join)")
    try:
        return live.tokens.verify(credentials.credentials, room_id)
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None


ViewerDep = Annotated[Viewer, Depends(require_viewer)]


@uploads.post(
    "/posts",
    response_model=protocol.ChatLine,
    status_code=201,
    responses={
        401: {"description": "No viewer token, or not one of this room (`invalid_token`)."},
        403: {
            "description": "Not allowed to post this: `media_not_allowed` (members, unless "
            "the room's rules say members_post_media), `muted`, `banned`."
        },
        404: {"description": "No such room (`not_found`)."},
        409: {
            "description": "`room_ended`, or `room_media_full`: the room stores as much as "
            "its limit allows."
        },
        413: {
            "description": "`image_too_large`, `voice_too_large` (the file), `too_large` "
            "(the whole upload)."
        },
        415: {
            "description": "`not_an_image`, `unsupported_image_format` (not JPEG, PNG or "
            "WebP), `not_a_voice_clip`."
        },
        422: {
            "description": "`image_empty`, `image_damaged` (truncated), `image_has_hidden_data` "
            "(a polyglot), `image_too_many_pixels`, `voice_empty`, `voice_damaged`, "
            "`voice_too_long` (over 60 s), the caption refused by the room's rules "
            "(`blocked_word`, ...: `blocked_<rule>`, as chat), `too_long`, or the form is wrong."
        },
        429: {"description": "`slow_down` (too many actions), `blocked_slow_mode`."},
        503: {"description": "Could not store or publish it; try again (`unavailable`)."},
    },
)
async def post_media(
    live: LiveDep,
    viewer: ViewerDep,
    file: Annotated[UploadFile, File(description="The picture (JPEG, PNG, WebP) or clip.")],
    kind: Annotated[Literal["image", "voice"], Form()],
    text: Annotated[str, Form(max_length=2000, description="The caption.")] = "",
    alt: Annotated[str, Form(max_length=300, description="Pictures: said by screen readers.")] = "",
) -> protocol.ChatLine:
    """Post a picture or a voice clip (up to 60 s, as the browser records it) in the room's
    chat, with a caption: the room sees a chat line with it attached. The host and
    moderators always may; members where the room's rules say `members_post_media`.
    Pictures are stored upright, without EXIF, in three sizes; a voice clip as it came.
    Both are then at GET /rooms/{room_id}/media/{name}."""
    now = time.monotonic()
    if not live.rate_limiter.allow(f"{viewer.room_id}:{viewer.customer_id}", now):
        raise ApiError(429, "You're going a bit fast — try again in a moment.", "slow_down")
    data = await file.read()
    try:
        if kind == "image":
            posted = await live.posts.post_image(viewer, data, text, alt, now)
        else:
            posted = await live.posts.post_voice(viewer, data, text, now)
    except PostRefused as refused:
        raise ApiError(refused.status, refused.message, refused.code) from None
    claim = posted.claim(viewer)
    if claim is not None:  # a caption that reads as a buy, as a chat line would
        try:
            await live.publisher.publish(claim)
        except Exception:
            log.exception("a post's claim could not be sent", extra={"room_id": viewer.room_id})
            raise ApiError(
                503, "Posted, but the buy could not be sent: use the buy button.", "unavailable"
            ) from None
    return chat_line(posted.line)


def _object_name(room_id: str, name: str) -> str:
    if not is_media_name(name):
        raise not_found(name)
    return f"{room_id}/{name}"


@media.head("/media/{name}", include_in_schema=False)
@media.get("/media/{name}", response_class=Response, responses=OBJECT_RESPONSES)
async def room_media(room_id: RoomIdPath, name: str, request: Request, live: LiveDep) -> Response:
    """A picture size or voice clip of the room (public: a line shows it to everyone), by
    the name lines carry: `<sha256>.<ext>`. Never changes: ETag, cached a year, Range for
    the clips; 404 once the line showing it was deleted."""
    return await serve_object(live.media, _object_name(room_id, name), request)
