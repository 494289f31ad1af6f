"""Fetching a group's picture or voice note into its room, after the line was published.

The line went to the room at once with a pending attachment (its text is the caption);
this job, one per line, runs from the INGEST stream (`external.message_with_media`):
download from the platform, check the bytes (shared.images / shared.voice), store them in
ROOM_MEDIA under the room, and say so with `chat.media_fetched` on the same message_id.
What cannot be fetched (gone, refused, not a picture, over a limit) is said the same way
with attachment None and a reason, and the job is given up (dead letters); what may work
later (network, 5xx, 429, NATS or the database away) is tried again on the schedule
(docs/decisions/0028-media-from-the-groups.md). The text line is there all along: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.adapters.media_ledger import Entry, MediaLedger
from services.ingest.adapters.platform_media import FetchFailed, PlatformMedia
from services.ingest.domain.events import resends_to_room, room_line
from services.ingest.domain.fields import size_text
from shared import images, voice
from shared.events import ChatMediaFetched, IntegrationEvent
from shared.events.ingest import ExternalMedia, ExternalMessageReceived
from shared.events.media import ImageAttachment, ImageSizes, VoiceAttachment
from shared.objects import Objects, Stored

log = logging.getLogger("qunlive.ingest.media")

VOICE_MAX_S = 600.0  # VoiceAttachment's own bound
GiveUp = Callable[[str], Awaitable[None]]
Publish = Callable[[IntegrationEvent], Awaitable[Any]]


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int
    voice_max_s: float
    room_bytes: int
    retry_delays_s: tuple[float, ...]

    @property
    def tries(self) -> int:
        return len(self.retry_delays_s) + 1

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait after try `attempt` (1-based); a platform's retry_after is honoured,
        up to the schedule's longest wait."""
        scheduled = self.retry_delays_s[min(attempt, len(self.retry_delays_s)) - 1]
        if retry_after_s is None:
            return scheduled
        return min(max(scheduled, retry_after_s), max(self.retry_delays_s))


@dataclass(frozen=True)
class Retry:
    delay_s: float
    reason: str


class Refused(Exception):
    """The media will never be fetched as it is; the reason is shown to the room's staff."""


def media_event_id(message_id: str) -> str:
    """ChatMediaFetched's id (its Nats-Msg-Id): one per line, whatever the tries."""
    return f"media:{message_id}"


def wants_fetch(event: ExternalMessageReceived) -> bool:
    return event.media is not None and event.in_room and not event.edited


