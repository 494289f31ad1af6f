"""HTTP for hosts: customer profiles, linking accounts, segments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Response, status
from pydantic import BaseModel, Field

from services.analytics.adapters.render import rows_csv
from services.analytics.domain.segments import SEGMENTS
from services.analytics.entrypoints.deps import AnalyticsDep, HostDep
from services.analytics.service_layer.customers import (
    CustomerProfile,
    LinkView,
    Member,
    SegmentSummary,
)
from shared.api import Instant, api_router

router = api_router()

AsOf = Annotated[
    Instant | None,
    Query(description="Judge recency and dormancy as of this time (default: now)."),
]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv to download")]
Segment = Literal[
    "core",
    "active",
    "ordinary",
    "seed",
    "dormant",
    "key",
    "spender",
    "promoter",
    "potential",
    "prospect",
]
assert set(Segment.__args__) == set(SEGMENTS)  # type: ignore[attr-defined]


class LinkIn(BaseModel):
    account_id: str = Field(max_length=140, examples=["web:3f2a9c"])
    other_account_id: str = Field(max_length=140, examples=["telegram:123456789"])
    note: str = Field(default="", max_length=300, description="Why: the host's evidence.")


def csv_response(body: str, filename: str) -> Response:
    return Response(
        body.encode("utf-8-sig"),  # a BOM so spreadsheet programs read Chinese names right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/customers/{account_id}", response_model=CustomerProfile, tags=["customers"])
async def get_customer(
    account_id: str, analytics: AnalyticsDep, host: HostDep, as_of: AsOf = None
) -> CustomerProfile:
    """A person's profile from any of their accounts: figures, tags, segments, links."""
    return await analytics.customers.profile(account_id, as_of)


@router.post(
    "/customers/links",
    response_model=LinkView,
    status_code=status.HTTP_201_CREATED,
    tags=["customers"],
)
async def link_accounts(body: LinkIn, analytics: AnalyticsDep, host: HostDep) -> LinkView:
    """Say two accounts are one person (recorded as evidence; undo: POST /customers/unlinks)."""
    return await analytics.customers.link(
        body.account_id, body.other_account_id, body.note, host.id
    )


@router.post("/customers/unlinks", response_model=LinkView, tags=["customers"])
async def unlink_accounts(body: LinkIn, analytics: AnalyticsDep, host: HostDep) -> LinkView:
    """Say two accounts are not one person: the merge is undone, whatever its evidence."""
    return await analytics.customers.unlink(
        body.account_id, body.other_account_id, body.note, host.id
    )


@router.get("/segments", response_model=SegmentSummary, tags=["segments"])
async def segment_summary(
    analytics: AnalyticsDep, host: HostDep, as_of: AsOf = None
) -> SegmentSummary:
    """How many persons are in each tier, value class and RFM score, with the cut-offs."""
    return await analytics.customers.summary(as_of)


@router.get(
    "/segments/{segment}",
    response_model=list[Member],
    tags=["segments"],
    responses={200: {"content": {"text/csv": {}}}},
)
async def segment_members(
    segment: Segment,
    analytics: AnalyticsDep,
    host: HostDep,
    format: Format = "json",
    as_of: AsOf = None,
    dormant_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> list[Member] | Response:
    """The persons of one segment (tier, seed, dormant or value class), biggest spenders first."""
    members = await analytics.customers.members(segment, as_of, dormant_days)
    if format == "csv":
        return csv_response(rows_csv(members, Member), f"segment-{segment}.csv")
    return members
