"""Viewer tokens are a contract: live signs them, orders reads them to know the buyer.

Both services hold the same SECRET_KEY; this module is the one place that knows
the token's audience, algorithm and claim names.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

ALGORITHM = "HS256"
VIEWER_AUDIENCE = "qunlive-viewer"


class InvalidToken(Exception):
    """A token we refuse. Its message is said to the caller as it is: plain words, never
    the decoder's (which check failed, how the token is malformed); `__cause__` keeps those."""


INVALID = "invalid token: join the room again"


@dataclass(frozen=True)
class TokenHolder:
    customer_id: str
    room_id: str
    display_name: str
    referrer_id: str | None


def read_viewer_token(token: str, secret: str) -> TokenHolder:
    """The viewer a viewer token names; InvalidToken when it is not one. A pickup desk's
    token is DeskCredential (NotAllowed: a real caller without a viewer's rights, 403)."""
    claims = _plain_viewer_claims(token, secret)
    if claims is None:  # anything unusual, and every refusal, is PyJWT's to decide and explain
        try:
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=VIEWER_AUDIENCE)
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired: join the room again") from exc
        except jwt.InvalidAudienceError as exc:
            if _is_desk_token(token, secret):
                raise DeskCredential(DESK_REFUSED) from exc
            raise InvalidToken(INVALID) from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(INVALID) from exc
    return TokenHolder(
        customer_id=str(claims["sub"]),
        room_id=str(claims.get("room", "")),
        display_name=str(claims.get("name", "")),
        referrer_id=claims.get("ref"),
    )


_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")
_HEADERS = ({"alg": ALGORITHM, "typ": "JWT"}, {"alg": ALGORITHM})