class MediaFetcher:
    def __init__(
        self,
        platform: PlatformMedia,
        objects: Callable[[], Objects],
        ledger: MediaLedger,
        publish: Publish,
        limits: MediaLimits,
        live_dedupe_window: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.platform = platform
        self._objects_factory = objects
        self._objects: Objects | None = None
        self.ledger = ledger
        self.publish = publish
        self.limits = limits
        self.live_dedupe_window = live_dedupe_window
        self.clock = clock

    @property
    def objects(self) -> Objects:
        if self._objects is None:
            self._objects = self._objects_factory()
        return self._objects

    async def handle(
        self,
        event: ExternalMessageReceived,
        attempt: int,
        stored_at: datetime | None,
        give_up: GiveUp,
    ) -> Retry | None:
        """One try of the line's job: None when it is done (fetched, or given up and said
        so), or when to try again. `stored_at`: when INGEST stored the event (the server's
        clock); `give_up(reason)` keeps the job in dead letters."""
        if event.media is None or not wants_fetch(event):
            return None
        try:
            return await self._handle(event, event.media, attempt, stored_at, give_up)
        except Exception as exc:  # NATS or the database away while saying what happened
            log.warning(
                "media job failed, will retry",
                extra={"message_id": event.id, "attempt": attempt, "error": repr(exc)},
            )
            return Retry(self.limits.delay(attempt), f"{type(exc).__name__}: {exc}")

    async def _handle(
        self,
        event: ExternalMessageReceived,
        media: ExternalMedia,
        attempt: int,
        stored_at: datetime | None,
        give_up: GiveUp,
    ) -> Retry | None:
        entry = await self.ledger.entry(event.id)
        if entry is not None and entry.done:
            return None  # a redelivery after the work was said
        # The line before its attachment: while LIVE would still drop it as a duplicate
        # (the rule of a webhook's re-delivery), publish it again, so chat.media_fetched
        # never reaches the room ahead of the line it completes.
        if resends_to_room(stored_at, self.clock(), self.live_dedupe_window):
            await self.publish(room_line(event))
        try:
            attachment, size = await self._fetch(event, media, entry)
        except Refused as exc:
            await self._give_up(event, media, str(exc), give_up)
            return None
        except Exception as exc:
            if isinstance(exc, FetchFailed) and not exc.transient:
                await self._give_up(event, media, exc.reason, give_up)
                return None
            reason = exc.reason if isinstance(exc, FetchFailed) else f"{type(exc).__name__}: {exc}"
            if attempt < self.limits.tries:
                retry_after = exc.retry_after_s if isinstance(exc, FetchFailed) else None
                delay = self.limits.delay(attempt, retry_after)
                log.info(
                    "media download failed, will retry",
                    extra={"message_id": event.id, "attempt": attempt, "reason": reason},
                )
                return Retry(delay, reason)
            await self._give_up(event, media, f"gave up after {attempt} tries: {reason}", give_up)
            return None
        await self.publish(self._fetched(event, attachment, ""))
        await self.ledger.done(event.id, event.room_id, media.kind, size)
        return None

    async def _give_up(
        self, event: ExternalMessageReceived, media: ExternalMedia, reason: str, give_up: GiveUp
    ) -> None:
        reason = reason[:300]
        log.warning("media not fetched", extra={"message_id": event.id, "reason": reason})
        await self.publish(self._fetched(event, None, reason))
        await give_up(reason)
        await self.ledger.done(event.id, event.room_id, media.kind, 0, reason)

    def _fetched(
        self,
        event: ExternalMessageReceived,
        attachment: ImageAttachment | VoiceAttachment | None,
        reason: str,
    ) -> ChatMediaFetched:
        return ChatMediaFetched(
            id=media_event_id(event.id),
            room_id=event.room_id,
            customer_id=event.customer_id,
            occurred_at=self.clock(),
            message_id=event.id,
            attachment=attachment,
            reason=reason,
        )

    async def _fetch(
        self, event: ExternalMessageReceived, media: ExternalMedia, entry: Entry | None
    ) -> tuple[ImageAttachment | VoiceAttachment, int]:
        limits, room = self.limits, event.room_id
        if media.bytes is not None and media.bytes > limits.max_bytes:
            raise Refused(
                f"the file is {size_text(media.bytes)}; the limit is {size_text(limits.max_bytes)}"
            )
        # What the room holds, less what an earlier try of this job stored and counted.
        used = await self.ledger.room_bytes(room) - (entry.bytes if entry else 0)
        self._check_room(used, media.bytes or 0)
        downloaded = await self.platform.download(event.platform, media.file_ref, limits.max_bytes)
        if media.kind == "image":
            try:
                picture = await asyncio.to_thread(images.prepare, downloaded.data, limits.max_bytes)
            except images.BadImage as exc:
                raise Refused(f"not a picture that can be shown: {exc}") from None
            size = sum(len(data) for data in picture.sizes.values())
            self._check_room(used, size)
            stored = {
                name: await self.objects.put(
                    data, images.EXTENSION, images.CONTENT_TYPE, scope=room
                )
                for name, data in picture.sizes.items()
            }
            attachment: ImageAttachment | VoiceAttachment = ImageAttachment(
                image=ImageSizes(
                    thumb=_unscoped(stored["thumb"]),
                    card=_unscoped(stored["card"]),
                    full=_unscoped(stored["full"]),
                    width=picture.width,
                    height=picture.height,
                )
            )
        else:
            try:
                clip = await voice.measure(downloaded.data, limits.max_bytes, limits.voice_max_s)
            except voice.BadVoice as exc:
                raise Refused(f"not a voice note that can be played: {exc}") from None
            size = len(downloaded.data)
            self._check_room(used, size)
            object_ = await self.objects.put(
                downloaded.data, clip.extension, clip.content_type, scope=room
            )
            attachment = VoiceAttachment(
                object=_unscoped(object_),
                content_type=clip.content_type,
                bytes=size,
                duration_s=min(clip.duration_s, VOICE_MAX_S),
            )
        await self.ledger.stored(event.id, room, media.kind, size)
        return attachment, size

    def _check_room(self, used: int, adding: int) -> None:
        cap = self.limits.room_bytes
        if used >= cap or used + adding > cap:
            raise Refused(
                f"the room's pictures and voice notes from the groups reached its {size_text(cap)}"
            )


def _unscoped(stored: Stored) -> str:
    """Events carry `<sha256>.<ext>`; the room is the envelope's room_id."""
    return stored.name.rsplit("/", 1)[-1]
