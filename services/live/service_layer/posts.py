"""Posting a picture, a voice clip, a link or a product card in the room.

One path for all: the poster's committed standing (banned, muted, the room ended), who may
post this (domain/posts.py), the room's rules on the caption (as on chat), then the thing
itself: a picture is made safe and sized (shared/images.py), a voice clip measured by
ffmpeg (shared/voice.py), both stored in ROOM_MEDIA under the room after the room's usage
is reserved (room_media.py). The post is a chat line with an attachment, published like
any line: the room, the history, analytics and chat-to-buy see it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from services.live.domain.chat import Refused
from services.live.domain.claims import parse_claim
from services.live.domain.moderation import Blocked, Standing, check_link, check_message
from services.live.domain.posts import compose_post, may_post_media, product_card
from services.live.domain.ratelimit import LastPosts
from services.live.domain.rooms import RoomStatus
from services.live.domain.viewers import Viewer
from services.live.service_layer.room_media import Item, RoomMedia, RoomMediaFull
from services.live.service_layer.rooms import RoomNotFound, RoomService
from shared import images, voice
from shared.events import ChatMessagePosted, ModerationApplied, PlaceClaim, utcnow
from shared.events.media import (
    Attachment,
    ImageAttachment,
    ImageSizes,
    LinkAttachment,
    VoiceAttachment,
)
from shared.messaging import EventPublisher
from shared.objects import Objects, object_name

log = logging.getLogger("qunlive.live.posts")

What = Literal["media", "link", "product"]


class PostRefused(Exception):
    """The post is not taken: an HTTP status for the upload, a stable code, plain words."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Posted:
    line: ChatMessagePosted
    standing: Standing

    def claim(self, viewer: Viewer) -> PlaceClaim | None:
        """A caption that reads as a buy ("+1") claims the pinned offer, as a chat line does;
        a post without one never does."""
        intent = parse_claim(self.line.text)
        offer_id = self.standing.pinned_offer_id
        if intent is None or offer_id is None:
            return None
        return PlaceClaim(
            room_id=viewer.room_id,
            customer_id=viewer.customer_id,
            claim_id=self.line.message_id,
            offer_id=offer_id,
            quantity=intent.quantity,
            variant=intent.variant,
            source="chat",
            source_text=self.line.text,
            referrer_id=viewer.referrer_id,
            buyer_name=viewer.display_name[:64],
        )


@dataclass(frozen=True)
class Limits:
    image_bytes: int
    voice_bytes: int
    voice_seconds: float


@dataclass(frozen=True)
class _Blob:
    data: bytes
    extension: str
    content_type: str
    kind: str

    @property
    def name(self) -> str:
        return object_name(self.data, self.extension)


