"""Reading untrusted JSON: every accessor checks the type and names the path when it is wrong.

Platforms add fields over time, so unknown fields are ignored; a missing or
mistyped field that we need is an `UnknownShape` with the path, never a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.model import UnknownShape

# Unix seconds that make sense for a chat message (1970 .. 2200): anything else is garbage.
_MAX_UNIX = 7_258_118_400


def obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnknownShape(f"{path}: expected an object")
    return value


def items(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise UnknownShape(f"{path}: expected a list")
    return value


def integer(parent: dict[str, Any], key: str, path: str) -> int:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnknownShape(f"{path}.{key}: expected an integer")
    return value


def text(parent: dict[str, Any], key: str, path: str, max_len: int = 4096) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise UnknownShape(f"{path}.{key}: expected a non-empty string")
    return value


def optional_text(parent: dict[str, Any], key: str) -> str | None:
    value = parent.get(key)
    return value if isinstance(value, str) and value else None


def unix_time(value: Any, path: str) -> datetime:
    """Unix seconds as an int or a digit string (WhatsApp sends strings)."""
    if isinstance(value, str) and value.isdecimal() and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _MAX_UNIX:
        raise UnknownShape(f"{path}: expected a Unix time")
    return datetime.fromtimestamp(value, UTC)


def clip(value: str, max_len: int) -> str:
    return value if len(value) <= max_len else value[: max_len - 1] + "…"
