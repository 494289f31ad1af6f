"""FastAPI dependencies: the composition root's objects, typed for routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.live.bootstrap import LiveApp
from shared.auth import ADMIN, InvalidToken, NotAllowed, host_of
from shared.problems import forbidden, invalid_token, unauthenticated

bearer = HTTPBearer(auto_error=False)


def get_live(request: Request) -> LiveApp:
    live: LiveApp = request.app.state.service
    return live


LiveDep = Annotated[LiveApp, Depends(get_live)]


@dataclass(frozen=True)
class Principal:
    """Who calls the host API: the platform admin, or one host."""

    id: str  # "admin" or "host:<id>"

    @property
    def is_admin(self) -> bool:
        return self.id == ADMIN

    def may_run(self, host_id: str) -> bool:
        return self.is_admin or self.id == host_id


def require_admin_or_host(
    live: LiveDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Host or admin credentials: none, or one not valid, is 401; a viewer token is 403."""
    if credentials is None:
        raise unauthenticated("host credentials")
    settings = live.settings
    try:
        return Principal(
            host_of(credentials.credentials, settings.admin_token, settings.secret_key)
        )
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None
    except NotAllowed as exc:
        raise forbidden(str(exc)) from None


def require_admin(principal: Annotated[Principal, Depends(require_admin_or_host)]) -> Principal:
    if not principal.is_admin:
        raise forbidden("only an admin may do this")
    return principal


HostDep = Annotated[Principal, Depends(require_admin_or_host)]
AdminDep = Annotated[Principal, Depends(require_admin)]
