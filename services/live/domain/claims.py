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
# "buy", "buy 2", "buy 2 XL", "I'll take 3", "want two boxes", "要2", "买3件", and with a
# subject or a modal verb: "我要两盒", "我也要", "我想要一份", "帮我拍一个"
_VERB = re.compile(
    r"^\s*(?:(?:i'?ll\s+|i\s+)?(?:buy|take|want)|(?:我也?|给我|帮我)?\s*想?\s*(?:要|买|拍))"
    r"\s*(?:" + _QTY + _UNIT + r")?" + _VARIANT + _END,
    re.IGNORECASE,
)
# "来两盒", "给我来两个": 来 ("bring me") buys only with a count ("来了" is not a claim)
_BRING = re.compile(
    r"^\s*(?:我也?|给我|帮我)?\s*来\s*" + _QTY + _UNITS + _VARIANT + _END, re.IGNORECASE
)
# Politeness around a buy line is not part of it ("+1 please" is not the variant "please").
_POLITE_HEAD = re.compile(r"^\s*(?:please|pls|plz)\s*[,，]?\s*", re.IGNORECASE)
_POLITE_TAIL = re.compile(
    r"[\s,，]*(?:please|pls|plz|thanks|thank you|thx|谢谢啦|谢谢|谢了|麻烦了|麻烦|拜托了|拜托)"
    r"\s*[!.。！~]*\s*$",
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
    """The claim a chat line makes, or None when it is just chat.

    A message of several lines claims only as a 接龙 list: people copy the list and add
    their own entry at the end, so the last line is the sender's (the others were claimed
    when their authors posted them)."""
    lines = [" ".join(part.split()) for part in text.splitlines()]
    lines = [part for part in lines if part]
    if not lines:
        return None
    if len(lines) > 1:
        return _chain(lines[-1])
    line = _POLITE_TAIL.sub("", _POLITE_HEAD.sub("", lines[0]))
    if not line or len(line) > 80:
        return None
    if (chained := _chain(line)) is not None:
        return chained
    for pattern in (_PLUS, _VERB, _BRING, _COUNT):
        if match := pattern.match(line):
            counted = match.groupdict().get("plus")
            qty = _quantity(match["qty"] or counted)
            return None if qty is None else ClaimIntent(qty, _variant(match["variant"]))
    return None


def _chain(line: str) -> ClaimIntent | None:
    if len(line) > 80:
        return None
    if match := _CHAIN.match(_POLITE_TAIL.sub("", line)):
        qty = _quantity(match["qty"])
        if qty is None:
            return None
        return ClaimIntent(
            qty, _variant(match["variant"]), int(match["pos"]), match["name"].strip()
        )
    return None
