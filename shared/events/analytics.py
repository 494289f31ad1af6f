"""Events the analytics service puts out: a host's decisions about who is who.

Linking is otherwise derived from evidence in other services' events (a join that
declared another account, the same phone). A host's explicit link or unlink is a
fact of its own: it travels on the bus like every other, so that rebuilding the
customer database from the streams keeps it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.events.envelope import IntegrationEvent

# Identity decisions belong to no show; their room_id is this constant.
NO_ROOM = "platform"


class AnalyticsEvent(IntegrationEvent):
    domain = "analytics"


class CustomersLinked(AnalyticsEvent):
    """A host said two accounts are one person (customer_id: who decided)."""

    type: Literal["customers.linked"] = "customers.linked"
    account_id: str = Field(max_length=140, examples=["web:3f2a9c"])
    other_account_id: str = Field(max_length=140, examples=["telegram:123456789"])
    note: str = Field(default="", max_length=300, description="The host's evidence, in words.")


class CustomersUnlinked(AnalyticsEvent):
    """A host said two accounts are not one person: undoes a link, whatever its evidence."""

    type: Literal["customers.unlinked"] = "customers.unlinked"
    account_id: str = Field(max_length=140)
    other_account_id: str = Field(max_length=140)
    note: str = Field(default="", max_length=300)


class ReportReady(AnalyticsEvent):
    """The post-show report was built for the first time after the room ended: its
    highlights, for the thank-you that goes to the room's bound groups. Published once per
    room (id `report:<room_id>`); rebuilds later do not announce again."""

    type: Literal["report.ready"] = "report.ready"
    title: str | None = Field(default=None, max_length=200)
    attendees: int = Field(ge=0)
    buyers: int = Field(ge=0, description="Persons with an order paid.")
    units_sold: int = Field(ge=0, description="Units paid and not refunded in full.")
    orders_paid: int = Field(ge=0)
    top_offer_title: str | None = Field(
        default=None, max_length=200, description="The offer that sold the most units."
    )
    replay_url: str | None = None


ANALYTICS_EVENTS: tuple[type[IntegrationEvent], ...] = (
    CustomersLinked,
    CustomersUnlinked,
    ReportReady,
)