def _plain_viewer_claims(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of a plain viewer token (HS256, our header, valid signature, our audience,
    integer times, not expired), or None: then PyJWT decides.

    Every checkout reads a token, and PyJWT spends ~100 us on one, most of it checking the
    base64 alphabet character by character in Python (the checkout profile). This accepts
    only what PyJWT accepts too (tests/orders/test_viewer_tokens.py compares the two).
    """
    parts = token.encode("ascii", "replace").split(b".")
    if len(parts) != 3:
        return None
    try:
        header, payload, signature = (_segment(part) for part in parts)
        if json.loads(header) not in _HEADERS:
            return None
        expected = hmac.new(_hmac_key(secret), parts[0] + b"." + parts[1], "sha256").digest()
        if not hmac.compare_digest(expected, signature):
            return None
        claims = json.loads(payload)
    except ValueError:  # bad base64 or JSON (binascii.Error and JSONDecodeError are ValueErrors)
        return None
    if not isinstance(claims, dict) or claims.get("aud") != VIEWER_AUDIENCE:
        return None
    now = time.time()
    exp, iat, nbf = claims.get("exp"), claims.get("iat", 0), claims.get("nbf", 0)
    if type(exp) is not int or type(iat) is not int or type(nbf) is not int:
        return None
    if not (exp > now and iat <= now and nbf <= now) or not isinstance(claims.get("sub"), str):
        return None
    if "jti" in claims or "iss" in claims:
        return None
    return claims


def _segment(part: bytes) -> bytes:
    """Strict base64url without padding, as PyJWT reads it (canonical encoding only)."""
    if not _SEGMENT.fullmatch(part) or len(part) % 4 == 1:
        raise binascii.Error("not base64url")
    decoded = base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != part:
        raise binascii.Error("not canonical base64url")
    return decoded


@lru_cache(maxsize=4)
def _hmac_key(secret: str) -> bytes:
    # PyJWT's own key preparation (refuses PEM/SSH/DER keys as HMAC secrets), once per secret.
    key: bytes = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
    return key


HOST_AUDIENCE = "qunlive-host"


ADMIN = "admin"


class NotAllowed(Exception):
    """A valid credential that does not carry this right (a viewer token on a host API)."""


def host_of(credential: str, admin_token: str, secret: str) -> str:
    """Who calls a host API: ADMIN for the platform's admin token, else the host id of a
    host credential. NotAllowed for a valid viewer token (a real caller, not a host: 403),
    InvalidToken for anything else (garbage, expired, signed by another key: 401)."""
    if hmac.compare_digest(credential.encode("utf-8", "replace"), admin_token.encode()):
        return ADMIN
    try:
        return read_host_token(credential, secret)
    except InvalidToken:
        try:
            read_viewer_token(credential, secret)
        except NotAllowed as exc:  # a pickup desk's token: a real caller, not a host
            raise NotAllowed(str(exc)) from None
        except InvalidToken:
            raise InvalidToken("not a valid credential") from None
        raise NotAllowed("a viewer token: host credentials required") from None


def read_host_token(token: str, secret: str) -> str:
    """The host id of a host credential (live issues them), or InvalidToken."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=HOST_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("host credential expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("not a host credential") from exc
    return str(claims["sub"])


PAY_AUDIENCE = "qunlive-pay"


class ExpiredPayLink(InvalidToken):
    """A pay link past its order's deadline: the page says "expired", not "invalid"."""


@dataclass(frozen=True)
class PayLink:
    """What a pay link lets its holder do: see and pay one order, nothing else."""

    order_id: str
    customer_id: str
    room_id: str


def issue_pay_token(
    order_id: str, customer_id: str, room_id: str, expires_at: float, secret: str
) -> str:
    """The token of a group buyer's "Pay" button (ingest posts it in the group's reply).

    Anyone in the group sees the link, so it carries one order and one right: paying it
    (paying for someone else is a gift, not a harm). Cancelling, other orders, the buyer's
    name stay behind the buyer's own viewer token. It expires with the order (pay_by)."""
    claims = {
        "aud": PAY_AUDIENCE,
        "sub": customer_id,
        "order": order_id,
        "room": room_id,
        "exp": int(expires_at) + 60,  # a payment started at the last second may finish
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_pay_token(token: str, secret: str) -> PayLink:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=PAY_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredPayLink("pay link expired: the order was not paid in time") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("not a valid pay link") from exc
    return PayLink(str(claims["order"]), str(claims["sub"]), str(claims.get("room", "")))


DESK_AUDIENCE = "qunlive-desk"
DESK_REFUSED = "a pickup desk token opens the pickup desk only"


class DeskCredential(NotAllowed, InvalidToken):
    """A valid pickup desk token where a viewer token is read: NotAllowed (403) for callers
    that tell the two apart, and still an InvalidToken (401, never a 500) for any that
    catch only that."""


@dataclass(frozen=True)
class DeskPass:
    """What a pickup desk token lets its holder do: look up and hand over the orders of
    one pickup point, nothing else. `token_id` keys its wrong-code limit."""

    pickup_point: str
    owner: str
    token_id: str


def issue_desk_token(pickup_point: str, owner: str, expires_at: float, secret: str) -> str:
    """The token of a pickup point's desk link (the host issues it for whoever staffs it)."""
    claims = {
        "aud": DESK_AUDIENCE,
        "sub": pickup_point,
        "owner": owner,
        "iat": int(time.time()),
        "exp": int(expires_at),
        "jti": secrets.token_hex(12),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_desk_token(token: str, secret: str) -> DeskPass:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=DESK_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("desk link expired: ask the host for a new one") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("not a pickup desk token") from exc
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
        raise InvalidToken("not a pickup desk token")
    return DeskPass(claims["sub"], str(claims.get("owner", "")), claims["jti"])


def desk_of(credential: str, admin_token: str, secret: str) -> DeskPass:
    """Who calls a desk API: the desk pass of a desk token. NotAllowed for the admin token,
    a host or a viewer token (real callers, not a desk: 403), InvalidToken for anything
    else (garbage, expired, signed by another key: 401)."""
    try:
        return read_desk_token(credential, secret)
    except InvalidToken as refused:
        try:
            host_of(credential, admin_token, secret)
        except NotAllowed:  # a viewer token
            pass
        except InvalidToken:
            raise refused from None
        raise NotAllowed("a pickup desk token required (the host's desk link)") from None


def _is_desk_token(token: str, secret: str) -> bool:
    try:
        read_desk_token(token, secret)
    except InvalidToken:
        return False
    return True


EXPORT_AUDIENCE = "qunlive-export"


def issue_export_key(room_id: str, reader: str, expires_at: float, secret: str) -> str:
    """The `key` of the report page's export links: a page opened from the console carries
    no credential, so its links carry one, for that room's exports only, for a short while.
    `reader` is who opened the report ("admin" or a host id): the link reads as they do."""
    claims = {"aud": EXPORT_AUDIENCE, "sub": reader, "room": room_id, "exp": int(expires_at)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_export_key(token: str, room_id: str, secret: str) -> str:
    """Who an export link reads as, if it is ours, unexpired and for `room_id`."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=EXPORT_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("export link expired: open the report again") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("not a valid export link") from exc
    if claims.get("room") != room_id:
        raise InvalidToken("this export link is for another show")
    return str(claims["sub"])
