"""Use cases of a room's video: keys, sources, what the media side reports, what viewers see.

Every change of what is on air commits the row and stages its event together, like the
room's other decisions (RoomService); the hooks are idempotent, since the media process
and MediaMTX may say the same thing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.live.adapters.tables import RoomRow, StreamRow
from services.live.domain import streams as rules
from services.live.domain.streams import IncomingInfo, Source, StreamState
from services.live.service_layer.rooms import NotYourRoom, RoomNotFound
from services.live.settings import LiveSettings
from shared.events import IntegrationEvent, RoomEnded, StreamStarted, StreamStopped, utcnow
from shared.outbox import Outbox

StopReason = Literal["encoder_gone", "key_revoked", "room_ended", "source_changed"]
Applied = Callable[[list[IntegrationEvent]], None]
# A change to a room's stream row: the events it stages.
Change = Callable[[RoomRow, StreamRow], list[IntegrationEvent]]
CutPublisher = Callable[[str], Coroutine[Any, Any, object]]


class NoPortLeft(RuntimeError):
    """Every SRT port of the range is held by a room with a live key."""


class StreamOver(RuntimeError):
    """The room ended: its stream takes no key and no new source."""


@dataclass(frozen=True)
class Publisher:
    """One room the embedded media process listens for."""

    room_id: str
    srt_port: int
    passphrase: str
    key_version: int
    on_air: bool  # live believes its encoder publishes (a media process that restarted
    # after a crash tells live when it is not so)


@dataclass(frozen=True)
class StreamView:
    room: RoomRow
    stream: StreamRow


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _nothing(events: list[IntegrationEvent]) -> None:
    pass


class StreamService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        settings: LiveSettings,
        applied: Applied = _nothing,
        cut_publisher: CutPublisher | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._settings = settings
        self._applied = applied
        self._cut_publisher = cut_publisher
        self._cutting: set[asyncio.Task[object]] = set()

    def follow(self, events: list[IntegrationEvent]) -> None:
        """After a decision is in force: a media server that keeps a publisher on air by
        itself (MediaMTX) is told to cut it when its key was revoked or the room ended.
        The embedded media process needs no telling: it stops listening (publishers())."""
        if self._cut_publisher is None:
            return
        for event in events:
            revoked = isinstance(event, StreamStopped) and event.reason == "key_revoked"
            if revoked or isinstance(event, RoomEnded):
                task: asyncio.Task[object] = asyncio.create_task(self._cut_publisher(event.room_id))
                self._cutting.add(task)
                task.add_done_callback(self._cutting.discard)

    # ---- the host ---------------------------------------------------------------------

    async def view(self, room_id: str, actor: str, is_admin: bool) -> StreamView:
        """The room's stream for its host; the first look creates its key and port."""
        return await self._host_change(room_id, actor, is_admin, None)

    async def rotate_key(self, room_id: str, actor: str, is_admin: bool) -> StreamView:
        """A new key; the old one is refused from now on and its publisher is cut."""

        def rotate(room: RoomRow, row: StreamRow) -> list[IntegrationEvent]:
            row.stream_key, row.key_version = rules.new_key(), row.key_version + 1
            if row.source == Source.ENCODER and row.state == StreamState.LIVE:
                return [self._stop(row, room, "key_revoked")]
            return []

        return await self._host_change(room_id, actor, is_admin, rotate)

    async def set_source(
        self, room_id: str, source: Source, url: str | None, actor: str, is_admin: bool
    ) -> StreamView:
        """Own encoder, a hosted HLS URL, or a YouTube video (BadSource if the URL is not)."""
        hosted = youtube = None
        if source is Source.HLS_URL:
            hosted = rules.hosted_hls_url(url or "")
        elif source is Source.YOUTUBE:
            youtube = rules.youtube_video_id(url or "")

        def switch(room: RoomRow, row: StreamRow) -> list[IntegrationEvent]:
            if (row.source, row.hosted_url, row.youtube_video_id) == (source, hosted, youtube):
                return []
            events: list[IntegrationEvent] = []
            if row.state == StreamState.LIVE:
                events.append(self._stop(row, room, "source_changed"))
            row.source, row.hosted_url, row.youtube_video_id = source.value, hosted, youtube
            if source is not Source.ENCODER and room.status == "live":
                events.append(self._start(row, room, protocol=None))
            return events

        return await self._host_change(room_id, actor, is_admin, switch)

    async def _host_change(
        self,
        room_id: str,
        actor: str,
        is_admin: bool,
        change: Change | None,
    ) -> StreamView:
        for attempt in range(3):
            try:
                return await self._host_change_once(room_id, actor, is_admin, change)
            except IntegrityError:
                if attempt == 2:  # two rooms took the same free port three times in a row
                    raise
        raise AssertionError("unreachable")

    async def _host_change_once(
        self,
        room_id: str,
        actor: str,
        is_admin: bool,
        change: Change | None,
    ) -> StreamView:
        async with self._sessions() as session:
            room = await session.get(RoomRow, room_id)
            if room is None:
                raise RoomNotFound(room_id)
            if not is_admin and room.host_id != actor:
                raise NotYourRoom(room_id)
            row = await session.get(StreamRow, room_id, with_for_update=True)
            if row is None:
                row = StreamRow(room_id=room_id)
            if room.status == "ended":
                if change is not None:
                    raise StreamOver(room_id)
                return StreamView(room, row)
            if row.stream_key is None:
                row.stream_key, row.key_version = rules.new_key(), row.key_version + 1
            if row.srt_port is None and self._settings.media_mode == "embedded":
                row.srt_port = await self._free_port(session)
            events = change(room, row) if change is not None else []
            for event in events:
                self._outbox.add(session, event)
            session.add(row)
            await session.commit()
            await session.refresh(row)
        await self._in_force(events)
        return StreamView(room, row)

    async def _free_port(self, session: AsyncSession) -> int:
        streams = StreamRow.__table__
        conn = await session.connection()
        query = sa.select(streams.c.srt_port).where(streams.c.srt_port.is_not(None))
        taken = set((await conn.execute(query)).scalars())
        port = rules.pick_port(self._settings.srt_port_range, taken)
        if port is None:
            raise NoPortLeft(f"all SRT ports {self._settings.srt_ports} are in use")
        return port

    # ---- the media side (embedded media process, MediaMTX hooks) --------------------------

    async def publishers(self) -> list[Publisher]:
        """Rooms whose encoder may publish now: a live key, a port, the room not over."""
        streams, rooms = StreamRow.__table__, RoomRow.__table__
        query = (
            sa.select(
                streams.c.room_id,
                streams.c.srt_port,
                streams.c.stream_key,
                streams.c.key_version,
                streams.c.state == StreamState.LIVE.value,
            )
            .select_from(streams.join(rooms, rooms.c.id == streams.c.room_id))
            .where(
                streams.c.source == Source.ENCODER.value,
                streams.c.stream_key.is_not(None),
                streams.c.srt_port.is_not(None),
                rooms.c.status != "ended",
            )
            .order_by(streams.c.room_id)
        )
        async with self._sessions() as session:
            conn = await session.connection()
            rows = (await conn.execute(query)).all()
        return [Publisher(*row[:4], on_air=bool(row[4])) for row in rows]

    async def may_publish(self, room_id: str, key: str) -> bool:
        async with self._sessions() as session:
            room = await session.get(RoomRow, room_id)
            row = await session.get(StreamRow, room_id)
        return (
            room is not None
            and room.status != "ended"
            and row is not None
            and row.source == Source.ENCODER
            and rules.same_key(key, row.stream_key)
        )

    async def room_exists(self, room_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(RoomRow, room_id) is not None

    async def on_air(self, room_id: str, protocol: str | None, info: IncomingInfo | None) -> None:
        """The encoder publishes (a new take starts, unless this one is already on air)."""

        def start(room: RoomRow, row: StreamRow) -> list[IntegrationEvent]:
            if info is not None:
                self._note(row, info)
            if room.status == "ended" or row.source != Source.ENCODER:
                return []
            if row.state == StreamState.LIVE:
                return []
            return [self._start(row, room, protocol)]

        await self._media_change(room_id, start)

    async def off_air(self, room_id: str, reason: StopReason) -> None:
        def stop(room: RoomRow, row: StreamRow) -> list[IntegrationEvent]:
            if row.state != StreamState.LIVE or row.source != Source.ENCODER:
                return []
            return [self._stop(row, room, reason)]

        await self._media_change(room_id, stop)

    async def stats(self, room_id: str, info: IncomingInfo) -> None:
        def note(room: RoomRow, row: StreamRow) -> list[IntegrationEvent]:
            self._note(row, info)
            return []

        await self._media_change(room_id, note)

    async def _media_change(self, room_id: str, change: Change) -> None:
        async with self._sessions() as session:
            room = await session.get(RoomRow, room_id)
            if room is None:
                raise RoomNotFound(room_id)
            row = await session.get(StreamRow, room_id, with_for_update=True)
            if row is None:
                row = StreamRow(room_id=room_id)
            events = change(room, row)
            for event in events:
                self._outbox.add(session, event)
            session.add(row)
            await session.commit()
        await self._in_force(events)

    @staticmethod
    def _note(row: StreamRow, info: IncomingInfo) -> None:
        known = {k: v for k, v in asdict(info).items() if v is not None}
        row.incoming = {**(row.incoming or {}), **known}
        row.incoming_at = utcnow()

    # ---- the room's lifecycle (called inside RoomService's transaction) -------------------

    async def room_status_changed(
        self, session: AsyncSession, room: RoomRow
    ) -> list[IntegrationEvent]:
        """Start: a hosted stream goes on air. End: whatever is on air stops, the key is
        revoked and the port freed (the media process stops listening)."""
        row = await session.get(StreamRow, room.id, with_for_update=True)
        if row is None:
            if room.status != "ended":
                return []
            row = StreamRow(room_id=room.id)
        events: list[IntegrationEvent] = []
        if room.status == "live" and row.source != Source.ENCODER and row.state != "live":
            events.append(self._start(row, room, protocol=None))
        elif room.status == "ended":
            if row.state == StreamState.LIVE:
                events.append(self._stop(row, room, "room_ended"))
            row.state = StreamState.ENDED.value
            row.stream_key, row.srt_port = None, None
        session.add(row)
        return events

    # ---- viewers ----------------------------------------------------------------------

    async def get(self, room_id: str) -> StreamView:
        async with self._sessions() as session:
            room = await session.get(RoomRow, room_id)
            if room is None:
                raise RoomNotFound(room_id)
            row = await session.get(StreamRow, room_id)
        return StreamView(room, row or StreamRow(room_id=room_id))

    def playback_url(self, row: StreamRow) -> str | None:
        if row.source == Source.HLS_URL:
            return row.hosted_url
        if row.source == Source.ENCODER:
            return self._settings.playback_url_template.format(room_id=row.room_id)
        return None

    def replay_url(self, row: StreamRow) -> str | None:
        template = self._settings.replay_url_template
        if row.take == 0 or row.source != Source.ENCODER or not template:
            return None
        return template.format(room_id=row.room_id)

    # ---- helpers ------------------------------------------------------------------------

    def _start(self, row: StreamRow, room: RoomRow, protocol: str | None) -> StreamStarted:
        now = utcnow()
        row.take += 1
        row.state, row.on_air_since, row.protocol = StreamState.LIVE.value, now, protocol
        row.first_on_air_at = row.first_on_air_at or now
        return StreamStarted(
            room_id=room.id,
            source=row.source,
            take=row.take,
            protocol=protocol,
            playback_url=self.playback_url(row),
            youtube_video_id=row.youtube_video_id,
        )

    def _stop(self, row: StreamRow, room: RoomRow, reason: StopReason) -> StreamStopped:
        since = _utc(row.on_air_since) or utcnow()
        stopped = StreamStopped(
            room_id=room.id,
            source=row.source,
            take=max(row.take, 1),
            reason=reason,
            on_air_seconds=max(0.0, (utcnow() - since).total_seconds()),
        )
        row.state = rules.state_after_stop(reason, room.status).value
        row.on_air_since = None
        return stopped

    async def _in_force(self, events: list[IntegrationEvent]) -> None:
        if events:
            await self._outbox.flush(events)
            self._applied(events)
            self.follow(events)
