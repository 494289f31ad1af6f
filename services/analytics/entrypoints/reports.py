"""HTTP for hosts: a room's post-stream report (JSON, CSV, HTML) and its audience lists."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from services.analytics.adapters.render import report_csv, report_html, rows_csv
from services.analytics.domain.exports import BuyerRow, EngagedRow
from services.analytics.domain.report import RoomReport, with_live_url, with_orders_url
from services.analytics.entrypoints.deps import (
    AnalyticsDep,
    ExportReaderDep,
    Host,
    HostDep,
    LiveUrlDep,
    OrdersUrlDep,
)
from services.analytics.entrypoints.http import AsOf, Format, csv_response
from services.analytics.service_layer.customers import Member
from services.analytics.service_layer.reports import RoomNotFound, buyers_export, engaged_export
from shared.api import RoomIdPath, api_router
from shared.auth import issue_export_key

router = api_router(prefix="/rooms/{room_id}", tags=["reports"])

# The report page's export links carry a key (the page has no credential to send): an
# hour, long enough to read the report and click, short for a link that leaks.
EXPORT_LINK_TTL_S = 3600

Audience = Literal["lapsed_category", "unpaid_claims", "waitlisted"]


async def _readable(analytics: AnalyticsDep, host: Host, room_id: str) -> None:
    room = await analytics.store.room(room_id)
    if room is None:
        raise RoomNotFound(room_id)
    if not host.may_read(room.host_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is another host's room")


async def _report(
    analytics: AnalyticsDep, room_id: str, live_url: str, orders_url: str
) -> RoomReport:
    report = await analytics.reports.get(room_id)
    # Amounts are in the platform's currency, whatever it was when the report was cached.
    report = report.model_copy(update={"currency": analytics.settings.currency})
    return with_orders_url(with_live_url(report, live_url), orders_url)


@router.get("/report", response_model=RoomReport)
async def get_report(
    room_id: RoomIdPath,
    analytics: AnalyticsDep,
    host: HostDep,
    live_url: LiveUrlDep,
    orders_url: OrdersUrlDep,
) -> RoomReport:
    """The post-stream report (built when the room ended; rebuilt if events came since)."""
    await _readable(analytics, host, room_id)
    return await _report(analytics, room_id, live_url, orders_url)


@router.get("/report.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def get_report_csv(
    room_id: RoomIdPath,
    analytics: AnalyticsDep,
    host: HostDep,
    live_url: LiveUrlDep,
    orders_url: OrdersUrlDep,
) -> Response:
    """The report as CSV blocks: summary, funnel, offers, top lists, minutes..."""
    await _readable(analytics, host, room_id)
    report = await _report(analytics, room_id, live_url, orders_url)
    return csv_response(report_csv(report), f"report-{room_id}.csv")


@router.get("/report.html", response_class=HTMLResponse)
async def get_report_html(
    room_id: RoomIdPath,
    request: Request,
    analytics: AnalyticsDep,
    host: HostDep,
    live_url: LiveUrlDep,
    orders_url: OrdersUrlDep,
) -> HTMLResponse:
    """The report as a page with minute-by-minute charts (server-rendered SVG), each offer's
    product photo, a link to the show's replay and links to the show's exports."""
    await _readable(analytics, host, room_id)
    report = await _report(analytics, room_id, live_url, orders_url)
    expires = time.time() + EXPORT_LINK_TTL_S
    key = issue_export_key(room_id, host.id, expires, analytics.settings.secret_key)
    return HTMLResponse(report_html(report, base_url=str(request.base_url), export_key=key))


@router.get(
    "/exports/buyers.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per BuyerRow."}},
)
async def get_buyers_csv(
    room_id: RoomIdPath, analytics: AnalyticsDep, host: ExportReaderDep
) -> Response:
    """Every buyer of the show (beyond the report's top 10): who, their platforms, orders,
    units, paid, refunded, referrer, fan tier; amounts in cents with a currency column.
    UTF-8 with a BOM (spreadsheets read Chinese names right); no cell runs as a formula."""
    await _readable(analytics, host, room_id)
    rows = await buyers_export(analytics.reports, room_id)
    return csv_response(rows_csv(rows, BuyerRow), f"{room_id}-buyers.csv")


@router.get(
    "/exports/engaged.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per EngagedRow."}},
)
async def get_engaged_csv(
    room_id: RoomIdPath, analytics: AnalyticsDep, host: ExportReaderDep
) -> Response:
    """Engaged non-buyers of the show, for the next preview: who chatted, liked, voted or
    claimed and paid for nothing, with their counts (claims, unpaid orders, lines, likes...).
    UTF-8 with a BOM; no cell runs as a formula."""
    await _readable(analytics, host, room_id)
    rows = await engaged_export(analytics.reports, room_id)
    return csv_response(rows_csv(rows, EngagedRow), f"{room_id}-engaged.csv")


@router.get(
    "/audiences/{audience}",
    response_model=list[Member],
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_audience(
    room_id: RoomIdPath,
    audience: Audience,
    analytics: AnalyticsDep,
    host: HostDep,
    format: Format = "json",
    tag: Annotated[
        str | None, Query(max_length=60, description="lapsed_category: only this category")
    ] = None,
    as_of: AsOf = None,
) -> list[Member] | Response:
    """Who to reach before the next show: lapsed_category (bought this category before, not
    this time), unpaid_claims (claimed, did not pay), waitlisted (never served)."""
    await _readable(analytics, host, room_id)
    members = await analytics.customers.audience(room_id, audience, tag, as_of)
    if format == "csv":
        return csv_response(rows_csv(members, Member), f"{room_id}-{audience}.csv")
    return members
