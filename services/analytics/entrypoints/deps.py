"""FastAPI dependencies: the composition root and the host (admin token or host credential)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from services.analytics.bootstrap import AnalyticsApp
from shared.auth import ADMIN, InvalidToken, NotAllowed, host_of, read_export_key
from shared.problems import forbidden, invalid_token, unauthenticated

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_analytics(request: Request) -> AnalyticsApp:
    analytics: AnalyticsApp = request.app.state.service
    return analytics


AnalyticsDep = Annotated[AnalyticsApp, Depends(get_analytics)]

# A browser's Origin header: scheme, host (a name, an IPv4 or a bracketed IPv6), port.
ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


def get_live_url(analytics: AnalyticsDep, request: Request) -> str:
    """Where live's pages are, for a report's links: LIVE_PUBLIC_URL; unset, the Origin
    of a browser's request (the host console that asks is live's page); else "" (the
    links stay paths)."""
    if analytics.settings.live_public_url:
        return analytics.settings.live_public_url
    origin = request.headers.get("origin", "")
    return origin if ORIGIN.match(origin) else ""


LiveUrlDep = Annotated[str, Depends(get_live_url)]

# orders' port where live's pages find it when ORDERS_PUBLIC_URL is unset (its /config.json).
ORDERS_DEFAULT_PORT = 8003


def get_orders_url(analytics: AnalyticsDep, request: Request) -> str:
    """Where orders serves product photos, for a report's pictures: ORDERS_PUBLIC_URL;
    unset, where live's pages look for orders then (the console's host, orders' default
    port); else "" (the addresses stay paths)."""
    if analytics.settings.orders_public_url:
        return analytics.settings.orders_public_url
    origin = request.headers.get("origin", "")
    found = ORIGIN.match(origin)
    if not found:
        return ""
    scheme = origin.split("://", 1)[0]
    return f"{scheme}://{found.group(1)}:{ORDERS_DEFAULT_PORT}"


OrdersUrlDep = Annotated[str, Depends(get_orders_url)]


@dataclass(frozen=True)
class Host:
    id: str  # "admin" or "host:<id>"

    @property
    def is_admin(self) -> bool:
        return self.id == ADMIN

    def may_read(self, room_host_id: str | None) -> bool:
        return self.is_admin or self.id == room_host_id


def require_host(analytics: AnalyticsDep, credentials: Credentials) -> Host:
    """Admin token or a host credential: none, or one not valid, is 401; a viewer token 403."""
    if credentials is None:
        raise unauthenticated("host credentials")
    settings = analytics.settings
    try:
        return Host(host_of(credentials.credentials, settings.admin_token, settings.secret_key))
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None
    except NotAllowed:
        raise forbidden("only a host or an admin may read the customer database") from None


HostDep = Annotated[Host, Depends(require_host)]

export_link_key = APIKeyQuery(
    name="key",
    scheme_name="ExportLink",
    auto_error=False,
    description="The `key` of an export link on the report page (`report.html`): reads that "
    "show's exports as whoever opened the report, for an hour.",
)


def require_export_reader(
    room_id: str,
    analytics: AnalyticsDep,
    credentials: Credentials,
    key: Annotated[str | None, Security(export_link_key)] = None,
) -> Host:
    """The host credential, or an export link's `key` (the report page's links)."""
    if key is None:
        return require_host(analytics, credentials)
    try:
        return Host(read_export_key(key, room_id, analytics.settings.secret_key))
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None


ExportReaderDep = Annotated[Host, Depends(require_export_reader)]
