"""A room's recent chat, read from the CHAT_HISTORY stream (survives restarts).

The stream holds each room's last lines per subject: what people said, the system lines
(welcomes, on a subject of their own), the deletions, the groups' media fetched after
their line (merged into it: a joining viewer sees the picture, not "pending") and the
groups' edits (applied: a joining viewer sees the new text, marked as edited). Moderation
applies to the history: a deleted line (a moderator's delete, or every line of a banned
member) is not served again, by any instance.

A joining viewer's history does not come from here but from `RecentChat`, the same fold
kept in memory by the room's hub from the events it fans out anyway: the hub reads this
history once, when it opens (decision DRAFT-cheap-joins).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError, ServiceUnavailableError

from services.live import protocol
from services.live.domain.chat import history_window, is_edit_of_a_group_line
from services.live.domain.chat_to_buy import LineVersions
from services.live.domain.posts import stored_names
from shared import subjects
from shared.events import (
    ChatMediaFetched,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    IntegrationEvent,
    UnreadableEvent,
    parse_event,
)
from shared.events.live import SYSTEM_CHAT_TYPE
from shared.events.media import PendingAttachment
from shared.streams import CHAT_HISTORY, CHAT_HISTORY_PER_ROOM, LIVE

# Lines, system lines, deletions, fetched media, edits: the stream keeps at most this many per
# subject.
SYSTEM = "system"
CHAT_TYPES = (
    ChatMessagePosted.model_fields["type"].default,
    SYSTEM_CHAT_TYPE,
    ChatMessageDeleted.model_fields["type"].default,
    ChatMediaFetched.model_fields["type"].default,
    ChatMessageEdited.model_fields["type"].default,
)
CHAT_SUBJECTS_PER_ROOM = len(CHAT_TYPES)
SOURCE_HEADER = "Nats-Stream-Source"


def chat_line(event: ChatMessagePosted) -> protocol.ChatLine:
    return protocol.ChatLine(
        id=event.message_id,
        customer_id=event.customer_id,
        name=event.display_name,
        text=event.text,
        source=event.source,
        at=event.occurred_at,
        attachment=event.attachment,
    )


# Deleted lines remembered, so a copy of one folded late (the hub's first read) stays out.
DELETED_KEPT = 1000


class RecentChat:
    """A room's recent chat as a joining viewer gets it, kept in memory: the lines with the
    groups' media fetched since and their edits applied, a deleted line gone at once. Fed
    the room's events in stream order (the hub: its first read of the history, then what
    it fans out). Like CHAT_HISTORY it keeps the last CHAT_HISTORY_PER_ROOM lines of the
    conversation and, apart, of the system lines, so welcomes never evict what was said."""

    __slots__ = ("_deleted", "_keep", "_said", "_seq", "_system")

    def __init__(self, keep: int = CHAT_HISTORY_PER_ROOM) -> None:
        self._keep = keep
        self._seq = 0  # stream order across both kinds
        self._said: dict[str, tuple[int, protocol.ChatLine]] = {}  # oldest first
        self._system: dict[str, tuple[int, protocol.ChatLine]] = {}
        self._deleted: dict[str, None] = {}  # oldest first, at most DELETED_KEPT

    def _find(self, message_id: str) -> protocol.ChatLine | None:
        found = self._said.get(message_id) or self._system.get(message_id)
        return found[1] if found else None

    def apply(self, event: IntegrationEvent) -> None:
        """Fold one event (idempotent: any other kind of event is ignored)."""
        match event:
            case ChatMessagePosted():
                kind = self._system if event.source == SYSTEM else self._said
                if event.message_id in kind or event.message_id in self._deleted:
                    return
                self._seq += 1
                kind[event.message_id] = (self._seq, chat_line(event))
                if len(kind) > self._keep:
                    del kind[next(iter(kind))]
            case ChatMessageDeleted():
                self._said.pop(event.message_id, None)
                self._system.pop(event.message_id, None)
                self._deleted[event.message_id] = None
                if len(self._deleted) > DELETED_KEPT:
                    del self._deleted[next(iter(self._deleted))]
            case ChatMediaFetched():
                line = self._find(event.message_id)
                if line is not None and isinstance(line.attachment, PendingAttachment):
                    line.attachment = event.attachment  # None: it could not be fetched
            case ChatMessageEdited():
                line = self._find(event.message_id)
                if line is not None and is_edit_of_a_group_line(event, line.source):
                    line.text, line.edited = event.text, True
            case _:
                pass

    def recent(self, limit: int, leave_out: Collection[str] = ()) -> list[protocol.ChatLine]:
        """The last `limit` lines of the conversation, system lines in the places it leaves
        free (as `history_window`), oldest first; without the lines in `leave_out` (those
        still on their way to the viewers in the next frame)."""
        if limit <= 0:
            return []
        said = _last(self._said, limit, leave_out)
        system = _last(self._system, limit - len(said), leave_out)
        return [line for _, line in sorted(said + system, key=lambda pair: pair[0])]


def _last(
    lines: dict[str, tuple[int, protocol.ChatLine]], n: int, leave_out: Collection[str]
) -> list[tuple[int, protocol.ChatLine]]:
    out: list[tuple[int, protocol.ChatLine]] = []
    if n <= 0:
        return out
    for pair in reversed(lines.values()):
        if pair[1].id not in leave_out:
            out.append(pair)
            if len(out) == n:
                break
    return out


class ChatHistory:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def recent(self, room_id: str, limit: int) -> list[protocol.ChatLine]:
        """The last `limit` lines as the streams have them, oldest first (what a hub's
        `RecentChat` serves joining viewers)."""
        if limit <= 0:
            return []
        lines = await self._visible(room_id)
        return history_window(lines, limit, lambda line: line.source == SYSTEM)

    async def events(self, room_id: str) -> list[IntegrationEvent]:
        """The room's chat events in stream order (a hub folds them into its RecentChat
        when it opens)."""
        events, _ = await self._events(room_id)
        return events

    async def lines_by(self, room_id: str, customer_id: str) -> list[str]:
        """The ids of the lines by this member still in the room's history."""
        return [line.id for line in await self._visible(room_id) if line.customer_id == customer_id]

    async def media(self, room_id: str) -> tuple[dict[str, set[str]], set[str]]:
        """The room's stored objects each line in the history shows (deleted lines too),
        by line id; and the ids of the lines still standing."""
        lines, deleted = await self._lines(room_id)
        shown = {line.id: stored_names(line.attachment) for line in lines}
        return {line_id: names for line_id, names in shown.items() if names}, {
            line.id for line in lines if line.id not in deleted
        }

    async def versions(self, room_id: str, edit: ChatMessageEdited) -> LineVersions | None:
        """The edited line as it stood before `edit` (its text first sent and after each
        earlier edit), or None when the room's history has no such line (never shown,
        deleted, or too far back)."""
        events, _ = await self._events(room_id)
        line: ChatMessagePosted | None = None
        texts: list[str] = []
        deleted = False
        for event in events:
            if event.id == edit.id:
                break  # what came after this edit is not "before" it
            if isinstance(event, ChatMessagePosted) and event.message_id == edit.message_id:
                line, texts = event, [event.text]
            elif isinstance(event, ChatMessageEdited) and event.message_id == edit.message_id:
                texts.append(event.text)
            elif isinstance(event, ChatMessageDeleted) and event.message_id == edit.message_id:
                deleted = True
        if line is None or deleted:
            return None
        return LineVersions(
            source=line.source,
            customer_id=line.customer_id,
            posted_at=line.occurred_at,
            texts=tuple(texts),
        )

    async def _visible(self, room_id: str) -> list[protocol.ChatLine]:
        """The room's lines still standing, oldest first."""
        lines, deleted = await self._lines(room_id)
        return [line for line in lines if line.id not in deleted]

    async def _lines(self, room_id: str) -> tuple[list[protocol.ChatLine], set[str]]:
        """The room's lines, oldest first, with their fetched media; and the deleted ones'
        ids. CHAT_HISTORY is copied from LIVE by the server, a little later: what it has
        not copied yet (a line, a deletion acked a moment ago) is read from LIVE itself,
        so the history is never behind the bus."""
        events, published = await self._events(room_id)
        if published == 0:
            return [], set()
        lines: dict[str, protocol.ChatLine] = {}
        deleted: set[str] = set()
        for event in events:
            if isinstance(event, ChatMessagePosted):
                lines[event.message_id] = chat_line(event)
            elif isinstance(event, ChatMessageDeleted):
                deleted.add(event.message_id)
            elif isinstance(event, ChatMediaFetched):
                line = lines.get(event.message_id)
                if line is not None and isinstance(line.attachment, PendingAttachment):
                    line.attachment = event.attachment  # None: it could not be fetched
            elif isinstance(event, ChatMessageEdited):
                line = lines.get(event.message_id)
                if line is not None and is_edit_of_a_group_line(event, line.source):
                    line.text, line.edited = event.text, True
        return list(lines.values()), deleted

    async def _events(self, room_id: str) -> tuple[list[IntegrationEvent], int]:
        """The room's chat events in stream order, and the LIVE sequence of the newest."""
        subject = subjects.room_chat(room_id)
        published = await self._last_published(room_id)
        if published == 0:
            return [], 0
        events, copied = await self._read(CHAT_HISTORY.name, subject, after=0)
        if copied < published:
            tail, _ = await self._read(LIVE.name, subject, after=copied)
            events += tail
        return events, published

    async def _last_published(self, room_id: str) -> int:
        """The LIVE sequence of the room's newest chat event (line, system line, deletion,
        fetched media)."""

        async def last(subject: str) -> int:
            try:
                return (await self._js.get_last_msg(LIVE.name, subject)).seq or 0
            except NotFoundError:
                return 0

        found = await asyncio.gather(
            *(last(subjects.room_event("live", room_id, kind)) for kind in CHAT_TYPES)
        )
        return max(found)

    async def _read(
        self, stream: str, subject: str, after: int
    ) -> tuple[list[IntegrationEvent], int]:
        """The room's chat events in `stream` after LIVE sequence `after` (at most what the
        history keeps), and the LIVE sequence of the last one read."""
        try:
            info = await self._js.stream_info(stream, subjects_filter=subject)
        except NotFoundError:
            return [], after
        if sum((info.state.subjects or {}).values()) == 0:
            return [], after
        sourced = stream == CHAT_HISTORY.name
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE, inactive_threshold=10.0, mem_storage=True
        )
        if sourced or after == 0:
            config.deliver_policy = DeliverPolicy.ALL
        else:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = after + 1
        sub = await self._js.pull_subscribe(subject, stream=stream, config=config)
        events: list[IntegrationEvent] = []
        last = after
        try:
            remaining = CHAT_SUBJECTS_PER_ROOM * CHAT_HISTORY_PER_ROOM
            while remaining > 0:
                batch = await fetch(sub, remaining)
                remaining -= len(batch)
                for msg in batch:
                    last = _origin(msg) if sourced else msg.metadata.sequence.stream
                    try:
                        events.append(parse_event(msg.data))
                    except UnreadableEvent:
                        continue
                if not batch or batch[-1].metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return events, last


def _origin(msg: Msg) -> int:
    """The LIVE sequence a CHAT_HISTORY message was copied from (`Nats-Stream-Source`:
    "LIVE <seq> <filter> ...")."""
    try:
        return int((msg.headers or {})[SOURCE_HEADER].split()[1])
    except (KeyError, IndexError, ValueError):
        return 0


async def fetch(sub: JetStreamContext.PullSubscription, batch: int, tries: int = 5) -> list[Msg]:
    """On a NATS cluster a just-created consumer's pull subject may not have reached the
    server this client uses yet: the first pulls answer 503 (no responders). Retry briefly."""
    for attempt in range(tries):
        try:
            return await sub.fetch(batch, timeout=2.0)
        except ServiceUnavailableError:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")
