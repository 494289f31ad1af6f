"""One spelling per variant: "XL", "x-large" and "xlarge" are the same size.

Live reads variants from chat lines and orders matches them against products;
both must agree, so the rule lives in the shared contracts.
"""

from __future__ import annotations

import re

_SIZES = {
    "xxs": "XXS",
    "2xs": "XXS",
    "xs": "XS",
    "extrasmall": "XS",
    "xsmall": "XS",
    "s": "S",
    "small": "S",
    "sm": "S",
    "m": "M",
    "medium": "M",
    "med": "M",
    "l": "L",
    "large": "L",
    "lg": "L",
    "xl": "XL",
    "extralarge": "XL",
    "xlarge": "XL",
    "xxl": "XXL",
    "2xl": "XXL",
    "xxlarge": "XXL",
    "2xlarge": "XXL",
    "extraextralarge": "XXL",
    "xxxl": "XXXL",
    "3xl": "XXXL",
    "xxxlarge": "XXXL",
    "3xlarge": "XXXL",
}
_SEPARATORS = re.compile(r"[\s\-_./]+")


def normalize_variant(raw: str) -> str:
    """Canonical variant key: sizes upper-case ("XL"), anything else lower-case words.

    Compound variants ("Red / XL", "xl-red") keep their parts, each normalised,
    sorted so that the order people write them in does not matter.
    """
    compact = _SEPARATORS.sub("", raw.casefold())
    if compact in _SIZES:
        return _SIZES[compact]
    parts = [p for p in _SEPARATORS.split(raw.casefold().strip()) if p]
    if len(parts) > 1 and any(p in _SIZES for p in parts):
        sizes = [_SIZES[p] for p in parts if p in _SIZES]
        others = [p for p in parts if p not in _SIZES]
        return " ".join(sorted(others) + sizes)
    return " ".join(parts)
