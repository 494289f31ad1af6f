"""External chat lines that buy: which lines, which offer, which claim id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.live.domain.chat_to_buy import (
    LineVersions,
    claimed_quantity,
    edited_claim,
    external_claim,
    may_be_claim,
)
from shared.events import AmendClaim, ChatMessageEdited, ChatMessagePosted, PlaceClaim


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


# ---- edits (docs/decisions/0035-edited-claims.md) ----------------------------------------

SENT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FRESH = timedelta(minutes=10)


def versions(*texts: str, source: str = "telegram", who: str = "telegram:7") -> LineVersions:
    return LineVersions(source=source, customer_id=who, posted_at=SENT, texts=texts)


def edited(
    text: str, after: timedelta = timedelta(seconds=20), who: str = "telegram:7"
) -> ChatMessageEdited:
    return ChatMessageEdited(
        id=f"chat:telegram:-100:5:edit:{text}",
        room_id="r_1",
        customer_id=who,
        occurred_at=SENT + after,
        message_id="telegram:-100:5",
        text=text,
        source="telegram",
    )


def test_an_edit_to_another_quantity_amends_the_lines_claim() -> None:
    command = edited_claim(edited("+2"), versions("+1"), "live", "off_1", FRESH)
    assert isinstance(command, AmendClaim)
    assert (command.claim_id, command.quantity) == ("telegram:-100:5", 2)
    assert command.id == "amend:chat:telegram:-100:5:edit:+2"  # each edit its own command
    assert command.customer_id == "telegram:7" and command.source_text == "+2"
    # Long after the line was sent it still amends (the order is the line's, not a new buy),
    # even with another offer pinned or none.
    late = edited("要3件", after=timedelta(hours=2))
    assert isinstance(edited_claim(late, versions("+1"), "live", None, FRESH), AmendClaim)


def test_edits_that_change_nothing() -> None:
    assert edited_claim(edited("+1 please"), versions("+1"), "live", "off_1", FRESH) is None
    # No longer a buy: not a cancel (the buyer cancels from the pay page).
    assert edited_claim(edited("oops"), versions("+1"), "live", "off_1", FRESH) is None
    # Someone else's line, or live's own lines, are never changed.
    assert edited_claim(edited("+2", who="telegram:8"), versions("+1"), "live", "o", FRESH) is None
    assert edited_claim(edited("+2"), versions("+1", source="web"), "live", "o", FRESH) is None


def test_a_line_that_becomes_a_buy_claims_only_while_fresh() -> None:
    command = edited_claim(edited("+1"), versions("nice!"), "live", "off_1", FRESH)
    assert isinstance(command, PlaceClaim)
    assert (command.claim_id, command.offer_id, command.quantity) == ("telegram:-100:5", "off_1", 1)
    stale = edited("+1", after=timedelta(minutes=11))
    assert edited_claim(stale, versions("nice!"), "live", "off_1", FRESH) is None
    assert edited_claim(edited("+1"), versions("nice!"), "live", None, FRESH) is None
    assert edited_claim(edited("+1"), versions("nice!"), "ended", "off_1", FRESH) is None


def test_the_claim_is_the_latest_version_that_was_a_buy() -> None:
    # "+1" -> "hmm" -> "+2": the line claimed 1 once; the edit amends it, not a second claim.
    command = edited_claim(edited("+2"), versions("+1", "hmm"), "live", "off_1", FRESH)
    assert isinstance(command, AmendClaim) and command.quantity == 2
    assert claimed_quantity(("+1", "+3", "thanks")) == 3
    assert claimed_quantity(("hello",)) is None
