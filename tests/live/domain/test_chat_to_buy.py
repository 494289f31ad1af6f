"""External chat lines that buy: which lines, which offer, which claim id."""

from __future__ import annotations

from services.live.domain.chat_to_buy import external_claim, may_be_claim
from shared.events import ChatMessagePosted


def line(
    text: str, source: str = "telegram", customer: str | None = "telegram:111"
) -> ChatMessagePosted:
    return ChatMessagePosted(
        room_id="r_1",
        customer_id=customer,
        message_id="telegram:-100123:42",
        display_name="Lily",
        text=text,
        source=source,
    )


def test_an_external_buy_line_claims_the_pinned_offer_once_per_line() -> None:
    claim = external_claim(line("+2 XL"), "live", "o_cherry")
    assert claim is not None
    assert (claim.claim_id, claim.offer_id, claim.quantity) == (
        "telegram:-100123:42",
        "o_cherry",
        2,
    )
    assert claim.variant == "XL" and claim.source == "telegram" and claim.source_text == "+2 XL"
    assert claim.customer_id == "telegram:111" and claim.id == "claim:telegram:-100123:42"
    assert external_claim(line("要2箱", source="whatsapp"), "scheduled", "o").source == "whatsapp"  # type: ignore[union-attr]
    assert external_claim(line("buy", source="line"), "live", "o").source == "chat"  # type: ignore[union-attr]


def test_what_does_not_claim() -> None:
    assert external_claim(line("+1", source="web"), "live", "o") is None  # the websocket claims
    assert external_claim(line("+1", source="system"), "live", "o") is None
    assert external_claim(line("+1", customer=None), "live", "o") is None
    assert external_claim(line("+1"), "live", None) is None  # nothing pinned
    assert external_claim(line("+1"), "ended", "o") is None
    assert external_claim(line("I bought 2 last week"), "live", "o") is None
    assert not may_be_claim(line("nice cherries"))
