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
        # a subject, a modal verb, "give me": how people write it in Chinese groups
        ("我要两盒", ClaimIntent(2)),
        ("我要", ClaimIntent(1)),
        ("我也要一份", ClaimIntent(1)),
        ("我想要一份", ClaimIntent(1)),
        ("我想买3件 XL", ClaimIntent(3, "XL")),
        ("给我来两个", ClaimIntent(2)),
        ("来两盒", ClaimIntent(2)),
        ("帮我拍一个", ClaimIntent(1)),
        ("要三份！", ClaimIntent(3)),
        # politeness is not a variant
        ("+1 please", ClaimIntent(1)),
        ("+1 pls", ClaimIntent(1)),
        ("+2 XL please", ClaimIntent(2, "XL")),
        ("buy 2 please!", ClaimIntent(2)),
        ("+1 谢谢", ClaimIntent(1)),
        ("please +1", ClaimIntent(1)),
        # a 接龙 list copied with the sender's own line appended: the last line is theirs
        ("#接龙 樱桃\n1. Lily 2\n2. Wei +1\n3. Ana 3 XL", ClaimIntent(3, "XL", 3, "Ana")),
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
        "please",
        "我要看背面",
        "我想要看看细节",
        "给我看看",
        "+1\nwhere is my order?",
        "1. Lily 2\nso many people!",
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
