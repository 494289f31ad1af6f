"""Signed viewer tokens (JWT, HS256): who a websocket belongs to, and for which room."""

from __future__ import annotations

import time

import jwt

from services.live.domain.viewers import Role, Viewer
from shared.auth import ALGORITHM, HOST_AUDIENCE, INVALID, InvalidToken, read_host_token
from shared.auth import VIEWER_AUDIENCE as AUDIENCE

__all__ = ["HostTokens", "InvalidToken", "ViewerTokens"]


class ViewerTokens:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._secret = secret
        self._ttl_s = ttl_s

    def issue(self, viewer: Viewer, now: float | None = None) -> tuple[str, int]:
        issued = int(now if now is not None else time.time())
        expires = issued + self._ttl_s
        claims = {
            "aud": AUDIENCE,
            "sub": viewer.customer_id,
            "room": viewer.room_id,
            "name": viewer.display_name,
            "role": viewer.role.value,
            "ref": viewer.referrer_id,
            "ext": viewer.external_id,
            "iat": issued,
            "exp": expires,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def identity(self, token: str) -> str:
        """The customer id of a token we signed, even if it expired (a returning viewer)."""
        return self.returning(token)[0]

    def returning(self, token: str) -> tuple[str, str]:
        """Who a token we signed names, even if it expired: (customer id, display name)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(INVALID) from exc
        if not claims.get("sub"):
            raise InvalidToken(INVALID)
        return str(claims["sub"]), str(claims.get("name") or "")

    def verify(self, token: str, room_id: str) -> Viewer:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], audience=AUDIENCE)
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired: join the room again") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(INVALID) from exc
        if claims.get("room") != room_id:
            raise InvalidToken("this token is for another room")
        return Viewer(
            room_id=room_id,
            customer_id=claims["sub"],
            display_name=claims["name"],
            role=Role(claims.get("role", "member")),
            referrer_id=claims.get("ref"),
            external_id=claims.get("ext"),
        )


class HostTokens:
    """Host credentials: issued by the admin, long-lived, signed like viewer tokens."""

    def __init__(self, secret: str, ttl_s: int = 30 * 24 * 3600) -> None:
        self._secret = secret
        self._ttl_s = ttl_s

    def issue(self, host_id: str, name: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {
            "aud": HOST_AUDIENCE,
            "sub": host_id,
            "name": name,
            "iat": issued,
            "exp": issued + self._ttl_s,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> str:
        """The host id, or InvalidToken (a viewer token is not a host token)."""
        return read_host_token(token, self._secret)
