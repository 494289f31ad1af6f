from __future__ import annotations

from pydantic import Field

from services.analytics.domain.report import ANNOUNCE_WITHIN_HOURS
from services.analytics.domain.segments import DORMANT_DAYS
from shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics"
    port: int = 8004
    # Events fetched and applied per transaction on each stream (the hot path). Larger
    # batches write each hot B-tree page once for more rows (store alone, 1M events into
    # SQLite: 11.5k events/s at 5,000, 14.3k at 20,000); a live show's trickle is applied
    # as it comes, whatever this is.
    batch_size: int = Field(default=20_000, ge=1, le=100_000)
    # Dormant members: joined, silent and never bought for this many days.
    dormant_days: int = Field(default=DORMANT_DAYS, ge=1, le=3650)
    # Browser origins that may call this API (the host console, served by live),
    # comma-separated. "*" is sound here: credentials are bearer headers, never cookies.
    cors_origins: str = "*"
    # live's public URL, for the report's link to the show's replay page: the host console
    # opens the report as a blob: document, where only an absolute URL works. Empty: the
    # Origin of the report's request (the console is live's page), else a path.
    live_public_url: str = ""
    # orders' public URL, for the report's product photos (GET {orders}/photos/{name}), for
    # the same reason. Empty: what live's pages use then (the Origin's host, orders' default
    # port), else a path.
    orders_public_url: str = ""
    # A room's report is announced on the bus (report.ready: the thank-you in its groups)
    # only if the room ended within this many hours: after downtime, or a rebuild from the
    # streams, shows long over are not announced days late.
    report_ready_within_hours: float = Field(default=ANNOUNCE_WITHIN_HOURS, gt=0, le=24 * 30)
