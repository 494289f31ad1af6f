"""FastAPI dependencies of ingest: the composition root's objects, the admin check, the body."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.ingest.bootstrap import IngestApp
from shared.auth import ADMIN, InvalidToken, NotAllowed, host_of
from shared.problems import forbidden, invalid_token, unauthenticated

bearer = HTTPBearer(auto_error=False)


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a
# worker thread, a thread hop per request that cost ~8% of a webhook's CPU (profiled).
async def get_ingest(request: Request) -> IngestApp:
    ingest: IngestApp = request.app.state.service
    return ingest


IngestDep = Annotated[IngestApp, Depends(get_ingest)]


async def require_admin(
    ingest: IngestDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The platform admin's bearer token (ADMIN_TOKEN), as in live: none, or a credential
    that is not valid, is 401; a host credential or a viewer token is 403 (ingest does not
    know which host runs which room)."""
    if credentials is None:
        raise unauthenticated("admin credentials")
    settings = ingest.settings
    try:
        caller = host_of(credentials.credentials, settings.admin_token, settings.secret_key)
    except InvalidToken as exc:
        raise invalid_token(str(exc)) from None
    except NotAllowed:
        caller = "viewer"
    if caller != ADMIN:
        raise forbidden("only an admin may do this")
    return caller


AdminDep = Annotated[str, Depends(require_admin)]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body (signatures are over the exact bytes), refused past `limit` (413)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
