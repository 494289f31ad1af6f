"""Interest tags: the words of what people bought, and those of them they talk about.

Kept simple on purpose (no word segmentation, no model):
- an offer's tags are the words of its title: Latin words of 3+ letters, lowercased,
  not in a short stop list; each run of 2+ Han characters as one word
  ("Cherries 樱桃 5kg" -> cherries, 樱桃);
- a customer's interest in a tag = 3 points per paid order of an offer with that tag
  + 1 point per chat line that contains the tag (case-insensitive substring, so a
  Chinese line "樱桃好甜" counts for 樱桃 without segmenting it);
- the vocabulary of chat matching is every offer tag seen, so talk about a product
  counts once the platform sells it somewhere;
- a person's tags are the top 5 by points, ties by name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

BOUGHT_POINTS = 3
SAID_POINTS = 1
TOP_TAGS = 5

_LATIN = re.compile(r"[a-z]{3,}")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "new",
        "hot",
        "sale",
        "box",
        "boxes",
        "pack",
        "set",
        "pcs",
        "off",
        "only",
        "today",
        "flash",
        "group",
        "buy",
        "presale",
        "pre",
        "limited",
        "special",
        "offer",
        "night",
        "show",
        "live",
        "deal",
    ]
)


def title_tags(title: str) -> list[str]:
    """The tags of an offer title, in order of appearance, without repeats."""
    text = title.lower()
    found = [w for w in _LATIN.findall(text) if w not in STOP_WORDS]
    found += _HAN.findall(title)
    return list(dict.fromkeys(found))


def said_tags(text: str, vocabulary: Iterable[str]) -> set[str]:
    lowered = text.lower()
    return {tag for tag in vocabulary if tag in lowered}


def interests(
    bought: Iterable[str], lines: Iterable[str], vocabulary: Iterable[str]
) -> list[tuple[str, int]]:
    """Top tags with their points: `bought` holds one title per paid order."""
    points: Counter[str] = Counter()
    for title in bought:
        for tag in title_tags(title):
            points[tag] += BOUGHT_POINTS
    vocab = set(vocabulary)
    for line in lines:
        for tag in said_tags(line, vocab):
            points[tag] += SAID_POINTS
    ranked = sorted(points.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:TOP_TAGS]
