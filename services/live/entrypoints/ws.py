"""The viewer websocket: parse frames, delegate, answer errors with an error frame."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.routing import Match, WebSocketRoute

from services.live import protocol
from services.live.adapters.hub import Connection, RoomHub
from services.live.adapters.tokens import InvalidToken
from services.live.bootstrap import LiveApp
from services.live.domain.chat import Refused, compose_chat
from services.live.domain.claims import parse_claim
from services.live.domain.moderation import Blocked, check_message
from services.live.domain.rooms import RoomStatus
from services.live.domain.viewers import Role, Viewer
from services.live.entrypoints.deps import get_live
from services.live.service_layer.interactions import Outcome
from services.live.service_layer.posts import PostRefused
from services.live.service_layer.rooms import RoomNotFound
from shared.events import (
    LikesSent,
    ModerationApplied,
    PlaceClaim,
    ViewerJoined,
    ViewerLeft,
    new_id,
    utcnow,
)
from shared.events.media import ImageSizes

log = logging.getLogger("qunlive.live.ws")

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
STAFF = {Role.HOST, Role.MODERATOR}
# Likes are coalesced per viewer: one event per this many taps, or a second after the
# first one pending (a lone tap still reaches the room), and one when they leave.
LIKES_FLUSH_AT = 20
LIKES_FLUSH_S = 1.0


def _error(code: str, message: str, ref: str | None = None) -> str:
    return protocol.ErrorFrame(code=code, message=message, ref=ref).model_dump_json()


async def viewer_socket(websocket: WebSocket) -> None:
    """`/rooms/{room_id}/ws?token=`: one viewer for as long as they watch."""
    live = get_live(websocket)  # type: ignore[arg-type]
    room_id: str = websocket.path_params["room_id"]
    await websocket.accept()
    try:
        viewer = live.tokens.verify(_token(websocket.scope), room_id)
        # A room this instance serves exists, and its title never changes: no database
        # read per join (a join storm is thousands of them).
        serving = live.hubs.get(room_id)
        title = serving.state.title if serving else (await live.rooms.get(room_id)).title
    except InvalidToken as exc:
        await websocket.send_text(_error("unauthorized", str(exc)))
        await websocket.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return
    except RoomNotFound:
        await websocket.send_text(_error("not_found", f"no room {room_id}"))
        await websocket.close(CLOSE_NOT_FOUND, "no such room")
        return

    conn = Connection(
        viewer, websocket.send_text, live.settings.send_queue_frames, close=websocket.close
    )
    hub = await live.hubs.attach(room_id, conn, lambda: live.room_state(room_id))
    if viewer.customer_id in hub.state.banned:
        await live.hubs.detach(room_id, conn)
        await websocket.send_text(_error("banned", "You are banned from this room."))
        await websocket.close(CLOSE_UNAUTHORIZED, "banned")
        return
    session = ViewerSession(live, hub, viewer, conn)
    started = time.monotonic()
    try:
        # Built at once (nothing awaited since the viewer was attached: each line reaches
        # them once, in the history or in the next `chat` frame), and in a helper so the
        # history lines are not kept for the whole connection.
        await websocket.send_text(_welcome(live, hub, title, viewer, session.role))
        await live.publisher.publish(
            ViewerJoined(
                room_id=room_id,
                customer_id=viewer.customer_id,
                display_name=viewer.display_name,
                referrer_id=viewer.referrer_id,
                external_id=viewer.external_id,
                role=session.role.value,
            )
        )
        await live.welcomes.joined(room_id, viewer.customer_id, viewer.display_name)
        # Receiving runs here, not in a task of its own, and frames are written from the
        # room's tick (no task per viewer either). When the room closes the socket (kick,
        # end of show), the client's close ends the receiving.
        conn.start()
        try:
            await session.receive(websocket)
        except Exception as error:
            if not _is_disconnect(error):
                log.warning("viewer connection ended with an error", exc_info=error)
        finally:
            conn.stop()
        if conn.failed is not None and not _is_disconnect(conn.failed):
            log.warning("viewer connection ended with an error", exc_info=conn.failed)
    finally:
        await session.close()
        await live.hubs.detach(room_id, conn)
        try:
            await live.publisher.publish(
                ViewerLeft(
                    room_id=room_id,
                    customer_id=viewer.customer_id,
                    watch_seconds=round(time.monotonic() - started, 3),
                )
            )
        except Exception:
            log.warning("could not publish viewer.left", extra={"room_id": room_id})


def _token(scope: Any) -> str:
    """The socket's `?token=`. Not `websocket.query_params`: that parse is kept on the socket
    for the whole connection, and this frame would keep the token (memory per viewer)."""
    return dict(parse_qsl(scope["query_string"].decode("latin-1"))).get("token", "")


def _welcome(live: LiveApp, hub: RoomHub, title: str, viewer: Viewer, role: Role) -> str:
    history = hub.history(live.settings.history_size)
    allowed = hub.state.may_post(viewer.customer_id, utcnow())
    return protocol.Welcome(
        room_id=hub.room_id,
        title=title,
        status=hub.state.status,
        you=viewer.customer_id,
        role=role.value,
        viewers=hub.viewer_count,
        pinned=hub.feed.pinned(),
        history=history,
        stream=hub.state.stream,
        may_post=protocol.MayPost(media=allowed.media, links=allowed.links),
    ).model_dump_json()


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect) or type(exc).__name__ in {
        "ClientDisconnected",
        "ConnectionClosed",
        "ConnectionClosedOK",
        "ConnectionClosedError",
    }


class ViewerSession:
    """One connected viewer: turns their frames into use-case calls."""

    __slots__ = ("_likes_due", "conn", "hub", "likes_pending", "live", "viewer")

    def __init__(self, live: LiveApp, hub: RoomHub, viewer: Viewer, conn: Connection) -> None:
        self.live, self.hub, self.viewer, self.conn = live, hub, viewer, conn
        self.likes_pending = 0
        self._likes_due: asyncio.Task[None] | None = None

    @property
    def role(self) -> Role:
        # The room's current view, not the token's: a role change applies at once.
        return self.hub.state.role_of(self.viewer.customer_id)

    def say(self, frame: str) -> None:
        self.conn.offer(frame)

    def tell(self, outcome: Outcome, ref: str | None) -> None:
        if outcome.ok:
            self.say(
                protocol.Notice(
                    kind=outcome.code, message=outcome.message, data=outcome.data, ref=ref
                ).model_dump_json()
            )
        else:
            self.say(_error(outcome.code, outcome.message, ref))

    async def receive(self, websocket: WebSocket) -> None:
        max_bytes = self.live.settings.max_frame_bytes
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.say(_error("binary_not_supported", "Send JSON text frames."))
                continue
            if len(text.encode()) > max_bytes:
                self.say(_error("too_large", f"Frames are limited to {max_bytes} bytes."))
                continue
            try:
                frame = protocol.client_frame.validate_json(text)
            except ValidationError as exc:
                self.say(_error("bad_frame", _first_problem(exc), protocol.ref_of(text)))
                continue
            try:
                await self.handle(frame)
            except Exception:
                log.exception("frame handling failed", extra={"frame": frame.type})
                self.say(_error("unavailable", "Something went wrong; try again.", frame.ref))

    async def handle(self, frame: protocol.AnyClientFrame) -> None:
        live, room_id, me = self.live, self.viewer.room_id, self.viewer.customer_id
        now = time.monotonic()
        if isinstance(frame, protocol.Ping):
            self.say(protocol.Pong().model_dump_json())
            return
        if isinstance(frame, protocol.Moderate):
            await self.moderate(frame)
            return
        if self.hub.state.status == RoomStatus.ENDED:
            self.say(_error("room_ended", "The show has ended.", frame.ref))
            return
        if isinstance(frame, protocol.Like):
            self.likes_pending += frame.count
            if self.likes_pending >= LIKES_FLUSH_AT:
                await self.flush_likes()
            elif self._likes_due is None:
                self._likes_due = asyncio.create_task(self._flush_likes_soon())
            return
        if not live.rate_limiter.allow(f"{room_id}:{me}", now):
            self.say(
                _error("slow_down", "You're going a bit fast — try again in a moment.", frame.ref)
            )
            return
        match frame:
            case protocol.SendChat():
                await self.chat(frame, now)
            case protocol.CheckIn():
                host_id = (await live.rooms.get(room_id)).host_id
                self.tell(
                    await live.interactions.check_in(host_id, room_id, me, live.today()), frame.ref
                )
            case protocol.GrabRedPacket():
                self.tell(await live.interactions.grab(room_id, frame.packet_id, me), frame.ref)
            case protocol.Vote():
                self.tell(
                    await live.interactions.vote(room_id, frame.poll_id, me, frame.option),
                    frame.ref,
                )
            case protocol.Claim():
                offer_id = frame.offer_id or self.hub.state.pinned_offer_id
                if offer_id is None:
                    self.say(_error("nothing_pinned", "Nothing is on sale right now.", frame.ref))
                    return
                claim_id = f"{me}:{frame.ref}" if frame.ref else new_id()
                await self.claim(
                    offer_id, frame.quantity, frame.variant, claim_id, "button", None, frame.ref
                )
            case protocol.PostLink() | protocol.PostProduct():
                await self.post(frame, now)

    async def post(self, frame: protocol.PostLink | protocol.PostProduct, now: float) -> None:
        """A link, or a card of an offer this room knows: a chat line with it attached."""
        posts = self.live.posts
        try:
            if isinstance(frame, protocol.PostLink):
                posted = await posts.post_link(self.viewer, frame.url, frame.text, now)
            else:
                posted = await posts.post_product(
                    self.viewer, frame.offer_id, self._offer, frame.text, now
                )
        except PostRefused as refused:
            self.say(_error(refused.code, refused.message, frame.ref))
            return
        claim = posted.claim(self.viewer)
        if claim is not None:
            await self.claim(
                claim.offer_id,
                claim.quantity,
                claim.variant,
                claim.claim_id,
                "chat",
                claim.source_text,
                frame.ref,
            )

    def _offer(self, offer_id: str) -> tuple[str, int | None, list[ImageSizes]] | None:
        """An offer of this room as its feed has it (orders' events, the past ones too)."""
        offer = self.hub.feed.offers.get(offer_id)
        if offer is None:
            return None
        return offer.title, offer.price_cents, list(offer.photos)

    async def chat(self, frame: protocol.SendChat, now: float) -> None:
        me = self.viewer.customer_id
        # The committed state, not this instance's view of it: a host's mute or rule is in
        # force on every instance as soon as their call answered.
        standing = await self.live.rooms.standing(self.viewer.room_id, me)
        if standing.banned:
            self.say(_error("banned", "You are banned from this room.", frame.ref))
            return
        if standing.status == RoomStatus.ENDED:
            self.say(_error("room_ended", "The show has ended.", frame.ref))
            return
        muted = standing.muted(utcnow())
        if muted:
            self.say(_error("muted", f"You are muted until {muted:%H:%M} UTC.", frame.ref))
            return
        clock = f"{self.viewer.room_id}:{me}"  # slow mode: one clock per member, chat and posts
        verdict = check_message(
            standing.rules, standing.role, frame.text, now, self.live.last_posts.last(clock)
        )
        if isinstance(verdict, Blocked):
            self.say(_error(f"blocked_{verdict.rule}", verdict.message, frame.ref))
            await self.live.publisher.publish(
                ModerationApplied(
                    room_id=self.viewer.room_id,
                    customer_id=me,
                    action="block",
                    by="rules",
                    reason=f"{verdict.rule}: {frame.text[:200]}",
                )
            )
            return
        chat = compose_chat(self.viewer, frame.text)
        if isinstance(chat, Refused):
            self.say(_error(chat.code, chat.message, frame.ref))
            return
        try:
            await self.live.publisher.publish(chat)
        except Exception:
            log.exception("chat publish failed")
            self.say(_error("unavailable", "Could not send; try again.", frame.ref))
            return
        self.live.last_posts.posted(clock, now)
        intent = parse_claim(chat.text)
        offer_id = standing.pinned_offer_id
        if intent is not None and offer_id is not None:
            await self.claim(
                offer_id,
                intent.quantity,
                intent.variant,
                chat.message_id,
                "chat",
                chat.text,
                frame.ref,
            )

    async def claim(
        self,
        offer_id: str,
        quantity: int,
        variant: str | None,
        claim_id: str,
        source: str,
        text: str | None,
        ref: str | None,
    ) -> None:
        command = PlaceClaim(
            room_id=self.viewer.room_id,
            customer_id=self.viewer.customer_id,
            claim_id=claim_id,
            offer_id=offer_id,
            quantity=quantity,
            variant=variant,
            source=source,
            source_text=text,
            referrer_id=self.viewer.referrer_id,
            buyer_name=self.viewer.display_name[:64],
        )
        await self.live.publisher.publish(command)
        self.say(
            protocol.Notice(
                kind="claim_sent",
                message="Got it — checking stock…",
                data={
                    "claim_id": claim_id,
                    "offer_id": offer_id,
                    "quantity": quantity,
                    "variant": variant,
                },
                ref=ref,
            ).model_dump_json()
        )

    async def _flush_likes_soon(self) -> None:
        await asyncio.sleep(LIKES_FLUSH_S)
        self._likes_due = None
        await self.flush_likes()

    async def close(self) -> None:
        """The connection is over: what the viewer tapped still counts."""
        if self._likes_due is not None:
            self._likes_due.cancel()
            self._likes_due = None
        await self.flush_likes()

    async def flush_likes(self) -> None:
        if self.likes_pending:
            count, self.likes_pending = self.likes_pending, 0
            try:
                await self.live.publisher.publish(
                    LikesSent(
                        room_id=self.viewer.room_id,
                        customer_id=self.viewer.customer_id,
                        count=count,
                    )
                )
            except Exception:
                log.warning("could not publish likes", extra={"count": count})

    async def moderate(self, frame: protocol.Moderate) -> None:
        # The committed role: a moderator demoted on another instance moderates no more.
        standing = await self.live.rooms.standing(self.viewer.room_id, self.viewer.customer_id)
        if standing.role not in STAFF:
            self.say(_error("forbidden", "Only the host and moderators can do that.", frame.ref))
            return
        target = frame.customer_id
        if frame.action == "delete":
            if not frame.message_id:
                self.say(_error("bad_frame", "delete needs message_id", frame.ref))
                return
        elif not target:
            self.say(_error("bad_frame", f"{frame.action} needs customer_id", frame.ref))
            return
        elif self.hub.state.role_of(target) is Role.HOST:
            self.say(_error("forbidden", "The host cannot be moderated.", frame.ref))
            return
        await self.live.interactions.moderate(
            self.viewer.room_id,
            self.viewer.customer_id,
            frame.action,
            target,
            frame.reason,
            frame.minutes,
            frame.message_id,
        )
        self.say(
            protocol.Notice(
                kind="moderated", message=f"{frame.action} done.", ref=frame.ref
            ).model_dump_json()
        )


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "json_invalid":
        return "Frames must be JSON objects."
    if first["type"] == "union_tag_invalid" or where == "":
        return "Unknown or missing frame type."
    return f"{where}: {first['msg']}"


VIEWER_SOCKET = WebSocketRoute("/rooms/{room_id}/ws", viewer_socket)


class SocketsFirst:
    """Pure ASGI, outermost: the viewer socket skips the HTTP middleware and the
    framework's routing and dependency layers. Every layer an ASGI call passes through
    stays suspended, with its locals, for as long as the call lasts: for a websocket
    that is the whole show, times every viewer (docs/PERFORMANCE.md: memory per viewer)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            match, child = VIEWER_SOCKET.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                await VIEWER_SOCKET.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)
