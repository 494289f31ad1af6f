"""Every NATS subject is built here; nobody types a subject string elsewhere.

Shape: `<domain>.<room_id>.<event type>`, e.g. `live.r_8f3a.chat.message_posted`;
commands use the domain `cmd` (`cmd.r_8f3a.orders.place_claim`),
so a live instance subscribes to exactly the rooms it serves (`live.<room>.>`).
"""

from __future__ import annotations

from shared.events.envelope import IntegrationEvent

DOMAINS = ("live", "orders", "ingest", "analytics", "cmd")
DEAD_LETTER_PREFIX = "deadletter"
# Raw webhook bodies as received (ingest's archive); not under `ingest.>`, which holds events.
RAW_INGEST_PREFIX = "ingest_raw"


def event_subject(event: IntegrationEvent) -> str:
    return f"{event.domain}.{event.room_id}.{event.subject_type}"


def event_subject_pattern(event_cls: type[IntegrationEvent], subject_type: str = "") -> str:
    """The documented channel of an event type (AsyncAPI), with the room as a parameter;
    `subject_type` for one of its `other_subject_types`."""
    event_type = subject_type or event_cls.model_fields["type"].default
    return f"{event_cls.domain}.{{room_id}}.{event_type}"


def room_events(domain: str, room_id: str) -> str:
    """Everything one domain says about one room."""
    return f"{domain}.{room_id}.>"


def room_event(domain: str, room_id: str, event_type: str) -> str:
    return f"{domain}.{room_id}.{event_type}"


def room_chat(room_id: str) -> str:
    """A room's chat lines, its system lines (welcomes) and chat moderation (deletions)."""
    return f"live.{room_id}.chat.>"


def all_rooms_chat() -> str:
    return "live.*.chat.>"


def domain_events(domain: str) -> str:
    """Everything one domain says, every room."""
    return f"{domain}.>"


def dead_letters(service: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}"


def periodic_job(service: str, job: str) -> str:
    """What a periodic job's given-up item shows as its origin in dead letters (nothing is
    published on it: the item was a database row, not a message)."""
    return f"job.{service}.{job}"


def all_dead_letters() -> str:
    return f"{DEAD_LETTER_PREFIX}.>"


def raw_payload(platform: str) -> str:
    """Where ingest archives a platform's raw webhook bodies for replay."""
    return f"{RAW_INGEST_PREFIX}.{platform}"


def all_raw_payloads() -> str:
    return f"{RAW_INGEST_PREFIX}.>"


# Presence heartbeats are ephemeral (core NATS, outside every stream): each live
# instance says how many viewers of a room it holds; the room's count is the sum.
def presence_heartbeat(room_id: str, instance_id: str) -> str:
    return f"presence.{room_id}.{instance_id}"


def room_presence(room_id: str) -> str:
    return f"presence.{room_id}.*"
