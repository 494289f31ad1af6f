import pytest

from services.live.domain.claims import ClaimIntent, parse_claim
from shared.variants import normalize_variant


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("+1", ClaimIntent(1)),
        (" +2 ", ClaimIntent(2)),
        ("+1 XL", ClaimIntent(1, "XL")),
        ("+1 x-large", ClaimIntent(1, "XL")),
        ("+1 两盒 XL", ClaimIntent(2, "XL")),
        ("+1 two boxes", ClaimIntent(2)),
        ("buy", ClaimIntent(1)),
        ("buy 2", ClaimIntent(2)),
        ("Buy 2 boxes!", ClaimIntent(2)),
        ("I'll take three", ClaimIntent(3)),
        ("buy 1 red", ClaimIntent(1, "red")),
        ("要2", ClaimIntent(2)),
        ("2 boxes", ClaimIntent(2)),
        ("两盒", ClaimIntent(2)),
        ("3 pcs xlarge", ClaimIntent(3, "XL")),
        ("买3件", ClaimIntent(3)),
        ("3. Lily 2 boxes", ClaimIntent(2, None, 3, "Lily")),
        ("12、Wang +1", ClaimIntent(1, None, 12, "Wang")),
        ("4) Ana Maria 1 XL", ClaimIntent(1, "XL", 4, "Ana Maria")),
        ("7. Tom", ClaimIntent(1, None, 7, "Tom")),
    ],
)
def test_buy_lines_are_claims(text: str, intent: ClaimIntent) -> None:
    assert parse_claim(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "hello everyone",
        "I bought 2 last week",
        "I want to see the back please",
        "+1000",
        "2",
        "2 days ago",
        "buy 500",
        "is the +1 still open?",
        "",
        "what a lovely colour, can you show it in daylight near the window please host",
    ],
)
def test_ordinary_chat_is_not_a_claim(text: str) -> None:
    assert parse_claim(text) is None


@pytest.mark.parametrize("spelling", ["XL", "xl", "x-large", "xlarge", "X Large", "extra large"])
def test_sizes_have_one_spelling(spelling: str) -> None:
    assert normalize_variant(spelling) == "XL"


def test_compound_variants_ignore_order_and_case() -> None:
    assert normalize_variant("Red / XL") == normalize_variant("xl-red") == "red XL"
    assert normalize_variant("  Navy  Blue ") == "navy blue"
