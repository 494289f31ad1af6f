"""Every integration event, and the one function that reads one off the bus."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError

from shared.events.analytics import ANALYTICS_EVENTS, CustomersLinked, CustomersUnlinked
from shared.events.commands import AmendClaim, Command, PlaceClaim, SendToGroup
from shared.events.envelope import IntegrationEvent, SubjectToken, new_id, utcnow
from shared.events.ingest import INGEST_EVENTS
from shared.events.live import (
    AnnouncementPosted,
    ChatMediaFetched,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    CheckedIn,
    LikesSent,
    ModerationApplied,
    PollClosed,
    PollOpened,
    ProductPinned,
    RedPacketFinished,
    RedPacketGrabbed,
    RedPacketSent,
    RoleChanged,
    RoomEnded,
    RoomOpened,
    RoomPreviewAnnounced,
    RoomRulesChanged,
    RoomStarted,
    StreamStarted,
    StreamStopped,
    ViewerJoined,
    ViewerLeft,
    VoteCast,
)
from shared.events.orders import (
    ClaimRejected,
    CommissionAccrued,
    CommissionPaidOut,
    CommissionReversed,
    GroupFailed,
    GroupFormed,
    GroupTierReached,
    OfferClosed,
    OfferOpened,
    OfferSoldOut,
    OfferUpdated,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderFulfilled,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    StockChanged,
)

LIVE_EVENTS: tuple[type[IntegrationEvent], ...] = (
    RoomOpened,
    RoomPreviewAnnounced,
    RoomStarted,
    RoomEnded,
    ViewerJoined,
    ViewerLeft,
    RoleChanged,
    RoomRulesChanged,
    ChatMessagePosted,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMediaFetched,
    ModerationApplied,
    ProductPinned,
    LikesSent,
    CheckedIn,
    RedPacketSent,
    RedPacketGrabbed,
    RedPacketFinished,
    PollOpened,
    VoteCast,
    PollClosed,
    AnnouncementPosted,
    StreamStarted,
    StreamStopped,
)
ORDERS_EVENTS: tuple[type[IntegrationEvent], ...] = (
    OfferOpened,
    StockChanged,
    OfferSoldOut,
    OfferClosed,
    ClaimRejected,
    OrderPlaced,
    OrderAmended,
    OfferUpdated,
    GroupTierReached,
    GroupFormed,
    GroupFailed,
    OrderPaid,
    OrderExpired,
    OrderCancelled,
    OrderRefunded,
    CommissionAccrued,
    CommissionReversed,
    OrderFulfilled,
    CommissionPaidOut,
)
COMMANDS: tuple[type[IntegrationEvent], ...] = (PlaceClaim, AmendClaim, SendToGroup)
# Everything that travels on the bus and that parse_event reads.
ALL_EVENTS: tuple[type[IntegrationEvent], ...] = (
    LIVE_EVENTS + ORDERS_EVENTS + INGEST_EVENTS + ANALYTICS_EVENTS + COMMANDS
)

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {
    cls.model_fields["type"].default: cls for cls in ALL_EVENTS
}

# One discriminated union over every event type: a single validation pass per message.
_any_event: TypeAdapter[IntegrationEvent] = TypeAdapter(
    Annotated[Union[ALL_EVENTS], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007
)
_json_object = TypeAdapter(dict[str, Any])


class UnreadableEvent(ValueError):
    """A message on the bus that is not an event this code can read; goes to dead letters."""


def parse_event(raw: bytes | str) -> IntegrationEvent:
    """Parse and validate one event; raise UnreadableEvent with a reason a person can act on."""
    try:
        event = _any_event.validate_json(raw)
    except ValidationError as exc:
        raise UnreadableEvent(_explain(raw, exc)) from exc
    if event.version > event.current_version:
        raise UnreadableEvent(_newer_version(event.type, event.version, event.current_version))
    return event


def _newer_version(event_type: object, version: object, supported: int) -> str:
    return f"{event_type} version {version} is newer than this reader (reads up to {supported})"


def _explain(raw: bytes | str, exc: ValidationError) -> str:
    """Slow path, only for bad messages: say what is wrong in words."""
    try:
        head = _json_object.validate_json(raw)
    except ValidationError:
        return "not a JSON object"
    event_type = head.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        return f"unknown event type {event_type!r}"
    version = head.get("version", 1)
    if isinstance(version, int) and version > cls.current_version:
        return _newer_version(event_type, version, cls.current_version)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"][1:]) or "event"
    return f"invalid {event_type}: {where}: {first['msg']}"


__all__ = [
    "ALL_EVENTS",
    "ANALYTICS_EVENTS",
    "COMMANDS",
    "EVENT_TYPES",
    "INGEST_EVENTS",
    "LIVE_EVENTS",
    "ORDERS_EVENTS",
    "AmendClaim",
    "AnnouncementPosted",
    "ChatMediaFetched",
    "ChatMessageDeleted",
    "ChatMessageEdited",
    "ChatMessagePosted",
    "CheckedIn",
    "ClaimRejected",
    "Command",
    "CommissionAccrued",
    "CommissionPaidOut",
    "CommissionReversed",
    "CustomersLinked",
    "CustomersUnlinked",
    "GroupFailed",
    "GroupFormed",
    "GroupTierReached",
    "IntegrationEvent",
    "LikesSent",
    "ModerationApplied",
    "OfferClosed",
    "OfferOpened",
    "OfferSoldOut",
    "OfferUpdated",
    "OrderAmended",
    "OrderCancelled",
    "OrderExpired",
    "OrderFulfilled",
    "OrderPaid",
    "OrderPlaced",
    "OrderRefunded",
    "PlaceClaim",
    "PollClosed",
    "PollOpened",
    "ProductPinned",
    "RedPacketFinished",
    "RedPacketGrabbed",
    "RedPacketSent",
    "RoleChanged",
    "RoomEnded",
    "RoomOpened",
    "RoomPreviewAnnounced",
    "RoomRulesChanged",
    "RoomStarted",
    "SendToGroup",
    "StockChanged",
    "StreamStarted",
    "StreamStopped",
    "SubjectToken",
    "UnreadableEvent",
    "ViewerJoined",
    "ViewerLeft",
    "VoteCast",
    "new_id",
    "parse_event",
    "utcnow",
]
