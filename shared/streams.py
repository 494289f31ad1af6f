"""JetStream streams, declared in code and provisioned idempotently at start."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import NotFoundError

from shared import subjects

DAY = 24 * 3600.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_days: float = 90
    # How long JetStream remembers a Nats-Msg-Id to drop a re-publish.
    duplicate_window_s: float = 120
    # A stream fed by the server from another stream instead of by publishers.
    source: StreamSource | None = None
    max_msgs_per_subject: int = -1
    max_bytes: int = -1

    def config(self, replicas: int) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description,
            subjects=list(self.subjects) or None,
            sources=[self.source] if self.source else None,
            max_msgs_per_subject=self.max_msgs_per_subject,
            max_bytes=self.max_bytes,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_days * DAY,
            duplicate_window=self.duplicate_window_s,
            num_replicas=replicas,
            allow_direct=True,
        )


LIVE = StreamSpec(
    "LIVE", (subjects.domain_events("live"),), "Rooms, presence, chat and interactions."
)
ORDERS = StreamSpec("ORDERS", (subjects.domain_events("orders"),), "Offers, stock and orders.")
INGEST = StreamSpec(
    "INGEST",
    (subjects.domain_events("ingest"),),
    "Chat and member events normalised from external group chats.",
    duplicate_window_s=DAY,  # platforms re-deliver webhooks for hours
)
ANALYTICS = StreamSpec(
    "ANALYTICS",
    (subjects.domain_events("analytics"),),
    "Hosts' decisions about customers (accounts linked or unlinked); kept like the facts.",
    max_age_days=3650,  # the customer database is rebuilt from these: keep them
)
# Raw webhook bodies, kept a week (and at most 1 GiB) so a normalisation bug can be
# fixed and the payloads replayed (`python -m services.ingest.replay`).
INGEST_RAW = StreamSpec(
    "INGEST_RAW",
    (subjects.all_raw_payloads(),),
    "Raw webhook bodies as ingest received them, for replay after a fix.",
    max_age_days=7,
    max_bytes=1024**3,
)
COMMANDS = StreamSpec(
    "COMMANDS",
    (subjects.domain_events("cmd"),),
    "Commands between services (PlaceClaim), consumed durably by their one owner.",
    max_age_days=7,
)
DEAD_LETTERS = StreamSpec(
    "DEADLETTER",
    (subjects.all_dead_letters(),),
    "Messages a service could not accept, with the reason in headers.",
    max_age_days=30,
)

# The last chat lines of every room, copied by the server from LIVE and capped per
# room: a joining viewer's history comes from here, not from any process's memory.
CHAT_HISTORY_PER_ROOM = 200
CHAT_HISTORY = StreamSpec(
    "CHAT_HISTORY",
    (),
    "The last chat lines (and deletions) of each room, sourced from LIVE.",
    max_age_days=30,
    source=StreamSource(name="LIVE", filter_subject=subjects.all_rooms_chat()),
    max_msgs_per_subject=CHAT_HISTORY_PER_ROOM,
)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    LIVE,
    ORDERS,
    INGEST,
    ANALYTICS,
    INGEST_RAW,
    COMMANDS,
    DEAD_LETTERS,
    CHAT_HISTORY,
)


async def provision_streams(
    js: JetStreamContext, replicas: int = 1, specs: tuple[StreamSpec, ...] = ALL_STREAMS
) -> None:
    """Create each stream, or bring an existing one to the declared config."""
    for spec in specs:
        config = spec.config(replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


async def missing_streams(
    js: JetStreamContext, specs: tuple[StreamSpec, ...] = ALL_STREAMS
) -> list[str]:
    missing = []
    for spec in specs:
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            missing.append(spec.name)
    return missing
