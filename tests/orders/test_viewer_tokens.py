"""Checkout reads viewer tokens without PyJWT's slow path; it accepts only what PyJWT accepts."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from shared.auth import VIEWER_AUDIENCE, InvalidToken, _plain_viewer_claims, read_viewer_token

SECRET = "test-secret-key-of-at-least-32-bytes!"
NOW = int(time.time())
# Made when the module is collected: valid for a day, so however long the suite runs
# before these tests, "good" is still good.
GOOD = {"aud": VIEWER_AUDIENCE, "sub": "web:lily", "room": "r1", "iat": NOW, "exp": NOW + 86400}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: dict[str, Any], **kwargs: Any) -> str:
    return jwt.encode(claims, kwargs.pop("key", SECRET), algorithm=kwargs.pop("alg", "HS256"))


def tampered(token: str) -> str:
    header, _, signature = token.split(".")
    payload = b64(json.dumps({**GOOD, "sub": "web:mallory"}).encode())
    return f"{header}.{payload}.{signature}"


def unsigned() -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(GOOD).encode())}."


def padded(token: str) -> str:
    return ".".join(p + "=" * (-len(p) % 4) for p in token.split("."))


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def non_canonical(token: str) -> str:
    """The same signature bytes, spelled with a stray bit in the unused tail of the base64."""
    header, payload, signature = token.split(".")
    last = ALPHABET[ALPHABET.index(signature[-1]) ^ 1]
    return f"{header}.{payload}.{signature[:-1]}{last}"


TOKENS = {
    "good": signed(GOOD),
    "good with a referrer": signed({**GOOD, "ref": "web:aunt", "name": "Lily"}),
    "expired": signed({**GOOD, "exp": NOW - 1}),
    "issued in the future": signed({**GOOD, "iat": NOW + 86400}),
    "not before later": signed({**GOOD, "nbf": NOW + 86400}),
    "no expiry": signed({k: v for k, v in GOOD.items() if k != "exp"}),
    "float expiry": signed({**GOOD, "exp": NOW + 86400.5}),
    "host audience": signed({**GOOD, "aud": "qunlive-host"}),
    "audience list": signed({**GOOD, "aud": [VIEWER_AUDIENCE]}),
    "no audience": signed({k: v for k, v in GOOD.items() if k != "aud"}),
    "other secret": signed(GOOD, key="another-secret-of-at-least-32-bytes!!"),
    "HS512": signed(GOOD, alg="HS512", key=SECRET * 2),
    "alg none": unsigned(),
    "tampered payload": tampered(signed(GOOD)),
    "padded segments": padded(signed(GOOD)),
    "non-canonical base64": non_canonical(signed(GOOD)),
    "extra header": jwt.encode(GOOD, SECRET, algorithm="HS256", headers={"kid": "k1"}),
    "numeric subject": signed({**GOOD, "sub": 42}),
    "two segments": ".".join(signed(GOOD).split(".")[:2]),
    "garbage": "not a token at all",
    "non-ascii": signed(GOOD) + "é",
}


def pyjwt_reads(token: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, SECRET, algorithms=["HS256"], audience=VIEWER_AUDIENCE
        )
    except jwt.PyJWTError:
        return None
    return claims


@pytest.mark.parametrize("name", list(TOKENS))
def test_the_fast_path_accepts_only_what_pyjwt_accepts(name: str) -> None:
    token = TOKENS[name]
    fast = _plain_viewer_claims(token, SECRET)
    reference = pyjwt_reads(token)
    if fast is not None:
        assert fast == reference
    if reference is None:
        with pytest.raises(InvalidToken):
            read_viewer_token(token, SECRET)
    else:
        assert read_viewer_token(token, SECRET).customer_id == str(reference["sub"])


def test_plain_tokens_take_the_fast_path() -> None:
    assert _plain_viewer_claims(TOKENS["good"], SECRET) == GOOD
    holder = read_viewer_token(TOKENS["good with a referrer"], SECRET)
    assert (holder.customer_id, holder.referrer_id, holder.display_name) == (
        "web:lily",
        "web:aunt",
        "Lily",
    )


def test_an_expired_token_is_explained() -> None:
    with pytest.raises(InvalidToken, match="expired"):
        read_viewer_token(TOKENS["expired"], SECRET)
