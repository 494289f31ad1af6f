"""FastAPI dependencies: the composition root and the host (admin token or host credential)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.analytics.bootstrap import AnalyticsApp
from shared.auth import ADMIN, InvalidToken, host_of

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_analytics(request: Request) -> AnalyticsApp:
    analytics: AnalyticsApp = request.app.state.service
    return analytics


AnalyticsDep = Annotated[AnalyticsApp, Depends(get_analytics)]


@dataclass(frozen=True)
class Host:
    id: str  # "admin" or "host:<id>"

    @property
    def is_admin(self) -> bool:
        return self.id == ADMIN

    def may_read(self, room_host_id: str | None) -> bool:
        return self.is_admin or self.id == room_host_id


def require_host(analytics: AnalyticsDep, credentials: Credentials) -> Host:
    """Admin token or a host credential; none is 401, a viewer token is 403."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "host credentials required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings = analytics.settings
    try:
        return Host(host_of(credentials.credentials, settings.admin_token, settings.secret_key))
    except InvalidToken:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only a host or an admin may read the customer database"
        ) from None


HostDep = Annotated[Host, Depends(require_host)]
