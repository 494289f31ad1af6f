"""Is this request really from the platform? One check per source, constant-time compares.

- Telegram: the `X-Telegram-Bot-Api-Secret-Token` header equals the secret_token
  given to setWebhook.
- WhatsApp (Meta): `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw
  body keyed with the app secret.
- Generic webhook: `X-Qunlive-Signature: sha256=<hex>`, HMAC-SHA256 of
  `<X-Qunlive-Timestamp>.<raw body>` keyed with WEBHOOK_SECRET; the timestamp
  (Unix seconds) must be within the tolerance of now, so a captured request
  cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


class Unauthenticated(Exception):
    """The request does not prove it comes from the platform (answer 401)."""


def same_secret(given: str, expected: str) -> bool:
    # bytes: compare_digest refuses non-ASCII str, and headers can hold anything
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def check_telegram(header: str | None, secret_token: str) -> None:
    if not header or not same_secret(header, secret_token):
        raise Unauthenticated("missing or wrong X-Telegram-Bot-Api-Secret-Token")


def meta_signature(body: bytes, app_secret: str) -> str:
    return SIGNATURE_PREFIX + _hmac_hex(app_secret, body)


def check_meta(body: bytes, header: str | None, app_secret: str) -> None:
    if not header or not same_secret(header, meta_signature(body, app_secret)):
        raise Unauthenticated("missing or wrong X-Hub-Signature-256")


def sign_generic(body: bytes, timestamp: int | str, secret: str) -> str:
    """What a sender puts in X-Qunlive-Signature (timestamp in X-Qunlive-Timestamp)."""
    return SIGNATURE_PREFIX + _hmac_hex(secret, f"{timestamp}.".encode() + body)


def check_generic(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    now: float,
    tolerance_s: float,
) -> None:
    if not timestamp or not signature:
        raise Unauthenticated("missing X-Qunlive-Timestamp or X-Qunlive-Signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthenticated("X-Qunlive-Timestamp must be Unix seconds")
    if not same_secret(signature, sign_generic(body, timestamp, secret)):
        raise Unauthenticated("wrong X-Qunlive-Signature")
    if abs(now - int(timestamp)) > tolerance_s:
        raise Unauthenticated(
            f"X-Qunlive-Timestamp is more than {tolerance_s:.0f} s from now (replayed or skewed)"
        )