class Posts:
    def __init__(
        self,
        rooms: RoomService,
        media: RoomMedia,
        objects: Callable[[], Objects],
        publisher: Callable[[], EventPublisher],
        limits: Limits,
        last_posts: LastPosts,
    ) -> None:
        self._rooms = rooms
        self._media = media
        self._objects = objects
        self._publisher = publisher
        self.limits = limits
        self._last_posts = last_posts

    # ---- what is posted ----------------------------------------------------------------

    async def post_image(
        self, viewer: Viewer, data: bytes, caption: str, alt: str, now: float
    ) -> Posted:
        limit = self.limits.image_bytes
        if len(data) > limit:
            raise PostRefused(
                413, "image_too_large", f"The picture is {len(data)} bytes; the limit is {limit}."
            )
        standing = await self.admit(viewer, caption, now, "media")
        try:
            picture = await asyncio.to_thread(images.prepare, data, limit)
        except images.BadImage as exc:
            raise PostRefused(exc.status, exc.code, f"Not a picture we take: {exc}.") from None
        blobs = {
            size: _Blob(jpeg, images.EXTENSION, images.CONTENT_TYPE, "image")
            for size, jpeg in picture.sizes.items()
        }
        attachment = ImageAttachment(
            image=ImageSizes(
                thumb=blobs["thumb"].name,
                card=blobs["card"].name,
                full=blobs["full"].name,
                width=picture.width,
                height=picture.height,
                alt=alt.strip(),
            )
        )
        return await self._publish(viewer, standing, caption, attachment, list(blobs.values()), now)

    async def post_voice(self, viewer: Viewer, data: bytes, caption: str, now: float) -> Posted:
        limit = self.limits.voice_bytes
        if len(data) > limit:
            raise PostRefused(
                413, "voice_too_large", f"The clip is {len(data)} bytes; the limit is {limit}."
            )
        standing = await self.admit(viewer, caption, now, "media")
        try:
            clip = await voice.measure(data, limit, self.limits.voice_seconds)
        except voice.BadVoice as exc:
            raise PostRefused(exc.status, exc.code, f"Not a voice clip we take: {exc}.") from None
        blob = _Blob(data, clip.extension, clip.content_type, "voice")
        attachment = VoiceAttachment(
            object=blob.name,
            content_type=clip.content_type,
            bytes=len(data),
            duration_s=clip.duration_s,
        )
        return await self._publish(viewer, standing, caption, attachment, [blob], now)

    async def post_link(self, viewer: Viewer, url: str, caption: str, now: float) -> Posted:
        """Shown as a link: nothing here ever requests it (no preview: that would be SSRF)."""
        standing = await self.admit(viewer, caption, now, "link", url)
        return await self._publish(viewer, standing, caption, LinkAttachment(url=url), [], now)

    async def post_product(
        self,
        viewer: Viewer,
        offer_id: str,
        known: Callable[[str], tuple[str, int | None, list[ImageSizes]] | None],
        caption: str,
        now: float,
    ) -> Posted:
        """A card of an offer the room knows (`known`: its title, price and photos)."""
        standing = await self.admit(viewer, caption, now, "product")
        offer = known(offer_id)
        if offer is None:
            raise PostRefused(404, "unknown_offer", "That offer is not on sale in this room.")
        title, price_cents, photos = offer
        card = product_card(offer_id, title, price_cents, photos)
        return await self._publish(viewer, standing, caption, card, [], now)

    # ---- who may, and the rules ----------------------------------------------------------

    async def admit(
        self, viewer: Viewer, caption: str, now: float, what: What, url: str = ""
    ) -> Standing:
        """The poster's committed standing, if they may post this now; else PostRefused."""
        me = viewer.customer_id
        try:
            standing = await self._rooms.standing(viewer.room_id, me)
        except RoomNotFound:
            raise PostRefused(404, "not_found", f"No room {viewer.room_id}.") from None
        if standing.banned:
            raise PostRefused(403, "banned", "You are banned from this room.")
        if standing.status == RoomStatus.ENDED:
            raise PostRefused(409, "room_ended", "The show has ended.")
        muted = standing.muted(utcnow())
        if muted:
            raise PostRefused(403, "muted", f"You are muted until {muted:%H:%M} UTC.")
        if what == "link":
            verdict = check_link(standing.rules, standing.role, url)
            if isinstance(verdict, Blocked):
                await self._blocked(viewer, verdict, url)
        else:
            refused = may_post_media(standing.role, standing.rules)
            if refused is not None:
                raise PostRefused(403, refused.code, refused.message)
        last = self._last_posts.last(_key(viewer))
        verdict = check_message(standing.rules, standing.role, caption, now, last)
        if isinstance(verdict, Blocked):
            await self._blocked(viewer, verdict, caption)
        return standing

    async def _blocked(self, viewer: Viewer, verdict: Blocked, text: str) -> None:
        """A rule's refusal: said to the poster, recorded like chat's (`block`, by the rules)."""
        try:
            await self._publisher().publish(
                ModerationApplied(
                    room_id=viewer.room_id,
                    customer_id=viewer.customer_id,
                    action="block",
                    by="rules",
                    reason=f"{verdict.rule}: {text[:200]}",
                )
            )
        except Exception:
            log.warning("could not record a blocked post", exc_info=True)
        status = 429 if verdict.rule == "slow_mode" else 422
        raise PostRefused(status, f"blocked_{verdict.rule}", verdict.message)

    # ---- storing and publishing ----------------------------------------------------------

    async def _publish(
        self,
        viewer: Viewer,
        standing: Standing,
        caption: str,
        attachment: Attachment,
        blobs: list[_Blob],
        now: float,
    ) -> Posted:
        line = compose_post(viewer, caption, attachment)
        if isinstance(line, Refused):
            raise PostRefused(422, line.code, line.message)
        room_id = viewer.room_id
        if blobs:
            items = [Item(blob.name, len(blob.data), blob.kind) for blob in blobs]
            try:
                await self._media.reserve(room_id, line.message_id, items)
            except RoomMediaFull as full:
                raise PostRefused(409, "room_media_full", str(full)) from None
            except LookupError:
                raise PostRefused(404, "not_found", f"No room {room_id}.") from None
        try:
            objects = self._objects()
            for blob in blobs:
                await objects.put(blob.data, blob.extension, blob.content_type, scope=room_id)
        except Exception:
            log.exception("a post's media could not be stored", extra={"room_id": room_id})
            try:
                await self._media.release(room_id, [line.message_id], read_history=False)
            except Exception:
                log.warning("could not release a failed post's media", exc_info=True)
            raise PostRefused(503, "unavailable", "Could not store it; try again.") from None
        try:
            await self._publisher().publish(line)
        except Exception:
            # The line may be stored all the same (an ack lost): its media stays. Posted
            # again, the same objects are reused and count once.
            log.exception("a post could not be published", extra={"room_id": room_id})
            raise PostRefused(503, "unavailable", "Could not post; try again.") from None
        self._last_posts.posted(_key(viewer), now)
        return Posted(line, standing)


def _key(viewer: Viewer) -> str:
    return f"{viewer.room_id}:{viewer.customer_id}"
