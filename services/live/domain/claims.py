"""Reading a buy intent out of a chat line: "+1", "buy 2 XL", a 接龙 chain "3. Lily 2 boxes".

Group chats buy by writing; the parser is deliberately strict so that ordinary
chat ("I want to see the back" or "I bought 2 last week" is not a claim)
does not place orders nobody meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.variants import normalize_variant

MAX_QUANTITY = 99

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
}
_QTY = r"(?P<qty>\d{1,3}|one|two|three|four|five|six|[一二两三四五])"
_UNITS = r"\s*(?:x|pcs?|pieces?|boxes|box|bags?|units?|份|个|件|箱|盒|斤)"
_UNIT = r"(?:" + _UNITS + r")?"
_VARIANT = r"(?:\s+(?P<variant>[\w\-/]{1,12}(?: [\w\-/]{1,12})?))?"  # at most two words
_END = r"\s*[!.。！]*$"

# "+1", "+2 XL", "+1 red", and "+1 两盒" / "+1 two boxes" where the count follows
_PLUS = re.compile(
    r"^\s*\+\s*(?P<plus>\d{1,2})" + _UNIT + r"(?:\s*" + _QTY + _UNITS + r")?" + _VARIANT + _END,
    re.IGNORECASE,
)
# "buy", "buy 2", "buy 2 XL", "I'll take 3", "want two boxes", "要2", "买3件"
_VERB = re.compile(
    r"^\s*(?:i'?ll\s+|i\s+)?(?:buy|take|want|要|买|拍)\s*(?:"
    + _QTY
    + _UNIT
    + r")?"
    + _VARIANT
    + _END,
    re.IGNORECASE,
)
# a bare count with its unit: "2 boxes", "两盒", "3 pcs XL"
_COUNT = re.compile(r"^\s*" + _QTY + _UNITS + _VARIANT + _END, re.IGNORECASE)
# 接龙 chain line: "3. Lily 2 boxes", "12、Wang +1", "4) Ana 1 XL"
_CHAIN = re.compile(
    r"^\s*(?P<pos>\d{1,4})\s*[.、)．]\s*(?P<name>[^\d+]{1,30}?)\s*\+?\s*(?:"
    + _QTY
    + _UNIT
    + r")?"
    + _VARIANT
    + _END,
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClaimIntent:
    quantity: int
    variant: str | None = None
    chain_position: int | None = None
    chain_name: str | None = None


def _quantity(raw: str | None) -> int | None:
    if raw is None:
        return 1
    value = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw.lower())
    if value is None or not 1 <= value <= MAX_QUANTITY:
        return None
    return value


def _variant(raw: str | None) -> str | None:
    return normalize_variant(raw) if raw and raw.strip() else None


def parse_claim(text: str) -> ClaimIntent | None:
    """The claim a chat line makes, or None when it is just chat."""
    line = " ".join(text.split())
    if not line or len(line) > 80:
        return None
    if match := _CHAIN.match(line):
        qty = _quantity(match["qty"])
        if qty is None:
            return None
        return ClaimIntent(
            qty, _variant(match["variant"]), int(match["pos"]), match["name"].strip()
        )
    for pattern in (_PLUS, _VERB, _COUNT):
        if match := pattern.match(line):
            counted = match.groupdict().get("plus")
            qty = _quantity(match["qty"] or counted)
            return None if qty is None else ClaimIntent(qty, _variant(match["variant"]))
    return None
