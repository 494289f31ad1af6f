"""Reading untrusted JSON: every accessor checks the type and names the path when it is wrong.

Platforms add fields over time, so unknown fields are ignored; a missing or
mistyped field that we need is an `UnknownShape` with the path, never a crash.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.model import UnknownShape

# A surrogate itself (the body's bytes are decoded as json.loads does, letting encoded
# surrogates through), or a \uD800-\uDFFF escape: only a body with one of these can
# hold a lone surrogate once parsed.
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAYBE_SURROGATE = re.compile("[\ud800-\udfff]|\\\\u[dD][89a-fA-F]")

# Unix seconds that make sense for a chat message (1970 .. 2200): anything else is garbage.
_MAX_UNIX = 7_258_118_400


def json_document(raw: bytes) -> Any:
    """Parse a JSON body (UTF-8, -16 or -32), strictly and with its text repaired.

    NaN and Infinity are not JSON (RFC 8259): ValueError. A lone UTF-16 surrogate
    (JavaScript cut an emoji in half) cannot be stored or sent on: it becomes U+FFFD,
    and two halves of a pair written separately become the one character they name.
    Deep nesting raises RecursionError.
    """
    text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    document = json.loads(text, parse_constant=_not_json)
    if _MAYBE_SURROGATE.search(text):
        document = _repaired(document)
    return document


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def repair_text(value: str) -> str:
    """Lone surrogates to U+FFFD, split pairs joined; any other text as it is."""
    if not _SURROGATE.search(value):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _repaired(node: Any) -> Any:
    if isinstance(node, str):
        return repair_text(node)
    if isinstance(node, list):
        return [_repaired(value) for value in node]
    if isinstance(node, dict):
        return {repair_text(key): _repaired(value) for key, value in node.items()}
    return node


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


def size_text(size: int) -> str:
    """A file's size for people: `300 KB`, `1.5 MB`."""
    if size < 1024**2:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024**2:.1f} MB"
