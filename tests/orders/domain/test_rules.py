from datetime import UTC, datetime

import pytest

from services.orders.domain.fulfilment import Fulfilment, InvalidFulfilment, pickup_code
from services.orders.domain.offers import (
    InvalidOffer,
    OfferKind,
    OfferStatus,
    OfferTerms,
    Tier,
    check_claim,
    next_tier_at,
    tier_for,
)
from services.orders.domain.referral import CommissionRule, commissions, referrer_chain

TIERS = (Tier(1, 5900), Tier(10, 4900), Tier(50, 3900))


@pytest.mark.parametrize(
    ("buyers", "price", "next_at"),
    [
        (0, 5900, 1),
        (1, 5900, 10),
        (9, 5900, 10),
        (10, 4900, 50),
        (49, 4900, 50),
        (50, 3900, None),
        (5000, 3900, None),
    ],
)
def test_group_price_drops_by_tier(buyers: int, price: int, next_at: int | None) -> None:
    assert tier_for(TIERS, buyers).price_cents == price
    assert next_tier_at(TIERS, buyers) == (next_at if buyers else 1)


@pytest.mark.parametrize(
    "terms",
    [
        OfferTerms(OfferKind.FLASH_SALE, -1, 10, 1),
        OfferTerms(OfferKind.FLASH_SALE, 100, 10, 0),
        OfferTerms(OfferKind.FLASH_SALE, 100, 10, 100),
        OfferTerms(OfferKind.GROUP_BUY, 100, 10, 1, tiers=(Tier(2, 100),), min_group=1),
        OfferTerms(
            OfferKind.GROUP_BUY, 100, 10, 1, tiers=(Tier(1, 100), Tier(5, 200)), min_group=1
        ),
        OfferTerms(OfferKind.GROUP_BUY, 100, 10, 1, tiers=TIERS, min_group=0),
        OfferTerms(OfferKind.PRE_SALE, 100, 10, 1, deposit_cents=100),
        OfferTerms(
            OfferKind.PRE_SALE,
            100,
            10,
            1,
            deposit_cents=10,
            balance_from=datetime(2026, 7, 11, tzinfo=UTC),
            balance_until=datetime(2026, 7, 9, tzinfo=UTC),
        ),
    ],
)
def test_bad_terms_are_refused(terms: OfferTerms) -> None:
    with pytest.raises(InvalidOffer):
        terms.validate()


def test_claim_checks_in_plain_words() -> None:
    ok = {
        "status": OfferStatus.OPEN,
        "quantity": 1,
        "per_buyer_limit": 2,
        "already_bought": 0,
        "variant": "XL",
        "variants": ("M", "XL"),
    }
    assert check_claim(**ok) is None  # type: ignore[arg-type]
    cases = {"status": OfferStatus.CLOSED, "quantity": 100, "already_bought": 2, "variant": "S"}
    reasons = {k: check_claim(**{**ok, k: v}) for k, v in cases.items()}  # type: ignore[arg-type]
    assert {k: r.reason for k, r in reasons.items() if r} == {
        "status": "closed",
        "quantity": "invalid",
        "already_bought": "limit_reached",
        "variant": "invalid",
    }
    assert check_claim(**{**ok, "variant": None}).reason == "invalid"  # type: ignore[arg-type, union-attr]


def test_referrer_chain_stops_at_levels_and_loops() -> None:
    parents = {"kid": "mum", "mum": "grandma", "grandma": "kid"}
    assert referrer_chain("kid", parents, 3) == ["mum", "grandma"]
    assert referrer_chain("kid", parents, 1) == ["mum"]
    assert referrer_chain("stranger", parents, 3) == []


def test_commissions_per_level_round_down() -> None:
    rule = CommissionRule.parse("5,2,1")
    assert rule.basis_points == (500, 200, 100)
    assert commissions(49900, ["a", "b", "c"], rule) == [
        ("a", 1, 2495),
        ("b", 2, 998),
        ("c", 3, 499),
    ]
    assert commissions(10, ["a"], rule) == []  # under a cent earns nothing
    with pytest.raises(ValueError):
        CommissionRule((100, 100, 100, 100))


def test_fulfilment_needs_its_details() -> None:
    assert Fulfilment("pickup", pickup_point="Gate 3").method == "pickup"
    with pytest.raises(InvalidFulfilment):
        Fulfilment("delivery")
    with pytest.raises(InvalidFulfilment):
        Fulfilment("drone", address="x")
    code = pickup_code()
    assert len(code) == 6 and code.isdigit()


def test_one_waitlist_place_per_buyer_and_served_within_the_limit() -> None:
    from services.orders.domain.offers import may_serve_from_waitlist, sold_out

    assert sold_out(False).reason == sold_out(True).reason == "sold_out_waitlisted"
    assert "already" in sold_out(True).message and "already" not in sold_out(False).message
    assert may_serve_from_waitlist(holding=0, quantity=2, per_buyer_limit=2)
    assert not may_serve_from_waitlist(holding=1, quantity=2, per_buyer_limit=2)
    assert not may_serve_from_waitlist(holding=1, quantity=1, per_buyer_limit=1)


def test_commission_follows_what_was_finally_paid() -> None:
    from services.orders.domain.referral import commissions_after_refund

    rule = CommissionRule((500, 200))
    assert commissions_after_refund(5900, 0, ["a", "b"], rule) == {1: 295, 2: 118}
    assert commissions_after_refund(5900, 1000, ["a", "b"], rule) == {1: 245, 2: 98}
    assert commissions_after_refund(5900, 5900, ["a", "b"], rule) == {}
    assert commissions_after_refund(30, 10, ["a", "b"], rule) == {1: 1}  # 2% of 0.20 is 0
