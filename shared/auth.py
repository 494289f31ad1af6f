"""Viewer tokens are a contract: live signs them, orders reads them to know the buyer.

Both services hold the same SECRET_KEY; this module is the one place that knows
the token's audience, algorithm and claim names.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
VIEWER_AUDIENCE = "qunlive-viewer"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class TokenHolder:
    customer_id: str
    room_id: str
    display_name: str
    referrer_id: str | None


def read_viewer_token(token: str, secret: str) -> TokenHolder:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=VIEWER_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired: join the room again") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc
    return TokenHolder(
        customer_id=str(claims["sub"]),
        room_id=str(claims.get("room", "")),
        display_name=str(claims.get("name", "")),
        referrer_id=claims.get("ref"),
    )


HOST_AUDIENCE = "qunlive-host"


def read_host_token(token: str, secret: str) -> str:
    """The host id of a host credential (live issues them), or InvalidToken."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=HOST_AUDIENCE)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"not a host credential: {exc}") from exc
    return str(claims["sub"])
